"""Migration 0007_counter on a database that already has cases: the paper-received fact is backfilled
only where it is certain, and every applicant gets the keyed hash that search by ID number uses."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from storage.case.idhash import derive_key, digest
from storage.migrate import upgrade

USCC = "91350100M000100Y43"


def _rows(c: sa.Connection) -> Callable[..., None]:
    """Insert a row of the OLD schema: given values, every other NOT NULL column a neutral value."""
    meta = sa.MetaData()
    meta.reflect(c)

    def row(table: str, **values: Any) -> None:
        t = meta.tables[table]
        for col in t.columns:
            if col.name in values or col.nullable or col.primary_key:
                continue
            try:
                kind: type = col.type.python_type
            except NotImplementedError:
                kind = str
            neutral: dict[type, Any] = {bool: False, int: 0, float: 0.0, str: "", dict: {}, list: [],
                                        datetime: datetime(2026, 11, 24, 2, 0)}
            values[col.name] = neutral.get(kind, "")
        c.execute(t.insert().values(**values))

    return row


def test_upgrade_backfills_paper_and_the_id_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TONGBAN_SECRET_KEY", "the-app-secret-of-this-migration-test-0123456789")
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0002")
    engine = sa.create_engine(url)
    with engine.begin() as c:
        row = _rows(c)
        row("zones", id=1, code="BJ", name="北京")
        row("users", id=1, username="c", role="clerk", zone_id=1)
        row("items", id=1, code="I", name="i", zone_id=1, promised_days=3)
        row("applicants", id=1, kind="enterprise", name="示例", id_number=USCC)
        row("cases", id=1, case_no="C1", item_id=1, receiving_zone_id=1, handling_zone_id=1, applicant_id=1,
            received_by_id=1)
        for mid, provided in ((1, True), (2, True), (3, False)):
            row("materials", id=mid, case_id=1, position=mid, name="m", provided=provided)
        row("stored_files", id=1, case_id=1, material_id=2, purpose="material", object_key="k")
    upgrade(url)
    with engine.connect() as c:
        rows = c.execute(sa.text("SELECT id, paper_received FROM materials ORDER BY id")).fetchall()
        paper: dict[int, bool] = {r[0]: r[1] for r in rows}
        hashed = c.execute(sa.text("SELECT id_number_hash FROM applicants")).scalar_one()
    engine.dispose()
    # ticked without a scan: paper; ticked with a scan: cannot be told apart, left unrecorded; untouched: no
    assert paper == {1: True, 2: False, 3: False}
    assert hashed == digest(derive_key("the-app-secret-of-this-migration-test-0123456789"), USCC)
