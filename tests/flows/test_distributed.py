"""Distributed mode end to end: a real Prefect server, deployments from prefect.yaml, a real worker.

The web app (in this process) and the worker (another process, started outside the checkout) share a
PostgreSQL database and an S3 bucket; the dispatcher hands each outbox job to a deployment and marks
it done only once the flow run completed. The Prefect API is reached through a proxy, so the tests
can take it away while cases are received, and in the middle of a hand-off.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from flows.checkpoints import register
from flows.dispatch import dispatch_once
from tests import servers
from tests.app_harness import Tongban
from tests.flows.conftest import POOL, _start
from tests.flows.faults import TcpProxy
from tests.flows.prefect_server import PrefectServer, run_worker
from tests.flows.story import assert_consistent, jobs_of, prechecked_case

pytestmark = pytest.mark.prefect_server


@dataclass
class Distributed:
    tb: Tongban
    server: PrefectServer
    #: the dispatcher's way to the Prefect API (the worker talks to the server directly)
    api: TcpProxy
    worker_log: Path
    #: runs of the scheduled deployments, started by hand at setup (the test server's scheduler is off)
    scheduled_runs: list[Any]

    @property
    def api_url(self) -> str:
        return f"{self.api.url}/api"

    def dispatch(self) -> int:
        """One dispatch round as ``tongban dispatch --once`` does it, through the proxy."""
        from prefect.settings import PREFECT_API_URL, PREFECT_CLIENT_MAX_RETRIES, temporary_settings

        with temporary_settings(updates={PREFECT_API_URL: self.api_url, PREFECT_CLIENT_MAX_RETRIES: 1}):
            return dispatch_once(self.tb.runtime, wait_timeout=240, poll_interval=0.5)

    def flow_runs(self, job_id: int) -> list[Any]:
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings(updates={PREFECT_API_URL: self.server.api_url}), \
                get_client(sync_client=True) as client:
            return list(client.read_flow_runs(
                flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[f"outbox-job:{job_id}"]))))


@pytest.fixture(scope="module")
def distributed(prefect_server: PrefectServer, pg_server_url: str, s3_server: str,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[Distributed]:
    tmp = tmp_path_factory.mktemp("distributed")
    api = urlsplit(prefect_server.api_url)
    proxy = TcpProxy(api.hostname or "127.0.0.1", int(api.port or 80)).start()
    with contextlib.ExitStack() as stack:
        db_url = stack.enter_context(servers.temporary_database(pg_server_url))
        storage = servers.s3_store_url(s3_server)
        tb = stack.enter_context(_start(tmp / "web", db_url, storage))
        tb.runtime.settings.mode = "distributed"
        workdir = tmp / "worker"
        workdir.mkdir()
        log = stack.enter_context(run_worker(prefect_server, POOL, workdir, {
            "TONGBAN_DATABASE_URL": db_url, "TONGBAN_STORAGE_URL": storage, "TONGBAN_HOME": str(workdir),
            "TONGBAN_MODE": "distributed", "TONGBAN_SECRET_KEY": tb.runtime.settings.secret_key}))
        stack.callback(proxy.stop)
        from prefect.deployments import run_deployment
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings(updates={PREFECT_API_URL: prefect_server.api_url}):
            scheduled = [run_deployment(name, timeout=0, as_subflow=False).id  # type: ignore[union-attr]
                         for name in ("reconcile/reconcile", "sla-sweep/sla-sweep")]
        yield Distributed(tb=tb, server=prefect_server, api=proxy, worker_log=log, scheduled_runs=scheduled)


def test_prefect_yaml_deploys_every_flow_with_its_schedule(distributed: Distributed) -> None:
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: distributed.server.api_url}), \
            get_client(sync_client=True) as client:
        flows = {f.id: f.name for f in client.read_flows()}
        deployments = {f"{flows[d.flow_id]}/{d.name}": d for d in client.read_deployments()}
    assert {"forward-case/forward-case", "mailback/mailback", "sla-sweep/sla-sweep", "sla-digest/sla-digest",
            "reconcile/reconcile"} <= set(deployments)
    crons = {name: [s.schedule.cron for s in d.schedules] for name, d in deployments.items()}  # type: ignore[union-attr]
    assert crons["sla-sweep/sla-sweep"] and crons["reconcile/reconcile"] and crons["sla-digest/sla-digest"]
    assert deployments["reconcile/reconcile"].parameters["stuck_after_minutes"] == 15
    assert all(d.work_pool_name == POOL for d in deployments.values())


def test_a_case_goes_from_receipt_to_forwarded_through_a_prefect_worker(distributed: Distributed) -> None:
    tb = distributed.tb
    case_no = prechecked_case(tb)
    assert distributed.dispatch() == 1
    assert_consistent(tb, case_no, "forwarded")
    [job] = [j for j in jobs_of(tb, case_no) if j.kind == "forward"]
    [run] = distributed.flow_runs(job.id)
    assert run.state is not None and run.state.is_completed() and run.parameters == {"case_no": case_no}
    assert "Worker" in distributed.worker_log.read_text()  # the worker, not this process, ran it


def test_cases_received_while_prefect_is_down_wait_and_go_on_when_it_is_back(distributed: Distributed) -> None:
    tb = distributed.tb
    with distributed.api.down():
        case_no = prechecked_case(tb)  # the clerk is not held up
        assert distributed.dispatch() == 0
        [job] = jobs_of(tb, case_no)
        assert (job.status, job.attempts) == ("pending", 0)  # an outage is not an attempt
        assert (job.last_error or "").startswith("[transient] Prefect API unavailable")
    # Back: the jobs are due again after their short backoff.
    tb.clock.now = datetime.now(UTC) + timedelta(minutes=2)
    try:
        # Away once more right after the flow run was created: the round loses sight of it …
        hits: list[int] = []

        def away(name: str, info: dict[str, Any]) -> None:
            if not hits:
                hits.append(info["job_id"])
                distributed.api.stop()

        unregister = register("dispatch.submitted", away)
        try:
            assert distributed.dispatch() == 0
        finally:
            unregister()
            distributed.api.start()
        assert hits
        tb.clock.now = datetime.now(UTC) + timedelta(minutes=4)
        # … and the next rounds attach to that same run (same idempotency key) instead of making another.
        assert distributed.dispatch() == 1
    finally:
        tb.clock.now = datetime.now(UTC)
    assert_consistent(tb, case_no, "forwarded")
    [job] = jobs_of(tb, case_no)
    assert job.status == "done" and job.attempts == 1
    runs = distributed.flow_runs(job.id)
    assert len(runs) == 1 and runs[0].state.is_completed(), [(r.name, r.state) for r in runs]


def test_the_scheduled_deployments_run_on_the_worker(distributed: Distributed) -> None:
    """What the cron schedules start, started by hand at setup: the reconciler and the SLA sweep complete."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: distributed.server.api_url}), \
            get_client(sync_client=True) as client:
        deadline = time.monotonic() + 240
        while True:
            states = [client.read_flow_run(r).state for r in distributed.scheduled_runs]
            if all(s is not None and s.is_final() for s in states) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    assert all(s is not None and s.is_completed() for s in states), [(s.name, s.message) for s in states if s]
