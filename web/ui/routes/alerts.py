"""预警 for the people who work the cases: each clerk and reviewer sees the alerts of their own cases —
the ones they received, are assigned, or must act on now — with a count in the top bar and a list whose
links open the case. Supervisors keep the zone-wide log on their dashboard."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session

from states.queue.service import work_condition
from storage.case.models import Case
from storage.catalog.models import Item
from storage.db import transaction
from storage.sla.models import Alert
from web.ui.deps import UserDep
from web.ui.render import render, runtime_of
from web.ui.session import UiUser

router = APIRouter(prefix="/ui", include_in_schema=False)

#: Roles with a personal alert list (supervisors see every alert of the zone on the dashboard).
PERSONAL = ("clerk", "reviewer")


@dataclass(frozen=True)
class MyAlert:
    case_no: str
    item_name: str
    step: str
    level: str
    due_at: datetime
    raised_at: datetime


def _mine(user: UiUser) -> ColumnElement[bool]:
    own = Case.received_by_id == user.id if user.role == "clerk" else Case.assignee_id == user.id
    return or_(own, work_condition(user.actor))


def _alerts(user: UiUser) -> Select[Alert, str]:
    return (select(Alert, Item.name).join(Case, Alert.case_id == Case.id).join(Item, Case.item_id == Item.id)
            .where(Alert.zone_id == user.zone_id, Case.closed.is_(False), _mine(user)))


def count_for(s: Session, user: UiUser | None) -> int:
    if user is None or user.role not in PERSONAL or user.zone_id is None:
        return 0
    sub = _alerts(user).with_only_columns(Alert.id).subquery()
    return s.scalar(select(func.count()).select_from(sub)) or 0


def case_alerts(s: Session, user: UiUser, case_id: int) -> list[MyAlert]:
    """This zone's alerts of one case (shown on the case page)."""
    if user.zone_id is None:
        return []
    rows = s.execute(select(Alert, Item.name).join(Case, Alert.case_id == Case.id)
                     .join(Item, Case.item_id == Item.id)
                     .where(Alert.zone_id == user.zone_id, Alert.case_id == case_id).order_by(Alert.id.desc()))
    return [MyAlert(a.case_no, name, a.step, a.level, a.due_at, a.raised_at) for a, name in rows]


@router.get("/alerts")
def my_alerts(request: Request, user: UserDep) -> Response:
    with transaction(runtime_of(request).session_factory) as s:
        rows = [] if user.role not in PERSONAL else [
            MyAlert(a.case_no, name, a.step, a.level, a.due_at, a.raised_at)
            for a, name in s.execute(_alerts(user).order_by(Alert.id.desc()).limit(200))]
        return render(request, "alerts.html", alerts=rows)
