"""What the browser must refuse: another zone's case, a form without its CSRF token, an encrypted
PDF (shown next to that file while the rest of the form stays as typed)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.app_harness import USCC
from tests.web.ui.conftest import UiServer, forwarded_case_via_api, login, write_encrypted_pdf, write_pdf

pytestmark = pytest.mark.browser


def test_a_clerk_of_a_zone_not_party_to_the_case_sees_neither_it_nor_it_in_the_queue(
        new_page: Any, ui_server: UiServer) -> None:
    case_no = forwarded_case_via_api(ui_server, "临港不可见示例有限公司")
    outsider = new_page()
    login(outsider, "sh_clerk")
    response = outsider.goto(f"/ui/cases/{case_no}")
    assert response is not None and response.status == 404
    expect(outsider.locator(".error-page")).to_contain_text("未找到")
    expect(outsider.locator("body")).not_to_contain_text("临港不可见示例有限公司")
    outsider.goto("/ui/queue")
    expect(outsider.locator("body")).not_to_contain_text(case_no)
    outsider.goto(f"/ui/cases?q={case_no}")
    expect(outsider.locator("body")).not_to_contain_text(case_no)
    # the API answers the same to the same browser session
    assert outsider.request.get(f"/api/v1/cases/{case_no}").status == 404
    # while a party (the handling zone's reviewer) does see it
    insider = new_page()
    login(insider, "tj_reviewer")
    assert insider.goto(f"/ui/cases/{case_no}").status == 200  # type: ignore[union-attr]


def test_a_form_without_the_csrf_token_is_refused_and_changes_nothing(
        new_page: Any, ui_server: UiServer) -> None:
    case_no = forwarded_case_via_api(ui_server, "跨站请求示例有限公司")
    reviewer = new_page()
    login(reviewer, "tj_reviewer")
    reviewer.goto(f"/ui/cases/{case_no}")
    reviewer.locator('#accept-form input[name="csrf_token"]').evaluate("e => e.remove()")
    reviewer.locator("#accept-form").get_by_role("button", name="受理").click()
    expect(reviewer.locator(".error-page")).to_contain_text("CSRF")
    reviewer.goto(f"/ui/cases/{case_no}")
    expect(reviewer.locator("h1 .state")).to_have_text("已转递")
    # a script on another page riding the session cookie cannot call the API either
    status = reviewer.evaluate(
        """async (no) => (await fetch(`/api/v1/cases/${no}/events`, {method: 'POST',
             headers: {'Content-Type': 'application/json'}, body: JSON.stringify({event: 'accept', version: 1})
           })).status""", case_no)
    assert status == 403
    expect(reviewer.locator("h1 .state")).to_have_text("已转递")


def test_an_encrypted_pdf_is_named_next_to_its_file_and_the_rest_of_the_form_is_kept(
        new_page: Any, ui_server: UiServer, tmp_path: Path) -> None:
    clerk = new_page()
    login(clerk, "bj_clerk")
    clerk.locator("#item").fill("QY-001 企业档案查询（天津经济技术开发区）")
    inputs = clerk.locator("#checklist input[type=file]")
    expect(inputs).to_have_count(4)
    inputs.nth(0).set_input_files(write_pdf(tmp_path / "申请表.pdf", "申请表"))
    inputs.nth(1).set_input_files([write_pdf(tmp_path / "执照第1页.pdf", "执照"),
                                   write_encrypted_pdf(tmp_path / "加密执照.pdf")])
    clerk.get_by_label("名称 / 姓名").fill("加密文件示例有限公司")
    clerk.locator("#applicant_id_number").fill(USCC)
    clerk.get_by_label("地址", exact=True).fill("北京市亦庄荣华中路22号")
    clerk.get_by_role("button", name="确认收件并打印回执").click()

    bad = clerk.locator(f'[data-files-for="material_{_material_id(clerk, 1)}"] li.bad')
    expect(bad).to_have_count(1)
    expect(bad).to_contain_text("加密执照.pdf")
    expect(bad).to_contain_text("已加密")
    expect(clerk).to_have_url(re.compile(r"/ui/receive$"))  # nothing received
    expect(clerk.get_by_label("名称 / 姓名")).to_have_value("加密文件示例有限公司")
    expect(clerk.locator("#applicant_id_number")).to_have_value(USCC)
    expect(clerk.locator('[data-files-for] li[data-name="申请表.pdf"]')).to_be_visible()
    assert inputs.nth(0).evaluate("e => e.files.length") == 1  # the good scans are still chosen

    # the clerk swaps the encrypted file for a readable copy and submits again
    inputs.nth(1).set_input_files(write_pdf(tmp_path / "执照.pdf", "执照"))
    clerk.get_by_role("button", name="确认收件并打印回执").click()
    clerk.wait_for_url(re.compile(r"/ui/cases/BJETOWN-"))
    expect(clerk.locator("h1 .state")).to_have_text("已收件")


def _material_id(page: Any, index: int) -> int:
    name = page.locator("#checklist input[type=file]").nth(index).get_attribute("name")
    return int(name.split("_")[1])
