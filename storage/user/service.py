"""Users: add, find by token, passwords (argon2) and bearer tokens (stored only as SHA-256)."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from storage.user.models import ROLES, LoginThrottle, User
from storage.zone.models import Zone

_hasher = PasswordHasher()
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)


class UserError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


#: What a username may be, on every path (admin form, CLI, seed): the admin form's own rule.
USERNAME_RE = re.compile(r"[A-Za-z0-9_.\-]{1,60}")
USERNAME_RULE = "1–60 characters: letters A–Z a–z, digits, '_', '.', '-' (no spaces, no markup)"


def check_username(username: str) -> str:
    if not USERNAME_RE.fullmatch(username):
        raise UserError("username", f"{username[:80]!r} is not allowed: {USERNAME_RULE}")
    return username


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "tb_" + secrets.token_urlsafe(32)


def get_by_username(*, db_session: Session, username: str) -> User | None:
    return db_session.scalars(select(User).where(User.username == username)).first()


def get_by_token(*, db_session: Session, token: str) -> User | None:
    user = db_session.scalars(select(User).where(User.token_sha256 == token_digest(token))).first()
    return user if user is not None and user.active else None


def add(*, db_session: Session, username: str, display_name: str, role: str, zone_code: str,
        password: str | None = None, email: str = "", phone: str = "") -> tuple[User, str]:
    """Returns the user and its bearer token (shown once, stored only as a hash)."""
    check_username(username)
    if role not in ROLES:
        raise UserError("role", f"must be one of {', '.join(ROLES)}")
    zone = db_session.scalars(select(Zone).where(Zone.code == zone_code)).first()
    if zone is None:
        raise UserError("zone", f"unknown zone '{zone_code}'")
    if get_by_username(db_session=db_session, username=username) is not None:
        raise UserError("username", f"'{username}' already exists")
    token = new_token()
    user = User(username=username, display_name=display_name, role=role, zone_id=zone.id, email=email,
                phone=phone, password_hash=_hasher.hash(password) if password else "",
                token_sha256=token_digest(token))
    db_session.add(user)
    db_session.flush()
    return user, token


def set_password(*, user: User, password: str) -> None:
    user.password_hash = _hasher.hash(password)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash of a random password with the same parameters, verified when there is no real one."""
    return _hasher.hash(secrets.token_urlsafe(24))


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, InvalidHashError):
        return False


@dataclass(frozen=True)
class LoginOutcome:
    """The signed-in user, or None; ``locked`` says to answer "locked" rather than "wrong"."""

    user: User | None
    locked: bool = False


def authenticate(*, db_session: Session, username: str, password: str, now: datetime) -> LoginOutcome:
    """Sign-in that tells nothing about which names exist (timing-safe, same lock-out for all).

    Exactly one argon2 verification runs on every path — against the account's hash, or against a
    dummy one for an unknown name, a machine-only user, a deactivated or a locked account — and
    failures are counted per name whether or not it is an account (``LoginThrottle``), with the
    same limit and the same lock-out: neither the time taken nor the message differs.
    """
    user = get_by_username(db_session=db_session, username=username) if username else None
    if user is not None:
        locked = user.locked_until is not None and user.locked_until > now
        # a kiosk's device account (states/kiosk) signs in only as its registered terminal
        usable = user.active and bool(user.password_hash) and not locked and user.role != "kiosk"
        ok = _verify(user.password_hash if usable else _dummy_hash(), password) and usable
        if locked:
            return LoginOutcome(None, locked=True)
        if ok:
            user.failed_logins, user.locked_until = 0, None
            return LoginOutcome(user)
        _count_failure(user, now)
        return LoginOutcome(None, locked=user.locked_until is not None and user.locked_until > now)
    _verify(_dummy_hash(), password)
    return LoginOutcome(None, locked=_unknown_failure(db_session, username, now))


def _count_failure(row: User | LoginThrottle, now: datetime) -> None:
    row.failed_logins += 1
    if row.failed_logins >= MAX_FAILED_LOGINS:
        row.locked_until = now + LOCKOUT
        row.failed_logins = 0


def _unknown_failure(db_session: Session, username: str, now: datetime) -> bool:
    """Count a failure for a name that is no account; True when that name is now locked out."""
    db_session.execute(delete(LoginThrottle).where(LoginThrottle.last_failed_at < now - LOCKOUT)
                       .execution_options(synchronize_session=False))  # forget old tries
    key = hashlib.sha256(username.encode("utf-8", "surrogatepass")).hexdigest()
    row = db_session.get(LoginThrottle, key)
    if row is None:
        row = LoginThrottle(name_sha256=key, failed_logins=0, last_failed_at=now)
        db_session.add(row)
    if row.locked_until is not None and row.locked_until > now:
        return True
    row.last_failed_at = now
    _count_failure(row, now)
    db_session.flush()
    return row.locked_until is not None and row.locked_until > now
