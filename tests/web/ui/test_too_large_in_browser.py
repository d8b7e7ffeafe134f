"""A receipt too large for the server (``TONGBAN_MAX_REQUEST_BYTES``), as a window clerk meets it in
Chromium: with the page's script the refusal is a Chinese sentence on the form, whatever was typed still
there; without script the browser's own post gets a Chinese error page, not the API's JSON."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.app_harness import USCC
from tests.security.files_support import ServedTongban, serve_tongban
from tests.web.ui.conftest import VIEWPORT, login
from tests.web.ui.test_counter_pages import assert_plain_chinese

pytestmark = pytest.mark.browser

CAP = 256 * 1024


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedTongban]:
    """A real ``tongban serve`` with a small cap on a request, so one scan goes past it."""
    yield from serve_tongban(tmp_path_factory.mktemp("tongban-ui-capped"), max_request_bytes=CAP)


def _page(browser: Any, base_url: str, *, script: bool) -> Any:
    ctx = browser.new_context(viewport=VIEWPORT, base_url=base_url, locale="zh-CN", java_script_enabled=script)
    ctx.set_default_timeout(20_000)
    return ctx.new_page()


def _big_scan(tmp_path: Path) -> Path:
    path = tmp_path / "营业执照.pdf"
    path.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * (CAP // 128))  # twice the cap
    return path


def test_with_script_the_clerk_reads_why_in_chinese_and_keeps_the_form(
        browser: Any, capped: ServedTongban, tmp_path: Path) -> None:
    page = _page(browser, capped.base_url, script=True)
    login(page, "bj_clerk")
    page.goto("/ui/receive")
    page.locator("#item").fill("qy-001")
    page.locator("#item").press("Tab")
    files = page.locator("#checklist input[type=file]")
    expect(files.first).to_be_visible()
    files.first.set_input_files(_big_scan(tmp_path))
    page.get_by_label("名称 / 姓名").fill("超大文件示例有限公司")
    page.locator("#applicant_id_number").fill(USCC)
    page.get_by_role("button", name="确认收件并打印回执").click()
    expect(page.locator("body")).to_contain_text("未保存任何内容")
    expect(page).to_have_url(re.compile(r"/ui/receive$"))
    expect(page.get_by_label("名称 / 姓名")).to_have_value("超大文件示例有限公司")
    expect(page.locator('[data-files-for] li[data-name="营业执照.pdf"]')).to_be_visible()
    assert_plain_chinese(page.content())
    page.context.close()


def test_without_script_the_browser_gets_a_chinese_error_page(
        browser: Any, capped: ServedTongban, tmp_path: Path) -> None:
    page = _page(browser, capped.base_url, script=False)
    login(page, "bj_clerk")
    page.goto("/ui/receive")
    page.locator("#item").fill("QY-001 企业档案查询（天津经济技术开发区）")
    page.get_by_role("button", name="载入材料清单").click()
    page.locator("#checklist input[type=file]").first.set_input_files(_big_scan(tmp_path))
    page.get_by_label("名称 / 姓名").fill("超大文件示例有限公司")
    with page.expect_navigation() as nav:
        page.get_by_role("button", name="确认收件并打印回执").click()
    assert nav.value.status == 413
    expect(page.get_by_role("heading")).to_contain_text("提交的内容过大")
    expect(page.locator(".error-page")).to_contain_text("256 KiB")
    expect(page.get_by_role("link", name="返回")).to_be_visible()
    assert_plain_chinese(page.content())
    page.context.close()


def test_the_api_keeps_its_json_error(capped: ServedTongban) -> None:
    import httpx

    r = httpx.post(f"{capped.base_url}/api/v1/cases", headers=capped.h("bj_clerk"), timeout=60,
                   files=[("case", ("case.json", b"{}", "application/json")),
                          ("material_1", ("x.pdf", b"%PDF-1.4\n" + b"0" * (2 * CAP), "application/pdf"))])
    assert r.status_code == 413 and r.headers["content-type"] == "application/json"
    assert r.json()["error"] == "request_too_large" and "nothing was saved" in r.json()["message"]
