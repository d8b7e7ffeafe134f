"""自助机 in a real Chromium: an admin registers a terminal, the terminal signs in, an applicant picks an
item by category and search, has their ID card read by the terminal's reader (a real process on
loopback), scans three materials, signs on the canvas, prints the receipt with its pickup code and
locker slot, and presses 完成 — after which going back shows nothing of them. A clerk confirms the
paper from the locker (a wrong code first) before the pre-check passes. A second server with a short
inactivity timeout shows the screen wiping itself, with its countdown, and the server forgetting."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import expect
from sqlalchemy import func, select

from config import Settings
from states.kiosk import service as kiosk
from states.runtime import Runtime
from states.transition.rules import Actor
from storage.db import transaction
from storage.demo.seed import seed_demo
from storage.kiosk.models import KioskVisit
from storage.migrate import upgrade
from storage.user.models import User
from tests import servers
from tests.app_harness import RESIDENT_ID, FakeClock
from tests.web.ui.conftest import UiServer, login, screenshot, write_pdf, write_png

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[3]
RECORD_PRINT = "window.print = function () { window.top.__printed = (window.top.__printed || 0) + 1; };"
CARD = {"name": "李读卡", "id_number": RESIDENT_ID, "address": "北京市大兴区荣华中路22号"}
KIOSK_VIEWPORT = {"width": 1280, "height": 1024}


@pytest.fixture(scope="module")
def reader() -> Iterator[str]:
    """The ID-card reader's local interface, a real process; yields its base URL."""
    port = servers.free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tests.web.ui.kiosk_reader", str(port)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def put_card(reader_url: str, card: dict[str, str] | None) -> None:
    path, body = ("/insert", card) if card else ("/remove", {})
    req = urllib.request.Request(reader_url + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200


def kiosk_page(browser: Any, base_url: str, contexts: list[Any]) -> Any:
    ctx = browser.new_context(viewport=KIOSK_VIEWPORT, base_url=base_url, locale="zh-CN", has_touch=True)
    ctx.set_default_timeout(20_000)
    contexts.append(ctx)
    page = ctx.new_page()
    page.add_init_script(RECORD_PRINT)
    return page


def sign_in_terminal(page: Any, terminal_id: str, secret: str) -> None:
    page.goto("/ui/kiosk")
    expect(page).to_have_url(re.compile(r"/ui/kiosk/signin$"))
    page.get_by_label("终端编号").fill(terminal_id)
    page.get_by_label("终端密钥").fill(secret)
    page.get_by_role("button", name="登录终端").click()
    expect(page).to_have_url(re.compile(r"/ui/kiosk$"))


def typed_values(page: Any) -> str:
    """Whatever the page's inputs hold (not part of its text): a previous applicant's must not be there."""
    return str(page.evaluate("Array.from(document.querySelectorAll('input')).map(i => i.value).join(' ')"))


def draw_signature(page: Any) -> None:
    box = page.locator("#sign-pad").bounding_box()
    x, y = box["x"], box["y"]
    page.mouse.move(x + 80, y + 200)
    page.mouse.down()
    for dx, dy in ((200, 80), (320, 220), (460, 90), (600, 210), (760, 120)):
        page.mouse.move(x + dx, y + dy, steps=8)
    page.mouse.up()


def fill_application(page: Any, tmp_path: Path, reader_url: str | None) -> None:
    """Steps 1–3 of the application for QY-001 (企业档案查询, decided by TJ-TEDA)."""
    if reader_url:
        put_card(reader_url, CARD)
        page.get_by_role("button", name="读取身份证").click()
        expect(page.locator("#reader-status")).to_contain_text("已读取身份证：李**")
        expect(page.locator("#applicant_id_number")).to_have_value(RESIDENT_ID)
        expect(page.locator("#applicant_name")).to_have_value("李读卡")
        put_card(reader_url, None)
    else:
        page.locator("#applicant_name").fill("王输入")
        page.locator("#applicant_id_number").fill(RESIDENT_ID)
    page.locator("#applicant_phone").fill("13912345678")
    page.get_by_role("button", name="下一步").first.click()
    step2 = page.locator('.kstep[data-step="2"]')
    expect(step2).to_be_visible()
    step2.get_by_role("button", name="下一步").click()  # nothing scanned yet: refused with the names
    expect(page.locator("#materials-missing")).to_contain_text("企业档案查询申请表")
    scans = {"企业档案查询申请表": write_pdf(tmp_path / "申请表.pdf", "申请表"),
             "营业执照副本": write_pdf(tmp_path / "营业执照.pdf", "营业执照", pages=2),
             "经办人身份证件": write_png(tmp_path / "身份证.png")}
    for name, path in scans.items():
        step2.locator(f'input[type=file][aria-label="{name}"]').set_input_files(str(path))
        expect(step2.locator(f'.kmat:has(input[aria-label="{name}"]) .kfiles')).to_contain_text("已选择 1 个文件")
    step2.get_by_role("button", name="下一步").click()
    step3 = page.locator('.kstep[data-step="3"]')
    expect(step3).to_be_visible()
    step3.get_by_role("button", name="下一步").click()  # not signed yet
    expect(page.locator("#signature-missing")).to_be_visible()
    draw_signature(page)
    step3.get_by_role("button", name="下一步").click()
    expect(page.locator('.kstep[data-step="4"]')).to_be_visible()
    expect(page.locator("#summary")).to_contain_text("已签名")


def test_an_applicant_is_served_at_the_kiosk_and_a_clerk_confirms_the_locker_paper(
        browser: Any, new_page: Any, ui_server: UiServer, reader: str, tmp_path: Path) -> None:
    contexts: list[Any] = []
    try:
        # --- the admin registers the terminal; its secret is shown once ---------------------------------
        admin = new_page()
        login(admin, "bj_admin")
        admin.goto("/ui/admin/kiosks")
        form = admin.locator("#register-terminal")
        form.get_by_label("终端编号").fill("BJ-ZZJ-01")
        form.get_by_label("摆放位置").fill("亦庄政务服务中心一层24小时自助区")
        form.get_by_label("柜格数").fill("6")
        form.get_by_label("读卡器本机接口").fill(reader + "/card")
        form.get_by_role("button", name="登记终端").click()
        secret = admin.locator("#device-secret").inner_text().strip()
        assert secret.startswith("kt_")
        expect(admin.locator('#terminals tr[data-terminal="BJ-ZZJ-01"]')).to_contain_text("在用")

        # --- an unregistered terminal, or a wrong secret, cannot sign in -------------------------------
        page = kiosk_page(browser, ui_server.base_url, contexts)
        page.goto("/ui/kiosk/signin")
        page.get_by_label("终端编号").fill("BJ-ZZJ-99")
        page.get_by_label("终端密钥").fill(secret)
        page.get_by_role("button", name="登录终端").click()
        expect(page.locator("#signin-error")).to_contain_text("未登记")
        sign_in_terminal(page, "BJ-ZZJ-01", secret)

        # --- pick the item by category, then by search ---------------------------------------------------
        expect(page.locator("#idle")).to_contain_text("秒后自动退出")
        page.locator(".kcats").get_by_role("link", name="企业登记", exact=True).click()
        expect(page.locator("#items .ktile").first).to_contain_text("企业登记")
        page.get_by_label("搜索事项").fill("档案")
        page.get_by_role("button", name="搜索").click()
        tiles = page.locator("#items .ktile")
        expect(tiles).to_have_count(1)
        expect(tiles.first).to_contain_text("企业档案查询")
        screenshot(page, "kiosk-home")
        tiles.first.click()
        expect(page.locator("h1")).to_contain_text("企业档案查询")
        fill_application(page, tmp_path, reader)
        screenshot(page, "kiosk-confirm")
        page.get_by_role("button", name="提交申请").click()

        # --- the receipt: pickup code, locker slot, printed -------------------------------------------
        expect(page).to_have_url(re.compile(r"/ui/kiosk/receipt$"))
        code = page.locator("#pickup-code").inner_text().strip()
        slot = page.locator("#slot").inner_text().strip()
        case_no = page.locator("#case-no").inner_text().strip()
        assert re.fullmatch(r"\d{6}", code) and slot == "A01" and case_no.startswith("BJETOWN-")
        expect(page.locator("#receipt")).to_contain_text("李**")  # masked on the screen too
        page.get_by_role("button", name="打印回执").click()
        assert page.evaluate("window.__printed") == 1
        screenshot(page, "kiosk-receipt")
        page.get_by_role("button", name="完成").click()
        expect(page).to_have_url(re.compile(r"/ui/kiosk\?ended=done$"))
        expect(page.locator("#notice")).to_contain_text("办理完成")

        # --- back-navigation after 完成: nothing of the applicant -------------------------------------
        page.go_back()
        expect(page).to_have_url(re.compile(r"/ui/kiosk(\?.*)?$"))  # the receipt is gone: back to the start
        expect(page.locator("body")).not_to_contain_text(code)
        expect(page.locator("body")).not_to_contain_text(case_no)
        page.goto(f"{ui_server.base_url}/ui/kiosk/receipt")
        expect(page).to_have_url(re.compile(r"/ui/kiosk$"))
        expect(page.locator("body")).not_to_contain_text(code)
        page.go_back()
        page.go_back()
        if "/apply/" in page.url:  # the application page comes back empty (no-store: fetched anew)
            expect(page.locator("#applicant_id_number")).to_have_value("")
            expect(page.locator("#applicant_name")).to_have_value("")
        expect(page.locator("body")).not_to_contain_text("李读卡")
        assert RESIDENT_ID not in typed_values(page) and "李读卡" not in typed_values(page)
        response = page.request.get("/ui/kiosk/receipt", max_redirects=0)
        assert response.status == 303 and "no-store" in response.headers["cache-control"]

        # --- the clerk: no pre-check while the paper is in the locker ---------------------------------
        clerk = new_page()
        login(clerk, "bj_clerk")
        clerk.goto(f"/ui/cases/{case_no}")
        clerk.locator("#precheck-form").get_by_role("button", name="预审通过").click()
        expect(clerk.locator("body")).to_contain_text(f"尚在智能流转柜 {slot} 号柜格")
        clerk.get_by_role("link", name="智能流转柜").click()
        row = clerk.locator(f'#locker tr[data-case="{case_no}"]')
        expect(row).to_contain_text("BJ-ZZJ-01")
        row.get_by_label("柜格号").fill(slot)
        row.get_by_label("取件码").fill("000000" if code != "000000" else "111111")
        row.get_by_role("button", name="确认已取件").click()
        row = clerk.locator(f'#locker tr[data-case="{case_no}"]')
        expect(row.locator(".error")).to_contain_text("取件码不正确")
        screenshot(clerk, "kiosk-locker")
        row.get_by_label("取件码").fill(code)
        row.get_by_role("button", name="确认已取件").click()
        expect(clerk).to_have_url(re.compile(rf"/ui/cases/{case_no}$"))
        expect(clerk.locator(".flashes")).to_contain_text(f"已从 {slot} 号柜格取出")
        expect(clerk.locator("body")).to_contain_text("自助机收件 · 材料投入智能流转柜")  # the history says how
        expect(clerk.locator("body")).to_contain_text("从智能流转柜取件确认")
        clerk.locator("#precheck-form").get_by_role("button", name="预审通过").click()
        expect(clerk.locator(".flashes")).to_contain_text("预审通过")
    finally:
        for ctx in contexts:
            ctx.close()


# --- the inactivity timeout, on a server of its own with a short one --------------------------------

IDLE = 6


@pytest.fixture(scope="module")
def short_idle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[UiServer, str, str]]:
    home = tmp_path_factory.mktemp("tongban-kiosk-idle")
    settings = Settings(home=home, database_url=f"sqlite:///{home / 'tongban.db'}",
                        storage_url=f"file://{home / 'objects'}", mode="embedded", kiosk_idle_seconds=IDLE,
                        _env_file=None)  # type: ignore[call-arg]
    clock = FakeClock(datetime(2026, 11, 24, 2, 0, tzinfo=UTC))
    runtime = Runtime(settings, now_fn=clock)
    upgrade(settings.resolved_database_url())
    with transaction(runtime.session_factory) as s:
        seed_demo(db_session=s)
        admin = s.scalars(select(User).where(User.username == "bj_admin")).one()
        terminal, secret = kiosk.register_terminal(
            db_session=s, admin=Actor(admin.username, admin.role, admin.zone_id, admin.id), terminal_id="BJ-ZZJ-02",
            location="亦庄政务服务中心二层", locker_slots=4, reader_url="", now=clock())
        terminal_id = terminal.terminal_id
    from web.app import create_app

    server = uvicorn.Server(uvicorn.Config(create_app(runtime=runtime, run_dispatcher=False), host="127.0.0.1",
                                           port=servers.free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, name="kiosk-idle-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield UiServer(f"http://127.0.0.1:{port}", runtime, clock, {}), terminal_id, secret
    server.should_exit = True
    thread.join(timeout=30)
    runtime.dispose()


def visits(ui: UiServer) -> int:
    with transaction(ui.runtime.session_factory) as s:
        return int(s.scalar(select(func.count()).select_from(KioskVisit)) or 0)


def test_inactivity_wipes_the_screen_with_a_countdown_and_the_server_forgets(
        browser: Any, short_idle: tuple[UiServer, str, str], tmp_path: Path) -> None:
    ui, terminal_id, secret = short_idle
    contexts: list[Any] = []
    try:
        page = kiosk_page(browser, ui.base_url, contexts)
        sign_in_terminal(page, terminal_id, secret)
        page.locator("#items .ktile").first.click()
        page.locator("#applicant_name").fill("王输入")
        page.locator("#applicant_id_number").fill(RESIDENT_ID)
        expect(page.locator("#idle-left")).to_have_text(re.compile(rf"^[1-{IDLE - 1}]$"))  # counting down
        # hands off: the screen wipes itself and the start screen says why
        expect(page).to_have_url(re.compile(r"/ui/kiosk\?ended=timeout$"), timeout=IDLE * 1000 + 20_000)
        expect(page.locator("#notice")).to_contain_text("长时间无操作")
        page.go_back()
        if "/apply/" in page.url:
            expect(page.locator("#applicant_name")).to_have_value("")
            expect(page.locator("#applicant_id_number")).to_have_value("")
        expect(page.locator("body")).not_to_contain_text("王输入")
        assert RESIDENT_ID not in typed_values(page) and "王输入" not in typed_values(page)

        # on the receipt too: the pickup code disappears, and the server no longer holds it
        page.goto("/ui/kiosk?q=档案")
        page.locator('#items .ktile[data-item="QY-001"]').click()
        fill_application(page, tmp_path, None)
        page.get_by_role("button", name="提交申请").click()
        expect(page).to_have_url(re.compile(r"/ui/kiosk/receipt$"))
        code = page.locator("#pickup-code").inner_text().strip()
        assert visits(ui) == 1
        expect(page).to_have_url(re.compile(r"/ui/kiosk\?ended=timeout$"), timeout=IDLE * 1000 + 20_000)
        assert visits(ui) == 0
        page.go_back()
        expect(page).to_have_url(re.compile(r"/ui/kiosk$"))
        expect(page.locator("body")).not_to_contain_text(code)
    finally:
        for ctx in contexts:
            ctx.close()
