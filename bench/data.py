"""Bulk data for the figures that need many cases: COPY on PostgreSQL, big executemany batches on SQLite.

A million cases through the API would take hours and measure the API, not the query under test, so
the rows are written straight into the tables the migrations made, shaped like real open cases:
two zones receiving each other's applications, every open state, deadlines computed the way the
clock computes them (step deadline, overall deadline, pauses) — and nothing due, so the SLA sweep
has nothing to do and its cost is pure overhead.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, text

from bench.runner import BENCH_NOW, BenchDB, progress
from states.sla.clock import STEP_OF_STATE
from storage.catalog.models import Item
from storage.db import transaction

#: Open states and how common each one is in a busy window's books (weights).
OPEN_STATES: dict[str, int] = {
    "received": 12, "awaiting_supplement": 6, "prechecked": 4, "forwarded": 8, "accepted": 10,
    "under_review": 30, "approved": 8, "denied": 2, "mailed": 12, "awaiting_pickup": 8,
}
BATCH = 20_000

CASE_COLUMNS = (
    "id", "case_no", "item_id", "receiving_zone_id", "handling_zone_id", "applicant_id", "state", "version",
    "closed", "received_at", "received_by_id", "assignee_id", "delivery_method", "delivery_address", "due_at",
    "step", "step_started_at", "step_due_at", "paused_since", "decided_at", "closed_at", "last_reason",
    "updated_at", "forwarded_at",
)
#: Open states a case reaches only by being forwarded (it has a ``forwarded_at``).
FORWARDED_STATES = frozenset({"forwarded", "accepted", "under_review", "approved", "denied", "mailed",
                              "awaiting_pickup"})
MATERIAL_COLUMNS = ("case_id", "item_material_id", "position", "name", "required", "provided", "verdict", "remark")
APPLICANT_COLUMNS = ("kind", "name", "id_number", "phone", "address")
DEADLINE_COLUMNS = ("case_id", "step", "visit", "started_at", "due_at", "active", "ended_at", "next_level",
                    "next_alert_at")
#: Steps whose own deadline the SLA clock watches (a row in ``case_deadlines`` each).
WATCHED_STEPS = frozenset({"precheck", "forward", "accept", "mailback"})


def _sqlite_ts(value: datetime | None) -> str | None:
    """The text SQLAlchemy's SQLite DATETIME writes (UTC, microseconds always present)."""
    return None if value is None else value.strftime("%Y-%m-%d %H:%M:%S.%f")


def bulk_insert(db: BenchDB, table: str, columns: Sequence[str], rows: Iterable[tuple[Any, ...]], *,
                total: int, description: str, show: bool = True) -> None:
    """Write rows in big batches: ``COPY … FROM STDIN`` on PostgreSQL, ``executemany`` on SQLite."""
    raw = db.runtime.engine.raw_connection()
    try:
        conn: Any = raw.driver_connection
        with progress() as bar:
            task = bar.add_task(description, total=total, visible=show)
            if db.dialect == "postgresql":
                with conn.cursor() as cur:
                    batch_rows = 0
                    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
                            batch_rows += 1
                            if batch_rows == BATCH:
                                bar.advance(task, batch_rows)
                                batch_rows = 0
                    bar.advance(task, batch_rows)
                conn.commit()
            else:
                sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
                it = iter(rows)
                while True:
                    chunk = [row for _, row in zip(range(BATCH), it, strict=False)]
                    if not chunk:
                        break
                    conn.execute("BEGIN")
                    conn.executemany(sql, chunk)
                    conn.execute("COMMIT")
                    bar.advance(task, len(chunk))
            bar.update(task, total=bar.tasks[task].completed)  # a total given as an estimate ends exact
    finally:
        raw.close()


@dataclass
class World:
    """The zones, items, users and applicants that generated cases refer to."""

    zone_ids: list[int]
    #: handling zone id → [(item id, promised days, [item material ids])]
    items_by_zone: dict[int, list[tuple[int, int, list[tuple[int, str]]]]]
    clerk_by_zone: dict[int, int]
    reviewer_by_zone: dict[int, int]
    applicant_ids: list[int]


def prepare_world(db: BenchDB, *, applicants: int = 1_000) -> World:
    """Applicants for the generated cases to point at (a thousand, reused: the queue never reads them all)."""
    bulk_insert(db, "applicants", APPLICANT_COLUMNS,
                (("enterprise", f"测试企业{n:04d}有限公司", "91350100M000100Y43", "13812345678",
                  f"天津市滨海新区第三大街{n}号") for n in range(applicants)),
                total=applicants, description="applicants", show=False)
    with transaction(db.runtime.session_factory) as s:
        items: dict[int, list[tuple[int, int, list[tuple[int, str]]]]] = {}
        for item in s.scalars(select(Item)).unique():
            items.setdefault(item.zone_id, []).append(
                (item.id, item.promised_days, [(m.id, m.name) for m in item.materials]))
        applicant_ids = list(s.scalars(text("SELECT id FROM applicants")))  # type: ignore[call-overload]
    zone_ids = sorted(db.zones.values())
    by_zone_role = {(a.zone_id, a.role): a.user_id for a in db.users.values()}
    return World(zone_ids=zone_ids, items_by_zone=items,
                 clerk_by_zone={z: by_zone_role[(z, "clerk")] for z in zone_ids},  # type: ignore[misc]
                 reviewer_by_zone={z: by_zone_role[(z, "reviewer")] for z in zone_ids},  # type: ignore[misc]
                 applicant_ids=applicant_ids)


def next_case_id(db: BenchDB) -> int:
    with db.runtime.engine.connect() as conn:
        return int(conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM cases")).scalar_one()) + 1


def _fix_sequence(db: BenchDB, table: str) -> None:
    """After COPY with explicit ids, move the sequence on so the application's own inserts still work."""
    if db.dialect == "postgresql":
        with db.runtime.engine.begin() as conn:
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                              f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"))


def analyze(db: BenchDB) -> None:
    """What autovacuum would have done by the time a table holds a million rows (PostgreSQL only;
    the embedded SQLite file is never ANALYZEd by the application, so it is not here either)."""
    if db.dialect == "postgresql":
        with db.runtime.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))


def _case_rows(db: BenchDB, world: World, first_id: int, count: int, *, seed: int,
               state: str | None = None) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(seed)
    ts: Callable[[datetime | None], Any] = _sqlite_ts if db.dialect == "sqlite" else (lambda v: v)
    states = list(OPEN_STATES)
    weights = list(OPEN_STATES.values())
    now = BENCH_NOW
    for case_id in range(first_id, first_id + count):
        receiving = world.zone_ids[case_id % len(world.zone_ids)]
        handling = world.zone_ids[(case_id + 1) % len(world.zone_ids)]
        item_id, _days, _materials = rng.choice(world.items_by_zone[handling])
        st = state or rng.choices(states, weights)[0]
        received_at = now - timedelta(minutes=rng.randint(10, 60 * 24 * 6))
        # Nothing due: every deadline lies at least five days ahead (the warning comes one working day before).
        due_at = now + timedelta(days=rng.randint(10, 40), minutes=rng.randint(0, 600))
        step = STEP_OF_STATE.get(st)
        started = now - timedelta(minutes=rng.randint(1, 600)) if step else None
        if step is None or step == "delivery":
            step_due = None
        elif step == "decide":
            step_due = due_at
        else:
            step_due = now + timedelta(days=rng.randint(5, 9), minutes=rng.randint(0, 600))
        yield (
            case_id, f"BENCH-{case_id:09d}", item_id, receiving, handling, rng.choice(world.applicant_ids), st,
            rng.randint(1, 6), False, ts(received_at), world.clerk_by_zone[receiving],
            world.reviewer_by_zone[handling] if st == "under_review" else None,
            "mail", "天津市滨海新区第三大街1号", ts(due_at), step, ts(started), ts(step_due),
            ts(now - timedelta(days=1)) if st == "awaiting_supplement" else None,
            ts(now - timedelta(hours=3)) if st in ("approved", "denied") else None,
            None, "", ts(received_at),
            ts(received_at + timedelta(minutes=5)) if st in FORWARDED_STATES else None,
        )


def _deadline_rows(db: BenchDB, cases: Iterable[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    """The watched deadlines the SLA clock keeps for each case: the overall one and the current step's.

    The next alert of each is its warning, one day before it is due, so still days away: nothing due.
    """
    parse: Callable[[Any], datetime | None]
    if db.dialect == "sqlite":
        def parse(v: Any) -> datetime | None:
            return None if v is None else datetime.strptime(v, "%Y-%m-%d %H:%M:%S.%f")
        ts: Callable[[datetime | None], Any] = _sqlite_ts
    else:
        def parse(v: Any) -> datetime | None:
            return v  # type: ignore[no-any-return]
        ts = parse  # type: ignore[assignment]
    idx = {c: i for i, c in enumerate(CASE_COLUMNS)}
    for row in cases:
        case_id, st = row[idx["id"]], row[idx["state"]]
        received, due = parse(row[idx["received_at"]]), parse(row[idx["due_at"]])
        assert received is not None and due is not None
        if st in ("approved", "denied"):
            yield (case_id, "overall", 1, ts(received), ts(due), False, row[idx["decided_at"]], None, None)
        else:
            paused = st == "awaiting_supplement"
            yield (case_id, "overall", 1, ts(received), ts(due), True, None, "warning",
                   None if paused else ts(due - timedelta(days=1)))
        step, step_due = row[idx["step"]], parse(row[idx["step_due_at"]])
        if step in WATCHED_STEPS and step_due is not None:
            yield (case_id, step, 1, row[idx["step_started_at"]], ts(step_due), True, None, "warning",
                   ts(step_due - timedelta(days=1)))


def has_table(db: BenchDB, name: str) -> bool:
    from sqlalchemy import inspect

    return inspect(db.runtime.engine).has_table(name)


def add_open_cases(db: BenchDB, world: World, count: int, *, seed: int = 1, show: bool = True) -> int:
    """Append ``count`` open cases in every open state with nothing due; returns the first new id.

    Their watched deadlines (``case_deadlines``) are written too, regenerated from the same seed
    rather than kept in memory, so a million cases load in constant memory.
    """
    first = next_case_id(db)
    bulk_insert(db, "cases", CASE_COLUMNS, _case_rows(db, world, first, count, seed=seed + first),
                total=count, description=f"{db.backend}: {count:,} open cases", show=show)
    _fix_sequence(db, "cases")
    if has_table(db, "case_deadlines"):
        rows = _deadline_rows(db, _case_rows(db, world, first, count, seed=seed + first))
        bulk_insert(db, "case_deadlines", DEADLINE_COLUMNS, rows, total=int(count * 1.5),
                    description=f"{db.backend}: their watched deadlines (≈)", show=show)
        _fix_sequence(db, "case_deadlines")
    return first


@dataclass(frozen=True)
class ReceivedCase:
    id: int
    case_no: str
    receiving_zone_id: int
    version: int


def add_received_cases(db: BenchDB, world: World, count: int, *, seed: int = 7) -> list[ReceivedCase]:
    """Cases just received at the window, each with its full checklist ticked: ready for 预审通过."""
    first = next_case_id(db)
    rows = list(_case_rows(db, world, first, count, seed=seed, state="received"))
    bulk_insert(db, "cases", CASE_COLUMNS, rows, total=count, description="received cases", show=False)
    _fix_sequence(db, "cases")
    items = {item_id: mats for zone_items in world.items_by_zone.values() for item_id, _d, mats in zone_items}
    materials = [
        (row[0], im_id, position, name, True, True, None, "")
        for row in rows for position, (im_id, name) in enumerate(items[row[2]], start=1)
    ]
    bulk_insert(db, "materials", MATERIAL_COLUMNS, materials, total=len(materials), description="materials",
                show=False)
    if has_table(db, "case_deadlines"):
        deadlines = list(_deadline_rows(db, rows))
        bulk_insert(db, "case_deadlines", DEADLINE_COLUMNS, deadlines, total=len(deadlines),
                    description="deadlines", show=False)
        _fix_sequence(db, "case_deadlines")
    return [ReceivedCase(id=row[0], case_no=row[1], receiving_zone_id=row[3], version=row[7]) for row in rows]
