"""Two dispatchers, two SLA sweeps and two reconcilers at once on PostgreSQL: every job runs exactly once."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from flows import runtime as flow_runtime
from flows.checkpoints import register
from flows.dispatch import dispatch_once
from flows.reconcile import reconcile_plain
from states.sla.sweep import sweep
from storage.db import transaction
from storage.outbox.models import OutboxJob
from storage.sla.models import Alert
from tests.flows.conftest import FreshTb
from tests.flows.story import assert_consistent, decide, jobs_of, prechecked_case


def test_two_dispatchers_two_sweeps_and_two_reconcilers_run_every_job_exactly_once(fresh_tb: FreshTb) -> None:
    tb = fresh_tb()
    runtime = tb.runtime
    flow_runtime.use(runtime)
    # Three cases already decided (three mail-back jobs waiting), five newly pre-checked (five forwards).
    decided = [prechecked_case(tb) for _ in range(3)]
    tb.dispatch()
    for case_no in decided:
        decide(tb, case_no, "approve")
    forwarding = [prechecked_case(tb) for _ in range(5)]
    with transaction(runtime.session_factory) as s:
        expected = set(s.scalars(select(OutboxJob.id).where(OutboxJob.status == "pending")))
    assert len(expected) == 8

    runs: Counter[int] = Counter()
    workers: dict[int, str] = {}
    lock = threading.Lock()

    def count(name: str, info: dict[str, Any]) -> None:
        with lock:
            runs[info["job_id"]] += 1
            workers[info["job_id"]] = info["worker"]

    unregister = register("dispatch.job", count)
    stop = threading.Event()
    errors: list[BaseException] = []
    redispatched: list[str] = []

    def loop(body: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            try:
                while not stop.is_set():
                    body()
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                errors.append(exc)
                stop.set()
        return run

    def dispatcher(n: int) -> Callable[[], object]:
        def one_round() -> None:
            if not dispatch_once(runtime, worker=f"dispatcher-{n}", limit=1):
                time.sleep(0.05)
        return one_round

    def sweeper() -> object:
        # Ten days ahead, so the sweeps have alerts to raise while the dispatchers work.
        return sweep(runtime=runtime, now=runtime.now() + timedelta(days=10), deliver=False)

    def reconciler() -> None:
        redispatched.extend(reconcile_plain(runtime, stuck_after_minutes=0).redispatched)
        time.sleep(0.05)

    threads = [threading.Thread(target=loop(body), name=name) for name, body in (
        ("dispatcher-1", dispatcher(1)), ("dispatcher-2", dispatcher(2)),
        ("sweep-1", sweeper), ("sweep-2", sweeper), ("reconcile-1", reconciler), ("reconcile-2", reconciler))]
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 180
        while not stop.is_set() and time.monotonic() < deadline:
            with transaction(runtime.session_factory) as s:
                open_jobs = s.scalar(select(func.count()).where(OutboxJob.status.in_(("pending", "running"))))
            if not open_jobs:
                break
            time.sleep(0.2)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
        unregister()
    assert not errors, errors
    assert set(runs) == expected, "every job ran"
    assert set(runs.values()) == {1}, f"a job ran twice: {runs}"
    assert set(workers.values()) == {"dispatcher-1", "dispatcher-2"}, "both dispatchers took jobs"
    assert redispatched == [], "nothing was stuck, so the reconcilers added nothing"
    for case_no in forwarding:
        assert_consistent(tb, case_no, "forwarded")
    for case_no in decided:
        assert_consistent(tb, case_no, "approved")
        assert [j.status for j in jobs_of(tb, case_no)] == ["done"] * 2
    with transaction(runtime.session_factory) as s:
        raised = s.execute(select(Alert.case_id, Alert.step, Alert.visit, Alert.level, Alert.zone_id)).all()
    assert raised and len(raised) == len(set(raised)), "the sweeps raised alerts, each once"
