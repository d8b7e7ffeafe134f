"""Users and their role in one zone."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.db import Base
from storage.zone.models import Zone

ROLES = ("clerk", "reviewer", "supervisor", "admin")
ROLE_LABELS = {"clerk": "窗口人员", "reviewer": "审批人员", "supervisor": "主管", "admin": "管理员",
               "kiosk": "自助机"}  # kiosk: a terminal's device account, made only by states/kiosk


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    zone_id: Mapped[int] = mapped_column(ForeignKey("zones.id"), index=True)
    email: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    #: argon2 hash; empty for machine-only users.
    password_hash: Mapped[str] = mapped_column(String(200), default="")
    #: SHA-256 of the bearer token; the token itself is shown once.
    token_sha256: Mapped[str | None] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    #: Platform role (an admin who may edit what is alliance-wide: the whole notification routes file).
    #: Granted only from the command line (``tongban user platform-admin``), never through the web UI.
    platform_admin: Mapped[bool] = mapped_column(default=False, server_default=false())

    zone: Mapped[Zone] = relationship(lazy="joined")


class LoginThrottle(Base):
    """Failed sign-ins for names that are no account, counted like an account's own: an unknown name
    gets the same "locked" answer after as many tries, so the answer does not tell whether it exists."""

    __tablename__ = "login_throttle"

    #: SHA-256 of the name tried (any length, stored in a fixed size).
    name_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    last_failed_at: Mapped[datetime] = mapped_column(index=True)
