"""The case clock: overall deadline, current step and its target, pauses, watched deadlines
(docs/architecture.md#deadlines).

Called by the transition service only, inside its transaction, so a deadline always moves together
with the state that moved it. It is the one place that moves deadlines: ``cases.due_at`` /
``step_due_at``, the pause history (``case_pauses``) and the watched deadlines the SLA sweep reads
(``case_deadlines``, each with the moment its next alert is due).

Pauses (暂停计时), decided here:

* **awaiting_supplement** (待补正): from the supplement request (or a return by the handling zone)
  until the supplement is received (or the case is withdrawn).
* **originals_in_post** (原件寄递中): the receiving clerk who posts the paper originals to the
  handling zone names the parcel in the ``precheck_pass`` payload (``originals: {carrier,
  tracking_no}``, recorded as a shipment of direction ``originals``); the clock stands still from
  then until the handling zone accepts (or returns) the case, which marks the parcel delivered.

A pause is counted in working days, ``(start day, end day]`` in local time like every other span
(the day it began does not count, the day it ended does), and the overall deadline moves by that
many working days when it ends. The pauses of this lifecycle never overlap (a return ends the
originals pause before the supplement pause begins), so the moves simply add up.

Provisional dates (暂定): a deadline that falls in a year with no published schedule is counted by the
statutory rules (states/calendar/statutory.py) and flagged — ``cases.due_provisional`` /
``step_due_provisional`` and ``case_deadlines.provisional`` (its alert time included) — so every
place that shows it can say so, and the recompute (states/calendar/recompute.py) finds it when the
year is published. Provisional years only ever follow the published ones, so a span is provisional
exactly when its last day is.

Both zones count a case's days by the **handling zone's** calendar (its local days, if any): the
deadline is the same on both sides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import cast
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session, object_session

from states.calendar import WorkCalendar
from states.enums import CaseState, Step
from states.lifecycle import STATES, TERMINAL
from storage.case.models import Case
from storage.sla.models import LEVELS, OVERALL, CaseDeadline, CasePause, deadlines_of, pauses_of
from storage.zone.models import Zone

#: The step a case is in while in each state; ``None`` means no step clock runs (states/lifecycle.py STATES).
STEP_OF_STATE: dict[str, str | None] = {s.value: (f.step.value if f.step else None)
                                        for s, f in STATES.items() if s not in TERMINAL}
#: States in which the overall clock stands still (waiting for the applicant).
PAUSED_STATES = frozenset(s for s, f in STATES.items() if f.paused)
DECIDED = frozenset(s for s, f in STATES.items() if f.decided)
#: States in which the handling zone has the originals (or the case ended): the parcel pause ends.
ORIGINALS_ARRIVED = frozenset(s for s, f in STATES.items() if f.originals_arrived) | TERMINAL
#: Steps whose deadline is watched on its own; ``decide`` ends at the overall deadline, which is watched.
WATCHED_STEPS = frozenset({Step.precheck, Step.forward, Step.accept, Step.mailback})


@dataclass
class _Watch:
    """What :meth:`Clock.schedule` reads and writes of a watched deadline, without the ORM row."""

    started_at: datetime
    due_at: datetime
    next_level: str | None = None
    next_alert_at: datetime | None = None
    provisional: bool = False


_deadlines = cast(Table, CaseDeadline.__table__)
_RETIRE_STEPS = (update(_deadlines)
                 .where(_deadlines.c.case_id == bindparam("p_case_id"), _deadlines.c.step != OVERALL,
                        _deadlines.c.active.is_(True))
                 .values(active=False, ended_at=bindparam("p_now", type_=_deadlines.c.ended_at.type),
                         next_alert_at=None))
_WATCH_STEP = insert(_deadlines).values(
    case_id=bindparam("p_case_id"), step=bindparam("p_step"), active=True,
    visit=(select(func.coalesce(func.max(_deadlines.c.visit), 0) + 1)
           .where(_deadlines.c.case_id == bindparam("p_case_id"), _deadlines.c.step == bindparam("p_step"))
           .scalar_subquery()))


@dataclass(frozen=True)
class Standing:
    """How a case stands against its promised time limit, in working days (shown by the API)."""

    #: Working days counted against the limit so far (pauses excluded; stops at the decision).
    used_workdays: int
    #: Working days until the deadline (negative once overdue; frozen while paused or decided).
    left_workdays: int | None
    #: Working days the deadline has moved because of finished pauses.
    paused_workdays: int
    paused: bool
    overdue: bool


class Clock:
    """Deadline arithmetic for one configuration (calendar, time zone, close of business, alert lead)."""

    def __init__(self, calendar: WorkCalendar, *, tz: str = "Asia/Shanghai", close: time = time(17, 30),
                 warning_workdays: int = 1, escalation_workdays: int = 1) -> None:
        self.calendar = calendar
        self.tz = tz
        self.zone = ZoneInfo(tz)
        self.close = close
        self.warning_workdays = warning_workdays
        self.escalation_workdays = escalation_workdays
        self._zones: dict[str, Clock] = {}
        self._due_cache: dict[tuple[date, int], datetime] = {}
        self._alert_cache: dict[tuple[datetime, str], datetime] = {}

    # --- which calendar -----------------------------------------------------------------------

    def for_zone(self, code: str | None) -> Clock:
        """This clock counting by zone ``code``'s calendar (the same clock when it has no local days)."""
        cal = self.calendar.for_zone(code)
        if cal is self.calendar or code is None:
            return self
        if code not in self._zones:
            self._zones[code] = Clock(cal, tz=self.tz, close=self.close, warning_workdays=self.warning_workdays,
                                      escalation_workdays=self.escalation_workdays)
        return self._zones[code]

    def for_case(self, case: Case) -> Clock:
        """The clock of the case's handling zone (both zones see the same deadline)."""
        if not self.calendar.zones_with_local_days():
            return self
        return self.for_zone(handling_zone_code(case))

    def is_provisional(self, at: datetime | None) -> bool:
        return at is not None and self.calendar.is_provisional(at.astimezone(self.zone).date())

    # --- arithmetic ---------------------------------------------------------------------------

    def local_day(self, at: datetime) -> date:
        return at.astimezone(self.zone).date()

    def due(self, start: datetime, workdays: int) -> datetime:
        """Close of business on the ``workdays``-th working day after ``start``'s local day.

        Memoised per (local day, working days): a recompute over many cases of the same days counts once.
        """
        key = (self.local_day(start), workdays)
        hit = self._due_cache.get(key)
        if hit is None:
            hit = self.calendar.deadline_at(start, workdays, close=self.close, tz=self.tz)
            if len(self._due_cache) > 100_000:
                self._due_cache.clear()
            self._due_cache[key] = hit
        return hit

    def shift(self, at: datetime, workdays: int) -> datetime:
        """The same local time ``workdays`` working days later (or earlier, when negative)."""
        local = at.astimezone(self.zone)
        if workdays >= 0:
            day = self.calendar.add_workdays(local.date(), workdays)
        else:
            day, n = local.date(), -workdays
            while n:
                day -= timedelta(days=1)
                if self.calendar.is_workday(day):
                    n -= 1
        return datetime.combine(day, local.timetz().replace(tzinfo=None), self.zone).astimezone(UTC)

    def planned_end(self, received_at: datetime, promised_days: int, paused_workdays: int) -> datetime:
        """The overall deadline: promised working days plus the working days of finished pauses."""
        return self.due(received_at, promised_days + paused_workdays)

    def alert_at(self, due_at: datetime, level: str) -> datetime:
        """When ``level`` is due for a deadline: warning before it, overdue at it, escalation after."""
        if level == "overdue":
            return due_at
        key = (due_at, level)
        hit = self._alert_cache.get(key)
        if hit is not None:
            return hit
        if level == "warning":
            hit = self.shift(due_at, -self.warning_workdays)
        elif level == "escalation":
            hit = self.shift(due_at, self.escalation_workdays)
        else:
            raise ValueError(f"unknown alert level {level!r}")
        if len(self._alert_cache) > 100_000:
            self._alert_cache.clear()
        self._alert_cache[key] = hit
        return hit

    # --- the lifecycle's hooks ----------------------------------------------------------------

    def on_receipt(self, case: Case, now: datetime) -> None:
        own = self.for_case(case)
        case.due_at = own.due(now, case.item.promised_days)
        own.on_state_entered(case, now)

    def on_state_entered(self, case: Case, now: datetime, previous: str | None = None) -> None:
        own = self.for_case(case)
        if own is not self:
            own.on_state_entered(case, now, previous)
            return
        session = object_session(case)
        if session is not None:
            # Nothing here may flush: a stale version must surface at the service's own flush.
            with session.no_autoflush:
                self._enter(case, now, previous)
        else:
            self._enter(case, now, previous)

    def _enter(self, case: Case, now: datetime, previous: str | None) -> None:
        was_paused = case.paused_since is not None
        self._pauses(case, now, previous)
        overall_moves = (was_paused or case.paused_since is not None or case.state in DECIDED
                         or case.state in TERMINAL)
        if case.state in DECIDED:
            case.decided_at = now
        if case.state in TERMINAL:
            case.closed = True
            case.closed_at = now
            case.step = case.step_due_at = case.step_started_at = None
        else:
            step = STEP_OF_STATE.get(case.state)
            case.step = step
            case.step_started_at = now if step else None
            case.step_due_at = self.step_due(step, now, due_at=case.due_at, step_targets=case.item.step_targets)
        case.due_provisional = self.is_provisional(case.due_at)
        case.step_due_provisional = self.is_provisional(case.step_due_at)
        session = object_session(case)
        if session is None or case.id is None or overall_moves or "deadlines" in case.__dict__:
            self._watch(case, now)
        else:
            self._watch_steps_sql(session, case, now, previous)

    # --- pauses -------------------------------------------------------------------------------

    def _pauses(self, case: Case, now: datetime, previous: str | None) -> None:
        """Open and close pauses for the state just entered; ``paused_since`` mirrors the open ones."""
        touched = False
        if case.paused_since is not None:
            if previous in PAUSED_STATES and case.state not in PAUSED_STATES:
                touched |= self._end_pause(case, "awaiting_supplement", now)
            if case.state in ORIGINALS_ARRIVED and self._end_pause(case, "originals_in_post", now):
                touched = True
                for shipment in case.shipments:
                    if shipment.direction == "originals" and shipment.delivered_at is None:
                        shipment.delivered_at = now
        if case.state == CaseState.prechecked:
            posted = [s for s in case.shipments if s.direction == "originals" and s.delivered_at is None]
            if posted and not self._open(case, "originals_in_post"):
                pauses_of(case).append(CasePause(reason="originals_in_post", started_at=min(s.sent_at for s in posted)))
                touched = True
        if case.state in PAUSED_STATES and (case.paused_since is None
                                            or not self._open(case, "awaiting_supplement")):
            pauses_of(case).append(CasePause(reason="awaiting_supplement", started_at=now))
            touched = True
        if touched:
            open_ = [p.started_at for p in pauses_of(case) if p.ended_at is None]
            case.paused_since = min(open_) if open_ else None

    @staticmethod
    def _open(case: Case, reason: str) -> CasePause | None:
        return next((p for p in pauses_of(case) if p.reason == reason and p.ended_at is None), None)

    def _end_pause(self, case: Case, reason: str, now: datetime) -> bool:
        """End the open pause of ``reason`` and move the overall deadline by its working days."""
        pause = self._open(case, reason)
        if pause is None:
            return False
        pause.ended_at = now
        pause.workdays = max(0, self.calendar.workdays_between(self.local_day(pause.started_at),
                                                               self.local_day(now)))
        if case.due_at is not None and case.decided_at is None:
            paused = sum((p.workdays or 0) for p in pauses_of(case) if p.ended_at is not None)
            case.due_at = self.planned_end(case.received_at, case.item.promised_days, paused)
        return True

    # --- watched deadlines (what the sweep reads) --------------------------------------------

    def _watch(self, case: Case, now: datetime) -> None:
        """Keep ``case_deadlines`` in step with the case: one overall row, one row per step visit."""
        rows = deadlines_of(case)
        running = not case.closed and case.decided_at is None and case.due_at is not None
        overall = next((d for d in rows if d.step == OVERALL), None)
        if overall is None and running:
            assert case.due_at is not None
            overall = CaseDeadline(step=OVERALL, visit=1, started_at=now, due_at=case.due_at)
            rows.append(overall)
            self.schedule(overall, "warning")
        elif overall is not None and overall.active:
            if not running:
                self._retire(overall, now)
            elif case.due_at is not None and overall.due_at != case.due_at:
                overall.due_at = case.due_at
                self.schedule(overall, overall.next_level)
            if overall.active and case.paused_since is not None:
                overall.next_alert_at = None  # the clock stands still: nothing falls due
            elif overall.active and overall.next_alert_at is None and overall.next_level:
                self.schedule(overall, overall.next_level)

        watched = case.step if case.step in WATCHED_STEPS and case.step_due_at is not None else None
        for d in rows:
            if d.step == OVERALL or not d.active:
                continue
            if d.step == watched and d.started_at == case.step_started_at:
                return  # the same visit (a state change within the step)
            self._retire(d, now)
        if watched is None:
            return
        assert case.step_due_at is not None and case.step_started_at is not None
        visit = 1 + max((d.visit for d in rows if d.step == watched), default=0)
        row = CaseDeadline(step=watched, visit=visit, started_at=case.step_started_at, due_at=case.step_due_at)
        rows.append(row)
        self.schedule(row, "warning")

    def step_due(self, step: str | None, now: datetime, *, due_at: datetime | None,
                 step_targets: dict[str, object] | None) -> datetime | None:
        """The target of ``step`` begun ``now``: its own working days, or the overall deadline for ``decide``."""
        if step is None or step == Step.delivery:
            return None
        if step == Step.decide:
            return due_at
        return self.due(now, int((step_targets or {}).get(step, 1)))  # type: ignore[call-overload]

    def _watch_steps_sql(self, session: Session, case: Case, now: datetime, previous: str | None) -> None:
        self.watch_steps_sql(session, case.id, now, left=STEP_OF_STATE.get(previous or ""), entered=case.step,
                             due_at=case.step_due_at)

    def watch_steps_sql(self, conn: Session | Connection, case_id: int, now: datetime, *, left: str | None,
                        entered: str | None, due_at: datetime | None) -> None:
        """The common transition — a step change with the overall deadline untouched — in two
        statements and no read: retire the step left, insert the next visit of the step entered.

        Same outcome as :meth:`_watch` (which handles receipts, pauses and decisions); this path
        only keeps a transition cheap (docs/performance.md).
        """
        if left in WATCHED_STEPS:
            conn.execute(_RETIRE_STEPS, {"p_case_id": case_id, "p_now": now})
        if entered not in WATCHED_STEPS or due_at is None:
            return
        row = _Watch(started_at=now, due_at=due_at)
        self.schedule(row, "warning")  # type: ignore[arg-type]
        conn.execute(_WATCH_STEP, {"p_case_id": case_id, "p_step": entered, "started_at": now, "due_at": due_at,
                                   "next_level": row.next_level, "next_alert_at": row.next_alert_at,
                                   "provisional": row.provisional})

    @staticmethod
    def _retire(d: CaseDeadline, now: datetime) -> None:
        d.active = False
        d.ended_at = now
        d.next_alert_at = None

    def schedule(self, d: CaseDeadline, level: str | None) -> None:
        """Set the next alert of ``d`` to ``level`` (or the first later one that makes sense).

        A warning that would fall before the deadline's own start (a one-day target begun after
        hours) is skipped: it would tell nobody anything the new step did not.
        """
        d.provisional = self.is_provisional(d.due_at)
        if level is None:
            d.next_level = d.next_alert_at = None
            return
        for lvl in LEVELS[LEVELS.index(level):]:
            at = self.alert_at(d.due_at, lvl)
            if lvl == "warning" and at <= d.started_at:
                continue
            d.next_level, d.next_alert_at = lvl, at
            d.provisional = d.provisional or self.is_provisional(at)
            return
        d.next_level = d.next_alert_at = None

    def advance(self, d: CaseDeadline) -> None:
        """After the sweep raised ``d.next_level``: schedule the level after it (or nothing)."""
        assert d.next_level is not None
        i = LEVELS.index(d.next_level)
        self.schedule(d, LEVELS[i + 1] if i + 1 < len(LEVELS) else None)

    # --- reporting ------------------------------------------------------------------------------

    def standing(self, case: Case, now: datetime) -> Standing:
        """Time used and left in working days, for the case view and reports."""
        own = self.for_case(case)
        if own is not self:
            return own.standing(case, now)
        finished = sum((p.workdays or 0) for p in pauses_of(case) if p.ended_at is not None)
        end = case.decided_at or case.closed_at or now
        end_day = self.local_day(end)
        open_days = 0
        if case.paused_since is not None and case.decided_at is None:
            open_days = max(0, self.calendar.workdays_between(self.local_day(case.paused_since), end_day))
        elapsed = self.calendar.workdays_between(self.local_day(case.received_at), end_day)
        used = max(0, elapsed - finished - open_days)
        left = None
        if case.due_at is not None:
            # While paused the clock stands where the pause began; after the decision, where it stopped.
            stand = case.paused_since if case.paused_since is not None and case.decided_at is None else end
            left = self.calendar.workdays_between(self.local_day(stand), self.local_day(case.due_at))
        overdue = bool(case.due_at is not None and case.paused_since is None and end > case.due_at)
        return Standing(used_workdays=used, left_workdays=left, paused_workdays=finished,
                        paused=case.paused_since is not None, overdue=overdue)


def handling_zone_code(case: Case) -> str | None:
    """The handling zone's code without a flush or a lazy load where the row is at hand."""
    zone = case.__dict__.get("handling_zone")
    if zone is not None:
        return str(zone.code)
    session = object_session(case)
    if session is None or case.handling_zone_id is None:
        return None
    with session.no_autoflush:
        found = session.get(Zone, case.handling_zone_id)
    return found.code if found is not None else None
