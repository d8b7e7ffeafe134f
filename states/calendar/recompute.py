"""When a provisional year is published: recompute every provisional date in one pass (docs/architecture.md#deadlines).

Reads the cases whose overall or step deadline is flagged provisional, or that have a watched
deadline (an alert time) flagged so, and recounts them with the new calendar: finished pauses'
working days, the overall deadline (decided cases too, so the annual evaluation counts on-time
against the final date), the current step's target, and each active watched deadline with its next
alert — the level it is at stays, so an alert already raised for a date that moved later is not
raised again; a level now due is raised once by the next sweep (``sla_alerts`` is unique per level).

Each case whose dates changed gets a system audit event through the audit module's own append (the
hash chain stays valid; the version is not bumped, the state does not change), and the clerk who
received each moved open case and its reviewer get ONE message listing their moved cases.

Statements are set-based — one read per table, executemany updates, one batched audit append — so
the cost is close to the bare UPDATE of the deadline columns (bench/calendar_recompute.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, bindparam, or_, select, union
from sqlalchemy.orm import Session

from notifications import ledger
from states.calendar.schedule import Schedule
from states.calendar.work_calendar import OfficialYear, WorkCalendar
from states.runtime import Runtime
from states.sla.clock import STEP_OF_STATE, TERMINAL, WATCHED_STEPS, Clock
from states.transition.rules import SYSTEM
from storage.audit import service as audit
from storage.calendar.service import add_year, days_of, stored_years
from storage.case.models import Case
from storage.catalog.models import Item
from storage.db import transaction
from storage.sla.models import OVERALL, CaseDeadline, CasePause
from storage.user.models import User
from storage.zone.models import Zone

__all__ = ["Move", "RecomputeReport", "official_years", "plan", "publish", "recompute"]

EVENT = "calendar_recomputed"
CHUNK = 2000
#: Cases listed by name in the one message a person gets; the rest are counted.
LISTED = 50


@dataclass(frozen=True)
class Move:
    """One case whose dates change: old → new, and by how many working days the overall one moves."""

    case_id: int
    case_no: str
    state: str
    old_due: datetime | None
    new_due: datetime | None
    old_step_due: datetime | None
    new_step_due: datetime | None
    moved_workdays: int
    #: Still running against its deadline (not decided, not closed): its people are told.
    open: bool


@dataclass
class RecomputeReport:
    examined: int = 0
    moved: list[Move] = field(default_factory=list)
    audited: int = 0
    notified: list[str] = field(default_factory=list)


@dataclass
class _Watch:
    """The fields of a ``case_deadlines`` row that :meth:`Clock.schedule` reads and writes."""

    id: int
    case_id: int
    step: str
    started_at: datetime
    due_at: datetime
    next_level: str | None
    next_alert_at: datetime | None
    provisional: bool


@dataclass
class _Plan:
    case_rows: list[dict[str, Any]]
    pause_rows: list[dict[str, Any]]
    watch_rows: list[dict[str, Any]]
    moves: list[Move]
    facts: dict[int, Any]


def _table(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


def _candidates(db_session: Session) -> list[int]:
    """Cases with a provisional date: a UNION of three plain filters (an OR with a subquery made
    PostgreSQL re-run the subquery per row: 140 s at 100,000 cases)."""
    stmt = union(
        select(Case.id).where(Case.due_provisional.is_(True)),
        select(Case.id).where(Case.step_due_provisional.is_(True)),
        select(CaseDeadline.case_id).where(CaseDeadline.active.is_(True), CaseDeadline.provisional.is_(True)))
    return sorted(db_session.scalars(stmt))


def _plan(db_session: Session, clock: Clock, ids: list[int], *, lock: bool) -> _Plan:
    c = _table(Case).c
    stmt = (select(c.id, c.case_no, c.state, c.version, c.received_at, c.due_at, c.step, c.step_started_at,
                   c.step_due_at, c.paused_since, c.decided_at, c.closed, c.received_by_id, c.assignee_id,
                   c.receiving_zone_id, c.handling_zone_id, c.due_provisional, c.step_due_provisional,
                   Item.promised_days, Item.step_targets, Zone.code.label("handling_code"))
            .join(Item, Item.id == c.item_id).join(Zone, Zone.id == c.handling_zone_id).where(c.id.in_(ids)))
    if lock and db_session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(of=_table(Case))
    conn = db_session.connection()
    cases = {r.id: r for r in conn.execute(stmt)}
    p = _table(CasePause).c
    pauses: dict[int, list[Any]] = defaultdict(list)
    for pr in conn.execute(select(p.id, p.case_id, p.started_at, p.ended_at, p.workdays)
                           .where(p.case_id.in_(ids), p.ended_at.is_not(None))):
        pauses[pr.case_id].append(pr)
    d = _table(CaseDeadline).c
    watches: dict[int, list[_Watch]] = defaultdict(list)
    for wr in conn.execute(select(d.id, d.case_id, d.step, d.started_at, d.due_at, d.next_level,
                                  d.next_alert_at, d.provisional)
                           .where(d.case_id.in_(ids), d.active.is_(True))):
        watches[wr.case_id].append(_Watch(*wr))

    out = _Plan([], [], [], [], {})
    spans: dict[tuple[Any, Any], int] = {}
    for cid in ids:
        row = cases.get(cid)
        if row is None:
            continue
        own = clock.for_zone(row.handling_code) if clock.calendar.zones_with_local_days() else clock
        cal = own.calendar
        paused = 0
        for pr in pauses.get(cid, ()):
            n = max(0, cal.workdays_between(own.local_day(pr.started_at), own.local_day(pr.ended_at)))
            paused += n
            if n != pr.workdays:
                out.pause_rows.append({"_id": pr.id, "workdays": n})
        new_due = own.planned_end(row.received_at, row.promised_days, paused) if row.due_at is not None else None
        if row.state in TERMINAL and row.decided_at is None:
            new_due = row.due_at  # ended without a decision: nothing is counted against it any more
        step = row.step
        new_step_due = row.step_due_at
        if step == "decide":
            new_step_due = new_due
        elif step in WATCHED_STEPS and row.step_started_at is not None and STEP_OF_STATE.get(row.state) == step:
            target = int((row.step_targets or {}).get(step, 1))
            new_step_due = own.due(row.step_started_at, target)
        due_prov, step_prov = own.is_provisional(new_due), own.is_provisional(new_step_due)
        changed = new_due != row.due_at or new_step_due != row.step_due_at
        if changed or due_prov != row.due_provisional or step_prov != row.step_due_provisional:
            out.case_rows.append({"_id": cid, "due_at": new_due, "step_due_at": new_step_due,
                                  "due_provisional": due_prov, "step_due_provisional": step_prov})
        for w in watches.get(cid, ()):
            before = (w.due_at, w.next_level, w.next_alert_at, w.provisional)
            if w.step == OVERALL:
                if new_due is not None:
                    w.due_at = new_due
            elif w.step == step and new_step_due is not None:
                w.due_at = new_step_due
            own.schedule(cast(CaseDeadline, w), w.next_level)
            if w.step == OVERALL and row.paused_since is not None:
                w.next_alert_at = None  # the clock stands still: nothing falls due
            if (w.due_at, w.next_level, w.next_alert_at, w.provisional) != before:
                out.watch_rows.append({"_id": w.id, "due_at": w.due_at, "next_level": w.next_level,
                                       "next_alert_at": w.next_alert_at, "provisional": w.provisional})
        if changed:
            moved = 0
            if row.due_at is not None and new_due is not None:
                span = (own.local_day(row.due_at), own.local_day(new_due))
                moved = spans.get(span) if own is clock else None  # type: ignore[assignment]
                if moved is None:
                    moved = cal.workdays_between(*span)
                    if own is clock:
                        spans[span] = moved
            out.moves.append(Move(cid, row.case_no, row.state, row.due_at, new_due, row.step_due_at, new_step_due,
                                  moved, not row.closed and row.decided_at is None))
            out.facts[cid] = row
    return out


def plan(*, db_session: Session, clock: Clock) -> list[Move]:
    """What :func:`recompute` would change, without writing anything (the admin's preview)."""
    ids = _candidates(db_session)
    moves: list[Move] = []
    for i in range(0, len(ids), CHUNK):
        moves += _plan(db_session, clock, ids[i:i + CHUNK], lock=False).moves
    return moves


def _s(at: datetime | None) -> str | None:
    """A time as the audit payload keeps it (what ``json.dumps(default=str)`` would write)."""
    return None if at is None else str(at)


def _local(at: datetime | None, tz: str) -> str:
    return at.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M") if at else "—"


def recompute(*, db_session: Session, clock: Clock, reason: str, now: datetime,
              progress: Callable[[int, int], None] | None = None, notify_key: str = "") -> RecomputeReport:
    """Recount every provisional date with ``clock`` (the new calendar), in the caller's transaction."""
    report = RecomputeReport()
    ids = _candidates(db_session)
    conn = db_session.connection()
    ct, pt, dt = _table(Case), _table(CasePause), _table(CaseDeadline)
    upd_case = ct.update().where(ct.c.id == bindparam("_id")).values(
        due_at=bindparam("due_at"), step_due_at=bindparam("step_due_at"),
        due_provisional=bindparam("due_provisional"), step_due_provisional=bindparam("step_due_provisional"))
    upd_pause = pt.update().where(pt.c.id == bindparam("_id")).values(workdays=bindparam("workdays"))
    upd_watch = dt.update().where(dt.c.id == bindparam("_id")).values(
        due_at=bindparam("due_at"), next_level=bindparam("next_level"), next_alert_at=bindparam("next_alert_at"),
        provisional=bindparam("provisional"))
    facts: dict[int, Any] = {}
    events: list[dict[str, Any]] = []
    if progress:
        progress(0, len(ids))
    for i in range(0, len(ids), CHUNK):
        part = _plan(db_session, clock, ids[i:i + CHUNK], lock=True)
        if part.case_rows:
            conn.execute(upd_case, part.case_rows)
        if part.pause_rows:
            conn.execute(upd_pause, part.pause_rows)
        if part.watch_rows:
            conn.execute(upd_watch, part.watch_rows)
        for m in part.moves:
            row = part.facts[m.case_id]
            events.append(dict(
                case_id=m.case_id, case_no=m.case_no, at=now, actor=SYSTEM.username, actor_role=SYSTEM.role,
                event=EVENT, from_state=m.state, to_state=m.state, version=row.version,
                payload={"reason": reason, "due_at": {"from": _s(m.old_due), "to": _s(m.new_due)},
                         "step": row.step, "step_due_at": {"from": _s(m.old_step_due), "to": _s(m.new_step_due)},
                         "moved_workdays": m.moved_workdays}))
        report.moved += part.moves
        facts.update(part.facts)
        report.examined += len(ids[i:i + CHUNK])
        if progress:
            progress(report.examined, len(ids))
    # The audit events last, in one batched append through the audit module (chain heads read first).
    report.audited = audit.append_many(db_session=db_session, events=events, plain_payloads=True)
    report.notified = _notify(db_session, clock, report.moved, facts, reason, now, notify_key or reason)
    return report


def _notify(db_session: Session, clock: Clock, moves: list[Move], facts: dict[int, Any], reason: str,
            now: datetime, key: str) -> list[str]:
    """ONE message per person: the clerk who received each moved open case, and its reviewer (the
    assignee; before one is assigned, the handling zone's reviewers once the case reached them)."""
    open_moves = [m for m in moves if m.open]
    if not open_moves:
        return []
    reviewers_of: dict[int, list[int]] = defaultdict(list)
    handling_zones = {facts[m.case_id].handling_zone_id for m in open_moves}
    for uid, zid in db_session.execute(select(User.id, User.zone_id).where(
            User.zone_id.in_(handling_zones), User.role == "reviewer", User.active.is_(True))):
        reviewers_of[zid].append(uid)
    before_handling = {"received", "prechecked", "awaiting_supplement"}
    per_user: dict[int, list[Move]] = defaultdict(list)
    for m in open_moves:
        f = facts[m.case_id]
        per_user[f.received_by_id].append(m)
        reviewers = [f.assignee_id] if f.assignee_id else (
            [] if f.state in before_handling else reviewers_of.get(f.handling_zone_id, []))
        for uid in reviewers:
            if uid != f.received_by_id:
                per_user[uid].append(m)
    users = {u.id: u for u in db_session.scalars(select(User).where(User.id.in_(per_user)))}
    sent = []
    for uid, mine in sorted(per_user.items()):
        user = users.get(uid)
        if user is None or not user.active:
            continue
        lines = [f"- {m.case_no}：{_local(m.old_due, clock.tz)} → {_local(m.new_due, clock.tz)}"
                 f"（{m.moved_workdays:+d} 个工作日）" for m in mine[:LISTED]]
        if len(mine) > LISTED:
            lines.append(f"…… 及其余 {len(mine) - LISTED} 件（见各办件的审计记录：{EVENT}）")
        subject = f"【时限调整】{reason}：{len(mine)} 件办件的承诺办结时间已按正式节假日安排重新计算"
        body = "\n".join([f"{user.display_name}：", f"{reason}。以下办件原为暂定的时限已重新计算：", *lines,
                          "", "详情见各办件页面与审计记录。"])
        if ledger.enqueue(db_session=db_session, dedupe_key=f"calendar:{key}:{user.username}"[:240], kind="calendar",
                          zone_id=user.zone_id, recipient=f"user:{user.username}", lang="zh-CN",
                          subject=subject, body=body, now=now):
            sent.append(user.username)
    return sent


def newly_published(*, db_session: Session, clock: Clock) -> list[int]:
    """Years that provisional dates were counted in and that the calendar now publishes (e.g. after a
    new chinesecalendar release or an override file edit, found at start)."""
    years: set[int] = set()
    tz = ZoneInfo(clock.tz)
    for due, step_due in db_session.execute(
            select(Case.due_at, Case.step_due_at).where(or_(Case.due_provisional.is_(True),
                                                           Case.step_due_provisional.is_(True)))):
        for at in (due, step_due):
            if at is not None:
                years.add(at.astimezone(tz).year)
    for (at,) in db_session.execute(select(CaseDeadline.next_alert_at).where(
            CaseDeadline.active.is_(True), CaseDeadline.provisional.is_(True))):
        if at is not None:
            years.add(at.astimezone(tz).year)
    return sorted(y for y in years if clock.calendar.is_official(y))


def reason_for(years: list[int]) -> str:
    return f"calendar {'/'.join(str(y) for y in years)} published"


def publish(runtime: Runtime, *, schedule: Schedule | None = None, added_by: str = "system",
            progress: Callable[[int, int], None] | None = None) -> RecomputeReport:
    """Add ``schedule`` (if given) and recompute every provisional date with the calendar as it now
    stands, in one transaction; then the runtime counts with the new calendar and the sweep raises
    whatever is now due (once: ``sla_alerts`` is unique per level)."""
    from states.sla.sweep import sweep

    now = runtime.now()
    with transaction(runtime.session_factory) as s:
        official = official_years(db_session=s)
        if schedule is not None:
            add_year(db_session=s, year=schedule.year, source=schedule.source, ranges=schedule.ranges,
                     workdays=schedule.workdays, added_by=added_by)
            official.append(schedule.official())
        clock = runtime.make_clock(WorkCalendar(runtime.settings.calendar_override, official=official))
        years = [schedule.year] if schedule is not None else newly_published(db_session=s, clock=clock)
        report = RecomputeReport()
        if years:
            reason = reason_for(years)
            report = recompute(db_session=s, clock=clock, reason=reason, now=now, progress=progress)
    runtime.reload_calendar()
    if report.moved or report.examined:
        sweep(runtime=runtime, now=now, deliver=False)
    return report


def official_years(*, db_session: Session) -> list[OfficialYear]:
    """The admin-entered years as the calendar takes them."""
    out = []
    for row in stored_years(db_session=db_session):
        holidays, workdays = days_of(row)
        out.append(OfficialYear(row.year, holidays, workdays, row.source))
    return out

