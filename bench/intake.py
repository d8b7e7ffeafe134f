"""Intake (收件) of a case with 5 scanned PDFs (≈ 10 MB) against hashing and writing the same bytes.

The figure is ``states.intake.receipt.receive_case`` as the API calls it: spool and hash each upload,
open every page the way the handling zone will, store it (the store fsyncs and reads back to verify),
then record case, checklist, files and audit in one transaction. The baseline is the physical floor
of "files stored and verified": SHA-256 of each file and ``put_stream`` of the same bytes into the
same store.
"""

from __future__ import annotations

import hashlib
import io
import statistics
import time
import uuid

from bench.runner import BENCH_NOW, BenchDB, Profile, Result
from bench.scans import case_files, receive_form, uploads
from states.intake.receipt import receive_case

NAME = "intake"
CASE_BYTES = 10 * 1024 * 1024


def _baseline(db: BenchDB, files: list[bytes]) -> float:
    store = db.runtime.store
    start = time.perf_counter()
    for data in files:
        sha = hashlib.sha256(data).hexdigest()
        store.put_stream(f"BENCH/floor/{uuid.uuid4().hex}.pdf", io.BytesIO(data), expected_sha256=sha)
    return time.perf_counter() - start


def _intake(db: BenchDB, files: list[bytes]) -> float:
    rt = db.runtime
    form, material_ids = receive_form(db)
    start = time.perf_counter()
    receive_case(session_factory=rt.session_factory, store=rt.store, clock=rt.clock, actor=db.users["bj_clerk"],
                 form=form, uploads=uploads(files, material_ids), now=BENCH_NOW,
                 max_bytes=rt.settings.max_file_bytes)
    return time.perf_counter() - start


def run(db: BenchDB, profile: Profile) -> list[Result]:
    files = case_files(CASE_BYTES if profile.name != "tiny" else CASE_BYTES // 10)
    _baseline(db, files)
    _intake(db, files)
    base, real = [], []
    for _ in range(profile.intake_cases):
        base.append(_baseline(db, files))
        real.append(_intake(db, files))
    value, baseline = statistics.median(real), statistics.median(base)
    ratio = value / baseline
    total_mb = sum(len(f) for f in files) / 1024 ** 2
    return [Result(
        name=f"intake of 5 scanned PDFs ({total_mb:.1f} MB)", backend=db.backend, value=value * 1000, unit="ms",
        baseline=baseline * 1000, baseline_label="sha256 + put_stream, same store", ratio=ratio,
        target="≤ 2× baseline", passed=ratio <= 2, n=profile.intake_cases,
        extra={"bytes": sum(len(f) for f in files), "MB_per_s": total_mb / value},
    )]
