"""When a provisional year is published: recompute every provisional date in one pass (docs/architecture.md#deadlines).

Reads the cases whose overall or step deadline is flagged provisional, or that have a watched
deadline (an alert time) flagged so, and recounts them with the new calendar: finished pauses'
working days, the overall deadline (decided cases too, so the annual evaluation counts on-time
against the final date), the current step's target, and each active watched deadline with its next
alert — the level it is at stays, so an alert already raised for a date that moved later is not
raised again; a level now due is raised once by the next sweep (``sla_alerts`` is unique per level).

Each case whose dates changed gets a system audit event chained onto its hash chain exactly as the
audit module's own append would (the version is not bumped, the state does not change), and the
clerk who received each moved open case and its reviewer get ONE message listing their moved cases.

The pass is built for the cost floor of the bare UPDATE of the deadline columns
(bench/calendar_recompute.py, docs/performance.md): three driver-level reads, the recount in Python
with memoised calendar arithmetic, one set-based write per table (storage/calendar/bulk.py) — the
case's new dates and its new chain head in the same UPDATE — and the audit rows hashed in Python and
inserted in one statement. Cases whose dates do not change are not written.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from notifications import ledger
from states.calendar.schedule import Schedule
from states.calendar.work_calendar import OfficialYear, WorkCalendar
from states.runtime import Runtime
from states.sla.clock import STEP_OF_STATE, TERMINAL, WATCHED_STEPS, Clock
from states.transition.rules import SYSTEM
from storage.audit import service as audit
from storage.calendar import bulk
from storage.calendar.service import add_year, days_of, stored_years
from storage.case.models import Case
from storage.db import transaction
from storage.sla.models import OVERALL, CaseDeadline
from storage.user.models import User

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
    case_rows: list[bulk.CaseWrite]
    pause_rows: list[tuple[int, int]]
    watch_rows: list[bulk.WatchWrite]
    moves: list[Move]
    facts: dict[int, bulk.CaseFacts]


def _plan(clock: Clock, cases: list[bulk.CaseFacts], pauses: list[bulk.PauseFacts],
          watches: list[bulk.WatchFacts], progress: Callable[[int, int], None] | None = None) -> _Plan:
    """Recount every case in Python (no SQL): the calendar arithmetic is memoised per (local day,
    working days) and per (due time, level), so 100,000 cases cost a few thousand calendar walks."""
    paused_of: dict[int, list[bulk.PauseFacts]] = defaultdict(list)
    for pr in pauses:
        paused_of[pr.case_id].append(pr)
    watched: dict[int, list[bulk.WatchFacts]] = defaultdict(list)
    for wr in watches:
        watched[wr.case_id].append(wr)
    local_days = clock.calendar.zones_with_local_days()
    prov_memo: dict[tuple[int, datetime | None], bool] = {}

    def provisional(own: Clock, at: datetime | None) -> bool:
        key = (id(own), at)
        hit = prov_memo.get(key)
        if hit is None:
            hit = prov_memo[key] = own.is_provisional(at)
        return hit

    sched_memo: dict[tuple[int, datetime, str | None, bool], tuple[str | None, datetime | None, bool]] = {}

    def scheduled(own: Clock, due_at: datetime, level: str | None,
                  started_at: datetime) -> tuple[str | None, datetime | None, bool]:
        """:meth:`Clock.schedule` of a watched deadline, once per (due time, level, whether its warning
        falls before the watch began) — the only way its start enters the schedule."""
        early = level == "warning" and own.alert_at(due_at, "warning") <= started_at
        key = (id(own), due_at, level, early)
        hit = sched_memo.get(key)
        if hit is None:
            w = _Watch(0, 0, "", started_at, due_at, level, None, False)
            own.schedule(cast(CaseDeadline, w), level)
            hit = sched_memo[key] = (w.next_level, w.next_alert_at, w.provisional)
        return hit

    out = _Plan([], [], [], [], {})
    spans: dict[tuple[Any, Any], int] = {}
    total = len(cases)
    for n, row in enumerate(cases, start=1):
        if progress and n % CHUNK == 0:
            progress(n, total)
        cid = row.id
        own = clock.for_zone(row.handling_code) if local_days else clock
        cal = own.calendar
        paused = 0
        for pr in paused_of.get(cid, ()):
            days = max(0, cal.workdays_between(own.local_day(pr.started_at), own.local_day(pr.ended_at)))
            paused += days
            if days != pr.workdays:
                out.pause_rows.append((pr.id, days))
        new_due = own.planned_end(row.received_at, row.promised_days, paused) if row.due_at is not None else None
        if row.state in TERMINAL and not row.decided:
            new_due = row.due_at  # ended without a decision: nothing is counted against it any more
        step = row.step
        new_step_due = row.step_due_at
        if step == "decide":
            new_step_due = new_due
        elif step in WATCHED_STEPS and row.step_started_at is not None and STEP_OF_STATE.get(row.state) == step:
            new_step_due = own.due(row.step_started_at, int(row.step_targets.get(step, 1)))
        due_prov, step_prov = provisional(own, new_due), provisional(own, new_step_due)
        changed = new_due != row.due_at or new_step_due != row.step_due_at
        if changed or due_prov != row.due_provisional or step_prov != row.step_due_provisional:
            # The chain head is filled in once the audit events are chained (recompute).
            out.case_rows.append(bulk.CaseWrite(cid, new_due, new_step_due, due_prov, step_prov,
                                                row.audit_seq, row.audit_head))
        for wr in watched.get(cid, ()):
            due_at = wr.due_at
            if wr.step == OVERALL:
                if new_due is not None:
                    due_at = new_due
            elif wr.step == step and new_step_due is not None:
                due_at = new_step_due
            level, alert_at, prov = scheduled(own, due_at, wr.next_level, wr.started_at)
            if wr.step == OVERALL and row.paused:
                alert_at = None  # the clock stands still: nothing falls due
            if (due_at, level, alert_at, prov) != wr[4:]:
                out.watch_rows.append(bulk.WatchWrite(wr.id, due_at, level, alert_at, prov))
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
                                  moved, not row.closed and not row.decided))
            out.facts[cid] = row
    return out


def plan(*, db_session: Session, clock: Clock) -> list[Move]:
    """What :func:`recompute` would change, without writing anything (the admin's preview)."""
    return _plan(clock, *bulk.read(db_session.connection(), lock=False)).moves


def _s(at: datetime | None) -> str | None:
    """A time as the audit payload keeps it (what ``json.dumps(default=str)`` would write)."""
    return None if at is None else str(at)


def _local(at: datetime | None, tz: str) -> str:
    return at.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M") if at else "—"


def recompute(*, db_session: Session, clock: Clock, reason: str, now: datetime,
              progress: Callable[[int, int], None] | None = None, notify_key: str = "") -> RecomputeReport:
    """Recount every provisional date with ``clock`` (the new calendar), in the caller's transaction.

    Three reads, the recount in Python, then one write per table: the cases' new dates together with
    their new audit chain heads (one UPDATE, not two), the pauses, the watched deadlines, and the
    audit events chained in Python (``storage.audit.service.chain_events``, the hash of
    ``event_hash``). Cases whose dates do not change are neither written nor audited, so a second
    run finds nothing to do."""
    report = RecomputeReport()
    conn = db_session.connection()
    cases, pauses, watches = bulk.read(conn, lock=True)
    if progress:
        progress(0, len(cases))
    part = _plan(clock, cases, pauses, watches, progress)
    # Many cases share one move (same old and new dates): each distinct payload is encoded once.
    payloads: dict[tuple[Any, ...], str] = {}
    events = []
    for m in part.moves:
        facts = part.facts[m.case_id]
        key = (m.old_due, m.new_due, facts.step, m.old_step_due, m.new_step_due, m.moved_workdays)
        text = payloads.get(key)
        if text is None:
            text = payloads[key] = audit.canonical_json(
                {"reason": reason, "due_at": {"from": _s(m.old_due), "to": _s(m.new_due)}, "step": facts.step,
                 "step_due_at": {"from": _s(m.old_step_due), "to": _s(m.new_step_due)},
                 "moved_workdays": m.moved_workdays})
        events.append({"case_id": m.case_id, "case_no": m.case_no, "at": now, "actor": SYSTEM.username,
                       "actor_role": SYSTEM.role, "event": EVENT, "from_state": m.state, "to_state": m.state,
                       "version": facts.version, "payload_json": text})
    heads = {c.id: (c.audit_seq, c.audit_head) for c in part.facts.values()}
    chained = audit.chain_events(events, heads)
    # Every moved case is in ``case_rows`` (its dates changed); its head moves in the same UPDATE.
    rows = [c._replace(audit_seq=heads[c.id][0], audit_head=heads[c.id][1]) if c.id in part.facts else c
            for c in part.case_rows]
    bulk.write(conn, cases=rows, pauses=part.pause_rows, watches=part.watch_rows, now=now)
    report.audited = bulk.insert_audit_rows(conn, chained)
    report.moved = part.moves
    report.examined = len(cases)
    if progress:
        progress(report.examined, len(cases))
    report.notified = _notify(db_session, clock, report.moved, part.facts, reason, now, notify_key or reason)
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

