"""How a flow finds its Runtime: the process that runs it (web app, worker, test) registers one.

Flow parameters stay plain (a case number) so the same flow runs in-process and on a Prefect
worker; a worker with nothing registered builds its Runtime from the environment (``TONGBAN_*``).
"""

from __future__ import annotations

import threading

import storage.models  # noqa: F401 - every table registered, as in the web app: a worker imports only flows
from config import Settings
from states.runtime import Runtime

_lock = threading.Lock()
_current: Runtime | None = None


def use(runtime: Runtime) -> None:
    """Called once by the process that owns the runtime (``tongban serve``, a test session)."""
    global _current
    with _lock:
        _current = runtime


def current() -> Runtime:
    global _current
    with _lock:
        if _current is None:
            _current = Runtime(Settings())
        return _current
