"""Terminal registry (自助终端), the locker slot of each kiosk receipt (智能流转柜), and the visit.

A terminal is registered by an admin of its zone; its device secret is shown once and kept only
as a SHA-256. Each terminal signs in as its own device account (a ``users`` row of role ``kiosk``,
no password, no bearer token), so a case received at the kiosk names who received it like any other.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.db import Base
from storage.zone.models import Zone


class KioskTerminal(Base):
    __tablename__ = "kiosk_terminals"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: e.g. ``BJ-ZZJ-01``: printed on the machine, typed at sign-in.
    terminal_id: Mapped[str] = mapped_column(String(40), unique=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("zones.id"), index=True)
    #: Where it stands (摆放位置): "政务服务中心一层24小时自助区".
    location: Mapped[str] = mapped_column(String(200))
    #: The device account the terminal receives as (role ``kiosk``).
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    #: SHA-256 of the device secret (终端密钥); the secret itself is shown once to the admin.
    token_sha256: Mapped[str] = mapped_column(String(64))
    #: Slots of its smart locker (智能流转柜), labelled A01, A02, …
    locker_slots: Mapped[int] = mapped_column(default=12)
    #: The ID-card reader's local interface on the terminal (polled by the kiosk page).
    reader_url: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(60), default="")

    zone: Mapped[Zone] = relationship(lazy="joined")


class KioskReceipt(Base):
    """A case received at a kiosk: where its paper waits, and the clerk's confirmation of it."""

    __tablename__ = "kiosk_receipts"
    __table_args__ = (
        # One paper per slot until a clerk takes it out (confirms it).
        Index("uq_kiosk_receipts_open_slot", "terminal_pk", "slot", unique=True,
              sqlite_where=text("confirmed_at IS NULL"), postgresql_where=text("confirmed_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    terminal_pk: Mapped[int] = mapped_column(ForeignKey("kiosk_terminals.id"), index=True)
    #: Locker slot the kiosk named (``A03``).
    slot: Mapped[str] = mapped_column(String(10))
    #: SHA-256 of case number + pickup code (取件码); the code is printed on the receipt only.
    pickup_code_sha256: Mapped[str] = mapped_column(String(64))
    #: The applicant's drawn e-signature (a stored file of purpose ``signature``).
    signature_file_id: Mapped[int | None] = mapped_column(ForeignKey("stored_files.id"))
    received_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    confirmed_by: Mapped[str | None] = mapped_column(String(60))
    #: Wrong pickup codes typed by clerks; after too many the slot needs an admin.
    failed_attempts: Mapped[int] = mapped_column(default=0)

    terminal: Mapped[KioskTerminal] = relationship(lazy="joined")


class KioskVisit(Base):
    """What the kiosk shows after 提交 (the receipt) until 完成 or the inactivity timeout, then deleted.

    The only applicant data the server holds for the terminal's screen; the cookie names it by a
    random token kept here as SHA-256.
    """

    __tablename__ = "kiosk_visits"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    terminal_pk: Mapped[int] = mapped_column(ForeignKey("kiosk_terminals.id", ondelete="CASCADE"), index=True)
    case_no: Mapped[str] = mapped_column(String(40))
    pickup_code: Mapped[str] = mapped_column(String(10))
    slot: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
