"""The secret that signs session cookies and CSRF tokens: never a known one.

- A configured secret (``TONGBAN_SECRET_KEY``) must be at least :data:`MIN_LENGTH` characters and
  must not be a published default (:data:`KNOWN_DEFAULTS`): anyone who knows it could sign a cookie.
- Embedded mode without one generates a random secret on first start and keeps it in the data
  directory (``<home>/secret_key``, mode 0600), so the next start — and every process sharing that
  data directory — reuses it and sessions survive a restart.
- Distributed mode without one refuses to start: several replicas must share one secret, and a
  secret made up by each replica would sign cookies the others reject.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

#: Secrets that have been published (in this code base or its docs): never accepted.
KNOWN_DEFAULTS = frozenset({"dev-insecure-change-me", "change-me-to-64-random-characters-the-same-on-every-replica",
                            "change-me", "changeme", "secret", "dev"})
MIN_LENGTH = 32
FILE_NAME = "secret_key"


class SecretKeyError(ValueError):
    """The configured secret cannot be used; the message is one line saying what to do."""


def check(secret: str) -> str:
    """A configured secret, or :class:`SecretKeyError` naming why it is refused."""
    value = secret.strip()
    if value in KNOWN_DEFAULTS or value.lower() in KNOWN_DEFAULTS:
        raise SecretKeyError("TONGBAN_SECRET_KEY is a published default and would let anyone forge a login; "
                             "set a random one (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)")
    if len(value) < MIN_LENGTH:
        raise SecretKeyError(f"TONGBAN_SECRET_KEY is too short ({len(value)} characters, at least {MIN_LENGTH}); "
                             "set a random one (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)")
    return value


def load_or_create(home: Path) -> str:
    """The embedded deployment's own secret: read ``<home>/secret_key``, or create it (0600) once."""
    path = home / FILE_NAME
    home.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path)
    with os.fdopen(fd, "w") as fh:  # O_EXCL: of two processes starting at once, one writes, both read it
        fh.write(secrets.token_urlsafe(48) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return _read(path)


def _read(path: Path) -> str:
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise SecretKeyError(f"{path} is readable by other users (mode {mode:o}); `chmod 600 {path}` and start again")
    value = path.read_text().strip()
    if not value:  # a crash between create and write: the file is empty; make a new one
        path.unlink()
        return load_or_create(path.parent)
    return check(value)
