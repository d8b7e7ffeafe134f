"""Work queue (审批队列 / 我的队列): the zone's work, most urgent step deadline first, with filters."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from states.lifecycle import STATE_LABELS
from states.queue.service import HANDLING_WORK, RECEIVING_WORK
from states.transition import service as transitions
from states.transition.rules import party_clause
from storage.case.models import Case
from storage.catalog.models import Item
from storage.db import transaction
from storage.zone.models import Zone
from web.ui.deps import UserDep
from web.ui.render import render, runtime_of
from web.ui.session import UiUser

router = APIRouter(prefix="/ui", include_in_schema=False)

PER_PAGE = 50
#: Events a queue row offers as one click (they need no form).
ROW_EVENTS = ("accept", "claim")


def work_of(user: UiUser) -> Select[Case]:
    """The same work as ``states.queue.service.queue``: receiving side for clerks, handling side for
    reviewers, both for supervisors; ordered by the step deadline (none last)."""
    conds = []
    if user.role in ("clerk", "supervisor"):
        conds.append(party_clause(user.zone_id, "receiving") & Case.state.in_(RECEIVING_WORK))
    if user.role in ("reviewer", "supervisor"):
        conds.append(party_clause(user.zone_id, "handling") & Case.state.in_(HANDLING_WORK))
    return select(Case).where(or_(*conds) if conds else Case.id.is_(None))


def _filtered(stmt: Select[Case], s: Session, user: UiUser, *, item: str, state: str, rzone: str,
              mine: bool) -> Select[Case]:
    if item:
        stmt = stmt.where(Case.item_id.in_(select(Item.id).where(Item.code == item)))
    if state:
        stmt = stmt.where(Case.state == state)
    if rzone:
        stmt = stmt.where(Case.receiving_zone_id.in_(select(Zone.id).where(Zone.code == rzone)))
    if mine:
        stmt = stmt.where(Case.assignee_id == user.id)
    return stmt


@router.get("/queue")
def queue_page(request: Request, user: UserDep, item: str = "", state: str = "", rzone: str = "",
               mine: str = "", page: int = 1) -> Response:
    runtime = runtime_of(request)
    page = max(page, 1)
    with transaction(runtime.session_factory) as s:
        stmt = _filtered(work_of(user), s, user, item=item, state=state, rzone=rzone, mine=bool(mine))
        total = s.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
        rows = list(s.scalars(stmt.order_by(Case.step_due_at.is_(None), Case.step_due_at, Case.id)
                              .limit(PER_PAGE).offset((page - 1) * PER_PAGE)).unique())
        work_states = [st for st in STATE_LABELS
                       if (user.role != "reviewer" and st in RECEIVING_WORK)
                       or (user.role != "clerk" and st in HANDLING_WORK)]
        items = sorted({(i.code, i.name) for i in s.scalars(select(Item).where(Item.active.is_(True))).unique()})
        zones = list(s.scalars(select(Zone).order_by(Zone.code)))
        return render(
            request, "queue.html", rows=rows, total=total, page=page, per_page=PER_PAGE,
            query=urlencode({"item": item, "state": state, "rzone": rzone, "mine": mine}),
            f_item=item, f_state=state, f_rzone=rzone, f_mine=bool(mine), work_states=work_states, items=items,
            zones=zones, row_events={c.case_no: [e for e in transitions.events_for(user.actor, c)
                                                 if e in ROW_EVENTS] for c in rows},
        )
