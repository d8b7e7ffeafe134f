"""The transfer as people see it, in Chromium: the case page of zone A shows what crossed to B and the
receipt (when, by whom, which key); the peers page shows each peer's health and refusals in Chinese."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from federation import keys
from tests.federation.crafted import identity_of, post, stranger, transfer_message
from tests.federation.pairing import Pair

PASSWORD = "tongban-demo"


def signed_in(browser: Any, base: str, username: str) -> Any:
    page = browser.new_context(base_url=base, locale="zh-CN").new_page()
    page.goto("/ui/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(r"/ui/(?!login)"))
    return page


def test_case_page_shows_the_transfer_and_its_receipt(pair: Pair, browser: Any) -> None:
    from playwright.sync_api import expect

    a, b = pair.a, pair.b
    no = a.receive()["case_no"]
    a.event("bj_clerk", no, "precheck_pass")
    a.wait_state(no, "bj_clerk", "forwarded")
    mirror = a.transfer(no, "bj_clerk")["remote_case_no"]
    page = signed_in(browser, a.base, "bj_clerk")
    page.goto(f"/ui/cases/{no}")
    section = page.locator("#federation")
    expect(section.get_by_role("heading", name="跨系统转递")).to_be_visible()
    expect(section).to_contain_text(f"对端件号 {mirror}")
    row = section.locator("tr[data-type=transfer]")
    expect(row).to_contain_text("已收到回执")
    expect(row).to_contain_text(f"由 TJ 签署回执（密钥指纹 {keys.short(b.public_fingerprint())}）")
    expect(row).to_contain_text("确认 4 个文件摘要")
    expect(page.locator("#audit")).to_contain_text("收到对端签名回执")  # the receipt is in the case's chain
    page.context.close()
    # B's reviewer sees where the case came from.
    page = signed_in(browser, b.base, "tj_reviewer")
    page.goto(f"/ui/cases/{mirror}")
    expect(page.locator("#federation")).to_contain_text(f"由对端系统 北京经开区通办（BJ） 收件（原件号 {no}）")
    page.context.close()


def test_peers_page_shows_health_and_refusals_in_chinese(pair: Pair, browser: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    b = pair.b
    r = post(b, transfer_message(stranger(tmp_path, "BJ"), b, "TJ", tmp_path, uploader=identity_of(pair.a)))
    assert r.json()["refused"] == "unknown_key"
    page = signed_in(browser, b.base, "tj_admin")
    page.goto("/ui/admin")
    page.get_by_role("link", name="对端系统").click()
    row = page.locator("tr[data-peer=BJ]")
    expect(row).to_contain_text("北京经开区通办")
    expect(row).to_contain_text("BJ-ETOWN")
    expect(row.locator(".last-contact")).not_to_have_text("从未")
    expect(row.locator("li[data-code=unknown_key]")).to_contain_text("未知签名密钥：")
    page.context.close()
