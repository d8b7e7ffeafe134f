"""Both sides, one deadline: when the zones' calendars differ (a local adjusted day, rare but real), the
handling zone's calendar counts, and the case says so."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from states.calendar import CalendarOverrideError, WorkCalendar
from states.sla.clock import Clock
from storage.case.models import Case
from storage.catalog.models import Item
from storage.zone.models import Zone
from web.api.schemas import calendar_of

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def local_day_file(tmp_path: Path) -> Path:
    """Tianjin's development zone gives Thu 2026-12-24 off locally (test data)."""
    path = tmp_path / "override.json"
    path.write_text(json.dumps({"years": {}, "zones": {"TJ-TEDA": {
        "note": "test data", "holidays": {"2026-12-24": "本地调整休息日（测试数据）"}}}}, ensure_ascii=False),
        encoding="utf-8")
    return path


def _case(handling: str, receiving: str) -> Case:
    return Case(case_no="T-1", state="received", received_at=datetime(2026, 12, 21, 2, 0, tzinfo=UTC),
                item=Item(code="QY-001", name="企业档案查询", promised_days=3, step_targets={"precheck": 1}),
                handling_zone=Zone(code=handling, name=handling), receiving_zone=Zone(code=receiving, name=receiving))


def test_the_handling_zones_local_day_moves_the_deadline_for_both_sides(local_day_file: Path) -> None:
    clock = Clock(WorkCalendar(local_day_file))
    case = _case("TJ-TEDA", "BJ-ETOWN")
    clock.on_receipt(case, case.received_at)
    # Mon 12-21 + 3: Tue 22, Wed 23, (Thu 24 off in TJ-TEDA), Fri 25.
    assert case.due_at is not None and case.due_at.astimezone(SHANGHAI).date() == date(2026, 12, 25)
    note = calendar_of(case, clock).note
    assert note is not None and "承办地（TJ-TEDA）工作日历" in note

    # The same item handled in Beijing counts the national calendar: Thu 24.
    other = _case("BJ-ETOWN", "TJ-TEDA")
    clock.on_receipt(other, other.received_at)
    assert other.due_at is not None and other.due_at.astimezone(SHANGHAI).date() == date(2026, 12, 24)
    # The zones still differ, so this case says whose calendar counts, too.
    assert calendar_of(other, clock).note is not None


def test_without_local_days_nothing_is_said(tmp_path: Path) -> None:
    clock = Clock(WorkCalendar())
    case = _case("TJ-TEDA", "BJ-ETOWN")
    clock.on_receipt(case, case.received_at)
    assert calendar_of(case, clock).note is None
    assert clock.for_case(case) is clock


def test_a_local_day_reads_as_such(local_day_file: Path) -> None:
    cal = WorkCalendar(local_day_file)
    assert cal.for_zone("TJ-TEDA").info(date(2026, 12, 24)).reason.endswith("（TJ-TEDA 本地调整 local day）")
    assert cal.info(date(2026, 12, 24)).workday is True  # nationally a Thursday at work
    assert cal.for_zone("BJ-ETOWN").is_workday(date(2026, 12, 24))


def test_a_broken_zone_entry_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "override.json"
    path.write_text(json.dumps({"years": {}, "zones": {"TJ-TEDA": {"holidays": {"2026-13-01": "x"}}}}),
                    encoding="utf-8")
    with pytest.raises(CalendarOverrideError, match="zone TJ-TEDA: holidays key '2026-13-01'"):
        WorkCalendar(path)
