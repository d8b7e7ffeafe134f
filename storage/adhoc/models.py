"""协作机制 (一事一议): a request to serve, for one case, an item that is not on the list.

A window clerk asks the zone that would decide it; that zone's supervisor (or admin) accepts it
with the materials and the promised time limit for this one case, or declines it with a reason.
Accepting makes a one-off catalog entry (``items.adhoc``, never offered at the counter) that the
one case is then received against through the normal intake, so the lifecycle, packet and SLA
clock run unchanged. The request keeps its own answer deadline, watched like a case deadline
(``due_at``/``next_level``/``next_alert_at``, scheduled by ``states.sla.clock.Clock``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.db import Base, utcnow
from storage.zone.models import Zone


class AdhocRequest(Base):
    """一事一议申请: what the applicant needs, who decides it, why it cannot wait."""

    __tablename__ = "adhoc_requests"
    __table_args__ = (
        Index("ix_adhoc_requests_next_alert_at", "next_alert_at"),
        Index("ix_adhoc_requests_handling_state", "handling_zone_id", "state"),
        Index("ix_adhoc_requests_requesting_state", "requesting_zone_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: ``pending`` 待答复 · ``accepted`` 已同意 · ``declined`` 已拒绝 (states/adhoc/enums.py)
    state: Mapped[str] = mapped_column(String(12), default="pending")
    #: 申请事项: what the applicant needs, in the applicant's words.
    need: Mapped[str] = mapped_column(String(200))
    #: 紧急事由: why it cannot wait for the item to be listed.
    urgency: Mapped[str] = mapped_column(Text)
    applicant_name: Mapped[str] = mapped_column(String(200), default="")
    requesting_zone_id: Mapped[int] = mapped_column(ForeignKey("zones.id"))
    handling_zone_id: Mapped[int] = mapped_column(ForeignKey("zones.id"))
    requested_by: Mapped[str] = mapped_column(String(100))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    # --- the answer
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_role: Mapped[str | None] = mapped_column(String(20))
    decided_at: Mapped[datetime | None]
    decline_reason: Mapped[str] = mapped_column(Text, default="")
    #: 承诺时限 for this one case (working days), set on acceptance.
    promised_days: Mapped[int | None]
    #: The one-off checklist: ``[{"name", "form", "copies", "required"}]``, set on acceptance.
    materials: Mapped[list[Any]] = mapped_column(default=list)
    #: The one-off catalog entry made on acceptance (``items.adhoc``), and the one case received on it.
    item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), unique=True)
    #: The catalog entry an admin promoted this request's item into (转入目录), if any.
    promoted_item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id"))
    # --- the answer deadline (答复时限), shaped like ``case_deadlines`` for ``Clock.schedule``
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime]
    next_level: Mapped[str | None] = mapped_column(String(12))
    next_alert_at: Mapped[datetime | None]
    provisional: Mapped[bool] = mapped_column(default=False)

    requesting_zone: Mapped[Zone] = relationship(foreign_keys=[requesting_zone_id], lazy="joined")
    handling_zone: Mapped[Zone] = relationship(foreign_keys=[handling_zone_id], lazy="joined")

    @property
    def ref(self) -> str:
        """How people name it: ``YSYY-00012``."""
        return f"YSYY-{self.id:05d}"


class AdhocEvent(Base):
    """审计留痕 of a request: append-only, hash-chained like a case's trail (storage/audit)."""

    __tablename__ = "adhoc_events"
    __table_args__ = (UniqueConstraint("request_id", "seq", name="uq_adhoc_events_request_seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("adhoc_requests.id"), index=True)
    seq: Mapped[int]
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    actor_role: Mapped[str] = mapped_column(String(20))
    #: ``request``, ``accept``, ``decline``, ``receive`` (the case), ``promote``
    event: Mapped[str] = mapped_column(String(20))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AdhocAlert(Base):
    """A request that waits too long for an answer, as one zone sees it: once per level and zone."""

    __tablename__ = "adhoc_alerts"
    __table_args__ = (UniqueConstraint("request_id", "level", "zone_id", name="uq_adhoc_alerts_once"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("adhoc_requests.id"), index=True)
    level: Mapped[str] = mapped_column(String(12))
    zone_id: Mapped[int] = mapped_column(ForeignKey("zones.id"))
    #: ``requesting`` (the window that waits) or ``handling`` (the zone that owes the answer)
    side: Mapped[str] = mapped_column(String(12))
    due_at: Mapped[datetime]
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)
