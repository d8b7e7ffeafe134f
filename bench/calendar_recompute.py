"""Publishing a year: recompute N open cases' provisional dates, against the bare UPDATE of their
deadline columns (docs/architecture.md#deadlines, issue 12).

N open cases received in late December 2026 have 2027 deadlines counted by the statutory rules
(provisional), with their watched deadlines. The baseline is what a hand-written recompute would at
least have to write: one executemany UPDATE of ``cases.due_at``/``step_due_at`` and one of
``case_deadlines.due_at``/``next_alert_at`` for every one of those rows, committed. The figure is
``states.calendar.recompute.publish`` with a 2027 schedule (test data that moves most dates): read,
recount, update, audit every moved case through the audit chain, one message per person, commit,
then the sweep for anything now due. Same database, same run.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from bench.data import _fix_sequence, _sqlite_ts, analyze, bulk_insert, next_case_id, prepare_world
from bench.runner import BenchDB, Profile, Result, console
from bench.sample_calendar import HOLIDAYS_2027
from states.calendar.recompute import publish
from states.calendar.schedule import parse_schedule
from states.sla.clock import STEP_OF_STATE, WATCHED_STEPS
from storage.sla.models import LEVELS

NAME = "calendar_recompute"

#: Test data (bench/sample_calendar.py).
HOLIDAYS = HOLIDAYS_2027
OPEN = ("received", "prechecked", "forwarded", "accepted", "under_review")
CASE_COLUMNS = ("id", "case_no", "item_id", "receiving_zone_id", "handling_zone_id", "applicant_id", "state",
                "version", "closed", "received_at", "received_by_id", "assignee_id", "delivery_method",
                "delivery_address", "due_at", "step", "step_started_at", "step_due_at", "last_reason", "updated_at",
                "due_provisional", "step_due_provisional")
DEADLINE_COLUMNS = ("case_id", "step", "visit", "started_at", "due_at", "active", "next_level", "next_alert_at",
                    "provisional")


def _rows(db: BenchDB, first: int, count: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    world = prepare_world(db, applicants=200)
    clock = db.runtime.clock
    rng = random.Random(12)
    ts = _sqlite_ts if db.dialect == "sqlite" else (lambda v: v)
    start = datetime(2026, 12, 14, 1, 0, tzinfo=UTC)
    cases, watches = [], []
    for cid in range(first, first + count):
        receiving = world.zone_ids[cid % len(world.zone_ids)]
        handling = world.zone_ids[(cid + 1) % len(world.zone_ids)]
        item_id, days, _ = rng.choice(world.items_by_zone[handling])
        days = max(days, 10)  # a December case with a 10- or 20-working-day item reaches 2027
        received = start + timedelta(days=rng.randint(0, 17), minutes=rng.randint(0, 480))
        state = rng.choice(OPEN)
        step = STEP_OF_STATE[state]
        due = clock.due(received, days)
        step_due = due if step == "decide" else clock.due(received, 1)
        cases.append((cid, f"CAL-{cid:09d}", item_id, receiving, handling, rng.choice(world.applicant_ids), state,
                      1, False, ts(received), world.clerk_by_zone[receiving],
                      world.reviewer_by_zone[handling] if state == "under_review" else None, "mail", "",
                      ts(due), step, ts(received), ts(step_due), "", ts(received),
                      clock.is_provisional(due), clock.is_provisional(step_due)))
        watches.append((cid, "overall", 1, ts(received), ts(due), True, LEVELS[0],
                        ts(clock.alert_at(due, "warning")), True))
        if step in WATCHED_STEPS:
            watches.append((cid, step, 1, ts(received), ts(step_due), True, LEVELS[0],
                            ts(clock.alert_at(step_due, "warning")), clock.is_provisional(step_due)))
    return cases, watches


def _bare_update(db: BenchDB, first: int, *, moved: bool = False) -> float:
    """The same rows' deadline columns written back with one executemany each, committed.

    ``moved``: written one day later instead (then put back, untimed) — what writing dates that
    really change costs: new index entries (``step_due_at`` is in three indexes of ``cases``,
    ``next_alert_at`` in one) where an unchanged value lets the database skip them (PostgreSQL's
    HOT update). Shown next to the figure, not its baseline."""
    engine = db.runtime.engine
    with engine.connect() as conn:
        case_rows = [dict(i=i, d=d, s=s) for i, d, s in conn.execute(
            text("SELECT id, due_at, step_due_at FROM cases WHERE id >= :f"), {"f": first})]
        watch_rows = [dict(i=i, d=d, a=a) for i, d, a in conn.execute(
            text("SELECT id, due_at, next_alert_at FROM case_deadlines WHERE case_id >= :f"), {"f": first})]
    new_cases, new_watches = case_rows, watch_rows
    if moved:
        later = _later(db.dialect)
        new_cases = [dict(i=r["i"], d=later(r["d"]), s=later(r["s"])) for r in case_rows]
        new_watches = [dict(i=r["i"], d=later(r["d"]), a=later(r["a"])) for r in watch_rows]
    t0 = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("UPDATE cases SET due_at = :d, step_due_at = :s WHERE id = :i"), new_cases)
        conn.execute(text("UPDATE case_deadlines SET due_at = :d, next_alert_at = :a WHERE id = :i"), new_watches)
    took = time.perf_counter() - t0
    if moved:
        with engine.begin() as conn:
            conn.execute(text("UPDATE cases SET due_at = :d, step_due_at = :s WHERE id = :i"), case_rows)
            conn.execute(text("UPDATE case_deadlines SET due_at = :d, next_alert_at = :a WHERE id = :i"), watch_rows)
    return took


def _later(dialect: str) -> Callable[[Any], Any]:
    """One day later, in the value the driver gave (SQLite: SQLAlchemy's DATETIME text)."""
    def later(value: Any) -> Any:
        if value is None:
            return None
        if dialect == "sqlite":
            return _sqlite_ts(datetime.fromisoformat(value) + timedelta(days=1))
        return value + timedelta(days=1)
    return later


def run(db: BenchDB, profile: Profile) -> list[Result]:
    n = profile.recompute_cases
    first = next_case_id(db)
    cases, watches = _rows(db, first, n)
    show = profile.name != "tiny"
    bulk_insert(db, "cases", CASE_COLUMNS, iter(cases), total=n, description=f"{db.backend}: {n:,} provisional cases",
                show=show)
    _fix_sequence(db, "cases")
    bulk_insert(db, "case_deadlines", DEADLINE_COLUMNS, iter(watches), total=len(watches),
                description=f"{db.backend}: their watched deadlines", show=show)
    _fix_sequence(db, "case_deadlines")
    analyze(db)
    del cases, watches

    bare = min(_bare_update(db, first) for _ in range(2))
    bare_moved = _bare_update(db, first, moved=True)
    schedule = parse_schedule(year_text="2027", source="bench test data", holidays_text=HOLIDAYS,
                              workdays_text="2027-02-20 春节", calendar=db.runtime.calendar)
    t0 = time.perf_counter()
    report = publish(db.runtime, schedule=schedule, added_by="bench")
    took = time.perf_counter() - t0
    ratio = took / bare
    console.print(f"  {db.backend} N={n:,}: recompute {took:.2f} s ({len(report.moved):,} moved, "
                  f"{report.audited:,} audited), bare UPDATE {bare:.2f} s → {ratio:.2f}× "
                  f"(bare UPDATE of moved dates {bare_moved:.2f} s → {took / bare_moved:.2f}×)")
    return [Result(
        name="calendar recompute, year published", backend=db.backend, value=took, unit="s", baseline=bare,
        baseline_label="bare UPDATE of the deadline columns", ratio=ratio, target="≤ 3× bare UPDATE",
        passed=ratio <= 3, n=n,
        extra={"moved": len(report.moved), "audited": report.audited, "notified": len(report.notified),
               "bare_update_of_moved_dates_s": round(bare_moved, 3),
               "ratio_to_bare_update_of_moved_dates": round(took / bare_moved, 2)},
    )]


