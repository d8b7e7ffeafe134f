"""Forward (转递) of a 10 MB case through the Prefect flow, in-process, against the same steps as plain calls.

Both sides do the same work on identical cases (5 scanned PDFs, ≈ 10 MB, pre-checked): verify the
sources, copy them into the handling zone's area, build the bookmarked packet and its manifest,
verify the copies, and record the ``forward`` transition. ``flows.forward.forward_plain`` calls the
steps as functions; ``flows.forward.forward_case`` runs them as Prefect tasks of one flow run,
against one Prefect server (``prefect_test_harness``) started once for the whole benchmark run.
The difference is what orchestration costs per forwarded case.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager

from bench.intake import CASE_BYTES
from bench.runner import BENCH_NOW, BenchDB, Profile, Result, console
from bench.scans import case_files, receive_form, uploads
from flows import runtime as flow_runtime
from states.intake.receipt import receive_case
from states.transition.service import apply_event
from storage.db import transaction

NAME = "forward"


@contextmanager
def prefect_server() -> Iterator[None]:
    """One temporary Prefect server for every flow run of the benchmark (docs/architecture.md#flows: start it once)."""
    from prefect.testing.utilities import prefect_test_harness

    start = time.perf_counter()
    with prefect_test_harness(server_startup_timeout=120):
        console.print(f"  Prefect test server up in {time.perf_counter() - start:.1f} s")
        yield


def _prechecked_case(db: BenchDB, files: list[bytes]) -> str:
    rt = db.runtime
    form, material_ids = receive_form(db)
    case_no = receive_case(session_factory=rt.session_factory, store=rt.store, clock=rt.clock,
                           actor=db.users["bj_clerk"], form=form, uploads=uploads(files, material_ids),
                           now=BENCH_NOW, max_bytes=rt.settings.max_file_bytes)
    with transaction(rt.session_factory) as s:
        apply_event(db_session=s, case_no=case_no, actor=db.users["bj_clerk"], event="precheck_pass",
                    version=None, payload={}, now=BENCH_NOW, clock=rt.clock)
    return case_no


def run(db: BenchDB, profile: Profile) -> list[Result]:
    from flows.dispatch import in_process_settings
    from flows.forward import forward_case, forward_plain

    files = case_files(CASE_BYTES if profile.name != "tiny" else CASE_BYTES // 10)
    count = profile.forward_cases
    cases = [_prechecked_case(db, files) for _ in range(2 * count + 2)]
    flow_runtime.use(db.runtime)
    # Warm both paths once (imports, the first flow run's registration with the server).
    if not forward_plain(db.runtime, cases.pop()) or not forward_case(cases.pop()):
        raise RuntimeError("warm-up forward did nothing: the cases were not waiting to be forwarded")
    plain, flow = [], []
    for _ in range(count):
        case_no = cases.pop()
        start = time.perf_counter()
        ok_plain = forward_plain(db.runtime, case_no)
        plain.append(time.perf_counter() - start)
        case_no = cases.pop()
        start = time.perf_counter()
        with in_process_settings():  # as the embedded dispatcher runs it
            ok_flow = forward_case(case_no)
        flow.append(time.perf_counter() - start)
        if not (ok_plain and ok_flow):
            raise RuntimeError("a forward did nothing: the figure would not measure a forward")
    value, baseline = statistics.median(flow), statistics.median(plain)
    overhead = value - baseline
    return [Result(
        name=f"forward of a {sum(map(len, files)) / 1024 ** 2:.0f} MB case, Prefect flow", backend=db.backend,
        value=value * 1000, unit="ms", baseline=baseline * 1000, baseline_label="same steps, plain functions",
        ratio=value / baseline, target="overhead < 0.5 s", passed=overhead < 0.5, n=count,
        note=f"overhead {overhead * 1000:.0f} ms per forward",
        extra={"overhead_ms": overhead * 1000},
    )]
