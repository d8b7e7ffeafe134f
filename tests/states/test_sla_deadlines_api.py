"""Deadlines as the case view shows them: computed by the server from the calendar, moved by pauses,
with the pause history kept. Expected dates were worked out by hand from the 2026 State Council schedule."""

from __future__ import annotations

from datetime import datetime

from tests.app_harness import Tongban
from tests.sla_support import act, forwarded, local, received, tb_per_module

tb_fixture = tb_per_module()


def view(tb: Tongban, case_no: str, user: str = "bj_clerk") -> dict:  # type: ignore[type-arg]
    r = tb.client.get(f"/api/v1/cases/{case_no}", headers=tb.h(user))
    assert r.status_code == 200, r.text
    return dict(r.json())


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def test_a_case_received_in_the_demo_shows_its_deadlines(tb: Tongban) -> None:
    # Tuesday 24 Nov 2026, 10:00 in Beijing; 企业档案查询 promises 3 working days, pre-check 1.
    case_no = received(tb, "2026-11-24 10:00")
    case = view(tb, case_no)
    assert at(case["due_at"]) == local("2026-11-27 17:30")  # Wed, Thu, Fri: Friday at close
    assert case["step"] == "precheck"
    assert at(case["step_due_at"]) == local("2026-11-25 17:30")
    assert (case["time_used_workdays"], case["time_left_workdays"]) == (0, 3)
    assert case["pauses"] == []
    # The handling side sees nothing before the forward (docs/architecture.md#party), then the same deadline.
    assert tb.client.get(f"/api/v1/cases/{case_no}", headers=tb.h("tj_reviewer")).status_code == 404

    tb.clock.now = local("2026-11-26 09:00")  # Thursday morning: Wed and Thu counted
    case = view(tb, case_no)
    assert (case["time_used_workdays"], case["time_left_workdays"]) == (2, 1)
    forwarded(tb, case_no, at="2026-11-26 09:00")
    assert view(tb, case_no, "tj_reviewer")["due_at"] == view(tb, case_no)["due_at"] == case["due_at"]


def test_a_deadline_across_national_day_counts_the_adjusted_saturday(tb: Tongban) -> None:
    # Wednesday 30 Sep 2026: 1–7 Oct are holidays, Sat 10 Oct is a 调休 working day.
    case_no = received(tb, "2026-09-30 10:00")
    case = view(tb, case_no)
    assert at(case["due_at"]) == local("2026-10-10 17:30")  # Thu 8, Fri 9, Sat 10 Oct
    assert at(case["step_due_at"]) == local("2026-10-08 17:30")  # pre-check: next working day


def test_a_supplement_and_originals_in_the_post_pause_the_clock_and_stay_in_history(tb: Tongban) -> None:
    case_no = received(tb, "2026-11-24 10:00")
    act(tb, "bj_clerk", case_no, "request_supplement", at="2026-11-24 14:00",
        materials=[{"material_id": view(tb, case_no)["materials"][0]["id"], "problem": "defective",
                    "note": "复印件不清晰"}])
    paused = view(tb, case_no)
    assert paused["paused_since"] is not None and paused["time_left_workdays"] == 3

    tb.clock.now = local("2026-11-26 09:00")  # the applicant takes two working days; time left stands still
    assert view(tb, case_no)["time_left_workdays"] == 3
    act(tb, "bj_clerk", case_no, "supplement", at="2026-11-26 10:00")
    case = view(tb, case_no)
    # Paused (Tue, Thu]: Wed and Thu, so Friday 27 Nov becomes Tuesday 1 Dec.
    assert at(case["due_at"]) == local("2026-12-01 17:30")
    assert [(p["reason"], p["workdays"]) for p in case["pauses"]] == [("awaiting_supplement", 2)]

    # The clerk posts the paper originals with the pre-check; the clock stands until Tianjin accepts.
    forwarded(tb, case_no, at="2026-11-26 11:00", originals=True)
    assert view(tb, case_no)["paused_since"] is not None
    act(tb, "tj_reviewer", case_no, "accept", at="2026-11-30 10:00")  # Monday: Fri and Mon in the post
    case = view(tb, case_no)
    assert at(case["due_at"]) == local("2026-12-03 17:30")  # Tue 1 Dec + 2 working days
    assert [(p["reason"], p["workdays"]) for p in case["pauses"]] == [
        ("awaiting_supplement", 2), ("originals_in_post", 2)]
    assert case["paused_workdays"] == 4 and case["paused_since"] is None
    originals = [s for s in case["shipments"] if s["direction"] == "originals"]
    assert originals and originals[0]["delivered_at"] is not None
    # Of the working days since receipt (Wed, Thu, Fri, Mon) all were paused: none used, three left.
    assert (case["time_used_workdays"], case["time_left_workdays"]) == (0, 3)


def test_originals_need_a_valid_tracking_number(tb: Tongban) -> None:
    case_no = received(tb, "2026-11-24 10:00")
    r = tb.event("bj_clerk", case_no, "precheck_pass", originals={"carrier": "EMS", "tracking_no": "RR473124820GB"})
    assert r.status_code == 422
    assert "originals.tracking_no" in r.text
    assert view(tb, case_no)["state"] == "received"
