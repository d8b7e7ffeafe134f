"""Issue 10.15 — a 身份证号 or mobile number typed into a search never reaches the access log.

The real server (``tongban serve``, uvicorn's own access log) runs as a child process; what it
writes to its output is read back after the searches.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.app_harness import RESIDENT_ID
from tests.servers import free_port
from web.hardening import masked_target

PHONE = "13812345678"


def test_search_values_are_dropped_and_the_rest_masked() -> None:
    assert masked_target(f"/api/v1/cases?q={RESIDENT_ID}&page=2") == "/api/v1/cases?q=***&page=2"
    logged = masked_target(f"/ui/x?next=/ui/cases/{RESIDENT_ID}")
    assert RESIDENT_ID not in logged and "110105********002X" in logged.replace("%2A", "*")
    assert masked_target("/api/v1/cases/BJ-2026-000001") == "/api/v1/cases/BJ-2026-000001"
    assert PHONE not in masked_target(f"/api/v1/items?code={quote('+86 ' + PHONE)}")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    home = tmp_path_factory.mktemp("tongban-serve-log")
    log = home / "serve.log"
    port = free_port()
    # distributed mode: no in-process dispatcher or Prefect server to start for a log test
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("TONGBAN_", "PREFECT_"))}
    env = {**inherited, "TONGBAN_HOME": str(home), "TONGBAN_MODE": "distributed",
           "TONGBAN_SECRET_KEY": secrets.token_urlsafe(32), "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as out:
        proc = subprocess.Popen([str(Path(sys.executable).with_name("tongban")), "serve", "--port", str(port)],
                                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=Path(__file__).parents[2])
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180  # a loaded 2-core machine: imports, migration and seeding take a while
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"tongban serve did not start (exit code {proc.poll()}): "
                            f"{log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.3)
        token = re.search(r"bj_clerk\s+clerk\s+\S+\s+token (\S+)", log.read_text())
        assert token, log.read_text()
        yield base, token.group(1), log
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_the_access_log_of_the_real_server_holds_no_full_id_or_phone(served: tuple[str, str, Path]) -> None:
    base, token, log = served
    h = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{base}/api/v1/cases", params={"q": RESIDENT_ID}, headers=h).status_code == 200
    assert httpx.get(f"{base}/api/v1/cases", params={"q": PHONE, "page": "1"}, headers=h).status_code == 200
    assert httpx.get(f"{base}/api/v1/items", params={"q": RESIDENT_ID}, headers=h).status_code == 200
    httpx.get(f"{base}/ui/cases", params={"q": RESIDENT_ID})  # the UI search, not signed in: a redirect
    httpx.get(f"{base}/ui/dashboard", params={"q": f"+86 {PHONE}"})
    time.sleep(0.5)
    text = log.read_text(errors="replace")
    access = [line for line in text.splitlines() if '"GET /' in line]
    assert sum("/api/v1/cases?q=***" in line for line in access) == 2, access  # logged, value dropped
    assert any("/api/v1/items?q=***" in line for line in access), access
    assert any("/ui/cases?q=***" in line for line in access), access
    assert RESIDENT_ID not in text and PHONE not in text and RESIDENT_ID[:14] not in text
