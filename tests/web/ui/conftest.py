"""A real tongban served over HTTP (uvicorn in a thread, embedded dispatcher running) and one
headless Chromium for the whole session, driven by Playwright.

Chromium is Debian's ``/usr/bin/chromium`` (Playwright's own download cannot reach its host here).
Without it the browser tests skip with the reason, except under ``CI=true`` where they fail.
"""

from __future__ import annotations

import io
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from PIL import Image
from pypdf import PdfReader, PdfWriter
from sqlalchemy import select

from config import Settings
from states.runtime import Runtime
from storage.catalog.models import Item
from storage.db import transaction
from storage.demo.seed import DEMO_PASSWORD, seed_demo
from storage.migrate import upgrade
from storage.user import service as users
from storage.zone.models import Zone
from tests import servers
from tests.app_harness import FakeClock, make_pdf
from web.app import create_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--lang=zh-CN"]
SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"
VIEWPORT = {"width": 1366, "height": 768}
#: A zone party to none of the demo cases: its clerk must see nothing of them.
THIRD_ZONE = dict(code="SH-LINGANG", name="上海临港新片区", name_en="Shanghai Lingang")


@dataclass
class UiServer:
    base_url: str
    runtime: Runtime
    clock: FakeClock
    tokens: dict[str, str]

    def item_id(self, code: str, zone: str) -> int:
        with transaction(self.runtime.session_factory) as s:
            return s.scalars(select(Item.id).join(Zone, Item.zone_id == Zone.id)
                             .where(Item.code == code, Zone.code == zone)).one()


@pytest.fixture(scope="session")
def ui_server(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> Iterator[UiServer]:
    home = tmp_path_factory.mktemp("tongban-ui")
    settings = Settings(home=home, database_url=f"sqlite:///{home / 'tongban.db'}",
                        storage_url=f"file://{home / 'objects'}", mode="embedded",
                        # the stories move a fake clock by hours and months; sign-outs are tested in tests/security
                        demo=True, session_idle_minutes=0, session_max_hours=24 * 366,
                        _env_file=None)  # type: ignore[call-arg]
    clock = FakeClock(datetime(2026, 11, 24, 2, 0, tzinfo=UTC))  # Tue 10:00 in Shanghai
    runtime = Runtime(settings, now_fn=clock)
    upgrade(settings.resolved_database_url())
    with transaction(runtime.session_factory) as s:
        tokens = {u.username: u.token for u in seed_demo(db_session=s)}
        s.add(Zone(**THIRD_ZONE))
        s.flush()
        _, tokens["sh_clerk"] = users.add(db_session=s, username="sh_clerk", display_name="临港窗口", role="clerk",
                                          zone_code=THIRD_ZONE["code"], password=DEMO_PASSWORD)
        # this window mails results itself (the item says which side mails): the clerk records mail-back
        item = s.scalars(select(Item).join(Zone, Item.zone_id == Zone.id)
                         .where(Item.code == "QY-001", Zone.code == "TJ-TEDA")).unique().one()
        item.mail_side = "receiving"
    app = create_app(runtime=runtime, run_dispatcher=True)
    port = servers.free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="ui-test-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start for the browser tests")
        time.sleep(0.05)
    yield UiServer(base_url=f"http://127.0.0.1:{port}", runtime=runtime, clock=clock, tokens=tokens)
    server.should_exit = True
    thread.join(timeout=30)
    runtime.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One Chromium for the session; every test gets its own context (cookies) from it."""
    reason = ""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install -y chromium fonts-wqy-zenhei)"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = reason or "the playwright package is not installed"
    if reason:
        if servers.in_ci():
            servers.REGISTRY.record_failed("Chromium", reason)
            pytest.fail(f"Chromium is required in CI (CI=true): {reason}", pytrace=False)
        servers.REGISTRY.record_skipped("Chromium", reason)
        pytest.skip(reason)
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)  # shared, noisy machines: generous, never a timing assertion
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        servers.REGISTRY.record_used("Chromium", f"{b.version} at {CHROMIUM}")
        yield b
        b.close()


@pytest.fixture
def new_page(browser: Any, ui_server: UiServer) -> Iterator[Any]:
    """``new_page()`` → a page in a fresh browser context (its own cookies: one signed-in person)."""
    contexts = []

    def make() -> Any:
        ctx = browser.new_context(viewport=VIEWPORT, base_url=ui_server.base_url, locale="zh-CN")
        ctx.set_default_timeout(20_000)
        contexts.append(ctx)
        return ctx.new_page()

    yield make
    for ctx in contexts:
        ctx.close()


def login(page: Any, username: str, password: str = DEMO_PASSWORD) -> None:
    page.goto("/ui/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(r"/ui/(?!login)"))


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


# --- files a clerk scans at the counter -------------------------------------------------------------

def write_pdf(path: Path, title: str, pages: int = 1) -> Path:
    path.write_bytes(make_pdf(title, pages))
    return path


def write_png(path: Path) -> Path:
    img = Image.new("RGB", (620, 877), "white")
    for x in range(60, 560):
        for y in (100, 101, 300, 301):
            img.putpixel((x, y), (20, 20, 20))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    path.write_bytes(buf.getvalue())
    return path


def write_encrypted_pdf(path: Path) -> Path:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf("加密"))))
    writer.encrypt("secret")
    with path.open("wb") as fh:
        writer.write(fh)
    return path


# --- cases made through the HTTP API (bearer tokens), for pages that need existing work -----------

def api(ui: UiServer, user: str) -> Any:
    import httpx

    return httpx.Client(base_url=ui.base_url, headers={"Authorization": f"Bearer {ui.tokens[user]}"}, timeout=60)


def wait_for_state(ui: UiServer, case_no: str, state: str, user: str = "bj_clerk", timeout: float = 90) -> None:
    """The embedded dispatcher forwards asynchronously (a Prefect flow run): wait for it, no sleeps as asserts."""
    deadline = time.monotonic() + timeout
    with api(ui, user) as c:
        while True:
            current = c.get(f"/api/v1/cases/{case_no}").json()["state"]
            if current == state:
                return
            if time.monotonic() > deadline:
                pytest.fail(f"{case_no} stayed '{current}', expected '{state}'")
            time.sleep(0.2)


def forwarded_case_via_api(ui: UiServer, applicant: str = "北京示例科技有限公司") -> str:
    """A BJ-ETOWN clerk's QY-001 case for TJ-TEDA, pre-checked and forwarded at the clock's current time."""
    import json

    from tests.app_harness import USCC

    item = ui.item_id("QY-001", "TJ-TEDA")
    with transaction(ui.runtime.session_factory) as s:
        materials = [m.id for m in s.get(Item, item).materials]  # type: ignore[union-attr]
    form = {"item_code": "QY-001", "handling_zone": "TJ-TEDA",
            "applicant": {"kind": "enterprise", "name": applicant, "id_number": USCC, "address": "北京市亦庄"},
            "checklist": [{"item_material_id": m} for m in materials]}
    with api(ui, "bj_clerk") as c:
        r = c.post("/api/v1/cases", files=[("case", ("case.json", json.dumps(form), "application/json")),
                                           (f"material_{materials[0]}", ("申请表.pdf", make_pdf("申请表"),
                                                                          "application/pdf"))])
        assert r.status_code == 201, r.text
        case = r.json()
        r = c.post(f"/api/v1/cases/{case['case_no']}/events", json={"event": "precheck_pass",
                                                                    "version": case["version"]})
        assert r.status_code == 200, r.text
    wait_for_state(ui, case["case_no"], "forwarded")
    return str(case["case_no"])


@pytest.fixture(scope="session")
def closed_case(ui_server: UiServer) -> str:
    """Hook for the supervisor dashboard tests: a case walked to 办结 on time (via the API)."""
    case_no = forwarded_case_via_api(ui_server, "按时办结示例有限公司")
    with api(ui_server, "tj_reviewer") as r:
        def send(client: Any, event: str, **payload: Any) -> None:
            version = client.get(f"/api/v1/cases/{case_no}").json()["version"]
            resp = client.post(f"/api/v1/cases/{case_no}/events", json={"event": event, "version": version,
                                                                        **payload})
            assert resp.status_code == 200, resp.text

        send(r, "accept")
        send(r, "claim")
        up = r.post(f"/api/v1/cases/{case_no}/files", data={"purpose": "result"},
                    files=[("files", ("决定书.pdf", make_pdf("决定书"), "application/pdf"))])
        assert up.status_code == 201, up.text
        send(r, "approve", result_file_id=up.json()[0]["id"])
    with api(ui_server, "bj_clerk") as c:
        send(c, "ready_for_pickup")
        send(c, "deliver")
    return case_no
