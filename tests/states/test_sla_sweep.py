"""The SLA sweep, as the two windows live it: time passes, warnings come, then overdue, then escalation —
each once, to both zones, however many sweeps run; a case sent back and coming again is watched again.

"Both zones" means the zones party to the case (docs/architecture.md#party): while a case is still at the receiving
counter (never forwarded) the handling zone must not learn of it, so its alerts go to the receiving
zone only; once forwarded, to both."""

from __future__ import annotations

import threading
from collections import Counter

from sqlalchemy import select

from storage.db import transaction
from storage.sla.models import Alert
from tests.app_harness import Tongban
from tests.sla_support import act, alerts, deadlines, forwarded, local, received, sweep, tb_per_module

tb_fixture = tb_per_module()

BOTH = {"BJ-ETOWN", "TJ-TEDA"}
#: A case not yet forwarded: only the receiving zone is party to it.
COUNTER = {"BJ-ETOWN"}


def levels(tb: Tongban, case_no: str, step: str, visit: int = 1) -> Counter[tuple[str, str]]:
    return Counter((lvl, zone) for s, v, lvl, zone in alerts(tb, case_no) if s == step and v == visit)


def test_warning_overdue_and_escalation_each_fire_once_to_the_zones_party_to_the_case(tb: Tongban) -> None:
    # Tuesday 24 Nov 2026, 10:00: a Beijing clerk receives an archive query Tianjin decides (3 working days).
    case_no = received(tb, "2026-11-24 10:00")
    # Pre-check is due at close of business Wednesday; the overall deadline Friday 27 Nov 17:30.
    sweep(tb, "2026-11-24 17:29")
    assert alerts(tb, case_no) == []

    sweep(tb, "2026-11-24 17:31")  # one working day before the pre-check deadline
    assert levels(tb, case_no, "precheck") == Counter({("warning", z): 1 for z in COUNTER})
    sweep(tb, "2026-11-24 17:45")  # the next sweep finds nothing new
    sweep(tb, "2026-11-24 18:00")
    assert levels(tb, case_no, "precheck") == Counter({("warning", z): 1 for z in COUNTER})

    sweep(tb, "2026-11-25 17:31")  # Wednesday close: the pre-check is overdue
    assert levels(tb, case_no, "precheck")[("overdue", "BJ-ETOWN")] == 1
    assert not [a for a in alerts(tb, case_no) if a[3] == "TJ-TEDA"]  # never forwarded: Tianjin hears nothing
    assert "overall" not in {s for s, *_ in alerts(tb, case_no)}

    sweep(tb, "2026-11-26 17:31")  # Thursday close: escalation of the step, warning of the overall limit
    assert levels(tb, case_no, "precheck") == Counter(
        {(lvl, z): 1 for lvl in ("warning", "overdue", "escalation") for z in COUNTER})
    assert levels(tb, case_no, "overall") == Counter({("warning", z): 1 for z in COUNTER})

    sweep(tb, "2026-11-27 17:31")  # Friday close: the promised limit has passed
    sweep(tb, "2026-11-28 12:00")  # Saturday: not a working day, no escalation yet
    assert ("escalation", "BJ-ETOWN") not in levels(tb, case_no, "overall")
    sweep(tb, "2026-11-30 17:31")  # Monday close: one more working day overdue
    sweep(tb, "2026-12-01 17:31")
    assert levels(tb, case_no, "overall") == Counter(
        {(lvl, z): 1 for lvl in ("warning", "overdue", "escalation") for z in COUNTER})
    # Nothing more is watched for this case: every deadline has raised all it had to raise.
    assert all(d.next_alert_at is None for d in deadlines(tb, case_no))


def test_a_step_finished_in_time_raises_nothing_more(tb: Tongban) -> None:
    case_no = received(tb, "2026-11-24 09:00")
    act(tb, "bj_clerk", case_no, "precheck_pass", at="2026-11-24 11:00")
    sweep(tb, "2026-11-24 17:31")
    assert levels(tb, case_no, "precheck") == Counter()  # left the step before its warning
    assert levels(tb, case_no, "forward") == Counter({("warning", z): 1 for z in COUNTER})


def test_two_sweeps_at_once_raise_each_alert_once(tb: Tongban) -> None:
    cases = [received(tb, f"2026-11-24 0{h}:00") for h in range(1, 7)]
    tb.clock.now = local("2026-11-30 18:00")  # every level of every pre-check and overall deadline is due
    barrier = threading.Barrier(4)
    reports, errors = [], []

    def run() -> None:
        try:
            barrier.wait()
            reports.append(sweep(tb))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for case_no in cases:
        seen = Counter(alerts(tb, case_no))
        assert set(seen.values()) == {1}
        assert {lvl for _, _, lvl, _ in seen} == {"warning", "overdue", "escalation"}
    with transaction(tb.runtime.session_factory) as s:
        mine = list(s.scalars(select(Alert.id).where(Alert.case_no.in_(cases))))
    assert sum(r.alerts for r in reports) >= len(mine)  # (earlier tests' cases may be swept too)


def test_a_returned_case_is_watched_again_when_it_re_enters_the_step(tb: Tongban) -> None:
    case_no = received(tb, "2026-11-24 09:00")
    sweep(tb, "2026-11-24 17:31")  # pre-check due Wednesday: warned Tuesday evening
    assert levels(tb, case_no, "precheck") == Counter({("warning", z): 1 for z in COUNTER})
    forwarded(tb, case_no, at="2026-11-25 09:00")

    # Tianjin sends it back; Beijing gets the supplement and must pre-check again (a second visit).
    act(tb, "tj_reviewer", case_no, "return", at="2026-11-25 10:00", reason="营业执照复印件不清晰")
    act(tb, "bj_clerk", case_no, "supplement", at="2026-11-26 09:00")
    sweep(tb, "2026-11-26 17:31")
    assert levels(tb, case_no, "precheck", visit=2) == Counter({("warning", z): 1 for z in BOTH})
    sweep(tb, "2026-11-27 17:31")
    assert levels(tb, case_no, "precheck", visit=2)[("overdue", "BJ-ETOWN")] == 1
    # The first visit ended with the pre-check: it raised nothing after its warning (to Beijing only:
    # it was before the forward); the second comes after it, so Tianjin, now party, hears it too.
    assert levels(tb, case_no, "precheck", visit=1) == Counter({("warning", z): 1 for z in COUNTER})
    visits = [(d.step, d.visit, d.active) for d in deadlines(tb, case_no) if d.step == "precheck"]
    assert visits == [("precheck", 1, False), ("precheck", 2, True)]


def test_a_paused_case_raises_no_overall_alert_until_its_moved_deadline(tb: Tongban) -> None:
    case_no = received(tb, "2026-11-24 10:00")  # promised by Friday 27 Nov 17:30
    material = tb.client.get(f"/api/v1/cases/{case_no}", headers=tb.h("bj_clerk")).json()["materials"][0]["id"]
    act(tb, "bj_clerk", case_no, "request_supplement", at="2026-11-24 11:00",
        materials=[{"material_id": material, "problem": "missing"}])
    sweep(tb, "2026-11-30 18:00")  # long past the original deadline, but the applicant had the turn
    assert levels(tb, case_no, "overall") == Counter()

    act(tb, "bj_clerk", case_no, "supplement", at="2026-12-01 09:00")  # paused Wed..Tue: 5 working days
    overall = next(d for d in deadlines(tb, case_no) if d.step == "overall")
    assert overall.due_at == local("2026-12-04 17:30")
    sweep(tb, "2026-12-03 17:29")
    assert levels(tb, case_no, "overall") == Counter()
    sweep(tb, "2026-12-03 17:31")  # one working day before the moved deadline
    assert levels(tb, case_no, "overall") == Counter({("warning", z): 1 for z in COUNTER})
