"""From 预审通过 to 已转递 as a clerk sees it: a real ``tongban serve`` on a fresh home, a real case over HTTP.

The server is started as a new user starts it (``tongban serve`` on an empty ``TONGBAN_HOME`` and an
empty ``PREFECT_HOME``: embedded mode, SQLite, migrations and the demo seed at start). As soon as
``/healthz`` answers, the clerk receives a case and sends ``precheck_pass``; the clock runs from that
request until ``GET /api/v1/cases/{no}`` shows ``forwarded`` — the outbox job claimed by the in-process
dispatcher and the real ``forward_case`` Prefect flow run to its end. The first case pays for whatever
the first flow run needs (Prefect's API, imports); the next ones are the steady state.

*Baseline*: the same ``precheck_pass`` request's own round trip (the transition, without waiting for
the forward), so the ratio says how many requests' worth a clerk waits.

``python -m bench.first_forward [--cases N] [--prefect-api background|lazy]`` runs it alone.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.http_client import Counter, free_port, parse_tokens, serve_env, wait_until_up
from bench.runner import BenchDB, Profile, Result, console

NAME = "first_forward"
ROOT = Path(__file__).resolve().parent.parent
TONGBAN = Path(sys.executable).with_name("tongban")


def measure(*, cases: int = 3, workdir: Path | None = None, extra_env: dict[str, str] | None = None,
            timeout: float = 180.0) -> dict[str, Any]:
    """Start a fresh server, forward ``cases`` cases one after the other; seconds of each and of the start."""
    with contextlib.ExitStack() as stack:
        root = workdir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tb-first-forward-")))
        home = root / "home"
        port = free_port()
        env = serve_env(str(home), PREFECT_HOME=str(root / "prefect"), **(extra_env or {}))
        log_path = root / "serve.log"
        log = stack.enter_context(log_path.open("wb"))
        launched = time.perf_counter()
        process = subprocess.Popen([str(TONGBAN), "serve", "--port", str(port)], env=env, cwd=ROOT,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

        def stop() -> None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)  # serve ends its children (web/children.py)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()

        stack.callback(stop)
        base = f"http://127.0.0.1:{port}"
        client = stack.enter_context(httpx.Client(timeout=timeout))
        wait_until_up(client, base, timeout=timeout, alive=lambda: process.poll() is None)
        up_s = time.perf_counter() - launched
        tokens = parse_tokens(log_path.read_text(errors="replace"))
        if "bj_clerk" not in tokens:
            raise RuntimeError(f"no demo accounts in the serve output:\n{log_path.read_text()[-2000:]}")
        desk = Counter(client=client, base=base, tokens=tokens)
        waits, requests = [], []
        for n in range(cases):
            case = desk.receive(seed=n)
            start = time.perf_counter()
            case = desk.event(case, "precheck_pass", "bj_clerk")
            requests.append(time.perf_counter() - start)
            desk.wait_state(case["case_no"], "forwarded", timeout=timeout)
            waits.append(time.perf_counter() - start)
        return {"server_up_s": up_s, "first_s": waits[0], "steady_s": waits[1:], "request_s": requests,
                "log_tail": log_path.read_text(errors="replace")[-1500:]}


def run(db: BenchDB, profile: Profile) -> list[Result]:
    """Once per run (the figure has its own fresh server and SQLite home, not the bench database)."""
    if db.backend != "sqlite":
        return []
    cases = 2 if profile.name == "tiny" else 4
    m = measure(cases=cases)
    steady = statistics.median(m["steady_s"])
    request = statistics.median(m["request_s"])
    console.print(f"  server up in {m['server_up_s']:.1f} s; first forward {m['first_s']:.2f} s, "
                  f"then {', '.join(f'{s:.2f}' for s in m['steady_s'])} s")
    common = dict(backend="embedded", unit="s", baseline=request, baseline_label="the precheck_pass request itself")
    return [
        Result(name="预审通过 → 已转递, first case after a fresh start", value=m["first_s"],
               ratio=m["first_s"] / request,
               target="≤ 5 s", passed=m["first_s"] <= 5, n=1, note=f"server answered {m['server_up_s']:.1f} s "
               "after launch", extra={"server_up_s": m["server_up_s"]}, **common),  # type: ignore[arg-type]
        Result(name="预审通过 → 已转递, steady state", value=steady, ratio=steady / request, target="≤ 1 s",
               passed=steady <= 1, n=len(m["steady_s"]), extra={"each_s": m["steady_s"]}, **common),  # type: ignore[arg-type]
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.first_forward", description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=1, help="fresh starts to measure")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server (repeatable)")
    args = parser.parse_args(argv)
    extra = dict(e.split("=", 1) for e in args.env)
    for _ in range(args.repeat):
        m = measure(cases=args.cases, extra_env=extra)
        print(f"up {m['server_up_s']:.2f} s  first {m['first_s']:.2f} s  steady "
              f"{' '.join(f'{s:.2f}' for s in m['steady_s'])} s  request {statistics.median(m['request_s']):.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
