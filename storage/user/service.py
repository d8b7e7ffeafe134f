"""Users: add, find by token, passwords (argon2) and bearer tokens (stored only as SHA-256)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.user.models import ROLES, User
from storage.zone.models import Zone

_hasher = PasswordHasher()
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)


class UserError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


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


def check_password(*, user: User, password: str, now: datetime) -> bool:
    """Counts failures and locks the account for a while after too many (暴力破解防护)."""
    if not user.active or (user.locked_until is not None and user.locked_until > now):
        return False
    try:
        ok = bool(user.password_hash) and _hasher.verify(user.password_hash, password)
    except (VerifyMismatchError, InvalidHashError):
        ok = False
    if ok:
        user.failed_logins = 0
        user.locked_until = None
    else:
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = now + LOCKOUT
            user.failed_logins = 0
    return ok
