"""Browser sessions, kept server-side so that they can be ended at once (logout, password change,
deactivation, "sign out everywhere", idle timeout)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.db import Base, utcnow


class UserSession(Base):
    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: SHA-256 of the random session id the cookie carries; the id itself is never stored.
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Set when the session ended; a revoked session never works again.
    revoked_at: Mapped[datetime | None]
    #: ``logout``, ``password``, ``deactivated``, ``signout_all``, ``idle``, ``expired``
    revoked_reason: Mapped[str] = mapped_column(String(20), default="")
