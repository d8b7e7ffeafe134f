"""``python -m bench [--quick | --tiny] [--json results.json]``: every figure, on SQLite and PostgreSQL.

Each figure runs next to its baseline in the same process, on the same scratch database and object
store, so the ratios hold on any machine; the absolute targets are those of docs/performance.md for the
2-core machines here. PostgreSQL is looked for where the test suite looks (``--pg-url`` to say
where); when there is none, the run says so and measures SQLite only.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

# Prefect: no telemetry (the network is closed here) and quiet logs; set before prefect is imported.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from bench import (  # noqa: E402
    calendar_recompute,
    federation,
    first_forward,
    forward,
    intake,
    scale,
    scale_out,
    transitions,
    upload_memory,
)
from bench.peers import figure as peers  # noqa: E402
from bench.runner import PROFILES, Result, bench_db, console, find_postgres, print_table, write_json  # noqa: E402

#: Every figure, in the order they run on each backend's one scratch database.
FIGURE_MODULES: dict[str, ModuleType] = {"scale": scale, "transitions": transitions, "intake": intake,
                                         "upload_memory": upload_memory, "forward": forward,
                                         "calendar_recompute": calendar_recompute, "federation": federation,
                                         "peers": peers, "first_forward": first_forward, "scale_out": scale_out}
FIGURES = tuple(FIGURE_MODULES)
#: Left out of the tiny run (the test suite's) unless named with --only: servers of their own,
#: optional dependencies, tens of seconds each.
NOT_TINY = ("peers", "first_forward", "scale_out")


def run_suite(*, profile: str = "full", backends: Sequence[str] = ("sqlite", "postgresql"),
              only: Sequence[str] | None = None, pg_url: str | None = None,
              workdir: Path | None = None) -> tuple[list[Result], list[str]]:
    """Run the selected figures; returns the results and the notes (e.g. why PostgreSQL was skipped)."""
    prof = PROFILES[profile]
    selected = [f for f in FIGURES if ((f in only) if only else not (profile == "tiny" and f in NOT_TINY))]
    notes: list[str] = []
    chosen = list(backends)
    pg_server = None
    if "postgresql" in chosen:
        pg_server, detail = find_postgres([pg_url] if pg_url else None)
        if pg_server is None:
            msg = f"PostgreSQL is not reachable, so only SQLite is measured ({detail})"
            console.print(f"[bold yellow]{msg}[/]")
            notes.append(msg)
            chosen.remove("postgresql")
        else:
            notes.append(f"PostgreSQL {detail} (scratch databases created and dropped)")
    results: list[Result] = []
    with contextlib.ExitStack() as stack:
        root = Path(workdir) if workdir else Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tb-bench-")))
        prefect_up = False
        for backend in chosen:
            with bench_db(backend, root, pg_server_url=pg_server, label="bench") as db:
                # The upload figure's server boots (seconds of imports) while the others run.
                server = upload_memory.launch(db, prof) if "upload_memory" in selected else None
                try:
                    if {"forward", "peers"} & set(selected) and not prefect_up:
                        stack.enter_context(forward.prefect_server())  # once for the whole run
                        prefect_up = True
                    # Scale first: its "nothing due" needs a database where no transition has run yet.
                    for name in selected:
                        console.rule(f"{name} · {backend}")
                        start = time.perf_counter()
                        if name == "upload_memory":
                            results += upload_memory.run(db, prof, server)
                            server = None
                        else:
                            results += FIGURE_MODULES[name].run(db, prof)
                        console.print(f"  done in {time.perf_counter() - start:.1f} s")
                finally:
                    if server is not None:
                        server.close()
    return results, notes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="every figure on small N (a minute or two)")
    size.add_argument("--tiny", action="store_true", help="every figure on tiny N (a smoke test: seconds)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON to this file")
    parser.add_argument("--backend", action="append", choices=("sqlite", "postgresql"),
                        help="measure only this backend (repeatable; default: both)")
    parser.add_argument("--only", action="append", choices=FIGURES, help="run only this figure (repeatable)")
    parser.add_argument("--svg", type=Path, help="also draw cost against N (sweep, queue page) as SVG here")
    parser.add_argument("--pg-url", help="SQLAlchemy URL of a PostgreSQL server to create scratch databases on")
    args = parser.parse_args(argv)
    profile = "tiny" if args.tiny else "quick" if args.quick else "full"
    start = time.perf_counter()
    results, notes = run_suite(profile=profile, backends=args.backend or ("sqlite", "postgresql"),
                               only=args.only, pg_url=args.pg_url)
    print_table(results)
    for note in notes:
        console.print(f"[dim]{note}[/]")
    failed = [r for r in results if r.passed is False]
    console.print(f"{len(results)} figures, {len(failed)} missing their target, "
                  f"profile {profile}, {time.perf_counter() - start:.0f} s")
    if args.json:
        write_json(args.json, results, profile=profile, notes=notes)
        console.print(f"written to {args.json}")
    if args.svg:
        from bench.chart import render_svg

        args.svg.write_text(render_svg([r.as_json() for r in results]))
        console.print(f"chart drawn to {args.svg}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
