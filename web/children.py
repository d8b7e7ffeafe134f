"""The processes ``tongban serve`` started end with it.

In embedded mode Prefect starts a temporary API server (a ``uvicorn`` child process) for the first
in-process flow run, and relies on ``atexit`` to stop it. That is not enough:

- uvicorn handles SIGTERM gracefully and then re-raises it with the default handler, which ends the
  process at once — ``atexit`` never runs, and the temporary server lives on;
- when that server does not answer in time at start, Prefect raises, and the next flow run starts a
  new one: the first is no longer referenced by anyone and is left running, even by ``atexit``.

So ``serve`` turns SIGTERM into a normal exit and, on the way out, stops Prefect's temporary servers
and then every process it still has as a descendant (SIGTERM, then SIGKILL after a grace period).
Descendants are read from ``/proc`` (Linux, where tongban runs; elsewhere only Prefect's own list).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType


def exit_on_sigterm() -> None:
    """SIGTERM raises SystemExit (after uvicorn's graceful shutdown re-raises it), so ``finally`` runs."""
    def handler(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


def descendants(pid: int | None = None) -> list[int]:
    """Every live process below ``pid`` (default: this one), children first."""
    root = os.getpid() if pid is None else pid
    parents: dict[int, list[int]] = {}
    for entry in _proc_entries():
        ppid = _ppid(entry)
        if ppid is not None:
            parents.setdefault(ppid, []).append(entry)
    out: list[int] = []
    todo = [root]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def end_children(grace: float = 5.0) -> list[int]:
    """Stop Prefect's temporary servers, then every remaining descendant; returns the pids ended."""
    _stop_prefect_servers()
    pids = descendants()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        _reap()
        time.sleep(0.05)
    for pid in pids:
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
    _reap()
    return pids


def _stop_prefect_servers() -> None:
    import sys

    from flows import prefect_api

    prefect_api.stop()
    if "prefect.server.api.server" not in sys.modules:
        return  # no temporary server of Prefect's own in this process (and no 8 s import to find out)
    try:
        from prefect.server.api.server import SubprocessASGIServer
    except Exception:  # noqa: BLE001 - Prefect not importable: nothing of it to stop
        return
    for server in list(SubprocessASGIServer._instances.values()):
        with contextlib.suppress(Exception):
            server.stop()


def _proc_entries() -> Iterator[int]:
    proc = Path("/proc")
    if not proc.is_dir():
        return
    for entry in proc.iterdir():
        if entry.name.isdigit():
            yield int(entry.name)


def _ppid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # "pid (comm) state ppid …" — comm may hold spaces and parentheses: split after the last ")".
    fields = stat[stat.rfind(")") + 2:].split()
    if len(fields) < 2 or fields[0] == "Z":
        return None  # a zombie is already dead (reaped below when it is ours)
    return int(fields[1])


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2:].split()[:1] != ["Z"]


def _reap() -> None:
    with contextlib.suppress(ChildProcessError):
        while True:
            pid, _ = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
