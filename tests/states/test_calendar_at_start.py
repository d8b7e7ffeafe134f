"""A new chinesecalendar release (or an override file) that publishes 2027 is noticed when tongban
starts: the provisional dates counted in 2027 are recomputed once, then never again."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select

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
