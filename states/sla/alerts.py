"""What a zone sees of its alerts and of the messages sent for them (预警 · 通知台账), read by the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from states.transition.errors import Forbidden
from states.transition.rules import Actor, party_clause
from storage.case.models import Case
from storage.catalog.models import Item
from storage.sla.models import LEVELS, Alert, Delivery

#: Who sees the delivery ledger and its failures (主管, 管理员).
LEDGER_ROLES = frozenset({"supervisor", "admin"})


@dataclass(frozen=True)
class AlertRow:
    id: int
    case_no: str
    item_code: str
    item_name: str
    step: str
    visit: int
    level: str
    side: str
    due_at: datetime
    raised_at: datetime
    deliveries: dict[str, int]


def list_alerts(*, db_session: Session, actor: Actor, level: str | None = None, case_no: str | None = None,
                before_id: int | None = None, limit: int = 50) -> list[AlertRow]:
    """The caller's zone's alerts, newest first (keyset paging by ``before_id``)."""
    if actor.zone_id is None:
        raise Forbidden("alerts belong to a zone; the caller has none")
    if level is not None and level not in LEVELS:
        raise Forbidden(f"unknown level {level!r}")  # pragma: no cover - the route validates it
    stmt = (select(Alert, Item.code, Item.name).join(Case, Alert.case_id == Case.id)
            .join(Item, Case.item_id == Item.id).where(Alert.zone_id == actor.zone_id)
            .where(party_clause(actor.zone_id)).order_by(Alert.id.desc()).limit(limit))
    if level:
        stmt = stmt.where(Alert.level == level)
    if case_no:
        stmt = stmt.where(Alert.case_no == case_no)
    if before_id:
        stmt = stmt.where(Alert.id < before_id)
    rows = db_session.execute(stmt).all()
    counts: dict[int, dict[str, int]] = {}
    if rows:
        for alert_id, status, n in db_session.execute(
                select(Delivery.alert_id, Delivery.status, func.count())
                .where(Delivery.alert_id.in_([a.id for a, _, _ in rows]))
                .group_by(Delivery.alert_id, Delivery.status)):
            if alert_id is not None:
                counts.setdefault(alert_id, {})[status] = n
    return [AlertRow(id=a.id, case_no=a.case_no, item_code=code, item_name=name, step=a.step, visit=a.visit,
                     level=a.level, side=a.side, due_at=a.due_at, raised_at=a.raised_at,
                     deliveries=counts.get(a.id, {})) for a, code, name in rows]


def list_deliveries(*, db_session: Session, actor: Actor, status: str | None = None,
                    limit: int = 100) -> list[Delivery]:
    """The zone's message ledger for supervisors: by default what failed for good."""
    if actor.role not in LEDGER_ROLES or actor.zone_id is None:
        raise Forbidden("the notification ledger is for supervisors and admins of a zone")
    stmt = select(Delivery).where(Delivery.zone_id == actor.zone_id).order_by(Delivery.id.desc()).limit(limit)
    if status:
        stmt = stmt.where(Delivery.status == status)
    return list(db_session.scalars(stmt))
