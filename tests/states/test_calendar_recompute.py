"""December 2026 at the window: 2027's holidays are not published yet. Cases are received anyway with
provisional (暂定) deadlines, shown as such everywhere; when the schedule arrives every provisional
date is recomputed once — audited, alerts not repeated, one message per person.

Times are injected (``tb.clock``), never today's date. 2027 dates under the statutory rules: 元旦 Fri
01-01, 春节 02-05..02-08 (+补假 02-09, 02-10), …; no 调休.
"""

from __future__ import annotations

import io
import re
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import select

from bench.sample_calendar import HOLIDAYS_2027, NOTE
from states.calendar.recompute import publish
from states.calendar.schedule import parse_schedule
from states.reports.service import annual_evaluation
from storage.audit.models import AuditEvent
from storage.case.models import Case
from storage.db import transaction
from storage.sla.models import Delivery
from tests.app_harness import Tongban, make_pdf
from tests.sla_support import act, alerts, deadlines, forwarded, local, received, sweep, tb_per_module

tb_fixture = tb_per_module()

#: 元旦 is given Mon 01-04 as well, and Sat 01-16 is a 调休 working day, so deadlines move both ways.
SCHEDULE_HOLIDAYS = HOLIDAYS_2027
SCHEDULE_WORKDAYS = "2027-01-16 元旦调休（测试数据）"


def view(tb: Tongban, case_no: str, user: str = "bj_clerk") -> dict[str, Any]:
    r = tb.client.get(f"/api/v1/cases/{case_no}", headers=tb.h(user))
    assert r.status_code == 200, r.text
    return dict(r.json())


def due(case: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(case["due_at"])


def pdf_text(data: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def signed_in(tb: Tongban, username: str) -> TestClient:
    """A browser-like client with its own session cookie, signed in as ``username``."""
    client = TestClient(tb.client.app)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/ui/login").text)
    assert token is not None
    r = client.post("/ui/login", data={"username": username, "password": "tongban-demo",
                                       "csrf_token": token.group(1)})
    assert r.status_code == 200
    return client


def test_a_20_day_item_received_on_21_december_gets_a_provisional_deadline(tb: Tongban) -> None:
    # 人力资源服务许可 (RS-001, TJ-TEDA) promises 20 working days: 8 left in December 2026, then
    # 2027 by the statutory rules (元旦 Fri 01-01 off) → Tue 2027-01-19.
    case_no = received(tb, "2026-12-21 10:00", item_code="RS-001")
    case = view(tb, case_no)
    assert due(case) == local("2027-01-19 17:30")
    assert case["due_provisional"] is True
    assert case["step"] == "precheck" and case["step_due_provisional"] is False  # Tue 12-22: published
    overall = next(d for d in case["deadlines"] if d["step"] == "overall")
    assert overall["provisional"] is True and overall["next_level"] == "warning"
    assert datetime.fromisoformat(overall["next_alert_at"]) == local("2027-01-18 17:30")
    assert case["calendar"]["zone"] == "TJ-TEDA" and NOTE in case["calendar"]["provisional_note"]
    # The handling side sees nothing before the forward (docs/security.md), the same deadline after it.
    assert tb.client.get(f"/api/v1/cases/{case_no}", headers=tb.h("tj_reviewer")).status_code == 404

    page = signed_in(tb, "bj_clerk").get(f"/ui/cases/{case_no}")
    assert page.status_code == 200
    assert "暂定" in page.text and NOTE in page.text

    receipt = tb.client.get(f"/api/v1/cases/{case_no}/receipt.pdf", headers=tb.h("bj_clerk"))
    assert receipt.status_code == 200
    text = pdf_text(receipt.content)
    assert "2027-01-19（暂定）" in text and "暂定日期" in text and NOTE in text.replace("\n", "")

    # The one-time notice (一次性告知书) says so too.
    act(tb, "bj_clerk", case_no, "request_supplement", at="2026-12-21 11:00",
        materials=[{"material_id": case["materials"][0]["id"], "problem": "missing", "note": ""}])
    notice = tb.client.get(f"/api/v1/cases/{case_no}/notice.pdf", headers=tb.h("bj_clerk"))
    assert notice.status_code == 200
    text = pdf_text(notice.content).replace("\n", "")
    assert "2027-01-19 为暂定日期" in text and NOTE in text


def test_the_queue_marks_a_provisional_step_deadline(tb: Tongban) -> None:
    case_no = received(tb, "2026-12-31 16:00")  # pre-check due the next working day: Mon 2027-01-04
    case = view(tb, case_no)
    assert case["step_due_provisional"] is True
    queue = tb.client.get("/api/v1/queue?per_page=500", headers=tb.h("bj_clerk")).json()
    assert next(c for c in queue if c["case_no"] == case_no)["step_due_provisional"] is True
    page = signed_in(tb, "bj_clerk").get("/ui/queue")
    assert page.status_code == 200 and "暂定" in page.text


def test_a_paused_case_crossing_the_year_counts_its_pause_with_the_provisional_year(tb: Tongban) -> None:
    # QY-001 (3 days) received Mon 12-28 → due Thu 12-31 (published); a supplement is asked for the same
    # day and comes back Wed 2027-01-06: 12-29, 12-30, 12-31, (01-01 off), 01-04, 01-05, 01-06 = 6 days.
    case_no = received(tb, "2026-12-28 10:00")
    assert view(tb, case_no)["due_provisional"] is False
    mats = view(tb, case_no)["materials"]
    act(tb, "bj_clerk", case_no, "request_supplement", at="2026-12-28 11:00",
        materials=[{"material_id": mats[0]["id"], "problem": "defective", "note": "复印件不清晰"}])
    notice = tb.client.get(f"/api/v1/cases/{case_no}/notice.pdf", headers=tb.h("bj_clerk"))
    assert notice.status_code == 200 and "暂定" not in pdf_text(notice.content)  # 2026 only, so far
    act(tb, "bj_clerk", case_no, "supplement", at="2027-01-06 10:00")
    case = view(tb, case_no)
    assert case["pauses"][0]["workdays"] == 6
    # 3 + 6 working days after Mon 12-28: 12-29..12-31 (3), 01-04..01-08 (8), Mon 01-11 (9).
    assert due(case) == local("2027-01-11 17:30")
    assert case["due_provisional"] is True


def test_a_returned_case_re_entering_pre_check_in_the_provisional_year_is_watched_there_again(tb: Tongban) -> None:
    case_no = received(tb, "2026-12-28 10:00", item_code="SP-001")
    forwarded(tb, case_no, "2026-12-28 11:00")
    act(tb, "tj_reviewer", case_no, "return", at="2027-01-05 10:00", reason="缺少法定代表人签字")
    act(tb, "bj_clerk", case_no, "supplement", at="2027-01-07 10:00")
    case = view(tb, case_no)
    assert case["state"] == "received" and case["step"] == "precheck"
    assert datetime.fromisoformat(case["step_due_at"]) == local("2027-01-08 17:30")
    assert case["step_due_provisional"] is True
    visits = [(d.step, d.visit, d.active, d.provisional) for d in deadlines(tb, case_no) if d.step == "precheck"]
    assert visits[-1] == ("precheck", 2, True, True)


def _decided(tb: Tongban, case_no: str, at: str) -> None:
    forwarded(tb, case_no, "2026-12-21 11:00")
    act(tb, "tj_reviewer", case_no, "accept", at="2026-12-22 09:00")
    act(tb, "tj_reviewer", case_no, "claim", at=at)
    up = tb.upload("tj_reviewer", case_no, "result", "准予许可决定书.pdf", make_pdf("决定书"))
    assert up.status_code == 201, up.text
    act(tb, "tj_reviewer", case_no, "approve", at=at, result_file_id=up.json()[0]["id"])


def _on_time(tb: Tongban, item_code: str) -> tuple[int, int]:
    with transaction(tb.runtime.session_factory) as s:
        ev = annual_evaluation(db_session=s, year=2026, clock=tb.runtime.clock, now=tb.clock.now, item_code=item_code)
        return ev.totals.on_time, ev.totals.late


def test_publishing_2027_recomputes_every_provisional_date_once(tb: Tongban) -> None:
    # A: SP-001 (10 days) received Mon 12-21 → provisional due Tue 2027-01-05; under the schedule
    #    Mon 01-04 is off → Wed 01-06 (moved later by one working day).
    a = received(tb, "2026-12-21 10:00", item_code="SP-001")
    # D: JZ-001 (10 days), decided Wed 01-06 10:00 — late against the provisional 01-05, on time against
    #    the final 01-06: the annual evaluation must count the final date.
    d = received(tb, "2026-12-21 10:00", item_code="JZ-001")
    _decided(tb, d, "2027-01-06 10:00")
    assert due(view(tb, d)) == local("2027-01-05 17:30")
    assert _on_time(tb, "JZ-001") == (0, 1)
    sweep(tb, "2027-01-05 18:00")  # A's warning (01-04) and overdue (01-05) are raised
    # (to the receiving zone only: before the forward the handling zone is not party, docs/security.md)
    assert [(lvl, z) for step, _, lvl, z in alerts(tb, a) if step == "overall"] == [
        ("warning", "BJ-ETOWN"), ("overdue", "BJ-ETOWN")]
    # B: SP-001 received Tue 2027-01-05 → provisional due Tue 01-19; with Sat 01-16 worked → Mon 01-18
    #    (moved earlier: its warning, now Sat 01-16 17:30, is already due when the schedule arrives).
    b = received(tb, "2027-01-05 10:00", item_code="SP-001")
    assert due(view(tb, b)) == local("2027-01-19 17:30")
    # C: RS-001 received 12-21 → 01-19 under both (01-04 off and 01-16 worked cancel out): no move.
    c = received(tb, "2026-12-21 10:00", item_code="RS-001")

    tb.clock.now = local("2027-01-18 09:00")
    schedule = parse_schedule(year_text="2027", source="测试数据 test data", holidays_text=SCHEDULE_HOLIDAYS,
                              workdays_text=SCHEDULE_WORKDAYS, calendar=tb.runtime.calendar)
    report = publish(tb.runtime, schedule=schedule, added_by="bj_admin")
    moved = {m.case_no: m for m in report.moved}
    assert {a, b, d} <= set(moved) and c not in moved
    assert (moved[a].moved_workdays, moved[b].moved_workdays) == (1, -1)

    assert due(view(tb, a)) == local("2027-01-06 17:30") and view(tb, a)["due_provisional"] is False
    assert due(view(tb, b)) == local("2027-01-18 17:30") and view(tb, b)["due_provisional"] is False
    assert due(view(tb, c)) == local("2027-01-19 17:30") and view(tb, c)["due_provisional"] is False
    assert all(not x["provisional"] for x in view(tb, c)["deadlines"])

    # The audit trail says what moved and why; the chain still verifies.
    with transaction(tb.runtime.session_factory) as s:
        ev = s.scalars(select(AuditEvent).join(Case, Case.id == AuditEvent.case_id)
                       .where(Case.case_no == a, AuditEvent.event == "calendar_recomputed")).all()
        assert len(ev) == 1 and ev[0].actor == "system"
        assert ev[0].payload["reason"] == "calendar 2027 published"
        assert ev[0].payload["due_at"]["from"].startswith("2027-01-05 09:30")
        assert ev[0].payload["due_at"]["to"].startswith("2027-01-06 09:30")
        assert ev[0].from_state == ev[0].to_state == "received"
        assert not s.scalars(select(AuditEvent).join(Case, Case.id == AuditEvent.case_id)
                             .where(Case.case_no == c, AuditEvent.event == "calendar_recomputed")).all()
    for case_no in (a, b, c, d):
        r = tb.client.get(f"/api/v1/cases/{case_no}/verify", headers=tb.h("bj_clerk"))
        assert r.json()["ok"] is True, r.json()

    # A: warning and overdue were raised for 01-04/01-05; the date moved later, they are not raised again;
    # its escalation (now Thu 01-07 17:30) is due and raised once. B: its warning is raised once.
    def overall(case_no: str) -> list[str]:
        return [lvl for step, _, lvl, z in alerts(tb, case_no) if step == "overall" and z == "BJ-ETOWN"]

    assert overall(a) == ["warning", "overdue", "escalation"]
    assert overall(b) == ["warning"]
    sweep(tb, "2027-01-18 09:05")
    assert overall(a) == ["warning", "overdue", "escalation"] and overall(b) == ["warning"]

    # One message to the receiving clerk listing the moved open cases (not one per case).
    with transaction(tb.runtime.session_factory) as s:
        notes = list(s.scalars(select(Delivery).where(Delivery.kind == "calendar",
                                                      Delivery.recipient == "user:bj_clerk")))
        assert len(notes) == 1
        assert a in notes[0].body and b in notes[0].body and c not in notes[0].body
        assert d not in notes[0].body  # decided: nothing left to watch
    # The handling zone's reviewer of the decided case is not told; no reviewer has the others yet.
    assert "tj_reviewer" not in report.notified

    # The evaluation counts D on time against its final date.
    assert _on_time(tb, "JZ-001") == (1, 0)

    # A second publication of 2027 is refused; a new start finds nothing left to recompute.
    assert publish(tb.runtime).examined == 0
