"""Cases (办件), their applicant, materials, stored files and shipments."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.catalog.models import Item
from storage.db import Base, utcnow
from storage.zone.models import Zone


class Applicant(Base):
    """申请人: an enterprise (统一社会信用代码) or a person (身份证号)."""

    __tablename__ = "applicants"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: ``enterprise`` or ``person``
    kind: Mapped[str] = mapped_column(String(12))
    name: Mapped[str] = mapped_column(String(200))
    id_number: Mapped[str] = mapped_column(String(18), index=True)
    #: HMAC-SHA256 of the normalized id_number under the app's key (storage/case/idhash.py): 办件查询
    #: finds a case by the full number through this index.
    id_number_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    phone: Mapped[str] = mapped_column(String(40), default="")
    address: Mapped[str] = mapped_column(String(300), default="")


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_handling_queue", "handling_zone_id", "state", "step_due_at"),
        Index("ix_cases_receiving_queue", "receiving_zone_id", "state", "step_due_at"),
        Index("ix_cases_open_due", "closed", "step_due_at"),
        Index("ix_cases_due_provisional", "due_provisional", sqlite_where=text("due_provisional"),
              postgresql_where=text("due_provisional")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_no: Mapped[str] = mapped_column(String(40), unique=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    receiving_zone_id: Mapped[int] = mapped_column(ForeignKey("zones.id"))
    handling_zone_id: Mapped[int] = mapped_column(ForeignKey("zones.id"))
    applicant_id: Mapped[int] = mapped_column(ForeignKey("applicants.id"))
    state: Mapped[str] = mapped_column(String(30), default="received")
    #: Optimistic lock: every transition bumps it; a stale one is a conflict.
    version: Mapped[int] = mapped_column(default=1)
    #: False until a terminal state; keeps "open cases" an index range, not a scan.
    closed: Mapped[bool] = mapped_column(default=False)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    received_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    #: ``mail`` or ``pickup`` as the applicant chose at the counter.
    delivery_method: Mapped[str] = mapped_column(String(10), default="mail")
    delivery_address: Mapped[str] = mapped_column(String(300), default="")
    # --- deadlines (承诺时限): the server computes them, clients never send them
    due_at: Mapped[datetime | None]
    #: The current step (precheck/forward/accept/decide/mailback/…) and its own target.
    step: Mapped[str | None] = mapped_column(String(20))
    step_started_at: Mapped[datetime | None]
    step_due_at: Mapped[datetime | None]
    #: The deadline falls in (or was counted through) a year whose holidays are not yet published:
    #: 暂定, recomputed when the schedule is added (states/calendar/recompute.py).
    due_provisional: Mapped[bool] = mapped_column(default=False)
    step_due_provisional: Mapped[bool] = mapped_column(default=False)
    #: Set while the overall clock is paused (awaiting a supplement, originals in the post).
    paused_since: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    #: When the case was first forwarded to the handling zone; from then on that zone is party to it
    #: (docs/architecture.md#party, ``states.transition.rules.is_party``). Never cleared, also not by a return.
    forwarded_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    #: Last reason given (reject, return, deny, supplement notice), for lists and reports.
    last_reason: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # --- head of the case's audit chain (storage/audit): the last event's seq and hash. Kept here so
    # a transition reads everything it needs in one SELECT; written only with Core UPDATEs, which
    # leave the optimistic-lock version alone (an attached file must not conflict with the next event).
    audit_seq: Mapped[int] = mapped_column(default=0, server_default="0")
    audit_head: Mapped[str] = mapped_column(String(64), default="0" * 64, server_default="0" * 64)

    item: Mapped[Item] = relationship(lazy="joined")
    applicant: Mapped[Applicant] = relationship(lazy="joined")
    receiving_zone: Mapped[Zone] = relationship(foreign_keys=[receiving_zone_id], lazy="joined")
    handling_zone: Mapped[Zone] = relationship(foreign_keys=[handling_zone_id], lazy="joined")
    materials: Mapped[list[Material]] = relationship(
        back_populates="case", order_by="Material.position", cascade="all, delete-orphan"
    )
    files: Mapped[list[StoredFile]] = relationship(
        back_populates="case", order_by="StoredFile.id", cascade="all, delete-orphan"
    )
    shipments: Mapped[list[Shipment]] = relationship(order_by="Shipment.id", cascade="all, delete-orphan")

    __mapper_args__ = {"version_id_col": version}


import storage.case.idhash  # noqa: E402,F401  (fills Applicant.id_number_hash on flush)


class Material(Base):
    """One checklist line as received for this case, with the clerk's pre-check verdict."""

    __tablename__ = "materials"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    item_material_id: Mapped[int | None] = mapped_column(ForeignKey("item_materials.id"))
    position: Mapped[int]
    name: Mapped[str] = mapped_column(String(200))
    required: Mapped[bool] = mapped_column(default=True)
    #: Ticked on the checklist: the applicant handed it in (paper and/or scans).
    provided: Mapped[bool] = mapped_column(default=False)
    #: The PAPER was handed in at the counter (at receipt or with a supplement): a fact apart from
    #: scans attached, which are the files of this material.
    paper_received: Mapped[bool] = mapped_column(default=False)
    paper_received_at: Mapped[datetime | None]
    #: ``ok``, ``missing`` or ``defective`` after pre-check; None before.
    verdict: Mapped[str | None] = mapped_column(String(12))
    remark: Mapped[str] = mapped_column(Text, default="")

    case: Mapped[Case] = relationship(back_populates="materials")


class StoredFile(Base):
    """A file in the object store, hashed at receipt and re-verified at every hop."""

    __tablename__ = "stored_files"
    __table_args__ = (UniqueConstraint("object_key", name="uq_stored_files_object_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    material_id: Mapped[int | None] = mapped_column(ForeignKey("materials.id"))
    #: ``material``, ``supplement``, ``result``, ``packet``, ``manifest``, ``copy``
    purpose: Mapped[str] = mapped_column(String(12))
    #: The zone whose area of the store holds this object.
    zone_code: Mapped[str] = mapped_column(String(32))
    filename: Mapped[str] = mapped_column(String(255))
    #: ``pdf``, ``jpeg``, ``png``, ``tiff``, ``json``
    kind: Mapped[str] = mapped_column(String(10))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    page_count: Mapped[int] = mapped_column(default=0)
    object_key: Mapped[str] = mapped_column(String(400))
    #: For copies: the file this one was copied from.
    source_id: Mapped[int | None] = mapped_column(ForeignKey("stored_files.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100), default="")

    case: Mapped[Case] = relationship(back_populates="files")


class Shipment(Base):
    """寄递: originals to the handling zone, or the result back to the applicant."""

    __tablename__ = "shipments"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    #: ``originals`` or ``result``
    direction: Mapped[str] = mapped_column(String(12))
    carrier: Mapped[str] = mapped_column(String(40))
    tracking_no: Mapped[str] = mapped_column(String(13))
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)


class CaseSequence(Base):
    """Per zone and day counter behind readable case numbers (``BJETOWN-20261124-00042``)."""

    __tablename__ = "case_sequences"

    zone_id: Mapped[int] = mapped_column(ForeignKey("zones.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    last: Mapped[int] = mapped_column(default=0)

