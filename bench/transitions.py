"""Transitions per second: 预审通过 (precheck_pass) through the transition service, one transaction each.

Also counted, machine-independent: the SQL statements each event kind sends (``WALKS`` drive cases
through every event), printed after the figure and kept in the JSON.

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
from bench.runner import BENCH_NOW, BenchDB, Profile, Result, console
from states.transition.rules import SYSTEM, may_send
from states.transition.service import apply_event, get_case
from storage.case.models import StoredFile
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
        if not statement.lstrip().upper().startswith("BEGIN"):  # SQLite's BEGIN IMMEDIATE: both sides send it
            seen.append(" ".join(statement.split())[:90])

    event.listen(db.runtime.engine, "before_cursor_execute", count)
    try:
        _service(db, cases)
    finally:
        event.remove(db.runtime.engine, "before_cursor_execute", count)
    per = len(seen) / len(cases)
    return per, seen[: round(per)]


#: Walks through the lifecycle that together send every event a person or the system sends.
WALKS: tuple[tuple[str, ...], ...] = (
    ("precheck_pass", "forward", "accept", "claim", "approve", "mail_result", "deliver"),
    ("request_supplement", "supplement", "precheck_pass", "forward", "return", "supplement", "reject"),
    ("precheck_pass", "forward", "accept", "claim", "deny", "ready_for_pickup", "deliver"),
    ("withdraw",),
)


def statements_per_event(db: BenchDB, cases: list[ReceivedCase]) -> dict[str, int]:
    """Statements each event kind sends, BEGIN and COMMIT included (one transaction per event)."""
    rt = db.runtime
    actors = [*db.users.values(), SYSTEM]
    counts: dict[str, int] = {}
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    for walk, c in zip(WALKS, cases, strict=False):
        for name in walk:
            with transaction(rt.session_factory) as s:
                case = get_case(db_session=s, case_no=c.case_no)
                actor = next(a for a in actors if may_send(a, case, name) and not a.is_system) \
                    if name not in ("forward",) else SYSTEM
                payload = _payload_for(s, case, name)
            seen.clear()
            event.listen(rt.engine, "before_cursor_execute", count)
            try:
                with transaction(rt.session_factory) as s:
                    apply_event(db_session=s, case_no=c.case_no, actor=actor, event=name, version=None,
                                payload=payload, now=BENCH_NOW, clock=rt.clock)
            finally:
                event.remove(rt.engine, "before_cursor_execute", count)
            # BEGIN (SQLite: BEGIN IMMEDIATE, sent as a statement) and COMMIT (a driver call) included.
            counts.setdefault(name, len(seen) + (1 if db.dialect == "postgresql" else 0) + 1)
    return counts


def _payload_for(s: Any, case: Any, name: str) -> dict[str, Any]:
    if name in ("reject", "withdraw", "return"):
        return {"reason": "bench"}
    if name == "request_supplement":
        return {"materials": [{"material_id": case.materials[0].id, "problem": "missing"}]}
    if name in ("approve", "deny"):
        doc = StoredFile(case_id=case.id, purpose="result", zone_code="bench", filename="决定书.pdf", kind="pdf",
                         size=1, sha256="0" * 64, object_key=f"bench/{case.case_no}/{name}.pdf")
        s.add(doc)
        s.flush()
        return {"result_file_id": doc.id, "reason": "bench"}
    if name == "mail_result":
        return {"carrier": "EMS", "tracking_no": "RR473124829GB"}
    return {}


def run(db: BenchDB, profile: Profile) -> list[Result]:
    world = prepare_world(db, applicants=50)
    n = profile.transitions
    cases = add_received_cases(db, world, 2 * n + 5 + len(WALKS))
    baseline_cases, service_cases, counted = cases[:n], cases[n:2 * n], cases[2 * n:2 * n + 5]
    walked = cases[2 * n + 5:]
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
    by_event = statements_per_event(db, walked)
    console.print(f"[bold]statements per event[/bold] ({db.backend}, BEGIN and COMMIT included; bare SQL: "
                  f"{3 + 2}): " + ", ".join(f"{k} {v}" for k, v in by_event.items()))
    rate, base_rate = done / serv_s, done / base_s
    floor = 500 if db.dialect == "postgresql" else 1000  # transitions/s on a quiet 2-core machine
    ratio = base_rate / rate
    return [Result(
        name="transition (state + audit + outbox)", backend=db.backend, value=rate, unit="/s",
        baseline=base_rate, baseline_label="bare UPDATE + 2 INSERT", ratio=ratio,
        target=f"≤ 3× baseline and ≥ {floor}/s", passed=ratio <= 3 and rate >= floor, n=done,
        note=f"{per:.0f} SQL statements per transition (bare: 3), plus BEGIN/COMMIT" if first else "",
        extra={"ms_per_transition": 1000 / rate, "ms_per_bare": 1000 / base_rate,
               "statements_per_transition": per, "statements": first,
               "statements_per_event_with_begin_commit": by_event},
    )]
