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
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
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


def template_path() -> Path:
    """A migrated, empty Prefect database for this venv's Prefect version (made by scripts/bootstrap.sh)."""
    from importlib.metadata import version

    return Path(sys.prefix) / "share" / "tongban" / f"prefect-{version('prefect')}.db"


def make_template() -> Path:
    """Run Prefect's migrations and block registration once on an empty file (≈ 10–50 s here)."""
    import asyncio
    import tempfile

    target = template_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        db = Path(tmp) / "prefect.db"
        os.environ["PREFECT_API_DATABASE_CONNECTION_URL"] = f"sqlite+aiosqlite:///{db}"
        os.environ["PREFECT_HOME"] = tmp
        from prefect.server.database import provide_database_interface
        from prefect.server.models.block_registration import run_block_auto_registration

        async def build() -> None:
            iface = provide_database_interface()
            await iface.create_db()
            async with await iface.session() as session:
                await run_block_auto_registration(session=session)
                await session.commit()
            await (await iface.engine()).dispose()

        asyncio.run(build())
        db.replace(target)
    return target


def _database_url(home: Path | None) -> str | None:
    """Embedded Prefect keeps its run history in ``home/prefect/prefect.db``, started from the template."""
    if home is None or os.environ.get("PREFECT_API_DATABASE_CONNECTION_URL"):
        return None
    db = (home / "prefect" / "prefect.db").resolve()
    if not db.exists():
        db.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(Exception):  # no template (or an unreadable one): Prefect migrates itself
            template = template_path()
            if template.exists():
                shutil.copyfile(template, db)
                global _from_template
                _from_template = True  # its blocks are registered already
    return f"sqlite+aiosqlite:///{db}"


_db_url: str | None = None
_from_template = False


def _server_env() -> dict[str, str]:
    # What Prefect's SubprocessASGIServer gives its child: no UI, the ephemeral server's services.
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update({"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"})
    if _db_url:
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = _db_url
    if _from_template:
        env["PREFECT_API_BLOCKS_REGISTER_ON_START"] = "false"
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


def _warm() -> None:
    """Import what the first flow run would import (the flows, Prefect's engines), before it is needed."""
    with contextlib.suppress(Exception):
        import prefect.flow_engine  # noqa: F401
        import prefect.task_engine  # noqa: F401

        import flows.forward  # noqa: F401
        import flows.mailback  # noqa: F401


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
                    _warm()
                    _ready.set()
                    return
            time.sleep(0.05)
    log.error("Prefect API at %s did not answer within %.0f s; flow runs will report it", url, STARTUP_TIMEOUT)
    _ready.set()  # stop holding jobs back: the dispatcher's retries take over


def start(how: PrefectApiStart = "subprocess", home: Path | None = None) -> str | None:
    """Start the embedded Prefect API in the background (idempotent); returns its URL, None if not ours.

    Must run before Prefect is imported in this process (its settings are read once, at import).
    ``home`` (tongban's) holds Prefect's database, copied from the install's template on a fresh home.
    """
    global _started, _process, _db_url
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
        _db_url = _database_url(home)
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


if __name__ == "__main__":  # scripts/bootstrap.sh: ``python -m flows.prefect_api --template``
    if sys.argv[1:] != ["--template"]:
        sys.exit("usage: python -m flows.prefect_api --template")
    print(f"Prefect database template: {make_template()}")
