"""One case walked through its whole life in a real browser: the clerk in Beijing E-Town receives and
pre-checks it, the reviewer in Tianjin TEDA accepts, claims, reads the packet and approves, the clerk
mails the result back and records delivery. Screenshots of the main pages go to docs/screenshots."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from documents import pdf_outline_titles, pdf_text
from tests.app_harness import TRACKING, USCC
from tests.web.ui.conftest import (
    UiServer,
    forwarded_case_via_api,
    login,
    screenshot,
    write_pdf,
    write_png,
)

pytestmark = pytest.mark.browser

ITEM_LABEL = "QY-001 企业档案查询（天津经济技术开发区）"


def _flash(page: Any) -> Any:
    return page.locator(".flash-ok")


def test_clerk_and_reviewer_walk_a_case_from_receipt_to_closed(
        new_page: Any, ui_server: UiServer, tmp_path: Path) -> None:
    # Other work already waits in Tianjin: one forwarded days ago (overdue), one yesterday (due today).
    start = ui_server.clock.now
    ui_server.clock.now = start - timedelta(days=5)
    overdue = forwarded_case_via_api(ui_server, "北京逾期示例有限公司")
    ui_server.clock.now = start - timedelta(days=1)
    due_today = forwarded_case_via_api(ui_server, "北京今日到期示例有限公司")
    ui_server.clock.now = start

    # --- the clerk signs in and receives a case with two PDFs and one image -----------------------
    clerk = new_page()
    clerk.goto("/ui/login")
    expect(clerk.get_by_role("heading", name="登录")).to_be_visible()
    screenshot(clerk, "login")
    login(clerk, "bj_clerk")
    expect(clerk).to_have_url(re.compile(r"/ui/receive$"))

    clerk.locator("#item").fill(ITEM_LABEL)
    item_id = ui_server.item_id("QY-001", "TJ-TEDA")
    file_inputs = clerk.locator("#checklist input[type=file]")
    expect(file_inputs).to_have_count(4)
    expect(clerk.locator("#item_id")).to_have_value(str(item_id))
    materials = [clerk.locator("#checklist tbody tr").nth(i) for i in range(3)]
    for row in materials:
        row.locator("input[type=checkbox]").check()
    file_inputs.nth(0).set_input_files(write_pdf(tmp_path / "申请表.pdf", "申请表"))
    file_inputs.nth(1).set_input_files(write_pdf(tmp_path / "营业执照.pdf", "营业执照", pages=2))
    file_inputs.nth(2).set_input_files(write_png(tmp_path / "经办人身份证.png"))
    expect(clerk.locator('[data-files-for] li[data-name="营业执照.pdf"]')).to_be_visible()

    clerk.get_by_label("名称 / 姓名").fill("天津测试科技有限公司")
    id_input = clerk.locator("#applicant_id_number")
    id_input.fill(USCC[:-1] + ("4" if USCC[-1] != "4" else "5"))  # a typo in the check character
    expect(clerk.locator("#idcheck")).to_contain_text(f"校验码应为 {USCC[-1]}")
    id_input.fill(USCC)
    expect(clerk.locator("#idcheck")).to_contain_text("校验通过")
    clerk.get_by_label("联系电话").fill("13812345678")
    clerk.get_by_label("地址", exact=True).fill("天津市滨海新区第三大街1号")
    # (the receive form picture is taken by the keyboard-only story, test_counter_in_browser.py)
    clerk.get_by_role("button", name="确认收件并打印回执").click()
    clerk.wait_for_url(re.compile(r"/ui/cases/BJETOWN-\d{8}-\d{5}$"))
    case_no = clerk.url.rsplit("/", 1)[1]
    expect(_flash(clerk)).to_contain_text(case_no)
    expect(clerk.locator("h1 .state")).to_have_text("已收件")
    expect(clerk.locator("table").first).to_contain_text("营业执照副本")
    screenshot(clerk, "case-receipt")

    # the printable receipt opens as a PDF and carries the case number
    receipt = clerk.request.get(clerk.locator("#receipt-link").get_attribute("href"))
    assert receipt.ok and receipt.headers["content-type"] == "application/pdf"
    assert case_no in pdf_text(receipt.body())

    # --- pre-check: every material fine, pass --------------------------------------------------
    clerk.locator("#precheck-form").get_by_role("button", name="预审通过").click()
    expect(_flash(clerk)).to_contain_text("预审通过")
    # The embedded dispatcher may already have forwarded it by the time the page loads.
    expect(clerk.locator("h1 .state")).to_have_text(re.compile("预审通过|已转递"))

    # --- the reviewer of the handling zone sees it in the queue once the system has forwarded it ----
    reviewer = new_page()
    login(reviewer, "tj_reviewer")
    expect(reviewer).to_have_url(re.compile(r"/ui/queue$"))
    row = reviewer.locator(f'#queue tr[data-case="{case_no}"]')
    deadline = time.monotonic() + 90
    while not row.count():
        assert time.monotonic() < deadline, "the case never reached the handling zone's queue"
        reviewer.wait_for_timeout(300)
        reviewer.reload()
    expect(reviewer.locator(f'#queue tr[data-case="{overdue}"] .left-overdue')).to_be_visible()
    expect(reviewer.locator(f'#queue tr[data-case="{due_today}"] .left-warning')).to_be_visible()
    queued = [r.get_attribute("data-case") for r in reviewer.locator("#queue tbody tr").all()]
    assert queued.index(overdue) < queued.index(due_today) < queued.index(case_no)  # most urgent first
    screenshot(reviewer, "reviewer-queue")

    row.get_by_role("button", name="受理").click()
    expect(_flash(reviewer)).to_contain_text("受理")
    reviewer.locator("#actions").get_by_role("button", name="认领审核").click()
    expect(reviewer.locator("h1 .state")).to_have_text("审核中")

    # the transfer packet: cover sheet + one bookmark per material, shown inline
    bookmarks = reviewer.locator("#packet-bookmarks li")
    expect(bookmarks).to_have_count(4)
    expect(bookmarks.first).to_contain_text("封面")
    expect(reviewer.locator("#packet-bookmarks")).to_contain_text("营业执照副本")
    packet = reviewer.request.get(f"/api/v1/cases/{case_no}/packet")
    assert packet.ok
    titles = pdf_outline_titles(packet.body())
    assert titles[0].startswith("封面") and any("经办人身份证件" in t for t in titles)
    reviewer.get_by_role("button", name="在本页查看材料包").click()
    expect(reviewer.locator("#packet-pdf")).to_be_visible()
    reviewer.locator("#packet").scroll_into_view_if_needed()
    reviewer.wait_for_timeout(1500)  # let the PDF viewer paint for the picture (not an assertion)
    screenshot(reviewer, "reviewer-case-packet")
    # headless Chromium stalls form navigations while its PDF viewer is open: leave it, as a reader would
    reviewer.goto(f"/ui/cases/{case_no}")

    reviewer.locator("#decide-form input[name=result]").set_input_files(
        write_pdf(tmp_path / "准予许可决定书.pdf", "准予许可决定书"))
    reviewer.locator("#decide-form").get_by_role("button", name="准予许可").click()
    expect(_flash(reviewer)).to_contain_text("准予许可")
    expect(reviewer.locator("h1 .state")).to_have_text("准予许可")
    expect(reviewer.locator("#actions")).not_to_contain_text("寄出结果")  # this item: the window mails

    # --- back at the window: mail the result, then record delivery --------------------------------
    ui_server.clock.now = start + timedelta(hours=3)
    clerk.goto(f"/ui/cases/{case_no}")
    clerk.get_by_label("运单号").fill(TRACKING[:-3] + "XGB")
    clerk.locator("#mail-form").get_by_role("button", name="寄出结果").click()
    # the S10 check digit is refused next to the field, in Chinese, the number kept as typed; nothing changed
    expect(clerk.locator('#mail-form [data-error-for="tracking_no"]')).to_contain_text("邮件号码")
    expect(clerk.get_by_label("运单号")).to_have_value(TRACKING[:-3] + "XGB")
    expect(clerk.locator("h1 .state")).to_have_text("准予许可")
    clerk.get_by_label("运单号").fill(TRACKING)
    clerk.locator("#mail-form").get_by_role("button", name="寄出结果").click()
    expect(clerk.locator("h1 .state")).to_have_text("已寄出")
    expect(clerk.locator("#shipments")).to_contain_text(TRACKING)
    # 送达办结 is a confirmation with the date signed and who signed, never one stray click
    deliver = clerk.locator("#deliver-form")
    deliver.get_by_label("签收人").fill("天津测试科技有限公司 收发室")
    deliver.get_by_role("button", name="确认送达并办结").click()
    expect(clerk.locator('[data-error-for="sure"]')).to_contain_text("我已核对签收信息")
    expect(clerk.locator("h1 .state")).to_have_text("已寄出")
    deliver = clerk.locator("#deliver-form")
    expect(deliver.get_by_label("签收人")).to_have_value("天津测试科技有限公司 收发室")
    deliver.get_by_label("我已核对签收信息").check()
    deliver.get_by_role("button", name="确认送达并办结").click()
    expect(clerk.locator("h1 .state")).to_have_text("办结")
    expect(clerk.locator("#on-time")).to_have_text("按时办结")
    trail = clerk.locator("#audit tbody tr td:nth-child(4)").all_inner_texts()
    steps = ["收件", "预审通过", "转递", "受理", "认领审核", "上传结果文书", "准予许可", "寄出结果", "送达办结"]
    assert [e for e in trail if e in steps] == steps  # in this order (flows may add their own events)

    # the supervisor of the receiving zone sees it closed and on time (dashboard: part B's tests)
    supervisor = new_page()
    login(supervisor, "bj_supervisor")
    supervisor.goto(f"/ui/cases/{case_no}")
    expect(supervisor.locator("h1 .state")).to_have_text("办结")
    expect(supervisor.locator("#on-time")).to_have_text("按时办结")
