"""A real ``prefect server start`` and real ``prefect worker start`` processes on loopback, for the e2e tests.

The server gets a temporary ``PREFECT_HOME`` (its SQLite database lives there) and a free port; its
scheduler is off, so the cron schedules of prefect.yaml are registered but create no runs that would
compete with the test's own. Workers are started from a directory that is NOT the checkout, so the
deployments' pull step (``set_working_directory``) is what puts them in the code.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.servers import ServerUnavailable, free_port

REPO = Path(__file__).resolve().parents[2]
PREFECT = str(Path(sys.executable).with_name("prefect"))


@dataclass
class PrefectServer:
    api_url: str
    home: Path
    log: Path

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for a Prefect CLI or worker process talking to this server."""
        return {**os.environ, "PREFECT_HOME": str(self.home), "PREFECT_API_URL": self.api_url,
                "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false", **extra}

    def cli(self, *args: str, cwd: Path = REPO, timeout: float = 300) -> str:
        """Run ``prefect <args>``; its output, or an assertion naming what it said."""
        done = subprocess.run([PREFECT, "--no-prompt", *args], cwd=cwd, env=self.env(), capture_output=True,
                              text=True, timeout=timeout)
        assert done.returncode == 0, f"prefect {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done.stdout


def _healthy(api_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=2) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def run_prefect_server(tmp: Path, *, start_timeout: float = 180) -> Iterator[PrefectServer]:
    port = free_port()
    home = tmp / "prefect-home"
    home.mkdir(parents=True, exist_ok=True)
    server = PrefectServer(api_url=f"http://127.0.0.1:{port}/api", home=home, log=tmp / "prefect-server.log")
    with server.log.open("wb") as log:
        process = subprocess.Popen(
            [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port), "--no-scheduler", "--no-ui"],
            cwd=tmp, env=server.env(PREFECT_API_URL=""), stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + start_timeout
        while not _healthy(server.api_url):
            if process.poll() is not None:
                raise ServerUnavailable(f"prefect server exited: {server.log.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise ServerUnavailable(f"prefect server did not answer within {start_timeout:.0f} s")
            time.sleep(0.3)
        yield server
    finally:
        _stop(process)


@contextlib.contextmanager
def run_worker(server: PrefectServer, pool: str, workdir: Path, env: dict[str, str]) -> Iterator[Path]:
    """``prefect worker start --pool POOL`` with ``env`` (the TONGBAN_* settings); yields its log path."""
    log_path = workdir / f"worker-{pool}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [PREFECT, "worker", "start", "--pool", pool, "--type", "process"], cwd=workdir,
            env=server.env(PREFECT_WORKER_QUERY_SECONDS="1", PREFECT_LOGGING_LEVEL="INFO", **env),
            stdout=log, stderr=subprocess.STDOUT)
    try:
        yield log_path
    finally:
        _stop(process)


class EarlyPrefect(threading.Thread):
    """Start the server, create the work pool and ``prefect deploy --all`` in the background.

    Started as soon as collection shows a test will need it, so its ≈ 30–60 s (server start, two
    Prefect CLI runs) overlap the tests that run first. ``result()`` waits for it.
    """

    def __init__(self, pool: str) -> None:
        super().__init__(name="early-prefect", daemon=True)
        self.pool = pool
        self.tmp = Path(tempfile.mkdtemp(prefix="tongban-prefect-"))
        self._stack = contextlib.ExitStack()
        self._server: PrefectServer | None = None
        self._error: BaseException | None = None

    def run(self) -> None:
        try:
            server = self._stack.enter_context(run_prefect_server(self.tmp))
            server.cli("work-pool", "create", self.pool, "--type", "process", "--overwrite")
            server.cli("deploy", "--all")  # from the checkout, exactly as docs/deploy.md says
            self._server = server
        except BaseException as exc:  # noqa: BLE001 - handed to the fixture
            self._error = exc

    def result(self) -> PrefectServer:
        self.join()
        if self._error is not None:
            raise self._error
        assert self._server is not None
        return self._server

    def stop(self) -> None:
        self.join()
        self._stack.close()
