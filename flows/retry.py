"""Which faults are worth waiting out, and how long each automated step waits (重试策略).

Transient: the object store answering 5xx, timing out or refusing connections
(``ObjectStoreUnavailable``), the database connection lost or the database busy
(``OperationalError`` or any DBAPI error that invalidated the connection), plain socket errors.
Permanent: everything else — above all a file whose SHA-256 no longer matches
(``storage.objects.IntegrityError``), which no retry can mend and which must fail at once with the
file named.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from prefect import Task, task
from sqlalchemy.exc import DBAPIError, OperationalError

from storage.objects.base import IntegrityError, ObjectStoreUnavailable

if TYPE_CHECKING:
    from states.runtime import Runtime

P = ParamSpec("P")
R = TypeVar("R")

TRANSIENT: tuple[type[BaseException], ...] = (ObjectStoreUnavailable, OperationalError, ConnectionError,
                                              TimeoutError)

#: Task retries: four more tries over ≈ 18 s, enough for a store or database failover or restart.
TASK_RETRIES = 4
TASK_RETRY_DELAYS: list[float] = [1, 2, 5, 10]


def is_transient(exc: BaseException) -> bool:
    """True for an outage (retry later), False for a fault a retry cannot mend."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, IntegrityError):
            return False
        if isinstance(current, TRANSIENT):
            return True
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        current = current.__cause__
    return False


def transient_only(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect ``retry_condition_fn``: retry outages, fail fast on everything else."""
    try:
        state.result()
    except Exception as exc:  # noqa: BLE001 - classified, not swallowed: Prefect re-raises it
        return is_transient(exc)
    return False


def describe(exc: BaseException) -> str:
    """``[transient] …`` or ``[permanent] …``: the outbox keeps this so the reconciler knows what to redo."""
    kind = "transient" if is_transient(exc) else "permanent"
    return f"[{kind}] {type(exc).__name__}: {exc}"


def step(fn: Callable[Concatenate[Runtime, P], R], *, name: str | None = None) -> Task[P, R]:
    """THE retry policy of every automated step, declared once: the plain step ``fn(runtime, …)`` as a
    Prefect task (named ``<step>_task``) that runs on the process's runtime, retries outages
    :data:`TASK_RETRIES` times after :data:`TASK_RETRY_DELAYS` and fails at once on anything else."""
    from flows.runtime import current

    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        return fn(current(), *args, **kwargs)

    # The task's parameters are the step's without the runtime (Prefect binds and shows them by name).
    signature = inspect.signature(fn)
    run.__signature__ = signature.replace(parameters=list(signature.parameters.values())[1:])  # type: ignore[attr-defined]
    run.__name__ = run.__qualname__ = fn.__name__
    run.__doc__, run.__module__ = fn.__doc__, fn.__module__

    return task(name=name or f"{fn.__name__}_task", retries=TASK_RETRIES, retry_delay_seconds=TASK_RETRY_DELAYS,
                retry_condition_fn=transient_only)(run)
