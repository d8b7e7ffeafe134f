"""A running tongban for tests: real database and object store, the real app, explicit dispatch.

Each backend pair (SQLite + filesystem, PostgreSQL + S3 over HTTP) is migrated and seeded once per
test session; tests create their own cases, so they never step on each other.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from reportlab.pdfgen.canvas import Canvas

from config import Settings
from flows import runtime as flow_runtime
from flows.dispatch import dispatch_once
from states.runtime import Runtime
from storage.db import transaction
from storage.demo.seed import seed_demo
from storage.migrate import upgrade
from web.app import create_app

#: Valid identifiers (check digits computed by states.identifiers' own tests' examples).
USCC = "91350100M000100Y43"
RESIDENT_ID = "11010519491231002X"
TRACKING = "RR473124829GB"


class FakeClock:
    """The clock the tests control ("letting time pass")."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Tongban:
    runtime: Runtime
    client: TestClient
    tokens: dict[str, str]
    clock: FakeClock
    items: dict[str, dict[str, Any]] = field(default_factory=dict)

    def h(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def dispatch(self) -> int:
        flow_runtime.use(self.runtime)
        total = 0
        while n := dispatch_once(self.runtime):
            total += n
        return total

    # --- a clerk's and a reviewer's actions, as the API sees them ---------------------------------

    def receive(self, user: str = "bj_clerk", item_code: str = "QY-001", files: list[tuple[str, bytes]] | None = None,
                applicant: dict[str, Any] | None = None, handling_zone: str | None = None, **extra: Any) -> Any:
        item = self.item(item_code, handling_zone or ("TJ-TEDA" if user.startswith("bj") else "BJ-ETOWN"))
        mats = item["materials"]
        form = {
            "item_code": item_code, "handling_zone": item["zone"],
            "applicant": applicant or {"kind": "enterprise", "name": "天津测试科技有限公司", "id_number": USCC,
                                       "phone": "13812345678", "address": "天津市滨海新区第三大街1号"},
            "checklist": [{"item_material_id": m["id"]} for m in mats],
            **extra,
        }
        files = files if files is not None else [("申请表.pdf", make_pdf("申请表")), ("执照.pdf", make_pdf("执照", 2))]
        parts: list[tuple[str, tuple[str, Any, str]]] = [("case", ("case.json", json.dumps(form), "application/json"))]
        for i, (name, data) in enumerate(files):
            parts.append((f"material_{mats[i % len(mats)]['id']}", (name, io.BytesIO(data), "application/pdf")))
        return self.client.post("/api/v1/cases", files=parts, headers=self.h(user))

    def item(self, code: str, zone: str) -> dict[str, Any]:
        key = f"{zone}:{code}"
        if key not in self.items:
            from sqlalchemy import select

            from storage.catalog.models import Item
            from storage.zone.models import Zone

            with transaction(self.runtime.session_factory) as s:
                it = s.scalars(select(Item).join(Zone, Item.zone_id == Zone.id)
                               .where(Item.code == code, Zone.code == zone)).unique().one()
                self.items[key] = {"id": it.id, "zone": zone, "materials": [
                    {"id": m.id, "name": m.name, "required": m.required} for m in it.materials]}
        return self.items[key]

    def event(self, user: str, case_no: str, event: str, version: int | None = None, **payload: Any) -> Any:
        if version is None:
            version = self.client.get(f"/api/v1/cases/{case_no}", headers=self.h(user)).json()["version"]
        return self.client.post(f"/api/v1/cases/{case_no}/events", headers=self.h(user),
                                json={"event": event, "version": version, **payload})

    def upload(self, user: str, case_no: str, purpose: str, name: str, data: bytes) -> Any:
        return self.client.post(f"/api/v1/cases/{case_no}/files", headers=self.h(user),
                                data={"purpose": purpose},
                                files=[("files", (name, io.BytesIO(data), "application/pdf"))])


def make_pdf(title: str = "材料", pages: int = 1) -> bytes:
    buf = io.BytesIO()
    c = Canvas(buf)
    for n in range(pages):
        c.drawString(72, 720, f"{title} page {n + 1}")
        c.showPage()
    c.save()
    return buf.getvalue()


def start(home: Path, database_url: str, storage_url: str, now: datetime | None = None) -> Iterator[Tongban]:
    settings = Settings(home=home, database_url=database_url, storage_url=storage_url, mode="embedded",
                        _env_file=None)  # type: ignore[call-arg]
    clock = FakeClock(now or datetime(2026, 11, 24, 2, 0, tzinfo=UTC))  # Tue 10:00 in Shanghai
    runtime = Runtime(settings, now_fn=clock)
    if database_url.startswith("sqlite"):
        home.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url())
    with transaction(runtime.session_factory) as s:
        users = seed_demo(db_session=s)
    tokens = {u.username: u.token for u in users}
    app = create_app(runtime=runtime, run_dispatcher=False)
    with TestClient(app) as client:
        yield Tongban(runtime=runtime, client=client, tokens=tokens, clock=clock)
    runtime.dispose()
