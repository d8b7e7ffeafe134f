"""The Prefect API of embedded mode, started with ``tongban serve`` instead of by the first flow run.

Left to itself, Prefect starts its temporary API server (a ``uvicorn`` child) inside the first flow
run that needs it, and imports its whole server package into the calling process to do so: on the
2-core machines here the first case after a fresh start waited ≈ 33 s from 预审通过 to 已转递
(``bench/first_forward.py``). ``start`` launches the same server at serve start instead, beside
migrations, the demo seed and the web app's imports, and points this process's Prefect client at it
(``PREFECT_API_URL``, set before Prefect is imported). Until it answers, the embedded dispatcher
leaves jobs queued (:func:`wait_ready`): the clerk's request has long returned and never waits on
Prefect; the forward runs as soon as the API is up.

How (``Settings.prefect_api``): ``subprocess`` (the default: Prefect's own server command in a
child process, so its start runs on the other core), ``thread`` (the same server app in a thread of
this process) or ``lazy`` (Prefect's behaviour: started by the first flow run). A ``PREFECT_API_URL``
already in the environment (a real server) is used as it is. Measured in docs/performance.md.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from typing import Literal

log = logging.getLogger("tongban.prefect_api")

PrefectApiStart = Literal["subprocess", "thread", "lazy"]

_ready = threading.Event()
_started = False
_lock = threading.Lock()
_process: subprocess.Popen[bytes] | None = None

#: Longest wait for the API before the dispatcher gives up waiting and lets Prefect try itself.
STARTUP_TIMEOUT = 180.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _end_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the server child gets SIGTERM when ``tongban serve`` dies, even by SIGKILL."""
    import ctypes
    import signal

    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _server_env() -> dict[str, str]:
    # What Prefect's SubprocessASGIServer gives its child: no UI, the ephemeral server's services.
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update({"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"})
    return env


def _spawn(port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "prefect.server.api.server:create_app",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "error", "--lifespan", "on"],
        env=_server_env(), stdin=subprocess.DEVNULL,
        preexec_fn=_end_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509 - at start, one thread
    )


def _serve_in_thread(port: int) -> None:
    for key, value in _server_env().items():
        if key.startswith("PREFECT_") and key != "PREFECT_API_URL":
            os.environ.setdefault(key, value)
    import uvicorn
    from prefect.server.api.server import create_app

    config = uvicorn.Config(create_app(ephemeral=True, final=True), host="127.0.0.1", port=port,
                            log_level="error", lifespan="on")
    uvicorn.Server(config).run()


def _watch(url: str, port: int, how: PrefectApiStart) -> None:
    """Poll ``/health`` until it answers; restart a subprocess that died on the way (e.g. port taken)."""
    import httpx

    global _process
    start = time.monotonic()
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() - start < STARTUP_TIMEOUT:
            if how == "subprocess" and _process is not None and _process.poll() is not None:
                log.warning("Prefect API server exited with %s at start; starting it again", _process.returncode)
                _process = _spawn(port)
            with contextlib.suppress(httpx.HTTPError):
                if client.get(f"{url}/health").status_code == 200:
                    log.info("Prefect API up at %s after %.1f s (%s)", url, time.monotonic() - start, how)
                    _ready.set()
                    return
            time.sleep(0.05)
    log.error("Prefect API at %s did not answer within %.0f s; flow runs will report it", url, STARTUP_TIMEOUT)
    _ready.set()  # stop holding jobs back: the dispatcher's retries take over


def start(how: PrefectApiStart = "subprocess") -> str | None:
    """Start the embedded Prefect API in the background (idempotent); returns its URL, None if not ours.

    Must run before Prefect is imported in this process (its settings are read once, at import).
    """
    global _started, _process
    with _lock:
        if _started:
            return os.environ.get("PREFECT_API_URL")
        _started = True
        if how == "lazy" or os.environ.get("PREFECT_API_URL"):
            _ready.set()
            return None
        if "prefect" in sys.modules:
            log.warning("Prefect already imported: cannot point it at a background API; leaving it lazy")
            _ready.set()
            return None
        port = _free_port()
        url = f"http://127.0.0.1:{port}/api"
        os.environ["PREFECT_API_URL"] = url
        if how == "subprocess":
            _process = _spawn(port)
        else:
            threading.Thread(target=_serve_in_thread, args=(port,), name="prefect-api", daemon=True).start()
        threading.Thread(target=_watch, args=(url, port, how), name="prefect-api-watch", daemon=True).start()
        return url


def wait_ready(timeout: float) -> bool:
    """True when flow runs may start: the background API answers, or none was started by us."""
    if not _started:
        return True
    return _ready.wait(timeout)


def stop() -> None:
    """End the subprocess (``tongban serve``'s exit also ends every child it has)."""
    global _process
    if _process is not None and _process.poll() is None:
        _process.terminate()
        try:
            _process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            _process.kill()
            _process.wait()
    _process = None
