"""The rows a calendar recompute reads and writes, at the driver's level (issue 12's performance floor).

A recompute touches every case with a provisional date — 100,000 of them when a year is published
in December — and the cost of such a pass is the Python per row, not the statements: SQLAlchemy's
result and bind processing (the UTC datetime type, JSON) cost more than the database's own work.
So these functions speak the driver's SQL with the driver's values: three reads (cases with their
item and handling zone, ended pauses, active watched deadlines — each joined to the candidate set in
SQL, locked on PostgreSQL), and set-based writes: on PostgreSQL one ``UPDATE … FROM unnest(…)`` per
table and one ``INSERT … SELECT FROM unnest(…)`` of the audit rows; on SQLite one executemany each
(SQLite has no cheaper bulk path than its prepared statement in a loop).

Values in and out are what the ORM models hold — aware UTC datetimes, Python bools — converted here
exactly as ``storage.db.UTCDateTime`` and SQLAlchemy's SQLite DATETIME would store them, so the rest
of the application reads the rows back unchanged. The caller owns the transaction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection

from storage.audit.service import ChainedEvent

__all__ = ["CaseFacts", "CaseWrite", "PauseFacts", "WatchFacts", "WatchWrite", "insert_audit_rows",
           "read", "write"]


class CaseFacts(NamedTuple):
    id: int
    case_no: str
    state: str
    version: int
    received_at: datetime
    due_at: datetime | None
    step: str | None
    step_started_at: datetime | None
    step_due_at: datetime | None
    #: A pause is open (``paused_since`` set) / the case is decided (``decided_at`` set).
    paused: bool
    decided: bool
    closed: bool
    received_by_id: int
    assignee_id: int | None
    handling_zone_id: int
    due_provisional: bool
    step_due_provisional: bool
    audit_seq: int
    audit_head: str
    promised_days: int
    step_targets: dict[str, Any]
    handling_code: str


class PauseFacts(NamedTuple):
    id: int
    case_id: int
    started_at: datetime
    ended_at: datetime
    workdays: int


class WatchFacts(NamedTuple):
    id: int
    case_id: int
    step: str
    started_at: datetime
    due_at: datetime
    next_level: str | None
    next_alert_at: datetime | None
    provisional: bool


class CaseWrite(NamedTuple):
    id: int
    due_at: datetime | None
    step_due_at: datetime | None
    due_provisional: bool
    step_due_provisional: bool
    #: The audit chain head after this pass's event (unchanged when the case gets none).
    audit_seq: int
    audit_head: str


class WatchWrite(NamedTuple):
    id: int
    due_at: datetime
    next_level: str | None
    next_alert_at: datetime | None
    provisional: bool


def _candidates(true: str) -> str:
    """The ids of cases with a provisional date: a UNION of three plain filters (an OR with a subquery
    made PostgreSQL re-run the subquery per row: 140 s at 100,000 cases)."""
    return (f"SELECT id FROM cases WHERE due_provisional = {true} "
            f"UNION SELECT id FROM cases WHERE step_due_provisional = {true} "
            f"UNION SELECT case_id FROM case_deadlines WHERE active = {true} AND provisional = {true}")


class _Codec:
    """Datetimes and JSON as the driver gives and takes them, with the ORM's conversions."""

    def __init__(self, dialect: str) -> None:
        self.pg = dialect == "postgresql"
        self._text: dict[datetime, str] = {}
        self._parsed: dict[str, datetime] = {}
        self._targets: dict[str, dict[str, Any]] = {}

    def at(self, value: Any) -> datetime | None:
        if value is None:
            return None
        if self.pg:
            return value if value.tzinfo is UTC else value.astimezone(UTC)  # type: ignore[no-any-return]
        # SQLAlchemy's SQLite DATETIME text, UTC by ``UTCDateTime`` ("2027-01-05 09:30:00.000000");
        # deadlines repeat (a few hundred distinct ones over 100,000 cases): parsed once each.
        hit = self._parsed.get(value)
        if hit is None:
            hit = self._parsed[value] = datetime.fromisoformat(value).replace(tzinfo=UTC)
        return hit

    def put(self, value: datetime | None) -> Any:
        if value is None or self.pg:
            return value
        hit = self._text.get(value)
        if hit is None:
            hit = self._text[value] = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        return hit

    def targets(self, value: Any) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, str):  # psycopg parses JSON itself
            return value  # type: ignore[no-any-return]
        hit = self._targets.get(value)
        if hit is None:
            hit = self._targets[value] = json.loads(value)
        return hit


def _fetch(conn: Connection, sql: str) -> list[tuple[Any, ...]]:
    """All rows as the driver's plain tuples, on the connection's transaction (SQLAlchemy's row
    objects cost more than the database's read here)."""
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql)
        return cursor.fetchall()  # type: ignore[return-value]
    finally:
        cursor.close()


def read(conn: Connection, *, lock: bool) -> tuple[list[CaseFacts], list[PauseFacts], list[WatchFacts]]:
    """Every case with a provisional date (ordered by id), its ended pauses and its active watched
    deadlines. ``lock``: on PostgreSQL the case rows stay locked until the transaction ends, so no
    transition moves a case (or its audit chain head) between this read and the writes."""
    codec = _Codec(conn.dialect.name)
    true = "true" if codec.pg else "1"
    cand = _candidates(true)
    at, targets = codec.at, codec.targets
    sql = ("SELECT c.id, c.case_no, c.state, c.version, c.received_at, c.due_at, c.step, c.step_started_at, "
           "c.step_due_at, c.paused_since, c.decided_at, c.closed, c.received_by_id, c.assignee_id, "
           "c.handling_zone_id, c.due_provisional, c.step_due_provisional, c.audit_seq, c.audit_head, "
           "i.promised_days, i.step_targets, z.code "
           "FROM cases c JOIN items i ON i.id = c.item_id JOIN zones z ON z.id = c.handling_zone_id "
           f"WHERE c.id IN ({cand}) ORDER BY c.id")
    if lock and codec.pg:
        sql += " FOR UPDATE OF c"
    cases = [CaseFacts(r[0], r[1], r[2], r[3], at(r[4]), at(r[5]), r[6], at(r[7]), at(r[8]),  # type: ignore[arg-type]
                       r[9] is not None, r[10] is not None, bool(r[11]), r[12], r[13], r[14], bool(r[15]), bool(r[16]),
                       r[17] or 0, r[18], r[19], targets(r[20]), r[21])
             for r in _fetch(conn, sql)]
    pauses = [PauseFacts(r[0], r[1], at(r[2]), at(r[3]), r[4])  # type: ignore[arg-type]
              for r in _fetch(
                  conn, "SELECT p.id, p.case_id, p.started_at, p.ended_at, p.workdays "
                  f"FROM case_pauses p JOIN ({cand}) k ON k.id = p.case_id WHERE p.ended_at IS NOT NULL")]
    watches = [WatchFacts(r[0], r[1], r[2], at(r[3]), at(r[4]), r[5], at(r[6]), bool(r[7]))  # type: ignore[arg-type]
               for r in _fetch(
                   conn, "SELECT d.id, d.case_id, d.step, d.started_at, d.due_at, d.next_level, d.next_alert_at, "
                   f"d.provisional FROM case_deadlines d JOIN ({cand}) k ON k.id = d.case_id "
                   f"WHERE d.active = {true} ORDER BY d.id")]
    return cases, pauses, watches


def _columns(rows: Sequence[tuple[Any, ...]], width: int) -> list[list[Any]]:
    return [list(col) for col in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]


def write(conn: Connection, *, cases: Sequence[CaseWrite], pauses: Sequence[tuple[int, int]],
          watches: Sequence[WatchWrite], now: datetime) -> None:
    """The recounted dates (and the cases' new audit chain heads), one statement per table.

    ``pauses``: (pause id, working days). ``cases.updated_at`` becomes ``now``, as an ORM update would
    set it."""
    codec = _Codec(conn.dialect.name)
    put = codec.put
    if codec.pg:
        if cases:
            ids, due, step_due, dp, sp, seq, head = _columns(cases, 7)
            conn.exec_driver_sql(
                "UPDATE cases AS c SET due_at = v.due_at, step_due_at = v.step_due_at, "
                "due_provisional = v.dp, step_due_provisional = v.sp, audit_seq = v.seq, audit_head = v.head, "
                "updated_at = %s FROM unnest(%s::int[], %s::timestamptz[], %s::timestamptz[], %s::bool[], "
                "%s::bool[], %s::int[], %s::text[]) AS v(id, due_at, step_due_at, dp, sp, seq, head) "
                "WHERE c.id = v.id", (now, ids, due, step_due, dp, sp, seq, head))
        if pauses:
            pid, days = _columns(pauses, 2)
            conn.exec_driver_sql(
                "UPDATE case_pauses AS p SET workdays = v.days FROM unnest(%s::int[], %s::int[]) AS v(id, days) "
                "WHERE p.id = v.id", (pid, days))
        if watches:
            wid, due, level, alert, prov = _columns(watches, 5)
            conn.exec_driver_sql(
                "UPDATE case_deadlines AS d SET due_at = v.due_at, next_level = v.level, "
                "next_alert_at = v.alert, provisional = v.prov FROM unnest(%s::int[], %s::timestamptz[], "
                "%s::text[], %s::timestamptz[], %s::bool[]) AS v(id, due_at, level, alert, prov) "
                "WHERE d.id = v.id", (wid, due, level, alert, prov))
        return
    stamp = put(now)
    if cases:
        conn.exec_driver_sql(
            "UPDATE cases SET due_at = ?, step_due_at = ?, due_provisional = ?, step_due_provisional = ?, "
            "audit_seq = ?, audit_head = ?, updated_at = ? WHERE id = ?",
            [(put(c.due_at), put(c.step_due_at), c.due_provisional, c.step_due_provisional, c.audit_seq,
              c.audit_head, stamp, c.id) for c in cases])
    if pauses:
        conn.exec_driver_sql("UPDATE case_pauses SET workdays = ? WHERE id = ?", [(n, i) for i, n in pauses])
    if watches:
        conn.exec_driver_sql(
            "UPDATE case_deadlines SET due_at = ?, next_level = ?, next_alert_at = ?, provisional = ? WHERE id = ?",
            [(put(w.due_at), w.next_level, put(w.next_alert_at), w.provisional, w.id) for w in watches])


_AUDIT_COLUMNS = "case_id, seq, at, actor, actor_role, event, from_state, to_state, version, payload, prev_hash, hash"


def insert_audit_rows(conn: Connection, rows: Sequence[ChainedEvent]) -> int:
    """The chained audit events (:func:`storage.audit.service.chain_events`) in one statement
    (PostgreSQL) or one executemany (SQLite). The caller moves each case's chain head
    (``audit_seq``, ``audit_head``) in the same transaction."""
    if not rows:
        return 0
    codec = _Codec(conn.dialect.name)
    if codec.pg:
        cols = _columns(rows, 12)
        conn.exec_driver_sql(
            f"INSERT INTO audit_events ({_AUDIT_COLUMNS}) SELECT v.case_id, v.seq, v.at, v.actor, v.actor_role, "
            "v.event, v.from_state, v.to_state, v.version, v.payload::json, v.prev_hash, v.hash "
            "FROM unnest(%s::int[], %s::int[], %s::timestamptz[], %s::text[], %s::text[], %s::text[], %s::text[], "
            "%s::text[], %s::int[], %s::text[], %s::text[], %s::text[]) AS v(case_id, seq, at, actor, actor_role, "
            "event, from_state, to_state, version, payload, prev_hash, hash)", tuple(cols))
    else:
        put = codec.put
        conn.exec_driver_sql(f"INSERT INTO audit_events ({_AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             [(r.case_id, r.seq, put(r.at), *r[3:]) for r in rows])
    return len(rows)
