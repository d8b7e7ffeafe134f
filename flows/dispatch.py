"""Outbox dispatch (发件箱派发): claim due jobs, run the flow each names, mark done only when it finished.

Two modes, one code base (``Settings.mode``):

- **embedded** runs the flows in this process (``tongban serve`` starts an :class:`EmbeddedDispatcher`
  thread, which also runs the reconciler on a timer);
- **distributed** submits each job as a flow run of a Prefect deployment (``run_deployment``, names in
  :data:`DEPLOYMENTS`, declared in prefect.yaml), waits until the run is final and only then marks the
  job done. ``tongban dispatch`` runs this loop.

Nothing lost, nothing twice:

- a job is claimed under a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so two dispatchers never
  take the same row; a dispatcher that dies leaves a ``running`` row that becomes due again when the
  lease runs out;
- each submission carries the idempotency key ``tongban-outbox-<job>-g<generation>``: a dispatcher that
  re-claims a job whose flow run it (or a dead colleague) already created gets *that* flow run back from
  the Prefect server instead of a second one. The generation only moves on when a run ended failed, so
  a retry is a new run and a re-attach is the same run;
- the Prefect API unreachable (or a deployment not yet deployed) does not count as an attempt: the job
  goes back to ``pending`` with a backoff of at most a minute, and proceeds when the server is back;
- flows are idempotent, so even a run that happens again (lease passed on mid-run) duplicates nothing.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from flows.checkpoints import checkpoint
from flows.retry import TRANSIENT, describe, is_transient
from states.enums import JobKind
from states.lifecycle import JOBS, Table
from states.runtime import Runtime
from storage.db import transaction
from storage.outbox import service as outbox
from storage.outbox.models import OutboxJob

__all__ = ["DEPLOYMENTS", "HANDLERS", "PERIODIC", "TRANSIENT", "Dispatcher", "EmbeddedDispatcher",
           "dispatch_once", "in_process_settings", "run_periodic"]

log = logging.getLogger("tongban.dispatch")

Handler = Callable[[Runtime, dict[str, Any]], object]


def _forward(runtime: Runtime, payload: dict[str, Any]) -> object:
    from flows.forward import forward_case

    return forward_case(str(payload["case_no"]))


def _mailback(runtime: Runtime, payload: dict[str, Any]) -> object:
    from flows.mailback import mailback

    return mailback(str(payload["case_no"]))


def _federation(runtime: Runtime, payload: dict[str, Any]) -> object:
    from federation.flows import federation_send

    return federation_send(str(payload["message_id"]))


#: job kind → what runs it in embedded mode (a Prefect flow, run in this process). ``federation``:
#: a message to a peer deployment (federation/; not a lifecycle job: no case state waits for it).
HANDLERS: dict[str, Handler] = {JobKind.forward: _forward, JobKind.mailback: _mailback, "federation": _federation}

#: job kind → ``flow-name/deployment-name`` of prefect.yaml that runs it in distributed mode
#: (declared with the job kind in states/lifecycle.py JOBS).
DEPLOYMENTS: dict[str, str] = {kind.value: facts.deployment for kind, facts in JOBS.items()}
DEPLOYMENTS["federation"] = "federation-send/federation-send"

#: For the lifecycle's completeness check (tests/states/test_lifecycle.py).
TABLES = [Table("flows/dispatch.py HANDLERS", "jobs", [str(k) for k in HANDLERS])]


def _parameters(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The flow's parameters: plain values only (a case number), so any worker can run it."""
    if kind == "federation":
        return {"message_id": str(payload["message_id"])}
    return {"case_no": str(payload["case_no"])}


def _reconcile(runtime: Runtime) -> object:
    from flows.reconcile import reconcile_plain

    return reconcile_plain(runtime)


#: Scheduled work the embedded dispatcher runs itself (distributed: prefect.yaml cron schedules).
#: name → (every so many seconds, what runs).
PERIODIC: dict[str, tuple[float, Callable[[Runtime], object]]] = {"reconcile": (600.0, _reconcile)}

#: Job failures before a job is marked failed for good (a supervisor sees it; the reconciler redoes
#: the transient ones).
MAX_ATTEMPTS_TRANSIENT = 8
MAX_ATTEMPTS_PERMANENT = 3


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def backoff(attempt: int) -> timedelta:
    return timedelta(seconds=min(300, 2 ** max(attempt, 1)))


def deferral_backoff(deferrals: int) -> timedelta:
    """While the Prefect API is away: 2, 4, 8 … at most 60 s, so work resumes soon after it is back."""
    return timedelta(seconds=min(60, 2 ** max(deferrals, 1)))


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int

    @property
    def generation(self) -> int:
        return int(self.payload.get("run_generation", 0))

    @property
    def idempotency_key(self) -> str:
        return f"tongban-outbox-{self.id}-g{self.generation}"


def dispatch_once(runtime: Runtime, *, worker: str | None = None, limit: int = 10,
                  wait_timeout: float = 540.0, poll_interval: float = 1.0) -> int:
    """Claim what is due and run it (embedded) or have Prefect run it (distributed).

    Returns how many jobs finished in this round. ``wait_timeout`` (distributed) bounds how long a
    round waits for flow runs; it stays below the claim lease (10 minutes) so no one else re-claims
    a job while we still wait for it — and if they did, the idempotency key hands them the same run.
    """
    worker = worker or worker_id()
    kinds = list(DEPLOYMENTS) if runtime.settings.mode == "distributed" else list(HANDLERS)
    with transaction(runtime.session_factory) as s:
        jobs = [ClaimedJob(j.id, j.kind, dict(j.payload), j.attempts) for j in
                outbox.claim(db_session=s, worker=worker, now=runtime.now(), limit=limit, kinds=kinds)]
    if not jobs:
        return 0
    if runtime.settings.mode == "distributed":
        return _run_on_prefect(runtime, jobs, worker, wait_timeout=wait_timeout, poll_interval=poll_interval)
    return _run_here(runtime, jobs, worker)


# --- embedded: run the flow in this process --------------------------------------------------------

def in_process_settings() -> Any:
    """Flow runs in this process send no heartbeats.

    Prefect's heartbeat thread exists to notice a crashed flow run; here the outbox lease does that
    (a job whose process died is claimed again). The thread also sleeps in whole seconds and is
    joined at the end of each run, which cost ≈1 s per flow run (measured with Prefect 3.9.1).
    """
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    return temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None})


def _run_here(runtime: Runtime, jobs: Iterable[ClaimedJob], worker: str) -> int:
    done = 0
    for job in jobs:
        checkpoint("dispatch.job", job_id=job.id, kind=job.kind, worker=worker)
        try:
            with in_process_settings():
                HANDLERS[job.kind](runtime, job.payload)
        except Exception as exc:  # noqa: BLE001 - recorded on the job and shown to supervisors
            transient = is_transient(exc)
            (log.warning if transient else log.error)("outbox job %s (%s) failed: %s", job.id, job.kind, exc)
            _fail(runtime, job, worker, describe(exc), transient=transient)
            continue
        if _finish(runtime, job, worker):
            done += 1
    return done


# --- distributed: a flow run of a Prefect deployment per job -------------------------------------

def _orchestrator_unavailable(exc: BaseException) -> bool:
    """The Prefect API cannot be reached or answers 5xx, or the deployment does not exist yet."""
    import httpx
    from prefect.exceptions import ObjectNotFound

    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code >= 500 or exc.response.status_code in (408, 429)
    return isinstance(exc, httpx.TransportError | OSError | ObjectNotFound | TimeoutError)


#: Exception names in a failed flow run's state message that mean "an outage, try again later".
_TRANSIENT_NAMES = tuple(t.__name__ for t in TRANSIENT) + ("PendingRollbackError", "InterfaceError")


def _submit(job: ClaimedJob) -> UUID:
    from prefect.deployments import run_deployment

    run = run_deployment(
        DEPLOYMENTS[job.kind], parameters=_parameters(job.kind, job.payload), timeout=0,
        idempotency_key=job.idempotency_key, as_subflow=False,
        flow_run_name=f"{job.kind}-{job.payload.get('case_no', '')}-job{job.id}",
        tags=["tongban", f"outbox-job:{job.id}"],
    )
    return run.id  # type: ignore[union-attr]  # sync call: a FlowRun, not a coroutine


def _wait(run_ids: list[UUID], *, timeout: float, poll_interval: float) -> dict[UUID, Any]:
    """Flow runs that reached a final state within ``timeout`` (id → FlowRun)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    final: dict[UUID, Any] = {}
    deadline = time.monotonic() + timeout
    pending = set(run_ids)
    with get_client(sync_client=True) as client:
        while pending:
            runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=list(pending))))
            for run in runs:
                if run.state is not None and run.state.is_final():
                    final[run.id] = run
                    pending.discard(run.id)
            if not pending or time.monotonic() >= deadline:
                break
            time.sleep(poll_interval)
    return final


def _run_on_prefect(runtime: Runtime, jobs: list[ClaimedJob], worker: str, *, wait_timeout: float,
                    poll_interval: float) -> int:
    submitted: dict[UUID, ClaimedJob] = {}
    for job in jobs:
        checkpoint("dispatch.job", job_id=job.id, kind=job.kind, worker=worker)
        try:
            run_id = _submit(job)
            submitted[run_id] = job
            checkpoint("dispatch.submitted", job_id=job.id, kind=job.kind, worker=worker, flow_run_id=run_id)
        except Exception as exc:  # noqa: BLE001 - every job is put back or failed, never dropped
            if _orchestrator_unavailable(exc):
                log.warning("Prefect API unavailable for outbox job %s (%s); will retry: %s", job.id, job.kind, exc)
                _defer(runtime, job, worker, f"[transient] Prefect API unavailable: {type(exc).__name__}: {exc}")
            else:
                log.error("submitting outbox job %s (%s) failed: %s", job.id, job.kind, exc)
                _fail(runtime, job, worker, describe(exc), transient=is_transient(exc))
    if not submitted:
        return 0
    try:
        final = _wait(list(submitted), timeout=wait_timeout, poll_interval=poll_interval)
    except Exception as exc:  # noqa: BLE001 - lost sight of the runs: re-attach to them next round
        log.warning("lost the Prefect API while waiting for %d flow runs: %s", len(submitted), exc)
        final = {}
    done = 0
    for run_id, job in submitted.items():
        run = final.get(run_id)
        if run is None:
            _defer(runtime, job, worker, f"[transient] flow run {run_id} not finished yet; waiting for it")
            continue
        state = run.state
        if state.is_completed():
            if _finish(runtime, job, worker):
                done += 1
        elif state.is_cancelled():
            _fail(runtime, job, worker, f"[permanent] flow run {run_id} was cancelled: {state.message or ''}",
                  transient=False, next_generation=True)
        else:
            message = state.message or state.name
            # A crashed run (worker or machine died) or an outage that outlasted the tasks' retries
            # is worth another run; anything else (a hash that no longer matches) is not.
            transient = state.is_crashed() or any(name in message for name in _TRANSIENT_NAMES)
            log.warning("flow run %s for outbox job %s ended %s: %s", run_id, job.id, state.name, message)
            _fail(runtime, job, worker, f"[{'transient' if transient else 'permanent'}] flow run {run_id} ended "
                  f"{state.name}: {message}", transient=transient, next_generation=True)
    return done


# --- bookkeeping on the outbox row -----------------------------------------------------------------

def _finish(runtime: Runtime, job: ClaimedJob, worker: str) -> bool:
    with transaction(runtime.session_factory) as s:
        return outbox.finish(db_session=s, job_id=job.id, worker=worker, now=runtime.now())


def _fail(runtime: Runtime, job: ClaimedJob, worker: str, error: str, *, transient: bool,
          next_generation: bool = False) -> None:
    """Counted failure: back to pending with backoff, or failed for good after enough attempts."""
    with transaction(runtime.session_factory) as s:
        if next_generation:
            row = s.get(OutboxJob, job.id)
            if row is not None and row.claimed_by == worker:
                row.payload = {**row.payload, "run_generation": job.generation + 1}
        outbox.fail(db_session=s, job_id=job.id, worker=worker, now=runtime.now(), error=error,
                    retry_in=backoff(job.attempts),
                    max_attempts=MAX_ATTEMPTS_TRANSIENT if transient else MAX_ATTEMPTS_PERMANENT)


def _defer(runtime: Runtime, job: ClaimedJob, worker: str, error: str) -> None:
    """Not an attempt: the orchestrator was away or the run is still going. Back to pending, same run."""
    with transaction(runtime.session_factory) as s:
        row = s.get(OutboxJob, job.id)
        if row is None or row.claimed_by != worker or row.status != "running":
            return
        deferrals = int(row.payload.get("deferrals", 0)) + 1
        row.payload = {**row.payload, "deferrals": deferrals}
        row.status = "pending"
        row.claimed_by = None
        row.attempts = max(0, row.attempts - 1)
        row.available_at = runtime.now() + deferral_backoff(deferrals)
        row.last_error = error[:2000]


# --- the long-running loops ----------------------------------------------------------------------

def run_periodic(runtime: Runtime, last_run: dict[str, float]) -> None:
    """Run each :data:`PERIODIC` job whose interval has passed (embedded mode's schedules)."""
    now = time.monotonic()
    for name, (every, fn) in PERIODIC.items():
        if now - last_run.get(name, float("-inf")) >= every:
            last_run[name] = now
            try:
                fn(runtime)
            except Exception:  # noqa: BLE001 - the next interval tries again
                log.exception("periodic %s failed", name)


class Dispatcher(threading.Thread):
    """One dispatch loop: wakes on every committed transition (same process) and every ``interval`` s."""

    def __init__(self, runtime: Runtime, *, interval: float = 2.0, periodic: bool = False,
                 name: str = "tongban-dispatcher") -> None:
        super().__init__(name=name, daemon=True)
        self.runtime = runtime
        self.interval = interval
        self.periodic = periodic
        self.stopping = threading.Event()
        self._last_periodic: dict[str, float] = {}

    def run(self) -> None:
        from flows import prefect_api

        while not self.stopping.is_set():
            if not prefect_api.wait_ready(self.interval):
                continue  # the embedded Prefect API is still starting: jobs stay queued
            try:
                while dispatch_once(self.runtime) and not self.stopping.is_set():
                    pass
                if self.periodic:
                    run_periodic(self.runtime, self._last_periodic)
            except Exception:  # noqa: BLE001 - keep dispatching; the next round retries
                log.exception("dispatcher round failed")
            self.runtime.dispatcher_wakeup.wait(self.interval)
            self.runtime.dispatcher_wakeup.clear()

    def stop(self) -> None:
        self.stopping.set()
        self.runtime.dispatcher_wakeup.set()


class EmbeddedDispatcher(Dispatcher):
    """Runs in ``tongban serve`` (embedded mode): flows and the reconciler in-process, no setup."""

    def __init__(self, runtime: Runtime, *, interval: float = 2.0) -> None:
        super().__init__(runtime, interval=interval, periodic=True)
