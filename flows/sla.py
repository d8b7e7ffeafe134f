"""The SLA sweep and the daily digest as Prefect flows, and the in-process timer of embedded mode.

Distributed mode: prefect.yaml deploys ``flows/sla.py:sla_sweep`` on an interval (every minute is
plenty: alerts are about working days) and ``flows/sla.py:sla_digest`` on a daily cron (e.g.
``30 8 * * *``, timezone Asia/Shanghai). Any number of sweeps may overlap: the database keeps every
alert and message to exactly once. Embedded mode: ``tongban serve`` runs :class:`SlaSweeper`, a
thread that sweeps every ``TONGBAN_SLA_SWEEP_INTERVAL`` seconds and queues each zone's digest once
a day after ``TONGBAN_SLA_DIGEST_AT``.
"""

from __future__ import annotations

import logging
import threading
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from prefect import flow

from flows.runtime import current
from states.runtime import Runtime
from states.sla.digest import digest
from states.sla.sweep import sweep

log = logging.getLogger("tongban.sla")


@flow(name="sla-sweep", log_prints=True)
def sla_sweep() -> dict[str, object]:
    """时限巡检: raise the alerts that are due (to both zones) and send what the ledger has due."""
    report = sweep(runtime=current())
    if report.errors:
        print("\n".join(report.errors))
    return report.as_dict()


@flow(name="sla-digest", log_prints=True)
def sla_digest(zones: list[str] | None = None) -> dict[str, object]:
    """时限日报: today's digest for each zone's supervisors (once per zone, day and recipient)."""
    digests, report = digest(runtime=current(), zone_codes=zones)
    return {"zones": [d.zone_code for d in digests], "sent": report.sent, "retried": report.retried,
            "failed": report.failed}


class SlaSweeper(threading.Thread):
    """Embedded mode's timer: a sweep every ``interval`` seconds, the digest once a day."""

    def __init__(self, runtime: Runtime, *, interval: float | None = None) -> None:
        super().__init__(name="tongban-sla-sweeper", daemon=True)
        self.runtime = runtime
        self.interval = interval if interval is not None else runtime.settings.sla_sweep_interval
        self.stopping = threading.Event()
        self._digest_day: date | None = None

    def run(self) -> None:
        while not self.stopping.is_set():
            self.round()
            self.stopping.wait(self.interval)

    def round(self) -> None:
        """One sweep (and the digest when its time of day has come); errors are logged, never fatal."""
        try:
            report = sweep(runtime=self.runtime)
            for e in report.errors:
                log.warning("SLA sweep: %s", e)
        except Exception:  # noqa: BLE001 - the next round tries again
            log.exception("SLA sweep failed")
        now = self.runtime.now()
        local = now.astimezone(ZoneInfo(self.runtime.settings.timezone))
        if local.date() != self._digest_day and local.time() >= _digest_time(self.runtime):
            try:
                digest(runtime=self.runtime, now=now)
                self._digest_day = local.date()
            except Exception:  # noqa: BLE001
                log.exception("SLA digest failed")

    def stop(self) -> None:
        self.stopping.set()


def _digest_time(runtime: Runtime) -> time:
    return datetime.strptime(runtime.settings.sla_digest_at, "%H:%M").time()
