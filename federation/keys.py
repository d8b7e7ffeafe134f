"""This deployment's signing keys (签名密钥): Ed25519, in a directory outside the database.

The directory (``Settings.federation_keys``, default ``<home>/federation``) holds one PEM file per
private key (mode 0600) and ``identity.json``: the deployment's id and every key it has had, with
its validity. The newest key signs; a rotated-out key keeps verifying until its ``valid_until``
(the overlap in which a peer that has not yet seen the new key still accepts what we sign, and we
still accept receipts made for messages signed before). A database dump never contains a key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


class KeyError_(Exception):  # noqa: N801 - "KeyError" is a builtin
    """The key directory is missing, unreadable or inconsistent."""


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def fingerprint(public_raw: bytes) -> str:
    """SHA-256 of the 32 raw public-key bytes, hex: the key's id everywhere (envelopes, receipts, UI)."""
    return hashlib.sha256(public_raw).hexdigest()


def short(fp: str) -> str:
    """The fingerprint as people compare it over the phone: ``a1b2 c3d4 e5f6 0718``."""
    return " ".join(fp[i:i + 4] for i in range(0, 16, 4))


def public_from_b64(text: str) -> Ed25519PublicKey:
    raw = unb64(text)
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes (base64url)")
    return Ed25519PublicKey.from_public_bytes(raw)


def verify(public_b64: str, signature_b64: str, data: bytes) -> bool:
    try:
        public_from_b64(public_b64).verify(unb64(signature_b64), data)
    except (InvalidSignature, ValueError):
        return False
    return True


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return at if at.tzinfo else at.replace(tzinfo=UTC)


@dataclass
class KeyInfo:
    key_id: str
    public_key: str
    valid_from: str
    valid_until: str | None = None
    file: str = ""

    def valid_at(self, at: datetime) -> bool:
        if at < parse_time(self.valid_from) - timedelta(minutes=10):
            return False
        return self.valid_until is None or at <= parse_time(self.valid_until)

    def public(self) -> dict[str, str | None]:
        """What a peer is told about it (no file name)."""
        return {"key_id": self.key_id, "public_key": self.public_key, "valid_from": self.valid_from,
                "valid_until": self.valid_until}


@dataclass
class Identity:
    """The deployment's id and keys, as ``identity.json`` stores them."""

    directory: Path
    deployment_id: str
    keys: list[KeyInfo]

    @property
    def current(self) -> KeyInfo:
        return self.keys[-1]

    def private(self, info: KeyInfo | None = None) -> Ed25519PrivateKey:
        info = info or self.current
        path = self.directory / info.file
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyError_(f"{path} is not an Ed25519 private key")
        return key

    def sign(self, data: bytes) -> tuple[str, str]:
        """(key id, base64url signature) with the current key."""
        return self.current.key_id, b64(self.private().sign(data))

    def valid_keys(self, at: datetime) -> list[KeyInfo]:
        return [k for k in self.keys if k.valid_at(at)]

    def save(self) -> None:
        body = {"deployment_id": self.deployment_id, "keys": [asdict(k) for k in self.keys]}
        tmp = self.directory / "identity.json.tmp"
        tmp.write_text(json.dumps(body, indent=2, ensure_ascii=False))
        os.chmod(tmp, 0o600)
        tmp.replace(self.directory / "identity.json")


def _new_key_file(directory: Path, now: datetime) -> KeyInfo:
    key = Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    fp = fingerprint(raw)
    name = f"signing-{fp[:16]}.pem"
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(directory / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never world-readable
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return KeyInfo(key_id=fp, public_key=b64(raw), valid_from=_iso(now), file=name)


def load(directory: Path) -> Identity | None:
    path = directory / "identity.json"
    if not path.exists():
        return None
    try:
        body = json.loads(path.read_text())
        return Identity(directory, str(body["deployment_id"]), [KeyInfo(**k) for k in body["keys"]])
    except (ValueError, KeyError, TypeError) as exc:
        raise KeyError_(f"{path} is not a tongban identity file: {exc}") from exc


def init(directory: Path, deployment_id: str, *, now: datetime | None = None) -> tuple[Identity, bool]:
    """The identity in ``directory``, made (with a first key) when there is none. (identity, created)."""
    existing = load(directory)
    if existing is not None:
        if deployment_id and deployment_id != existing.deployment_id:
            raise KeyError_(f"{directory} already belongs to deployment {existing.deployment_id!r}, "
                            f"not {deployment_id!r}")
        return existing, False
    if not deployment_id:
        raise KeyError_("a deployment id is needed (TONGBAN_FEDERATION_ID or --id), e.g. TJ-TEDA")
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    identity = Identity(directory, deployment_id, [_new_key_file(directory, now or datetime.now(UTC))])
    identity.save()
    return identity, True


def rotate(identity: Identity, *, overlap: timedelta, now: datetime | None = None) -> KeyInfo:
    """A new current key; every older key still open verifies until ``now + overlap``."""
    now = now or datetime.now(UTC)
    until = _iso(now + overlap)
    for k in identity.keys:
        if k.valid_until is None or parse_time(k.valid_until) > now + overlap:
            k.valid_until = until
    new = _new_key_file(identity.directory, now)
    identity.keys.append(new)
    identity.save()
    return new
