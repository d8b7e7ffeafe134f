"""Outbox dispatch (发件箱派发): claim due jobs, run the flow each names, mark done only when it finished.

Embedded mode runs the flows in this process; distributed mode hands them to Prefect deployments.
A job whose worker died is claimed again when its lease runs out; flows are idempotent, so a rerun
never duplicates anything.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import timedelta

from flows.forward import TRANSIENT
from states.runtime import Runtime
from storage.db import transaction
from storage.outbox import service as outbox

log = logging.getLogger("tongban.dispatch")

Handler = Callable[[Runtime, dict[str, object]], object]


def _forward(runtime: Runtime, payload: dict[str, object]) -> object:
    from flows.forward import forward_case

    return forward_case(str(payload["case_no"]))


#: job kind → what runs it. Other flows register themselves here.
HANDLERS: dict[str, Handler] = {"forward": _forward}


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def backoff(attempt: int) -> timedelta:
    return timedelta(seconds=min(300, 2 ** max(attempt, 1)))


def dispatch_once(runtime: Runtime, *, worker: str | None = None, limit: int = 10) -> int:
    """Claim and run what is due; returns how many jobs finished."""
    worker = worker or worker_id()
    with transaction(runtime.session_factory) as s:
        jobs = [(j.id, j.kind, dict(j.payload), j.attempts) for j in
                outbox.claim(db_session=s, worker=worker, now=runtime.now(), limit=limit, kinds=list(HANDLERS))]
    done = 0
    for job_id, kind, payload, attempts in jobs:
        try:
            HANDLERS[kind](runtime, payload)
        except TRANSIENT as exc:
            log.warning("outbox job %s (%s) hit an outage, will retry: %s", job_id, kind, exc)
            with transaction(runtime.session_factory) as s:
                outbox.fail(db_session=s, job_id=job_id, worker=worker, now=runtime.now(), error=str(exc),
                            retry_in=backoff(attempts))
            continue
        except Exception as exc:  # noqa: BLE001 - recorded and shown to supervisors
            log.error("outbox job %s (%s) failed: %s", job_id, kind, exc)
            with transaction(runtime.session_factory) as s:
                outbox.fail(db_session=s, job_id=job_id, worker=worker, now=runtime.now(),
                            error=f"{type(exc).__name__}: {exc}", retry_in=backoff(attempts),
                            max_attempts=3)
            continue
        with transaction(runtime.session_factory) as s:
            if outbox.finish(db_session=s, job_id=job_id, worker=worker, now=runtime.now()):
                done += 1
    return done


class EmbeddedDispatcher(threading.Thread):
    """Runs in ``tongban serve``: wakes on every committed transition and every few seconds."""

    def __init__(self, runtime: Runtime, *, interval: float = 2.0) -> None:
        super().__init__(name="tongban-dispatcher", daemon=True)
        self.runtime = runtime
        self.interval = interval
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                while dispatch_once(self.runtime):
                    pass
            except Exception:  # noqa: BLE001 - keep dispatching; the next round retries
                log.exception("dispatcher round failed")
            self.runtime.dispatcher_wakeup.wait(self.interval)
            self.runtime.dispatcher_wakeup.clear()

    def stop(self) -> None:
        self.stopping.set()
        self.runtime.dispatcher_wakeup.set()
