"""Supervisors and admins in a real browser: the dashboard shows a case closed on time and exports the
list; the annual evaluation downloads as a PDF; an admin adds a colleague who can then sign in; a clerk
is refused the dashboard. Screenshots of the dashboard, evaluation and admin pages go to docs/screenshots."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from documents import pdf_text
from tests.app_harness import USCC
from tests.web.ui.conftest import UiServer, login, screenshot

pytestmark = pytest.mark.browser


def _download(page: Any, selector: str) -> bytes:
    with page.expect_download() as info:
        page.locator(selector).click()
    name = info.value.suggested_filename
    assert "北京经济技术开发区" in name, f"saved under a name a superior reads: {name}"
    return Path(info.value.path()).read_bytes()


def test_supervisor_sees_a_case_closed_on_time_and_exports_the_list(
        new_page: Any, ui_server: UiServer, closed_case: str) -> None:
    page = new_page()
    login(page, "bj_supervisor")
    expect(page).to_have_url(re.compile(r"/ui/dashboard$"))
    expect(page.get_by_role("heading", name="监管看板")).to_be_visible()
    # the item's on-time rate is a figure now that one of its cases was decided in time
    expect(page.locator('#on-time-items tr[data-item="QY-001"] .rate')).to_have_text(re.compile(r"^\d+\.\d%$"))
    expect(page.locator("figure.chart svg").first).to_be_visible()
    # the charts speak Chinese and name the handling zone, as the tables beside them do
    charts = " ".join(page.locator("figure.chart svg").all_text_contents())
    assert "收件" in charts and "天津经济技术开发区" in charts, charts
    assert not re.search(r"received|decided|TJ-TEDA|BJ-ETOWN", charts), charts
    screenshot(page, "dashboard")

    page.get_by_label("编号或申请人").fill(closed_case)
    page.get_by_role("button", name="查询").last.click()
    row = page.locator(f'#case-list tr[data-case="{closed_case}"]')
    expect(row).to_be_visible()
    expect(row.locator(".state")).to_have_text("办结")
    expect(row.locator(".timeliness")).to_contain_text("按时")

    csv_text = _download(page, "#export-csv").decode("utf-8-sig")
    assert closed_case in csv_text and "按时" in csv_text
    assert USCC not in csv_text  # the applicant's credit code is masked in exports
    book = load_workbook(io.BytesIO(_download(page, "#export-xlsx")))
    cells = [str(v) for row_ in book.worksheets[0].iter_rows(values_only=True) for v in row_ if v is not None]
    assert closed_case in cells and USCC not in " ".join(cells)


def test_annual_evaluation_page_and_its_pdf(new_page: Any, ui_server: UiServer, closed_case: str) -> None:
    page = new_page()
    login(page, "bj_supervisor")
    page.goto("/ui/evaluation?year=2026")
    expect(page.locator('#evaluation tr[data-item="QY-001"]').first).to_be_visible()
    expect(page.locator('#disagreements tr[data-code="QY-002"]').first).to_be_visible()
    # 同事同标 differences name each zone as a supervisor reads it, never by its code
    differences = page.locator("#disagreements")
    expect(differences).to_contain_text("北京经济技术开发区：5")
    expect(differences).to_contain_text("仅天津经济技术开发区要求")
    expect(differences).not_to_contain_text("TJ-TEDA")
    expect(differences).not_to_contain_text("BJ-ETOWN")
    expect(page.locator('select[name="item"] option[value="QY-001"]')).to_have_text("QY-001 企业档案查询")
    screenshot(page, "evaluation")
    pdf = _download(page, "#evaluation-pdf")
    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf)
    assert "2026" in text and "QY-001" in text and "QY-002" in text
    assert "天津经济技术开发区" in text and "TJ-TEDA" not in text and "BJ-ETOWN" not in text, "zones by name"
    assert "total" not in text
    book = load_workbook(io.BytesIO(_download(page, "#evaluation-xlsx")))
    cells = " ".join(str(v) for ws in book.worksheets for row in ws.iter_rows(values_only=True) for v in row if v)
    assert "天津经济技术开发区" in cells and "TJ-TEDA" not in cells and "BJ-ETOWN" not in cells, "zones by name"


def test_the_admin_catalog_report_names_zones(new_page: Any, ui_server: UiServer) -> None:
    admin = new_page()
    login(admin, "bj_admin")
    admin.goto("/ui/admin/catalog-report")
    rows = admin.locator('#disagreements tr[data-code="QY-002"]')
    expect(rows.first).to_be_visible()
    expect(admin.locator("#disagreements")).to_contain_text("天津经济技术开发区：3")
    expect(admin.locator("#disagreements")).not_to_contain_text("TJ-TEDA")
    expect(admin.locator("#disagreements")).not_to_contain_text("same materials")
    admin.goto("/ui/admin/items")
    expect(admin.locator('tr[data-item="QY-001"][data-zone="TJ-TEDA"]')).to_contain_text("天津经济技术开发区")


def test_admin_adds_a_user_who_can_then_sign_in(new_page: Any, ui_server: UiServer) -> None:
    admin = new_page()
    login(admin, "bj_admin")
    expect(admin).to_have_url(re.compile(r"/ui/admin$"))
    form = admin.locator("#add-user")
    form.get_by_label("用户名").fill("bj_reviewer_new")
    form.get_by_label("姓名").fill("北京新审批员")
    form.get_by_label("角色").select_option("reviewer")
    form.get_by_label("初始密码").fill("new-reviewer-pass")
    form.get_by_role("button", name="新增用户").click()
    expect(admin.locator(".flash-ok")).to_contain_text("bj_reviewer_new")
    expect(admin.locator('#users tr[data-user="bj_reviewer_new"]')).to_contain_text("审批人员")
    screenshot(admin, "admin")

    colleague = new_page()
    login(colleague, "bj_reviewer_new", "new-reviewer-pass")
    expect(colleague).to_have_url(re.compile(r"/ui/queue$"))


def test_a_clerk_is_refused_the_dashboard_and_admin(new_page: Any, ui_server: UiServer) -> None:
    page = new_page()
    login(page, "bj_clerk")
    for path in ("/ui/dashboard", "/ui/dashboard/cases.csv", "/ui/evaluation", "/ui/admin"):
        response = page.goto(path)
        assert response is not None and response.status == 403, path
    expect(page.locator("body")).not_to_contain_text("按时率")
