"""Deadline arithmetic with pauses, property-tested: the promises hold for any day, limit and pause.

The case objects here are real ORM objects that never touch a database: the Clock works on the case
row the transition service hands it, and nothing else.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from states.calendar import WorkCalendar
from states.sla.clock import Clock
from storage.case.models import Case
from storage.catalog.models import Item

SHANGHAI = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar()
CLOCK = Clock(CAL)

#: Days far enough from the end of the packaged data (2026) that every deadline below stays inside it.
days = st.dates(min_value=date(2024, 1, 1), max_value=date(2026, 9, 30))
moments = st.builds(
    lambda d, minutes: datetime.combine(d, time(0, 0), SHANGHAI).astimezone(UTC) + timedelta(minutes=minutes),
    days, st.integers(min_value=0, max_value=24 * 60 - 1))
limits = st.integers(min_value=1, max_value=20)
#: A pause: (hours after the previous event that it starts, hours it lasts).
pause_spans = st.lists(st.tuples(st.integers(0, 24 * 10), st.integers(0, 24 * 12)), min_size=1, max_size=3)


def new_case(received_at: datetime, promised: int) -> Case:
    case = Case(case_no="TEST", state="received", received_at=received_at,
                item=Item(code="T", name="t", promised_days=promised, step_targets={"precheck": 1}))
    case.closed = False
    CLOCK.on_receipt(case, received_at)
    return case


def move(case: Case, state: str, at: datetime) -> None:
    previous, case.state = case.state, state
    CLOCK.on_state_entered(case, at, previous=previous)


def local_day(at: datetime) -> date:
    return at.astimezone(SHANGHAI).date()


@settings(deadline=None)  # shared, noisy machines: no timing in tests
@given(days, st.integers(0, 40), st.integers(0, 40))
def test_adding_working_days_is_monotonic(start: date, n: int, m: int) -> None:
    lo, hi = sorted((n, m))
    assert CAL.add_workdays(start, lo) <= CAL.add_workdays(start, hi)
    later = start + timedelta(days=(m % 5) + 1)
    assert CAL.add_workdays(start, n) <= CAL.add_workdays(later, n)
    if lo < hi:
        assert CAL.add_workdays(start, lo) < CAL.add_workdays(start, hi)


@settings(deadline=None)
@given(moments, limits)
def test_a_deadline_is_the_close_of_a_working_day_after_receipt(received_at: datetime, promised: int) -> None:
    due = CLOCK.due(received_at, promised)
    local = due.astimezone(SHANGHAI)
    assert CAL.is_workday(local.date())
    assert local.time() == CLOCK.close
    # The day of receipt does not count: exactly ``promised`` working days lie in (receipt day, due day].
    assert CAL.workdays_between(local_day(received_at), local.date()) == promised


@settings(max_examples=200, deadline=None)
@given(moments, limits, pause_spans)
def test_pausing_never_shortens_time_left_and_never_ends_on_a_rest_day(
        received_at: datetime, promised: int, spans: list[tuple[int, int]]) -> None:
    case = new_case(received_at, promised)
    at = received_at
    for gap, length in spans:
        at += timedelta(hours=gap)
        left_before = CLOCK.standing(case, at).left_workdays
        due_before = case.due_at
        move(case, "awaiting_supplement", at)
        assert CLOCK.standing(case, at).left_workdays == left_before  # the clock stops where it was

        resumed = at + timedelta(hours=length)
        # While paused, time left stands still however long the applicant takes.
        assert CLOCK.standing(case, resumed).left_workdays == left_before
        move(case, "received", resumed)
        assert case.due_at is not None and due_before is not None
        assert case.due_at >= due_before
        left_after = CLOCK.standing(case, resumed).left_workdays
        assert left_after is not None and left_before is not None
        assert left_after >= left_before  # never shorter than when the pause began ...
        unpaused = CAL.workdays_between(local_day(resumed), local_day(due_before))
        assert left_after >= unpaused  # ... nor than had the clock kept running
        assert CAL.is_workday(local_day(case.due_at))
        at = resumed

    history = case.pauses  # type: ignore[attr-defined]
    assert [p.reason for p in history] == ["awaiting_supplement"] * len(spans)
    assert all(p.ended_at is not None and p.workdays is not None and p.workdays >= 0 for p in history)
    # The server's recomputation from scratch agrees with the step-by-step moves.
    paused = sum(p.workdays for p in history)
    assert case.due_at == CLOCK.planned_end(received_at, promised, paused)


@settings(deadline=None)
@given(moments, limits, st.integers(0, 24 * 9))
def test_originals_in_the_post_pause_the_clock_until_the_handling_zone_accepts(
        received_at: datetime, promised: int, hours_in_post: int) -> None:
    from storage.case.models import Shipment

    case = new_case(received_at, promised)
    posted = received_at + timedelta(hours=2)
    case.shipments.append(Shipment(direction="originals", carrier="EMS", tracking_no="RR473124829GB",
                                   sent_at=posted))
    move(case, "prechecked", posted)
    assert case.paused_since == posted
    move(case, "forwarded", posted + timedelta(minutes=30))
    assert case.paused_since == posted  # forwarding does not end it: the paper is still on its way
    arrived = posted + timedelta(hours=hours_in_post)
    due_before = case.due_at
    move(case, "accepted", arrived)
    assert case.paused_since is None
    assert case.shipments[0].delivered_at == arrived
    (pause,) = case.pauses  # type: ignore[attr-defined]
    assert pause.reason == "originals_in_post"
    assert pause.workdays == CAL.workdays_between(local_day(posted), local_day(arrived))
    assert due_before is not None and case.due_at == CLOCK.shift(due_before, pause.workdays)


@settings(deadline=None)
@given(moments, limits)
def test_alert_moments_bracket_the_deadline_on_working_days(received_at: datetime, promised: int) -> None:
    due = CLOCK.due(received_at, promised)
    warning, overdue, escalation = (CLOCK.alert_at(due, lvl) for lvl in ("warning", "overdue", "escalation"))
    assert warning < overdue == due < escalation
    assert CAL.workdays_between(local_day(warning), local_day(due)) == 1
    assert CAL.workdays_between(local_day(due), local_day(escalation)) == 1
    assert all(CAL.is_workday(local_day(x)) for x in (warning, escalation))
