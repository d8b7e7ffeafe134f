"""Forward (转递) through outages and crashes: each ends consistent, verified, with nothing twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from flows.checkpoints import register
from states.transition.service import get_case
from storage.db import transaction
from tests.app_harness import Tongban
from tests.flows.conftest import FreshTb
from tests.flows.faults import TcpProxy
from tests.flows.story import assert_consistent, audit_events, case_json, jobs_of, prechecked_case

REPO = Path(__file__).resolve().parents[2]


def _task_runs(case_no: str) -> dict[str, int]:
    """How often each task of the latest forward-case run for this case ran (retries included)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName, FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=["forward-case"])),
                                     sort=FlowRunSort.START_TIME_DESC, limit=20)
        run = next(r for r in runs if r.parameters.get("case_no") == case_no)
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])))
    return {t.name.rsplit("-", 1)[0]: t.run_count for t in tasks}


def _once(case_no: str, action: Any) -> tuple[list[str], Any]:
    """A checkpoint callback that acts the first time this case passes, and remembers it did."""
    hits: list[str] = []

    def callback(name: str, info: dict[str, Any]) -> None:
        if info.get("case_no") == case_no and not hits:
            hits.append(name)
            action(info)

    return hits, callback


def test_forward_rides_out_an_s3_store_refusing_then_failing(tb_pg: Tongban, s3_proxy_healthy: TcpProxy) -> None:
    tb, proxy = tb_pg, s3_proxy_healthy
    case_no = prechecked_case(tb)

    def outage(info: dict[str, Any]) -> None:
        proxy.stop()  # connection refused from now on
        # When it is back, its first two answers are "503 Service Unavailable" (botocore retries once itself).
        proxy.fail_next(2)
        threading.Timer(0.5, proxy.start).start()

    hits, callback = _once(case_no, outage)
    unregister = register("forward.before_copy", callback)
    try:
        assert tb.dispatch() >= 1
    finally:
        unregister()
    assert hits and proxy.served_503 == 2
    # Refused, then 503, then through: the copy task was tried at least three times, nothing else failed.
    runs = _task_runs(case_no)
    assert runs["copy_files_task"] >= 3
    assert runs["record_forward_task"] == 1
    assert_consistent(tb, case_no, "forwarded")
    assert audit_events(tb, case_no).count("forward") == 1


def test_forward_survives_its_database_connection_dropping_mid_transaction(tb_pg: Tongban,
                                                                          flows_pg_url: str) -> None:
    tb = tb_pg
    case_no = prechecked_case(tb)
    admin = create_engine(flows_pg_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")

    def drop(info: dict[str, Any]) -> None:
        pid = info["db_session"].connection().exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with admin.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()

    hits, callback = _once(case_no, drop)
    unregister = register("forward.recording", callback)
    try:
        assert tb.dispatch() >= 1
    finally:
        unregister()
        admin.dispose()
    assert hits
    runs = _task_runs(case_no)
    assert runs["record_forward_task"] == 2  # the transaction died with its connection; the retry committed
    assert_consistent(tb, case_no, "forwarded")
    assert audit_events(tb, case_no).count("forward") == 1


def test_a_forward_killed_between_copying_and_recording_is_finished_after_its_lease(fresh_tb: FreshTb,
                                                                                     tmp_path: Path) -> None:
    from prefect.settings import PREFECT_API_URL

    tb = fresh_tb()
    case_no = prechecked_case(tb)
    settings = tb.runtime.settings
    marker = tmp_path / "frozen"
    env = {**os.environ, "TONGBAN_DATABASE_URL": settings.resolved_database_url(),
           "TONGBAN_STORAGE_URL": settings.resolved_storage_url(), "TONGBAN_HOME": str(settings.home),
           "TONGBAN_MODE": "embedded", "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    log = (tmp_path / "crash.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "tests.flows.crash_forward", "forward.before_record",
                             str(marker)], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None, (tmp_path / "crash.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the forward never reached the checkpoint"
            time.sleep(0.2)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
        log.close()
    assert marker.read_text() == case_no

    # What the crash left: packet and copies in the handling zone's store, no row for them, the case
    # still waiting, the job still claimed by the dead process.
    assert case_json(tb, case_no)["state"] == "prechecked"
    left = tb.runtime.store.list(f"TJ-TEDA/cases/{case_no}/")
    assert any(k.endswith(".pdf") and "/packet-" in k for k in left)
    with transaction(tb.runtime.session_factory) as s:
        assert not [f for f in get_case(db_session=s, case_no=case_no).files if f.purpose != "material"]
    [job] = [j for j in jobs_of(tb, case_no) if j.kind == "forward"]
    assert job.status == "running" and job.attempts == 1

    # Nobody takes it over while the lease runs; once it has run out, the next dispatcher finishes it.
    assert tb.dispatch() == 0
    tb.clock.now = tb.clock.now + timedelta(minutes=11)
    assert tb.dispatch() == 1
    [job] = [j for j in jobs_of(tb, case_no) if j.kind == "forward"]
    assert job.status == "done" and job.attempts == 2
    assert_consistent(tb, case_no, "forwarded")
    assert audit_events(tb, case_no).count("forward") == 1


def test_a_case_forwarded_again_after_a_return_keeps_one_copy_of_each_file(tb_fs: Tongban) -> None:
    tb = tb_fs
    case_no = prechecked_case(tb)
    tb.dispatch()
    steps: list[tuple[str, str, dict[str, Any]]] = [("tj_reviewer", "return", {"reason": "营业执照复印件不清晰"}),
                                                   ("bj_clerk", "supplement", {}), ("bj_clerk", "precheck_pass", {})]
    for user, event, extra in steps:
        r = tb.event(user, case_no, event, None, **extra)
        assert r.status_code == 200, r.text
    assert tb.dispatch() >= 1
    assert audit_events(tb, case_no).count("forward") == 2
    files = case_json(tb, case_no)["files"]
    assert len([f for f in files if f["purpose"] == "packet"]) == 2
    assert len([f for f in files if f["purpose"] == "copy"]) == len([f for f in files if f["purpose"] == "material"])
    with transaction(tb.runtime.session_factory) as s:
        case = get_case(db_session=s, case_no=case_no)
        assert case.state == "forwarded"
    # assert_consistent allows one "forward" only, so check the rest of the promise here.
    from states.verify import verify_case

    with transaction(tb.runtime.session_factory) as s:
        report = verify_case(db_session=s, store=tb.runtime.store, case_no=case_no)
    assert report.ok, report.problems
