"""What every figure shares: results, run profiles, scratch databases on each backend, timing, report.

A figure is only meaningful next to its baseline measured in the same run on the same machine, so a
``Result`` always carries both and the ratio between them; the report prints them side by side and
writes the same numbers as JSON so that a regression shows up as a changed ratio.
"""

from __future__ import annotations

import contextlib
import gc
import json
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from sqlalchemy import create_engine, make_url, select, text
from sqlalchemy.pool import NullPool

from config import Settings
from states.runtime import Runtime
from states.transition.rules import Actor
from storage.db import transaction
from storage.demo.seed import seed_demo
from storage.migrate import upgrade
from storage.user.models import User
from storage.zone.models import Zone

#: Wide enough for the table when the output is a file or a pipe (a terminal keeps its own width).
console = Console(width=None if sys.stdout.isatty() else 150)

#: Where PostgreSQL is looked for when ``--pg-url`` is not given (trust auth on the project's machines),
#: the same places the test suite looks (tests/servers.py).
DEFAULT_PG_URLS = (
    "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "postgresql+psycopg://root@127.0.0.1:5432/test",
)

#: The fixed "now" of every benchmark: a Tuesday 10:00 in Shanghai inside the packaged calendar.
BENCH_NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)


@dataclass
class Result:
    """One figure on one backend, next to its same-run baseline."""

    name: str
    backend: str
    value: float
    unit: str
    baseline: float | None
    baseline_label: str
    #: value / baseline for costs (lower is better), baseline / value for rates (so "2×" always means 2× worse).
    ratio: float | None
    target: str
    passed: bool | None
    n: int | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["pass"] = out.pop("passed")
        return out


@dataclass(frozen=True)
class Profile:
    """How big each figure runs: ``full`` is what docs/performance.md reports."""

    name: str
    transitions: int
    intake_cases: int
    upload_mb: int
    scale_ns: tuple[int, ...]
    queue_repeats: int
    forward_cases: int
    #: Open cases with provisional dates recomputed when their year is published (issue 12).
    recompute_cases: int = 100_000


PROFILES = {
    "tiny": Profile("tiny", transitions=60, intake_cases=2, upload_mb=4, scale_ns=(200, 1_000),
                    queue_repeats=5, forward_cases=1, recompute_cases=500),
    "quick": Profile("quick", transitions=500, intake_cases=3, upload_mb=50, scale_ns=(10_000, 50_000),
                     queue_repeats=20, forward_cases=2),
    "full": Profile("full", transitions=2_000, intake_cases=8, upload_mb=500, scale_ns=(10_000, 100_000, 1_000_000),
                    queue_repeats=50, forward_cases=5),
}


# -- backends -------------------------------------------------------------------------------------


@dataclass
class BenchDB:
    """One migrated, seeded scratch database with a filesystem object store next to it."""

    backend: str  # "sqlite" | "postgresql"
    url: str
    runtime: Runtime
    zones: dict[str, int]
    users: dict[str, Actor]
    tokens: dict[str, str]

    @property
    def dialect(self) -> str:
        return self.runtime.engine.dialect.name


def find_postgres(urls: list[str] | None = None) -> tuple[str | None, str]:
    """The first reachable server URL and its version, or (None, why not)."""
    failures = []
    for url in urls or list(DEFAULT_PG_URLS):
        engine = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 3})
        try:
            with engine.connect() as conn:
                return url, str(conn.execute(text("SHOW server_version")).scalar_one())
        except Exception as exc:  # noqa: BLE001 - every failure is reported, none is fatal
            failures.append(f"{make_url(url).render_as_string(hide_password=True)}: {str(exc).splitlines()[0]}")
        finally:
            engine.dispose()
    return None, "; ".join(failures)


@contextlib.contextmanager
def scratch_database(backend: str, workdir: Path, *, pg_server_url: str | None, label: str) -> Iterator[str]:
    """A fresh database URL (SQLite file or a new PostgreSQL database), removed afterwards."""
    if backend == "sqlite":
        path = workdir / f"{label}.db"
        yield f"sqlite:///{path}"
        return
    assert pg_server_url is not None
    name = f"tongban_bench_{label}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_server_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(pg_server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def bench_db(backend: str, workdir: Path, *, pg_server_url: str | None, label: str) -> Iterator[BenchDB]:
    """Scratch database migrated to head and seeded with the demo zones, catalog and users."""
    home = workdir / f"{backend}-{label}"
    home.mkdir(parents=True, exist_ok=True)
    with scratch_database(backend, home, pg_server_url=pg_server_url, label=label) as url:
        settings = Settings(home=home, database_url=url, storage_url=f"file://{home / 'objects'}",  # type: ignore[call-arg]
                            mode="embedded", max_file_bytes=2 * 1024 ** 3, _env_file=None)
        runtime = Runtime(settings, now_fn=lambda: BENCH_NOW)
        upgrade(url)
        with transaction(runtime.session_factory) as s:
            created = seed_demo(db_session=s)
            zones = {z.code: z.id for z in s.scalars(select(Zone))}
            users = {u.username: Actor(username=u.username, role=u.role, zone_id=u.zone_id, user_id=u.id)
                     for u in s.scalars(select(User))}
        try:
            yield BenchDB(backend=backend, url=url, runtime=runtime, zones=zones, users=users,
                          tokens={u.username: u.token for u in created})
        finally:
            runtime.dispose()


# -- timing ---------------------------------------------------------------------------------------


def timed(fn: Callable[[], Any]) -> float:
    """Seconds one call takes (garbage collection left on: the application runs with it)."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median_time(fn: Callable[[], Any], repeats: int, *, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    gc.collect()
    return statistics.median(timed(fn) for _ in range(repeats))


def progress() -> Progress:
    """The bar shown while bulk data loads."""
    return Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=False)


# -- report ---------------------------------------------------------------------------------------


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    if abs(value) >= 100:
        s = f"{value:,.0f}"
    elif abs(value) >= 10:
        s = f"{value:.1f}"
    else:
        s = f"{value:.3g}"
    return f"{s} {unit}".strip()


def print_table(results: list[Result]) -> None:
    table = Table(title="tongban benchmarks (same-run baselines)", show_lines=False)
    for col, justify in (("figure", "left"), ("backend", "left"), ("N", "right"), ("value", "right"),
                         ("baseline", "right"), ("ratio", "right"), ("target", "left"), ("", "center")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for r in results:
        verdict = "—" if r.passed is None else ("[green]pass[/]" if r.passed else "[red]FAIL[/]")
        base = f"{_fmt(r.baseline, r.unit)}\n[dim]{r.baseline_label}[/]" if r.baseline is not None else "—"
        name = r.name + (f"\n[dim]{r.note}[/]" if r.note else "")
        table.add_row(name, r.backend, f"{r.n:,}" if r.n else "", _fmt(r.value, r.unit), base,
                      f"{r.ratio:.2f}×" if r.ratio is not None else "—", r.target, verdict)
    console.print(table)


def write_json(path: Path, results: list[Result], *, profile: str, notes: list[str]) -> None:
    body = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "profile": profile,
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": _cpu_count()},
        "notes": notes,
        "results": [r.as_json() for r in results],
    }
    path.write_text(json.dumps(body, ensure_ascii=False, indent=2) + "\n")


def _cpu_count() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
