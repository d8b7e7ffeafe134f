"""Issue 10.17 — the processes a real ``tongban serve`` starts end with it.

An embedded-mode server runs its flows in-process, and Prefect starts a temporary API server (a child
process) for the first one. Stopping ``tongban serve`` — SIGTERM as a service manager does, SIGINT as
Ctrl-C does — must leave none of its children running; nor one that did not answer in time at start
(Prefect then starts another and forgets the first).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.app_harness import USCC, make_pdf
from tests.servers import free_port
from web.children import descendants

TONGBAN = str(Path(sys.executable).with_name("tongban"))


class Served:
    def __init__(self, home: Path, extra_env: dict[str, str]) -> None:
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "TONGBAN_"))}
        env.update({"TONGBAN_HOME": str(home), "TONGBAN_MODE": "embedded", "PREFECT_HOME": str(home / "prefect"),
                    "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1", **extra_env})
        self.log = (home / "serve.log").open("w+")
        self.proc = subprocess.Popen([TONGBAN, "serve", "--port", str(self.port)], env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.base = f"http://127.0.0.1:{self.port}"
        self.token = ""

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.output()
            found = re.search(r"bj_clerk\s+clerk\s+BJ-ETOWN\s+token (\S+)", self.output())
            if found:
                try:
                    if httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                        self.token = found.group(1)
                        return
                except httpx.HTTPError:
                    pass
            time.sleep(0.3)
        raise AssertionError(f"tongban serve did not come up:\n{self.output()}")

    def receive_and_precheck(self) -> str:
        """A case pre-checked: its forward runs as an in-process Prefect flow (starting the temporary server)."""
        h = {"Authorization": f"Bearer {self.token}"}
        items = httpx.get(f"{self.base}/api/v1/items", params={"q": "QY-001"}, headers=h).json()
        item = next(i for i in items if i["handling_zone"] == "TJ-TEDA")
        form = {"item_code": "QY-001", "handling_zone": "TJ-TEDA",
                "applicant": {"kind": "enterprise", "name": "天津测试科技有限公司", "id_number": USCC,
                              "phone": "13812345678", "address": "天津市滨海新区第三大街1号"},
                "checklist": [{"item_material_id": m["id"]} for m in item["materials"]]}
        files = [("case", ("case.json", json.dumps(form), "application/json"))] + [
            (f"material_{m['id']}", (f"{m['name']}.pdf", make_pdf(m["name"]), "application/pdf"))
            for m in item["materials"]]
        r = httpx.post(f"{self.base}/api/v1/cases", files=files, headers=h, timeout=60)
        assert r.status_code == 201, r.text
        case = r.json()
        r = httpx.post(f"{self.base}/api/v1/cases/{case['case_no']}/events", headers=h, timeout=60,
                       json={"event": "precheck_pass", "version": case["version"]})
        assert r.status_code == 200, r.text
        return str(case["case_no"])

    def wait_for_children(self, timeout: float = 120) -> list[int]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            kids = descendants(self.proc.pid)
            if kids:
                return kids
            time.sleep(0.2)
        raise AssertionError(f"no child process appeared:\n{self.output()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.log.close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[dict[str, Served]]:
    started: dict[str, Served] = {}
    yield started
    for s in started.values():
        s.stop()
        for pid in descendants(s.proc.pid):  # (a failing test leaves nothing behind either)
            os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2:].split()[:1] != ["Z"]


def _stopped_leaves_nothing(s: Served, sig: signal.Signals, seen: set[int]) -> None:
    s.proc.send_signal(sig)
    try:
        s.proc.wait(timeout=60)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"tongban serve did not stop on {sig.name}:\n{s.output()}") from exc
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(p) for p in seen):
        time.sleep(0.1)
    left = [p for p in seen if _alive(p)]
    assert not left, f"still running after {sig.name}: {left}\n{s.output()[-2000:]}"


def test_sigterm_to_tongban_serve_ends_prefects_temporary_server(tmp_path: Path,
                                                                 served: dict[str, Served]) -> None:
    s = served["main"] = Served(tmp_path, {})
    s.wait_ready()
    s.receive_and_precheck()
    seen = set(s.wait_for_children())
    time.sleep(1)  # let the temporary server get going (and start anything of its own)
    seen |= set(descendants(s.proc.pid))
    _stopped_leaves_nothing(s, signal.SIGINT, seen)  # Ctrl-C at the terminal


def test_ctrl_c_ends_even_a_temporary_server_that_timed_out_at_start(tmp_path: Path,
                                                                     served: dict[str, Served]) -> None:
    # Far too short for a Prefect server to start on this machine: every attempt times out, and each
    # one Prefect gives up on stays behind as a child nobody references any more.
    # (``lazy``: the first flow run starts Prefect's own temporary server, the path where this happens;
    # serve's default starts Prefect's API itself, first thing, and waits for it)
    s = served["main"] = Served(tmp_path, {"PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "1",
                                           "TONGBAN_PREFECT_API": "lazy"})
    s.wait_ready()
    s.receive_and_precheck()
    seen = set(s.wait_for_children())
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and "Timed out while attempting to connect" not in s.output():
        seen |= set(descendants(s.proc.pid))
        time.sleep(0.2)
    assert "Timed out while attempting to connect" in s.output(), s.output()[-3000:]
    seen |= set(descendants(s.proc.pid))
    _stopped_leaves_nothing(s, signal.SIGINT, seen)  # Ctrl-C at the terminal
