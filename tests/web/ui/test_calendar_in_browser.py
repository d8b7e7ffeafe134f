"""An admin enters 2027's holiday schedule in a real browser: bad input is refused and changes nothing,
the preview lists the case whose deadline moves and by how much, applying it moves the deadline of a
case received on 2026-12-21 for a 20-working-day item — audited, no alert raised twice, one message.

Times are the server's injected clock (``ui_server.clock``), never today's date."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from bench.sample_calendar import HOLIDAYS_2027, NOTE
from states.sla.sweep import sweep
from storage.catalog.models import Item
from storage.db import transaction
from storage.sla.models import Alert, Delivery
from tests.app_harness import USCC, make_pdf
from tests.web.ui.conftest import UiServer, api, login

pytestmark = pytest.mark.browser

HOLIDAYS = HOLIDAYS_2027


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(UTC)


@pytest.fixture
def december(ui_server: UiServer) -> Iterator[None]:
    before = ui_server.clock.now
    yield
    ui_server.clock.now = before


def _receive_rs001(ui: UiServer) -> str:
    item = ui.item_id("RS-001", "TJ-TEDA")
    with transaction(ui.runtime.session_factory) as s:
        materials = [m.id for m in s.get(Item, item).materials]  # type: ignore[union-attr]
    form = {"item_code": "RS-001", "handling_zone": "TJ-TEDA",
            "applicant": {"kind": "enterprise", "name": "暂定时限示例有限公司", "id_number": USCC,
                          "address": "北京市亦庄"},
            "checklist": [{"item_material_id": m} for m in materials]}
    with api(ui, "bj_clerk") as c:
        r = c.post("/api/v1/cases", files=[("case", ("case.json", json.dumps(form), "application/json")),
                                           (f"material_{materials[0]}", ("申请表.pdf", make_pdf("申请表"),
                                                                          "application/pdf"))])
        assert r.status_code == 201, r.text
        return str(r.json()["case_no"])


def _case(ui: UiServer, case_no: str) -> dict[str, Any]:
    with api(ui, "bj_clerk") as c:
        return dict(c.get(f"/api/v1/cases/{case_no}").json())


def _overall_alerts(ui: UiServer, case_no: str) -> list[str]:
    with transaction(ui.runtime.session_factory) as s:
        return list(s.scalars(select(Alert.level).where(Alert.case_no == case_no, Alert.step == "overall")
                              .order_by(Alert.id)))


def _fill(page: Any, holidays: str, workdays: str = "") -> None:
    form = page.locator("#calendar-form")
    form.get_by_label("年度").fill("2027")
    form.get_by_label("通知文号").fill("测试数据 test data")
    form.get_by_label("放假日期段").fill(holidays)
    form.get_by_label("调休上班日").fill(workdays)
    form.get_by_role("button", name="预览").click()


@pytest.mark.usefixtures("december")
def test_admin_applies_the_2027_schedule_and_the_provisional_deadline_moves(new_page: Any,
                                                                            ui_server: UiServer) -> None:
    ui_server.clock.now = local("2026-12-21 10:00")
    case_no = _receive_rs001(ui_server)
    case = _case(ui_server, case_no)
    assert case["due_at"].startswith("2027-01-19T09:30") and case["due_provisional"] is True

    clerk = new_page()
    login(clerk, "bj_clerk")
    clerk.goto(f"/ui/cases/{case_no}")
    expect(clerk.locator("#due-at")).to_contain_text("2027-01-19 17:30")
    expect(clerk.locator("#due-at .provisional")).to_have_text("暂定")
    expect(clerk.locator("#due-at")).to_contain_text(NOTE)

    # The provisional warning (Mon 01-18 17:30) is raised before the schedule arrives.
    ui_server.clock.now = local("2027-01-18 18:00")
    sweep(runtime=ui_server.runtime, deliver=False)
    assert _overall_alerts(ui_server, case_no) == ["warning"]  # the receiving side: not forwarded yet

    admin = new_page()
    login(admin, "bj_admin")
    admin.goto("/ui/admin/calendar")
    expect(admin.locator('#calendar-years tr[data-year="2027"]')).to_contain_text("暂定")

    # Bad input: a 调休 day on a weekday, and a statutory holiday outside every range. Nothing changes.
    _fill(admin, HOLIDAYS.replace("2027-06-09 端午节", "2027-06-10 端午节"), "2027-02-18 春节")
    problems = admin.locator("#calendar-problems")
    expect(problems).to_contain_text("2027-02-18 是星期四，调休上班日只能是周六或周日")
    expect(problems).to_contain_text("法定节假日 2027-06-09（端午节）不在任何放假日期段内")
    assert _case(ui_server, case_no)["due_provisional"] is True

    # Overlapping ranges are refused too.
    _fill(admin, HOLIDAYS + "\n2027-10-06 2027-10-08 国庆节")
    expect(admin.locator("#calendar-problems")).to_contain_text("放假日期段重叠")

    # The good schedule: the preview lists the case and by how much its deadline moves (Mon 01-04 off).
    _fill(admin, HOLIDAYS, "2027-02-20 春节\n2027-10-09 国庆节")
    row = admin.locator(f'#calendar-moves tr[data-case="{case_no}"]')
    expect(row).to_contain_text("2027-01-19 17:30")
    expect(row).to_contain_text("2027-01-20 17:30")
    expect(row.locator(".moved")).to_have_text("+1")
    assert _case(ui_server, case_no)["due_provisional"] is True  # a preview writes nothing

    admin.get_by_role("button", name="应用并重新计算").click()
    expect(admin.locator(".flash-ok")).to_contain_text("2027 年节假日安排已添加")
    expect(admin.locator('#calendar-years tr[data-year="2027"]')).to_contain_text("正式")

    case = _case(ui_server, case_no)
    assert case["due_at"].startswith("2027-01-20T09:30") and case["due_provisional"] is False
    clerk.goto(f"/ui/cases/{case_no}")
    expect(clerk.locator("#due-at")).to_contain_text("2027-01-20 17:30")
    expect(clerk.locator("#due-at .provisional")).to_have_count(0)

    with api(ui_server, "bj_clerk") as c:
        trail = c.get(f"/api/v1/cases/{case_no}/audit").json()
        assert c.get(f"/api/v1/cases/{case_no}/verify").json()["ok"] is True
    recomputed = [e for e in trail if e["event"] == "calendar_recomputed"]
    assert len(recomputed) == 1 and recomputed[0]["payload"]["reason"] == "calendar 2027 published"
    assert recomputed[0]["payload"]["moved_workdays"] == 1

    # The warning for the moved date (now Tue 01-19 17:30) is not raised again; overdue comes once, at 01-20.
    ui_server.clock.now = local("2027-01-19 18:00")
    sweep(runtime=ui_server.runtime, deliver=False)
    assert _overall_alerts(ui_server, case_no) == ["warning"]
    ui_server.clock.now = local("2027-01-20 18:00")
    sweep(runtime=ui_server.runtime, deliver=False)
    sweep(runtime=ui_server.runtime, deliver=False)
    assert _overall_alerts(ui_server, case_no) == ["warning", "overdue"]

    # The receiving clerk gets ONE message listing the moved cases.
    with transaction(ui_server.runtime.session_factory) as s:
        notes = list(s.scalars(select(Delivery).where(Delivery.kind == "calendar",
                                                      Delivery.recipient == "user:bj_clerk")))
    assert len(notes) == 1 and case_no in notes[0].body and "+1 个工作日" in notes[0].body

    # A year already official is refused.
    admin.goto("/ui/admin/calendar")
    _fill(admin, HOLIDAYS)
    expect(admin.locator("#calendar-problems")).to_contain_text("2027 年已有正式的节假日安排")
