"""The case clock: overall deadline, current step and its target, pauses (DESIGN §3).

Called by the transition service only, inside its transaction, so a deadline always moves together
with the state that moved it.
"""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from states.calendar import WorkCalendar
from storage.case.models import Case

#: The step a case is in while in each state; ``None`` means no step clock runs.
STEP_OF_STATE: dict[str, str | None] = {
    "received": "precheck",
    "prechecked": "forward",
    "forwarded": "accept",
    "accepted": "decide",
    "under_review": "decide",
    "approved": "mailback",
    "denied": "mailback",
    "awaiting_supplement": None,
    "returned": None,
    "mailed": "delivery",
    "awaiting_pickup": "delivery",
}
TERMINAL = frozenset({"rejected", "closed", "withdrawn"})
#: States in which the overall clock stands still (waiting for the applicant).
PAUSED_STATES = frozenset({"awaiting_supplement", "returned"})
DECIDED = frozenset({"approved", "denied"})


class Clock:
    """Deadline arithmetic for one configuration (calendar, time zone, close of business)."""

    def __init__(self, calendar: WorkCalendar, *, tz: str = "Asia/Shanghai", close: time = time(17, 30)) -> None:
        self.calendar = calendar
        self.tz = tz
        self.close = close

    def due(self, start: datetime, workdays: int) -> datetime:
        return self.calendar.deadline_at(start, workdays, close=self.close, tz=self.tz)

    def on_receipt(self, case: Case, now: datetime) -> None:
        case.due_at = self.due(now, case.item.promised_days)
        self.on_state_entered(case, now)

    def on_state_entered(self, case: Case, now: datetime, previous: str | None = None) -> None:
        if previous in PAUSED_STATES and case.state not in PAUSED_STATES:
            self._resume(case, now)
        if case.state in PAUSED_STATES and case.paused_since is None:
            case.paused_since = now
        if case.state in DECIDED:
            case.decided_at = now
        if case.state in TERMINAL:
            case.closed = True
            case.closed_at = now
            case.step = case.step_due_at = case.step_started_at = None
            return
        step = STEP_OF_STATE.get(case.state)
        case.step = step
        case.step_started_at = now if step else None
        if step is None or step == "delivery":
            case.step_due_at = None
        elif step == "decide":
            case.step_due_at = case.due_at
        else:
            target = int((case.item.step_targets or {}).get(step, 1))
            case.step_due_at = self.due(now, target)

    def _resume(self, case: Case, now: datetime) -> None:
        """Push the overall deadline by the working days the case stood still."""
        if case.paused_since is None or case.due_at is None:
            case.paused_since = None
            return
        zone = ZoneInfo(self.tz)
        paused_days = self.calendar.workdays_between(
            case.paused_since.astimezone(zone).date(), now.astimezone(zone).date()
        )
        if paused_days > 0:
            due_local = case.due_at.astimezone(zone).date()
            new_day = self.calendar.add_workdays(due_local, paused_days)
            case.due_at = datetime.combine(new_day, self.close, zone)
        case.paused_since = None
