"""The side roads of a case in a real browser: the one-time notice and the supplement, 不予收件 and
撤回 at the window, a case returned by the handling zone, and a denial picked up at the window.
Steps a story is not about are driven through the API helpers."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from documents import pdf_text
from storage.catalog.models import Item
from storage.db import transaction
from tests.app_harness import USCC, make_pdf
from tests.web.ui.conftest import UiServer, api, forwarded_case_via_api, login, write_pdf

pytestmark = pytest.mark.browser


def _received_case_via_api(ui: UiServer, applicant: str, handed_in: tuple[str, ...] = ()) -> str:
    """A BJ-ETOWN clerk's QY-001 case for TJ-TEDA, left at 已收件: the application form scanned,
    plus the paper materials named in ``handed_in`` ticked on the checklist."""
    with transaction(ui.runtime.session_factory) as s:
        materials = {m.name: m.id for m in s.get(Item, ui.item_id("QY-001", "TJ-TEDA")).materials}  # type: ignore[union-attr]
    form_id = materials["企业档案查询申请表"]
    form = {"item_code": "QY-001", "handling_zone": "TJ-TEDA",
            "applicant": {"kind": "enterprise", "name": applicant, "id_number": USCC, "address": "北京市亦庄"},
            "checklist": [{"item_material_id": form_id}] + [{"item_material_id": materials[n]} for n in handed_in]}
    with api(ui, "bj_clerk") as c:
        r = c.post("/api/v1/cases", files=[("case", ("case.json", json.dumps(form), "application/json")),
                                           (f"material_{form_id}", ("申请表.pdf", make_pdf("申请表"),
                                                                    "application/pdf"))])
        assert r.status_code == 201, r.text
        return str(r.json()["case_no"])


def _send_via_api(ui: UiServer, user: str, case_no: str, *events: str) -> None:
    with api(ui, user) as c:
        for event in events:
            version = c.get(f"/api/v1/cases/{case_no}").json()["version"]
            r = c.post(f"/api/v1/cases/{case_no}/events", json={"event": event, "version": version})
            assert r.status_code == 200, r.text


def _state(page: Any) -> Any:
    return page.locator("h1 .state")


def _last_reason(page: Any) -> Any:
    return page.locator("dl.facts dt", has_text="最近理由").locator("xpath=following-sibling::dd[1]")


def _card(page: Any, heading: str) -> Any:
    """One card of the case page by its heading (材料: verdicts per material; 文件: every stored file)."""
    return page.locator("section.card").filter(has=page.get_by_role("heading", name=heading, exact=True))


def _flash(page: Any) -> Any:
    return page.locator(".flash-ok")


def test_clerk_sends_the_one_time_notice_and_takes_the_supplement(
        new_page: Any, ui_server: UiServer, tmp_path: Path) -> None:
    case_no = _received_case_via_api(ui_server, "一次性告知示例有限公司", handed_in=("经办人身份证件",))
    clerk = new_page()
    login(clerk, "bj_clerk")
    clerk.goto(f"/ui/cases/{case_no}")
    expect(_state(clerk)).to_have_text("已收件")
    form = clerk.locator("#precheck-form")
    # the licence was not handed in: the page already proposes 缺失; the ID copy is unreadable
    expect(form.get_by_label("预审结论：营业执照副本")).to_have_value("missing")
    form.get_by_label("预审结论：经办人身份证件").select_option(label="有误")
    form.get_by_label("备注：经办人身份证件").fill("身份证复印件不清晰")
    form.get_by_role("button", name="一次性告知补正").click()
    expect(_flash(clerk)).to_contain_text("一次性告知补正")
    expect(_state(clerk)).to_have_text("待补正")
    expect(_card(clerk, "材料")).to_contain_text("身份证复印件不清晰")

    # the notice the applicant takes home names both materials at once
    notice = clerk.request.get(clerk.locator("#notice-link").get_attribute("href"))
    assert notice.ok and notice.headers["content-type"] == "application/pdf"
    text = pdf_text(notice.body())
    assert "营业执照副本" in text and "经办人身份证件" in text

    # the applicant comes back with the licence: attach it to that material, record the supplement
    attach = clerk.locator("#supplement-files-form")
    attach.locator("select[name=material_id]").select_option(label="营业执照副本")
    attach.locator("input[type=file]").set_input_files(write_pdf(tmp_path / "营业执照.pdf", "营业执照"))
    attach.locator("button[type=submit]", has_text="上传补正材料").click()
    expect(_flash(clerk)).to_contain_text("已上传 1 个补正文件")
    expect(_card(clerk, "材料")).to_contain_text("营业执照.pdf")
    # 补正齐全，恢复预审 — and the paper of the licence came with it: recorded apart from its scan
    done = clerk.locator("#supplement-form")
    done.get_by_label("营业执照副本").check()
    done.get_by_role("button", name="补正齐全，恢复预审").click()
    expect(_flash(clerk)).to_contain_text("补正材料")
    expect(_state(clerk)).to_have_text("已收件")
    expect(_card(clerk, "材料").locator("tr", has_text="营业执照副本").locator(".paper-yes")).to_have_text(
        re.compile("已收"))

    # pre-check again: nothing marked any more, it passes (the system may forward it at once)
    clerk.locator("#precheck-form").get_by_role("button", name="预审通过").click()
    expect(_flash(clerk)).to_contain_text("预审通过")
    expect(_state(clerk)).to_have_text(re.compile("预审通过|已转递"))


def test_clerk_refuses_one_case_and_withdraws_another(new_page: Any, ui_server: UiServer) -> None:
    refused = _received_case_via_api(ui_server, "不予收件示例有限公司")
    withdrawn = _received_case_via_api(ui_server, "撤回示例有限公司")
    clerk = new_page()
    login(clerk, "bj_clerk")

    clerk.goto(f"/ui/cases/{refused}")
    form = clerk.locator("#precheck-form")
    form.get_by_label("理由 / 备注").fill("申请事项不属于代收范围")
    form.get_by_role("button", name="不予收件").click()
    expect(_flash(clerk)).to_contain_text("不予收件")
    expect(_state(clerk)).to_have_text("不予收件")
    expect(_last_reason(clerk)).to_have_text("申请事项不属于代收范围")
    expect(clerk.locator("#actions")).to_contain_text("当前没有您可执行的操作。")

    clerk.goto(f"/ui/cases/{withdrawn}")
    clerk.locator("#withdraw-form").get_by_label("理由").fill("申请人当面申请撤回")
    clerk.locator("#withdraw-form").get_by_role("button", name="撤回").click()
    expect(_state(clerk)).to_have_text("已撤回")
    expect(_last_reason(clerk)).to_have_text("申请人当面申请撤回")


def test_reviewer_returns_a_forwarded_case_and_the_window_sees_it_awaiting_supplement(
        new_page: Any, ui_server: UiServer) -> None:
    case_no = forwarded_case_via_api(ui_server, "退回示例有限公司")
    reviewer = new_page()
    login(reviewer, "tj_reviewer")
    reviewer.goto(f"/ui/cases/{case_no}")
    expect(_state(reviewer)).to_have_text("已转递")
    # withdrawing is the receiving window's business, not the handling zone's: no such button here
    expect(reviewer.locator("#actions").get_by_role("button", name="撤回")).to_have_count(0)
    form = reviewer.locator("#accept-form")
    form.get_by_label("理由 / 备注").fill("营业执照副本未加盖公章")
    form.get_by_role("button", name="退回").click()
    expect(_flash(reviewer)).to_contain_text("退回")
    expect(_state(reviewer)).to_have_text("待补正")

    clerk = new_page()
    login(clerk, "bj_clerk")
    clerk.goto(f"/ui/cases/{case_no}")
    expect(_state(clerk)).to_have_text("待补正")
    expect(_last_reason(clerk)).to_have_text("营业执照副本未加盖公章")
    expect(clerk.locator("#supplement-files-form")).to_be_visible()


def test_reviewer_denies_and_the_window_hands_the_result_over(
        new_page: Any, ui_server: UiServer, tmp_path: Path) -> None:
    case_no = forwarded_case_via_api(ui_server, "不予许可示例有限公司")
    _send_via_api(ui_server, "tj_reviewer", case_no, "accept", "claim")
    reviewer = new_page()
    login(reviewer, "tj_reviewer")
    reviewer.goto(f"/ui/cases/{case_no}")
    expect(_state(reviewer)).to_have_text("审核中")
    decide = reviewer.locator("#decide-form")
    decide.locator("input[name=result]").set_input_files(write_pdf(tmp_path / "不予许可决定书.pdf", "不予许可决定书"))
    decide.get_by_label("理由").fill("档案保管期限已满，无可查询档案")
    decide.get_by_role("button", name="不予许可").click()
    expect(_flash(reviewer)).to_contain_text("不予许可")
    expect(_state(reviewer)).to_have_text("不予许可")
    expect(_last_reason(reviewer)).to_have_text("档案保管期限已满，无可查询档案")
    expect(_card(reviewer, "文件").locator("tr", has_text="结果文书")).to_contain_text("不予许可决定书.pdf")

    clerk = new_page()
    login(clerk, "bj_clerk")
    clerk.goto(f"/ui/cases/{case_no}")
    expect(_state(clerk)).to_have_text("不予许可")
    clerk.locator("#actions").get_by_role("button", name="通知领取").click()
    expect(_state(clerk)).to_have_text("待领取")
    deliver = clerk.locator("#deliver-form")  # the applicant signs at the window: their name is proposed
    expect(deliver.get_by_label("签收人")).to_have_value("不予许可示例有限公司")
    deliver.get_by_label("我已核对签收信息").check()
    deliver.get_by_role("button", name="确认送达并办结").click()
    expect(_state(clerk)).to_have_text("办结")
    expect(clerk.locator("#actions")).to_contain_text("当前没有您可执行的操作。")
