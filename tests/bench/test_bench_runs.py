"""The benchmark suite runs from its one command and reports every figure next to its baseline.

These are benchmarks, not tests: nothing here asserts a time. It only proves that on a tiny N the
command produces each figure with a same-run baseline and a ratio, and writes them as JSON.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from bench.__main__ import main

#: Every performance target (docs/performance.md), as the report names them (the start of the name).
FIGURES = (
    "transition (state + audit + outbox)",
    "intake of 5 scanned PDFs",
    "peak memory, streamed upload",
    "SLA sweep, nothing due",
    "reviewer's first queue page",
    "forward of a",
    "calendar recompute, year published",
    "case transfer of 10 MB between deployments",
    "peak memory growth, federation sender",
    "peak memory growth, federation receiver",
)


def test_the_tiny_run_reports_every_figure_with_its_baseline_and_ratio(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    assert main(["--tiny", "--backend", "sqlite", "--json", str(out)]) == 0

    report = json.loads(out.read_text())
    results = report["results"]
    for figure in FIGURES:
        found = [r for r in results if r["name"].startswith(figure)]
        assert found, f"no figure '{figure}' in the report"
        for r in found:
            assert r["backend"] == "sqlite"
            assert r["value"] > 0 or figure.startswith("peak memory"), r
            assert r["baseline"] is not None and r["baseline"] > 0, r
            assert r["ratio"] is not None and math.isfinite(r["ratio"]), r
            assert r["target"] and isinstance(r["pass"], bool), r
    # The figures that must stay flat are measured at more than one N.
    sweep_ns = {r["n"] for r in results if r["name"].startswith("SLA sweep")}
    assert len(sweep_ns) >= 2
