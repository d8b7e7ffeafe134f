"""Work queues and case lists, scoped to the caller's zone (docs/architecture.md#party).

Queues are ordered by the step deadline and read through the ``(zone, state, step_due_at)``
indexes, so the first page costs the same with a thousand or a million cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, union
from sqlalchemy.orm import Session

from states.sla.overdue import not_overdue_clause, overdue_clause
from states.transition.rules import Actor, party_clause, visible_clause
from storage.case import idhash
from storage.case.models import Applicant, Case
from storage.catalog.models import Item

#: The states in which each side has work to do.
RECEIVING_WORK = ("received", "awaiting_supplement", "prechecked", "approved", "denied", "mailed", "awaiting_pickup")
HANDLING_WORK = ("forwarded", "accepted", "under_review", "approved", "denied")


@dataclass
class CaseFilter:
    state: str | None = None
    #: ``receiving`` or ``handling``: the caller's zone in that role; None = either.
    side: str | None = None
    overdue: bool | None = None
    text: str | None = None
    item_code: str | None = None
    assignee_id: int | None = None
    open_only: bool = False


def scoped(actor: Actor) -> Select[Case]:
    """Every case the actor is party to (``rules.visible_clause``: the handling zone once forwarded)."""
    return select(Case).where(visible_clause(actor))


def list_cases(*, db_session: Session, actor: Actor, flt: CaseFilter, now: datetime, limit: int = 50,
               offset: int = 0) -> tuple[list[Case], int]:
    stmt = scoped(actor)
    if flt.side in ("receiving", "handling"):
        stmt = stmt.where(party_clause(actor.zone_id, flt.side))
    if flt.state:
        stmt = stmt.where(Case.state == flt.state)
    if flt.open_only:
        stmt = stmt.where(Case.closed.is_(False))
    if flt.overdue is True:
        stmt = stmt.where(overdue_clause(now))
    elif flt.overdue is False:
        stmt = stmt.where(not_overdue_clause(now))
    if flt.item_code:
        stmt = stmt.join(Item, Case.item_id == Item.id).where(Item.code == flt.item_code)
    if flt.assignee_id is not None:
        stmt = stmt.where(Case.assignee_id == flt.assignee_id)
    if flt.text:
        like = f"%{flt.text.strip()}%"
        found: list[ColumnElement[bool]] = [Case.case_no.ilike(like), Applicant.name.ilike(like)]
        key = idhash.key_of(db_session)
        if key is not None and idhash.is_full_number(flt.text):
            # a full 统一社会信用代码 / 身份证号: through the keyed-hash index, never a scan of the numbers
            found.append(Applicant.id_number_hash == idhash.digest(key, flt.text))
        stmt = stmt.join(Applicant, Case.applicant_id == Applicant.id).where(or_(*found))
    total = db_session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = db_session.scalars(stmt.order_by(Case.received_at.desc(), Case.id.desc()).limit(limit).offset(offset))
    return list(rows.unique()), total


@dataclass(frozen=True)
class Lane:
    """One range of a queue index — (side's zone column, state) — narrowed to the cases in which the
    caller's role is the one who must act: whoever must act sees the case, nobody else has it as work."""

    side: str  # ``receiving`` or ``handling``: which zone column is the caller's
    state: str
    #: only items whose result is mailed by this side (``Item.mail_side``)
    mail_side: str | None = None
    #: only cases with this result delivery (``mail`` / ``pickup``)
    delivery: str | None = None

    def where(self, zone_id: int | None) -> list[ColumnElement[bool]]:
        column = Case.receiving_zone_id if self.side == "receiving" else Case.handling_zone_id
        conds: list[ColumnElement[bool]] = [column == zone_id, Case.state == self.state]
        if self.side == "handling":  # the one party rule (rules.party_clause): the handling zone once forwarded
            conds.append(Case.forwarded_at.is_not(None))
        if self.mail_side:
            conds.append(Case.item_id.in_(select(Item.id).where(Item.mail_side == self.mail_side)))
        if self.delivery:
            conds.append(Case.delivery_method == self.delivery)
        return conds


_DECIDED = ("approved", "denied")
#: Who acts in which state (docs/architecture.md#lifecycle, states/transition/rules.py): the window
#: pre-checks and hands results over at the counter; the side that mails the result (per item) mails it
#: and confirms delivery.
CLERK_LANES: tuple[Lane, ...] = (
    Lane("receiving", "received"), Lane("receiving", "awaiting_supplement"),
    *(Lane("receiving", st, delivery="pickup") for st in _DECIDED),
    *(Lane("receiving", st, mail_side="receiving", delivery="mail") for st in _DECIDED),
    *(Lane("handling", st, mail_side="handling", delivery="mail") for st in _DECIDED),
    Lane("receiving", "mailed", mail_side="receiving"), Lane("handling", "mailed", mail_side="handling"),
    Lane("receiving", "awaiting_pickup"),
)
REVIEWER_LANES: tuple[Lane, ...] = (
    Lane("handling", "forwarded"), Lane("handling", "accepted"), Lane("handling", "under_review"),
    *(Lane("handling", st, mail_side="handling", delivery="mail") for st in _DECIDED),
)


def lanes_of(role: str) -> list[Lane]:
    """The lanes of a role's work; a supervisor oversees both."""
    lanes: list[Lane] = []
    if role in ("clerk", "supervisor"):
        lanes += CLERK_LANES
    if role in ("reviewer", "supervisor"):
        lanes += [lane for lane in REVIEWER_LANES if lane not in lanes]
    return lanes


def work_condition(actor: Actor) -> ColumnElement[bool]:
    """The caller's work as one WHERE clause (for pages that filter it further)."""
    parts = [and_(*lane.where(actor.zone_id)) for lane in lanes_of(actor.role)]
    return or_(*parts) if parts else Case.id.is_(None)


def work_states(role: str) -> list[str]:
    return list(dict.fromkeys(lane.state for lane in lanes_of(role)))


def _first_ids(db_session: Session, actor: Actor, lanes: list[Lane], want: int, *,
               with_deadline: bool) -> list[int]:
    """The first ``want`` case ids over all lanes, merged.

    Each lane reads at most ``want`` rows off its ``(zone, state, step_due_at)`` index in order, so
    the cost is lanes × page, whatever the number of open cases; UNION merges (and drops the case a
    supervisor sees from both sides — or two lanes — twice).
    """
    parts = []
    for spec in lanes:
        lane = select(Case.id, Case.step_due_at).where(*spec.where(actor.zone_id))
        if with_deadline:
            lane = lane.where(Case.step_due_at.is_not(None)).order_by(Case.step_due_at, Case.id)
        else:
            lane = lane.where(Case.step_due_at.is_(None)).order_by(Case.id)
        sub = lane.limit(want).subquery()
        parts.append(select(sub.c.id, sub.c.step_due_at))
    merged = union(*parts).subquery()
    order = (merged.c.step_due_at, merged.c.id) if with_deadline else (merged.c.id,)
    return list(db_session.scalars(select(merged.c.id).order_by(*order).limit(want)))


def queue(*, db_session: Session, actor: Actor, limit: int = 50, offset: int = 0) -> list[Case]:
    """The caller's own work, most urgent step deadline first (no deadline last).

    Same order as ``ORDER BY step_due_at IS NULL, step_due_at, id`` over the caller's lanes, but read
    lane by lane off the queue indexes (see ``_first_ids``): one OR over states cannot be ordered by
    an index and sorted every open case of the zone, which grew linearly (≈ 0.4 s at 1M cases).
    """
    lanes = lanes_of(actor.role)
    if not lanes or limit <= 0:
        return []
    want = offset + limit
    ids = _first_ids(db_session, actor, lanes, want, with_deadline=True)
    if len(ids) < want:
        ids += _first_ids(db_session, actor, lanes, want - len(ids), with_deadline=False)
    ids = ids[offset:offset + limit]
    if not ids:
        return []
    by_id = {c.id: c for c in db_session.scalars(select(Case).where(Case.id.in_(ids))).unique()}
    return [by_id[i] for i in ids if i in by_id]
