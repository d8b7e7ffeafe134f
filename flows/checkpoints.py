"""Named points inside the automated steps where a fault can be injected (断点).

Production registers nothing and a checkpoint costs one dictionary lookup. The fault tests register
a callback to pause, kill the process, drop the database connection or stop a server exactly at
the point they want to prove harmless, e.g. between copying the packet and recording the transition.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

Callback = Callable[[str, dict[str, Any]], None]

#: The points the flows pass, in the order a run passes them (for readers and tests).
POINTS = (
    "dispatch.job",            # a dispatcher is about to run (or submit) one outbox job
    "dispatch.submitted",      # distributed: the flow run exists on the Prefect server, not yet waited for
    "forward.before_copy",     # sources verified, nothing copied yet
    "forward.before_record",   # packet and copies stored and verified, transition not yet written
    "forward.recording",       # inside the recording transaction, before the transition commits
    "mailback.before_record",  # result copies stored at the applicant's side, rows not yet written
    "reconcile.before_delete",  # an orphaned incoming object is about to be deleted
)

_lock = threading.Lock()
_callbacks: dict[str, list[Callback]] = {}


def checkpoint(name: str, **info: Any) -> None:
    """Pass a named point; registered callbacks run here (and may raise, sleep or kill the process)."""
    callbacks = _callbacks.get(name)
    if not callbacks:
        return
    for callback in list(callbacks):
        callback(name, info)


def register(name: str, callback: Callback) -> Callable[[], None]:
    """Run ``callback`` whenever ``name`` is passed; returns a function that unregisters it."""
    if name not in POINTS:
        raise ValueError(f"unknown checkpoint {name!r}; known: {', '.join(POINTS)}")
    with _lock:
        _callbacks.setdefault(name, []).append(callback)

    def unregister() -> None:
        with _lock:
            if callback in _callbacks.get(name, []):
                _callbacks[name].remove(callback)

    return unregister
