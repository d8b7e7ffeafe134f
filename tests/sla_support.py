"""Shared pieces of the deadline and alert tests: a running tongban per test module on each backend,
real loopback receivers (SMTP and an HTTP webhook), and small readers of what the sweep wrote.

A test module declares ``tb = tb_per_module()`` and its tests take ``tb``. Each module gets its own
database (a fresh PostgreSQL database for the ``postgres`` run), so the clock a module moves and the
alerts it counts are its own.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import Message
from email.policy import default as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from storage.case.models import Case
from storage.db import transaction
from storage.sla.models import Alert, CaseDeadline, CasePause, Delivery
from storage.zone.models import Zone
from tests import servers
from tests.app_harness import TRACKING, Tongban, start

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(text: str) -> datetime:
    """``"2026-11-24 10:00"`` in Shanghai, as the aware UTC datetime the app stores."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).astimezone(UTC)


def tb_per_module() -> Any:
    """The ``tb`` fixture for one test module: SQLite + files, then PostgreSQL + files."""
    return pytest.fixture(scope="module", params=["sqlite", "postgres"], name="tb")(_running)


def _running(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tongban]:
    """A running tongban with its own database for this module, on SQLite and on PostgreSQL."""
    home = tmp_path_factory.mktemp(f"sla-{request.param}")
    if request.param == "sqlite":
        yield from start(home, f"sqlite:///{home / 'tongban.db'}", f"file://{home / 'objects'}")
        return
    pg = request.getfixturevalue("pg_server_url")
    with servers.temporary_database(pg) as url:
        yield from start(home, url, f"file://{home / 'objects'}")


# --- a case's life, as the API sees it ------------------------------------------------------------

def received(tb: Tongban, at: str, item_code: str = "QY-001", **kw: Any) -> str:
    tb.clock.now = local(at)
    r = tb.receive(item_code=item_code, **kw)
    assert r.status_code == 201, r.text
    return str(r.json()["case_no"])


def act(tb: Tongban, user: str, case_no: str, event: str, at: str | None = None, **payload: Any) -> dict[str, Any]:
    if at is not None:
        tb.clock.now = local(at)
    r = tb.event(user, case_no, event, **payload)
    assert r.status_code == 200, r.text
    return dict(r.json())


def forwarded(tb: Tongban, case_no: str, at: str, originals: bool = False) -> None:
    """Pre-check passed and the forward flow's steps done (without Prefect: the steps themselves)."""
    from flows.forward import forward_plain

    extra: dict[str, Any] = {"originals": {"carrier": "EMS", "tracking_no": TRACKING}} if originals else {}
    act(tb, "bj_clerk", case_no, "precheck_pass", at=at, **extra)
    assert forward_plain(tb.runtime, case_no)


def sweep(tb: Tongban, at: str | None = None, **kw: Any) -> Any:
    from states.sla.sweep import sweep as run

    if at is not None:
        tb.clock.now = local(at)
    return run(runtime=tb.runtime, **kw)


# --- what the sweep wrote ---------------------------------------------------------------------------

def alerts(tb: Tongban, case_no: str) -> list[tuple[str, int, str, str]]:
    """(step, visit, level, zone code) of every alert of the case, in the order raised."""
    with transaction(tb.runtime.session_factory) as s:
        rows = s.execute(select(Alert.step, Alert.visit, Alert.level, Zone.code).join(Zone, Alert.zone_id == Zone.id)
                         .where(Alert.case_no == case_no).order_by(Alert.id))
        return [tuple(r) for r in rows]  # type: ignore[misc]


def deliveries(tb: Tongban, case_no: str) -> list[Delivery]:
    with transaction(tb.runtime.session_factory) as s:
        rows = s.scalars(select(Delivery).join(Alert, Delivery.alert_id == Alert.id)
                         .where(Alert.case_no == case_no).order_by(Delivery.id))
        out = list(rows)
        s.expunge_all()
        return out


def deadlines(tb: Tongban, case_no: str) -> list[CaseDeadline]:
    with transaction(tb.runtime.session_factory) as s:
        out = list(s.scalars(select(CaseDeadline).join(Case, CaseDeadline.case_id == Case.id)
                             .where(Case.case_no == case_no).order_by(CaseDeadline.id)))
        s.expunge_all()
        return out


def pauses(tb: Tongban, case_no: str) -> list[CasePause]:
    with transaction(tb.runtime.session_factory) as s:
        out = list(s.scalars(select(CasePause).join(Case, CasePause.case_id == Case.id)
                             .where(Case.case_no == case_no).order_by(CasePause.id)))
        s.expunge_all()
        return out


# --- real receivers on loopback ---------------------------------------------------------------------

class Webhook:
    """An HTTP server that records every JSON POST; paths starting with ``/fail`` answer 500."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with hook.lock:
                    hook.posts.append((self.path, json.loads(data or b"{}")))
                self.send_response(500 if self.path.startswith("/fail") else 200)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"json://127.0.0.1:{self.port}{path}"

    def received(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return [body for p, body in self.posts if p == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Mailbox:
    """A real SMTP server (aiosmtpd) that keeps every message it is handed."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[Message] = []
        box = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                box.messages.append(message_from_bytes(envelope.original_content or envelope.content,
                                                       policy=email_policy))
                return "250 OK"

        self.port = servers.free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def url(self, sender: str = "tongban@example.test") -> str:
        """The routes file's ``people`` URL: plain SMTP on loopback, no login."""
        return f"mailto://127.0.0.1:{self.port}?from={sender}&mode=insecure"

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if address in str(m["To"])]

    def close(self) -> None:
        self.controller.stop()


def text_of(message: Message) -> str:
    """The plain-text body of an e-mail as its reader sees it."""
    part = message.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
    return str(part.get_content()) if part is not None else ""


def write_routes(path: Path, routes: dict[str, Any]) -> Path:
    path.write_text(json.dumps(routes, ensure_ascii=False), encoding="utf-8")
    return path
