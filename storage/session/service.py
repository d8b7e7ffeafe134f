"""Sessions: open one at sign-in, find it on every request, end one or all of a user's.

The cookie carries a random session id (signed, too); only its SHA-256 is stored, so a copy of the
database does not yield working cookies. Services never commit: the caller owns the transaction.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage.session.models import UserSession
from storage.user.models import User

#: Roles that work at the counter: their sessions end after ``idle`` minutes without a request.
IDLE_ROLES = frozenset({"clerk"})
#: ``last_seen_at`` is written at most this often (a page view need not be a write each time).
TOUCH_EVERY = timedelta(seconds=30)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(*, db_session: Session, user_id: int, now: datetime) -> str:
    """A new session for a user who just signed in; returns the id for the cookie."""
    token = secrets.token_urlsafe(32)
    db_session.add(UserSession(user_id=user_id, token_sha256=_digest(token), created_at=now, last_seen_at=now))
    db_session.flush()
    return token


def find_user(*, db_session: Session, token: str, now: datetime, max_age: timedelta,
              idle: timedelta | None) -> User | None:
    """The signed-in, active user of a live session, or None (and the session ended if it ran out)."""
    row = db_session.scalars(select(UserSession).where(UserSession.token_sha256 == _digest(token))).first()
    if row is None or row.revoked_at is not None:
        return None
    user = db_session.get(User, row.user_id)
    if user is None or not user.active:
        _end(row, now, "deactivated")
        return None
    if now - row.created_at > max_age:
        _end(row, now, "expired")
        return None
    if idle is not None and user.role in IDLE_ROLES and now - row.last_seen_at > idle:
        _end(row, now, "idle")
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
    return user


def end_session(*, db_session: Session, token: str, now: datetime, reason: str = "logout") -> None:
    row = db_session.scalars(select(UserSession).where(UserSession.token_sha256 == _digest(token))).first()
    if row is not None and row.revoked_at is None:
        _end(row, now, reason)


def end_all(*, db_session: Session, user_id: int, now: datetime, reason: str) -> int:
    """Every live session of the user (password changed, deactivated, "sign out everywhere")."""
    result = db_session.execute(
        update(UserSession).where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason).execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def live_count(*, db_session: Session, user_id: int) -> int:
    rows = db_session.scalars(select(UserSession.id).where(UserSession.user_id == user_id,
                                                           UserSession.revoked_at.is_(None)))
    return len(list(rows))


def _end(row: UserSession, now: datetime, reason: str) -> None:
    row.revoked_at = now
    row.revoked_reason = reason
