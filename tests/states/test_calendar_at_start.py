"""A new chinesecalendar release (or an override file) that publishes 2027 is noticed when tongban
starts: the provisional dates counted in 2027 are recomputed once, then never again."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from states.calendar.cli import calendar_app
from storage.audit.models import AuditEvent
from storage.db import transaction
from tests.app_harness import Tongban
from tests.sla_support import local, received, tb_per_module
from web.app import _calendar_published_since_last_start

tb_fixture = tb_per_module()


def test_a_year_published_since_the_last_start_is_recomputed_at_start(tb: Tongban, tmp_path: Path) -> None:
    # SP-001 (10 days) received Mon 2026-12-21 → provisional Tue 2027-01-05.
    case_no = received(tb, "2026-12-21 10:00", item_code="SP-001")
    case = tb.client.get(f"/api/v1/cases/{case_no}", headers=tb.h("bj_clerk")).json()
    assert case["due_provisional"] is True
    assert datetime.fromisoformat(case["due_at"]) == local("2027-01-05 17:30")

    # What a release would bring (test data, not the real 2027 schedule): 元旦 01-01..01-04.
    days = {f"2027-01-0{d}": "元旦 (test data)" for d in range(1, 5)}
    path = tmp_path / "override.json"
    path.write_text(json.dumps({"years": {"2027": {"holidays": days}}}, ensure_ascii=False), encoding="utf-8")
    tb.runtime.settings.calendar_override = path
    tb.runtime.reload_calendar()

    _calendar_published_since_last_start(tb.runtime)
    case = tb.client.get(f"/api/v1/cases/{case_no}", headers=tb.h("bj_clerk")).json()
    assert case["due_provisional"] is False
    assert datetime.fromisoformat(case["due_at"]) == local("2027-01-06 17:30")

    def recomputed() -> int:
        with transaction(tb.runtime.session_factory) as s:
            return int(s.scalar(select(func.count()).select_from(AuditEvent)
                                .where(AuditEvent.event == "calendar_recomputed")) or 0)

    assert recomputed() == 1
    _calendar_published_since_last_start(tb.runtime)  # the next start: nothing left to do
    assert recomputed() == 1
    assert tb.client.get(f"/api/v1/cases/{case_no}/verify", headers=tb.h("bj_clerk")).json()["ok"] is True


def test_tongban_calendar_recompute_does_it_now_with_a_progress_bar(tb: Tongban, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # SP-001 received Mon 2027-12-20 → 9 working days in 2027, then 2028 by the rules: 元旦 Sat 01-01
    # gives 补假 Mon 01-03, so the 10th working day is Tue 2028-01-04 (provisional).
    case_no = received(tb, "2027-12-20 10:00", item_code="SP-001")
    case = tb.client.get(f"/api/v1/cases/{case_no}", headers=tb.h("bj_clerk")).json()
    assert case["due_provisional"] is True
    assert datetime.fromisoformat(case["due_at"]) == local("2028-01-04 17:30")

    # The admin's override file now lists 2028 (test data: no make-up day on 01-03).
    days_2027 = {f"2027-01-0{d}": "元旦 (test data)" for d in range(1, 5)}
    path = tmp_path / "override.json"
    path.write_text(json.dumps({"years": {"2027": {"holidays": days_2027},
                                          "2028": {"holidays": {"2028-01-01": "元旦 (test data)"}}}},
                               ensure_ascii=False), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TONGBAN_HOME", str(tb.runtime.settings.home))
    monkeypatch.setenv("TONGBAN_DATABASE_URL", tb.runtime.settings.resolved_database_url())
    monkeypatch.setenv("TONGBAN_STORAGE_URL", tb.runtime.settings.resolved_storage_url())
    monkeypatch.setenv("TONGBAN_CALENDAR_OVERRIDE", str(path))
    result = CliRunner().invoke(calendar_app, ["recompute"])
    assert result.exit_code == 0, result.output
    assert "recomputing provisional deadlines" in result.output
    assert "1 case(s) examined, 1 moved, 1 audit event(s)" in result.output
    assert f"{case_no}: 2028-01-04 09:30:00+00:00 → 2028-01-03 09:30:00+00:00 (-1 working days)" in result.output

    tb.runtime.settings.calendar_override = path
    tb.runtime.reload_calendar()
    case = tb.client.get(f"/api/v1/cases/{case_no}", headers=tb.h("bj_clerk")).json()
    assert case["due_provisional"] is False
    assert datetime.fromisoformat(case["due_at"]) == local("2028-01-03 17:30")
    assert "nothing to recompute" in CliRunner().invoke(calendar_app, ["recompute"]).output
