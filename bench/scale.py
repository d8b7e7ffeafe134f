"""The figures that must not grow with the number of open cases: the SLA sweep and the queue page.

One scratch database per backend grows to each N in turn (bulk loaded, see ``bench.data``); at each
N both figures are measured. Their baseline is the same figure at the smallest N of the run, so the
ratio says directly how far the cost is from flat.
"""

from __future__ import annotations

from bench import queue_page, sla_sweep
from bench.data import add_open_cases, analyze, prepare_world
from bench.runner import BenchDB, Profile, Result, console

NAME = "scale"


def run(db: BenchDB, profile: Profile) -> list[Result]:
    world = prepare_world(db)
    loaded = 0
    results: list[Result] = []
    sweep_first = queue_first = None
    sweep_repeats = max(3, profile.queue_repeats // 5)
    for n in profile.scale_ns:
        add_open_cases(db, world, n - loaded, show=profile.name != "tiny")
        loaded = n
        analyze(db)
        sweep_s, label = sla_sweep.measure(db, sweep_repeats)
        queue_s, floor_s = queue_page.measure(db, profile.queue_repeats)
        sweep_first = sweep_first or sweep_s
        queue_first = queue_first or queue_s
        smallest = f"same, N = {profile.scale_ns[0]:,}"
        sweep_ratio = sweep_s / sweep_first
        results.append(Result(
            name="SLA sweep, nothing due", backend=db.backend, value=sweep_s * 1000, unit="ms",
            baseline=sweep_first * 1000, baseline_label=smallest, ratio=sweep_ratio,
            target="< 1 s; flat in N (≤ 2× smallest N)", passed=sweep_s < 1 and sweep_ratio <= 2, n=n,
            note=label if "query only" in label else "",
            extra={"measured": label},
        ))
        results.append(Result(
            name="reviewer's first queue page", backend=db.backend, value=queue_s * 1000, unit="ms",
            baseline=queue_first * 1000, baseline_label=smallest, ratio=queue_s / queue_first,
            target="< 50 ms", passed=queue_s < 0.05, n=n,
            extra={"same_page_by_primary_key_ms": floor_s * 1000, "over_pk_floor": queue_s / floor_s},
        ))
        console.print(f"  {db.backend} N={n:,}: sweep {sweep_s * 1000:.1f} ms ({label}), "
                      f"queue page {queue_s * 1000:.1f} ms (same page by primary key {floor_s * 1000:.1f} ms)")
    return results
