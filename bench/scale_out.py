"""The API under concurrent clients: 1, 2 and 4 uvicorn workers on PostgreSQL, 16 clients, whole lifecycle.

Each worker count gets a fresh ``uvicorn --workers W web.app:create_app`` (distributed mode: the web
processes alone, configured by ``TONGBAN_*`` only) on the bench's PostgreSQL database. 16 client
threads (one ``httpx.Client`` each, loopback) each take cases through the whole lifecycle over HTTP:
收件 with two small scans per checklist line, 预审通过, then — the forward being the system's step,
done in production by the dispatcher's Prefect flow — ``flows.forward.forward_plain`` called by the
client itself on the same database and store, then 接收, 认领, the result document's upload, 办结
(approve), 寄出 or 待领取, 送达. Between steps the client reads the case, as its page would.

Bounded: a number of cases per client and a time limit after which no new case is started.
*Value*: completed cases per second; p50/p95/p99 per endpoint in the JSON and the docs.
*Baseline*: the same with one worker (the ratio says what 2 and 4 workers bring).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from bench.http_client import Counter, Timings, free_port, wait_until_up
from bench.runner import BenchDB, Profile, Result, console

NAME = "scale_out"
ROOT = Path(__file__).resolve().parent.parent
CLIENTS = 16
#: Events after the forward, in the order a case meets them; each is sent by whoever may send it.
AFTER_FORWARD = ("accept", "claim", "approve", "mail_result", "ready_for_pickup", "deliver")
CANDIDATES = ("tj_clerk", "tj_reviewer", "tj_supervisor", "bj_clerk", "bj_reviewer", "bj_supervisor")


def _payload(event: str) -> dict[str, Any]:
    if event == "mail_result":
        return {"carrier": "EMS", "tracking_no": "RR473124829GB"}
    if event == "deliver":
        return {"signed_on": "2026-03-12", "signatory": "张三"}
    return {}


class Lifecycle:
    """Who sends which event, found on the first case (then fixed: the rules do not change mid-run)."""

    def __init__(self) -> None:
        self.sender: dict[str, str] = {}
        self.lock = threading.Lock()

    def next_event(self, desk: Counter, case_no: str) -> tuple[str, str, dict[str, Any]] | None:
        """(event, user, case as that user sees it) for the next step, or None when the case is closed."""
        for user in ([*{self.sender[e] for e in AFTER_FORWARD if e in self.sender}] + list(CANDIDATES)):
            if user not in desk.tokens:
                continue
            case = desk.get(case_no, user)
            for event in AFTER_FORWARD:
                if event in case["allowed_events"]:
                    with self.lock:
                        self.sender.setdefault(event, user)
                    if self.sender[event] == user:
                        return event, user, case
            if case["state"] in ("delivered", "closed"):
                return None
        return None


def _one_case(desk: Counter, db: BenchDB, plan: Lifecycle, seed: int) -> None:
    from flows.forward import forward_plain

    case = desk.receive(seed=seed)
    case = desk.event(case, "precheck_pass", "bj_clerk")
    start = time.perf_counter()
    if not forward_plain(db.runtime, case["case_no"]):
        raise RuntimeError(f"{case['case_no']} was not forwarded")
    desk.timings.add("forward (system step, plain)", time.perf_counter() - start)
    for _ in range(len(AFTER_FORWARD) + 2):
        step = plan.next_event(desk, case["case_no"])
        if step is None:
            return
        event, user, seen = step
        payload = _payload(event)
        if event == "approve":
            files = [("purpose", (None, "result", "text/plain")),
                     ("files", ("决定书.pdf", _result_pdf(), "application/pdf"))]
            up = desk._call("POST /cases/{no}/files", "POST", f"/api/v1/cases/{case['case_no']}/files", user,
                            files=files)  # type: ignore[arg-type]
            payload = {"result_file_id": up.json()[0]["id"]}
            seen = desk.get(case["case_no"], user)
        desk.event(seen, event, user, **payload)
    raise RuntimeError(f"{case['case_no']} did not reach its end")


def _result_pdf() -> bytes:
    from bench.scans import scanned_pdf

    return scanned_pdf(60_000, 1, 3)


def _launch(db: BenchDB, workers: int, log_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    settings = db.runtime.settings
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("TONGBAN_")},
           "TONGBAN_HOME": str(settings.home), "TONGBAN_DATABASE_URL": db.url,
           "TONGBAN_STORAGE_URL": settings.resolved_storage_url(), "TONGBAN_MODE": "distributed",
           "TONGBAN_SECRET_KEY": secrets.token_urlsafe(32), "DO_NOT_TRACK": "1"}
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "web.app:create_app", "--host", "127.0.0.1",
         "--port", str(port), "--workers", str(workers), "--log-level", "warning", "--no-access-log"],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)
    log.close()
    return process, f"http://127.0.0.1:{port}"


def _stop(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def measure(db: BenchDB, workers: int, *, cases_per_client: int, time_limit: float) -> dict[str, Any]:
    process, base = _launch(db, workers, db.runtime.settings.home / f"scale-out-{workers}.log")
    plan = Lifecycle()
    timings = Timings()
    errors: list[str] = []
    done = [0]
    lock = threading.Lock()
    try:
        with httpx.Client(timeout=120) as probe:
            wait_until_up(probe, base, alive=lambda: process.poll() is None)
        # One case first, alone: finds who sends what and warms every worker's code paths a little.
        with httpx.Client(timeout=120) as client:
            _one_case(Counter(client=client, base=base, tokens=db.tokens), db, plan, seed=99)
        stop_at = time.monotonic() + time_limit

        def client_loop(n: int) -> None:
            with httpx.Client(timeout=120) as client:
                desk = Counter(client=client, base=base, tokens=db.tokens)
                try:
                    for k in range(cases_per_client):
                        if time.monotonic() > stop_at:
                            break
                        _one_case(desk, db, plan, seed=n + k)
                        with lock:
                            done[0] += 1
                except Exception as exc:  # noqa: BLE001 - reported with the figure
                    errors.append(f"client {n}: {exc}"[:300])
                with lock:
                    timings.merge(desk.timings)

        threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(CLIENTS)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - start
    finally:
        _stop(process)
    percentiles = {}
    for name, values in sorted(timings.by_endpoint.items()):
        qs = statistics.quantiles(values, n=100, method="inclusive") if len(values) > 1 else values * 99
        percentiles[name] = {"n": len(values), "p50_ms": qs[49] * 1000, "p95_ms": qs[94] * 1000,
                             "p99_ms": qs[98] * 1000}
    return {"workers": workers, "cases": done[0], "wall_s": wall, "cases_per_s": done[0] / wall,
            "errors": errors, "endpoints": percentiles}


def run(db: BenchDB, profile: Profile) -> list[Result]:
    if db.dialect != "postgresql":
        return []
    per_client, limit = {"tiny": (1, 30.0), "quick": (2, 60.0)}.get(profile.name, (6, 120.0))
    runs = []
    for workers in (1, 2, 4):
        m = measure(db, workers, cases_per_client=per_client, time_limit=limit)
        runs.append(m)
        worst = max(m["endpoints"].items(), key=lambda kv: kv[1]["p95_ms"])
        console.print(f"  {workers} worker(s): {m['cases']} cases in {m['wall_s']:.1f} s = {m['cases_per_s']:.2f}/s; "
                      f"slowest p95 {worst[0]} {worst[1]['p95_ms']:.0f} ms; {len(m['errors'])} errors")
        for e in m["errors"][:3]:
            console.print(f"    [red]{e}[/]")
    base = runs[0]["cases_per_s"]
    return [Result(
        name=f"scale-out, {m['workers']} uvicorn worker(s), {CLIENTS} clients, whole lifecycle",
        backend=db.backend, value=m["cases_per_s"], unit="cases/s", baseline=base,
        baseline_label="same, 1 worker", ratio=base / m["cases_per_s"] if m["cases_per_s"] else float("inf"),
        target="no errors; reported", passed=not m["errors"], n=m["cases"],
        note=f"{m['cases']} cases in {m['wall_s']:.0f} s", extra=m) for m in runs]
