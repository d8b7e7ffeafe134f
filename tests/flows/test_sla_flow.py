"""The scheduled flows of distributed mode: ``sla_sweep`` and ``sla_digest`` as real Prefect flow runs,
and the timer of embedded mode, each finding its runtime the way a worker does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from flows import runtime as flow_runtime
from flows.sla import SlaSweeper, sla_digest, sla_sweep
from tests.app_harness import Tongban
from tests.sla_support import Webhook, alerts, forwarded, received, tb_per_module, write_routes

tb_fixture = tb_per_module()


@pytest.fixture
def hook(tb: Tongban, tmp_path: Path) -> Iterator[Webhook]:
    w = Webhook()
    tb.runtime.settings.notification_routes = write_routes(tmp_path / "routes.json", {
        "channels": {"sup": w.url("/supervisors")},
        "zones": {"*": {"supervisor": ["sup"]}},
    })
    yield w
    tb.runtime.settings.notification_routes = None
    w.close()


def test_the_sweep_flow_raises_what_is_due(tb: Tongban, prefect_harness: None, hook: Webhook) -> None:
    case_no = received(tb, "2026-11-24 09:00")
    forwarded(tb, case_no, "2026-11-24 10:00")  # both zones party: the acceptance step warns both
    flow_runtime.use(tb.runtime)
    tb.clock.now = tb.clock.now.replace(hour=9, minute=31)  # 17:31 in Beijing
    report = sla_sweep()
    assert isinstance(report["alerts"], int) and report["alerts"] >= 2
    assert {(lvl, zone) for _, _, lvl, zone in alerts(tb, case_no)} == {("warning", "BJ-ETOWN"),
                                                                        ("warning", "TJ-TEDA")}
    assert [p for p in hook.received("/supervisors") if case_no in p["message"]]
    assert sla_sweep()["alerts"] == 0  # a second scheduled run finds nothing new


def test_the_digest_flow_sends_each_zone_its_day_once(tb: Tongban, prefect_harness: None, hook: Webhook) -> None:
    received(tb, "2026-11-26 10:00")
    flow_runtime.use(tb.runtime)
    first = sla_digest()
    zones = first["zones"]
    assert isinstance(zones, list) and set(zones) == {"BJ-ETOWN", "TJ-TEDA"}
    digests = [p for p in hook.received("/supervisors") if "时限日报" in p["title"]]
    assert len(digests) == 2 and all("2026-11-26" in p["title"] for p in digests)
    assert any("在办件（本区收件）" in p["message"] for p in digests)
    sla_digest()
    assert len([p for p in hook.received("/supervisors") if "时限日报" in p["title"]]) == 2


def test_embedded_mode_sweeps_on_its_own_timer(tb: Tongban) -> None:
    case_no = received(tb, "2026-11-27 09:00")  # Friday: pre-check due Monday 30 Nov, warned Friday 17:30
    tb.clock.now = tb.clock.now.replace(hour=9, minute=45)
    sweeper = SlaSweeper(tb.runtime, interval=0.05)
    sweeper.start()
    try:
        for _ in range(200):  # the thread's rounds, not a timing assertion: wait until it has swept
            if alerts(tb, case_no):
                break
            sweeper.stopping.wait(0.05)
    finally:
        sweeper.stop()
        sweeper.join(timeout=30)
    assert {lvl for _, _, lvl, _ in alerts(tb, case_no)} == {"warning"}
