"""The SLA sweep with N open cases and nothing due: its cost must follow the alerts due, not N.

When ``states.sla.sweep.sweep`` exists it is called as the scheduled flow calls it, once, on the
bench's fixed "now"; until it lands the figure is the query that finds due alerts (the watched
deadlines whose next alert is due), labelled as such.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from sqlalchemy import text

from bench.data import has_table
from bench.runner import BENCH_NOW, BenchDB, median_time
from storage.db import transaction

NAME = "sla_sweep"

_DUE_DEADLINES = text(
    "SELECT id, case_id, step, visit, next_level, next_alert_at FROM case_deadlines"
    " WHERE next_alert_at <= :now ORDER BY next_alert_at LIMIT 500"
)
_DUE_CASES = text(
    "SELECT id, case_no, step, step_due_at FROM cases WHERE closed = :false AND step_due_at <= :now"
    " ORDER BY step_due_at LIMIT 500"
)


def _sweep_call(db: BenchDB) -> tuple[Callable[[], Any], str] | None:
    """A zero-argument call of the real sweep, or None when it is not there (yet) or cannot be called."""
    try:
        from states.sla import sweep as sweep_module
    except ImportError:
        return None
    fn = getattr(sweep_module, "sweep", None)
    if fn is None:
        return None
    rt = db.runtime
    known: dict[str, Any] = {
        "runtime": rt, "session_factory": rt.session_factory, "now": BENCH_NOW, "clock": rt.clock,
        "calendar": rt.calendar, "settings": rt.settings, "store": rt.store,
    }
    params = inspect.signature(fn).parameters
    wants_session = "db_session" in params
    kwargs = {name: known[name] for name in params if name in known}
    missing = [n for n, p in params.items() if p.default is p.empty and n not in known and n != "db_session"
               and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
    if missing:
        return None

    def call() -> Any:
        if wants_session:
            with transaction(rt.session_factory) as s:
                return fn(db_session=s, **kwargs)
        return fn(**kwargs)

    return call, "states.sla.sweep.sweep"


def measure(db: BenchDB, repeats: int) -> tuple[float, str]:
    """Median seconds of one sweep, and what was measured."""
    real = _sweep_call(db)
    if real is not None:
        call, label = real
        return median_time(call, repeats), label
    engine = db.runtime.engine
    now: Any = BENCH_NOW if db.dialect == "postgresql" else BENCH_NOW.strftime("%Y-%m-%d %H:%M:%S.%f")
    if has_table(db, "case_deadlines"):
        query, label, params = _DUE_DEADLINES, "due-alerts query only (sweep not merged yet)", {"now": now}
    else:
        query, label, params = _DUE_CASES, "due-steps query only (sweep not merged yet)", {"now": now,
                                                                                        "false": False}

    def due_query() -> int:
        with engine.connect() as conn:
            return len(conn.execute(query, params).all())

    if due_query():
        raise RuntimeError("the generated data has alerts due: the sweep figure would measure work, not overhead")
    return median_time(due_query, repeats), label
