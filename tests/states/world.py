"""A small world for the state layer's own tests: a migrated database with the demo zones, items and
users, and cases received through the real intake service — no HTTP in between.

``world`` is module-scoped and runs once per backend (SQLite file, PostgreSQL scratch database).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from config import Settings
from states.intake.receipt import receive_case
from states.intake.schemas import ApplicantIn, ChecklistTick, ReceiveForm
from states.runtime import Runtime
from states.transition.rules import Actor
from storage.catalog.models import Item
from storage.db import transaction
from storage.demo.seed import seed_demo
from storage.migrate import upgrade
from storage.user import service as users
from storage.zone.models import Zone
from tests.app_harness import USCC, FakeClock

#: A Tuesday 10:00 in Shanghai (no holidays near it).
NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)


@dataclass
class World:
    runtime: Runtime
    backend: str

    def actor(self, username: str) -> Actor:
        with transaction(self.runtime.session_factory) as s:
            u = users.get_by_username(db_session=s, username=username)
            assert u is not None
            return Actor(username=u.username, role=u.role, zone_id=u.zone_id, user_id=u.id)

    def receive(self, *, tick_all: bool = True, code: str = "QY-001", handling: str = "TJ-TEDA",
                clerk: str = "bj_clerk") -> str:
        """A case received by BJ-ETOWN for TJ-TEDA, its checklist ticked (or not), no scans."""
        with transaction(self.runtime.session_factory) as s:
            item = s.scalars(select(Item).join(Zone, Item.zone_id == Zone.id)
                             .where(Item.code == code, Zone.code == handling)).unique().one()
            ticks = [ChecklistTick(item_material_id=m.id) for m in item.materials] if tick_all else []
        form = ReceiveForm(item_code=code, handling_zone=handling, checklist=ticks,
                           applicant=ApplicantIn(kind="enterprise", name="天津测试科技有限公司", id_number=USCC,
                                                 phone="13812345678", address="天津市滨海新区第三大街1号"))
        return receive_case(session_factory=self.runtime.session_factory, store=self.runtime.store,
                            clock=self.runtime.clock, actor=self.actor(clerk), form=form, uploads=[], now=NOW,
                            max_bytes=10_000_000)


def _runtime(home: Path, db_url: str) -> Runtime:
    settings = Settings(home=home, database_url=db_url, storage_url=f"file://{home / 'objects'}",
                        _env_file=None)  # type: ignore[call-arg]
    home.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url())
    rt = Runtime(settings, now_fn=FakeClock(NOW))
    with transaction(rt.session_factory) as s:
        seed_demo(db_session=s)
    return rt


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp(f"world-{request.param}")
    if request.param == "sqlite":
        rt = _runtime(home, f"sqlite:///{home / 'tongban.db'}")
        yield World(rt, "sqlite")
        rt.dispose()
        return
    from tests.servers import temporary_database

    with temporary_database(request.getfixturevalue("pg_server_url")) as url:
        rt = _runtime(home, url)
        yield World(rt, "postgresql")
        rt.dispose()
