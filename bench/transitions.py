"""Transitions per second: 预审通过 (precheck_pass) through the transition service, one transaction each.

``precheck_pass`` is the event that writes all three things a transition can write: the case row
(state, version, step clock), the hash-chained audit event and an outbox job (``forward``). The
baseline is what a hand-written version needs at the least: the same three statements as bare SQL
(an UPDATE guarded by the version, two INSERTs) in one transaction each, on the same engine.
"""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import event, text

from bench.data import ReceivedCase, add_received_cases, prepare_world
from bench.runner import BENCH_NOW, BenchDB, Profile, Result
from states.transition.service import apply_event
from storage.db import transaction

NAME = "transitions"

_UPDATE = text(
    "UPDATE cases SET state = 'prechecked', version = version + 1, step = 'forward', step_started_at = :now,"
    " step_due_at = :due, updated_at = :now WHERE id = :id AND version = :version"
)
_AUDIT = text(
    "INSERT INTO audit_events (case_id, seq, at, actor, actor_role, event, from_state, to_state, version,"
    " payload, prev_hash, hash) VALUES (:id, 1, :now, 'bj_clerk', 'clerk', 'precheck_pass', 'received',"
    " 'prechecked', :next, :payload, :prev, :hash)"
)
_OUTBOX = text(
    "INSERT INTO outbox_jobs (case_id, kind, payload, dedupe_key, status, attempts, available_at, created_at)"
    " VALUES (:id, 'forward', :payload, :key, 'pending', 0, :now, :now)"
)


def _bare_sql(db: BenchDB, cases: list[ReceivedCase]) -> float:
    """The floor: three statements per case, one transaction each; returns seconds."""
    engine = db.runtime.engine
    now: Any = BENCH_NOW if db.dialect == "postgresql" else BENCH_NOW.strftime("%Y-%m-%d %H:%M:%S.%f")
    due = now
    start = time.perf_counter()
    for c in cases:
        with engine.begin() as conn:
            conn.execute(_UPDATE, {"now": now, "due": due, "id": c.id, "version": c.version})
            conn.execute(_AUDIT, {"id": c.id, "now": now, "next": c.version + 1, "payload": "{}",
                                  "prev": "0" * 64, "hash": "f" * 64})
            conn.execute(_OUTBOX, {"id": c.id, "now": now, "key": f"forward:{c.case_no}:v{c.version + 1}",
                                   "payload": json.dumps({"case_no": c.case_no, "event": "precheck_pass"})})
    return time.perf_counter() - start


def _service(db: BenchDB, cases: list[ReceivedCase]) -> float:
    """The real thing: ``apply_event`` in the caller's one transaction; returns seconds."""
    rt = db.runtime
    clerks = {a.zone_id: a for a in db.users.values() if a.role == "clerk"}
    start = time.perf_counter()
    for c in cases:
        with transaction(rt.session_factory) as s:
            apply_event(db_session=s, case_no=c.case_no, actor=clerks[c.receiving_zone_id], event="precheck_pass",
                        version=None, payload={}, now=BENCH_NOW, clock=rt.clock)
    return time.perf_counter() - start


def statements_per_transition(db: BenchDB, cases: list[ReceivedCase]) -> tuple[float, list[str]]:
    """How many SQL statements one transition sends (machine-independent), and the first one's list."""
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(" ".join(statement.split())[:90])

    event.listen(db.runtime.engine, "before_cursor_execute", count)
    try:
        _service(db, cases)
    finally:
        event.remove(db.runtime.engine, "before_cursor_execute", count)
    per = len(seen) / len(cases)
    return per, seen[: round(per)]


def run(db: BenchDB, profile: Profile) -> list[Result]:
    world = prepare_world(db, applicants=50)
    n = profile.transitions
    cases = add_received_cases(db, world, 2 * n + 5)
    baseline_cases, service_cases, counted = cases[:n], cases[n:2 * n], cases[2 * n:]
    # Warm both paths (connection pool, statement caches, the lifecycle class) before timing.
    warm = 10
    _bare_sql(db, baseline_cases[:warm])
    _service(db, service_cases[:warm])
    # Alternate blocks so that a noisy neighbour hurts both sides alike.
    blocks = 4
    size = max(1, (n - warm) // blocks)
    base_s = serv_s = 0.0
    done = 0
    for b in range(blocks):
        lo, hi = warm + b * size, warm + (b + 1) * size
        base_s += _bare_sql(db, baseline_cases[lo:hi])
        serv_s += _service(db, service_cases[lo:hi])
        done += hi - lo
    per, first = statements_per_transition(db, counted)
    rate, base_rate = done / serv_s, done / base_s
    ratio = base_rate / rate
    return [Result(
        name="transition (state + audit + outbox)", backend=db.backend, value=rate, unit="/s",
        baseline=base_rate, baseline_label="bare UPDATE + 2 INSERT", ratio=ratio,
        target="≤ 3× baseline and ≥ 300/s", passed=ratio <= 3 and rate >= 300, n=done,
        note=f"{per:.0f} SQL statements per transition (bare: 3), plus BEGIN/COMMIT" if first else "",
        extra={"ms_per_transition": 1000 / rate, "ms_per_bare": 1000 / base_rate,
               "statements_per_transition": per, "statements": first},
    )]
