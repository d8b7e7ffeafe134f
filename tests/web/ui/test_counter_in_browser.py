"""The counter in a real browser, as a practised clerk works it: a 4-material receipt logged by keyboard
alone (Tab, Space, Enter, typing; each file chooser answered through its input), Enter never losing a
chosen scan, the receipt's print dialog opening in the same step, and the case page following the
forward by itself. The receipt's key and pointer counts are written to docs/ux-counts.json (docs/ux.md)."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from tests.app_harness import USCC
from tests.web.ui.conftest import SCREENSHOTS, UiServer, login, screenshot, write_pdf, write_png

pytestmark = pytest.mark.browser

COUNTS = SCREENSHOTS.parent / "ux-counts.json"
#: Counts print() calls in every frame instead of opening a dialog nobody can close in a headless browser.
RECORD_PRINT = "window.print = function () { window.top.__printed = (window.top.__printed || 0) + 1; };"


@dataclass
class Keyboard:
    """The clerk's hands: every key press and pointer action counted; typed text counted apart."""

    page: Any
    keys: dict[str, int] = field(default_factory=dict)
    typed: int = 0
    pointer: int = 0

    def press(self, key: str, times: int = 1) -> None:
        for _ in range(times):
            self.page.keyboard.press(key)
            self.keys[key] = self.keys.get(key, 0) + 1

    def type(self, text: str) -> None:
        self.page.keyboard.type(text)
        self.typed += len(text)

    def choose_files(self, *paths: Path) -> None:
        """Space on the focused file input opens the chooser; the files are set through it, and the
        clerk's Enter that confirms the system dialog is counted too."""
        field = self.focused()
        expect(field).to_have_attribute("type", "file")
        try:
            with self.page.expect_file_chooser(timeout=5_000) as chooser:
                self.press("Space")
            chooser.value.set_files([str(p) for p in paths])
        except PlaywrightTimeout:  # the chooser is the input's own: set it there if Chromium did not raise it
            field.set_input_files([str(p) for p in paths])
        self.keys["Enter (file dialog)"] = self.keys.get("Enter (file dialog)", 0) + 1

    def focused(self) -> Any:
        return self.page.locator(":focus")

    @property
    def key_presses(self) -> int:
        return sum(self.keys.values())


def test_a_four_material_receipt_by_keyboard_alone_then_printed_in_the_same_step(
        new_page: Any, ui_server: UiServer, tmp_path: Path) -> None:
    page = new_page()
    page.add_init_script(RECORD_PRINT)
    login(page, "bj_clerk")
    expect(page).to_have_url(re.compile(r"/ui/receive$"))
    expect(page.locator("#item")).to_be_focused()  # the picker has the cursor on arrival
    scans = [write_pdf(tmp_path / "申请表.pdf", "申请表"), write_pdf(tmp_path / "营业执照.pdf", "营业执照", pages=2),
             write_png(tmp_path / "经办人身份证.png"), write_pdf(tmp_path / "授权委托书.pdf", "授权委托书")]
    kb = Keyboard(page)
    started = time.monotonic()

    kb.type("qy-001")  # the code as it is said at the counter, in any case
    kb.press("Tab")
    expect(page.locator("#checklist input[type=file]")).to_have_count(4)
    expect(page.locator("#item")).to_have_value("QY-001 企业档案查询（天津经济技术开发区）")
    expect(kb.focused()).to_have_attribute("name", re.compile(r"^tick_\d+$"))  # on the first line already
    for i, scan in enumerate(scans):
        kb.press("Space")  # the paper is on the counter
        kb.press("Tab")
        kb.choose_files(scan)
        expect(page.locator("#checklist [data-files-for] li").nth(i)).to_contain_text(scan.name)
        kb.press("Tab")
    expect(kb.focused()).to_have_attribute("name", "applicant_kind")  # 企业 is already chosen
    kb.press("Tab")
    kb.type("天津键盘示例有限公司")
    kb.press("Tab")
    kb.type(USCC)
    expect(page.locator("#idcheck")).to_contain_text("校验通过")
    kb.press("Tab")
    kb.type("13812345678")
    kb.press("Tab")
    kb.type("天津市滨海新区第三大街1号")
    kb.press("Enter")  # Enter in a field moves on; it does not send the form nor drop the scans
    expect(kb.focused()).to_have_attribute("name", "delivery_method")
    assert page.locator("#checklist [data-files-for] li").count() == 4
    kb.press("Tab")  # the postal address: blank, the applicant's is used
    kb.press("Tab")
    expect(kb.focused()).to_have_id("receive-submit")
    screenshot(page, "receive-form")
    kb.press("Enter")  # 确认收件并打印回执

    page.wait_for_url(re.compile(r"/ui/cases/BJETOWN-\d{8}-\d{5}"))
    case_no = re.search(r"BJETOWN-\d{8}-\d{5}", page.url).group(0)  # type: ignore[union-attr]
    frame = page.frame_locator("#receipt-frame")
    expect(frame.locator("#receipt")).to_contain_text(case_no)
    expect(frame.locator("#receipt-materials tbody tr")).to_have_count(4)
    expect(frame.locator("#receipt")).to_contain_text("申请人签字")
    page.wait_for_function("window.__printed >= 1")  # the print dialog opened without another action
    elapsed = time.monotonic() - started
    expect(page.locator("h1 .state")).to_have_text("已收件")
    expect(page.locator("#promise")).to_contain_text("承诺办结")
    assert kb.pointer == 0
    assert kb.key_presses <= 30, kb.keys

    before = json.loads(COUNTS.read_text(encoding="utf-8")).get("before") if COUNTS.exists() else None
    COUNTS.write_text(json.dumps({
        "before": before,
        "after": {"materials": 4, "pointer_actions": kb.pointer, "key_presses": kb.key_presses, "keys": kb.keys,
                  "typed_characters": kb.typed, "machine_seconds": round(elapsed, 1),
                  "print_dialog_opened": True},
    }, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def test_enter_in_any_field_keeps_the_chosen_scans_and_the_page(
        new_page: Any, ui_server: UiServer, tmp_path: Path) -> None:
    page = new_page()
    login(page, "bj_clerk")
    page.locator("#item").fill("企业档案查询")  # a unique piece of the name
    page.locator("#item").press("Enter")
    files = page.locator("#checklist input[type=file]")
    expect(files).to_have_count(4)
    files.nth(0).set_input_files(write_pdf(tmp_path / "申请表.pdf", "申请表"))
    url = page.url
    page.evaluate("window.__same_page = true")
    for label in ("名称 / 姓名", "证件号码", "联系电话"):
        page.get_by_label(label).fill("x")
        page.get_by_label(label).press("Enter")
    page.locator("#checklist input[type=checkbox]").first.press("Enter")
    assert page.evaluate("window.__same_page") is True and page.url == url, "the page was not reloaded"
    assert files.nth(0).evaluate("i => i.files.length") == 1, "the chosen scan is still there"

    # choosing another item replaces the checklist: the clerk is told the scans must be chosen again
    page.locator("#item").fill("qy-002")
    page.locator("#item").press("Enter")
    expect(page.locator('[data-error-for="checklist"]')).to_contain_text("1 个扫描件")


def test_the_case_page_follows_the_forward_by_itself(new_page: Any, ui_server: UiServer) -> None:
    from tests.web.ui.conftest import api, make_pdf

    item = ui_server.item_id("QY-001", "TJ-TEDA")
    from sqlalchemy import select

    from storage.catalog.models import ItemMaterial
    from storage.db import transaction

    with transaction(ui_server.runtime.session_factory) as s:
        mats = list(s.scalars(select(ItemMaterial.id).where(ItemMaterial.item_id == item)
                              .order_by(ItemMaterial.position)))
    form = {"item_code": "QY-001", "handling_zone": "TJ-TEDA",
            "applicant": {"kind": "enterprise", "name": "转递进度示例有限公司", "id_number": USCC, "address": "北京"},
            "checklist": [{"item_material_id": m} for m in mats]}
    with api(ui_server, "bj_clerk") as c:
        scan = ("申请表.pdf", make_pdf("申请表"), "application/pdf")
        r = c.post("/api/v1/cases", files=[("case", ("case.json", json.dumps(form), "application/json")),
                                           (f"material_{mats[0]}", scan)])
        assert r.status_code == 201, r.text
        case_no = r.json()["case_no"]
    page = new_page()
    login(page, "bj_clerk")
    page.goto(f"/ui/cases/{case_no}")
    page.evaluate("window.__same_page = true")
    # the originals go by post: carrier + tracking number in 预审通过, and the clock pauses for them
    originals = page.locator("#originals")
    expect(originals).to_be_visible()
    originals.get_by_label("运单号").fill("RR473124829GB")
    page.locator("#precheck-form").get_by_role("button", name="预审通过").click()
    state = page.locator("h1 .state")
    expect(state).to_have_text(re.compile("预审通过|已转递"))
    if state.inner_text() == "预审通过":
        expect(page.locator("#in-transit")).to_contain_text("转递中")
        page.evaluate("window.__same_page = true")
        expect(state).to_have_text("已转递", timeout=90_000)  # no reload by the test: the page polls
        assert page.evaluate("window.__same_page") is None, "the page updated itself (a fresh load)"
    expect(page.locator("#in-transit")).to_have_count(0)
    expect(page.locator("#paused")).to_contain_text("计时暂停（原件在途）")
    expect(page.locator("#shipments")).to_contain_text("RR473124829GB")


def test_a_case_is_found_by_the_full_id_number_without_it_reaching_the_address_bar(
        new_page: Any, ui_server: UiServer) -> None:
    """办件查询 by 统一社会信用代码: typed, Enter, found; the number is in no URL of the tab's history."""
    from tests.web.ui.conftest import forwarded_case_via_api

    case_no = forwarded_case_via_api(ui_server, "证件号查询示例有限公司")
    page = new_page()
    login(page, "bj_clerk")
    page.goto("/ui/cases")
    box = page.get_by_label("办件编号、申请人名称或完整证件号码")
    box.fill(USCC.lower())  # as typed at a counter: lower case is the same number
    with page.expect_navigation():
        box.press("Enter")
    expect(page.locator(f'a[href="/ui/cases/{case_no}"]')).to_be_visible()
    assert USCC not in page.url and USCC.lower() not in page.url, page.url
    expect(box).to_have_value(USCC.lower())  # kept in the box (the page body), not in the address
    # the tab's history holds no entry with the number: back goes to the empty search page
    assert page.evaluate("history.length") >= 2
    page.go_back()
    assert USCC.lower() not in page.url and USCC not in page.url
    # a name search still lands on a link that can be bookmarked
    page.goto("/ui/cases")
    box = page.get_by_label("办件编号、申请人名称或完整证件号码")
    box.fill("证件号查询示例")
    with page.expect_navigation():
        box.press("Enter")
    assert "/ui/cases?q=" in page.url
    expect(page.locator(f'a[href="/ui/cases/{case_no}"]').first).to_be_visible()
