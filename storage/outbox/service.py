"""Write and claim outbox jobs. Writing happens inside the transition's transaction."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from storage.db import utcnow
from storage.outbox.models import OutboxJob


def enqueue(*, db_session: Session, kind: str, dedupe_key: str, case_id: int | None = None,
            payload: dict[str, Any] | None = None, available_at: datetime | None = None) -> int | None:
    """Idempotent by ``dedupe_key``: one ``INSERT … ON CONFLICT DO NOTHING``, no read first.

    Returns the new job's id, or None when a job with that key was written before.
    """
    conn = db_session.connection()
    stmt = _ENQUEUE.get(conn.dialect.name)
    if stmt is None:
        insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        table = cast(Table, OutboxJob.__table__)
        stmt = _ENQUEUE[conn.dialect.name] = (insert(table).on_conflict_do_nothing(index_elements=["dedupe_key"])
                                              .returning(table.c.id))
    now = utcnow()
    return conn.execute(stmt, {  # type: ignore[no-any-return]
        "kind": kind, "dedupe_key": dedupe_key, "case_id": case_id, "payload": payload or {}, "status": "pending",
        "attempts": 0, "available_at": available_at or now, "created_at": now}).scalar_one_or_none()


#: dialect → the enqueue statement, built once (the transition's hot path only binds values).
_ENQUEUE: dict[str, Any] = {}


def claim(*, db_session: Session, worker: str, now: datetime, limit: int = 10,
          kinds: list[str] | None = None, lease: timedelta = timedelta(minutes=10)) -> list[OutboxJob]:
    """Claim due jobs for ``worker``.

    PostgreSQL: ``FOR UPDATE SKIP LOCKED`` so concurrent dispatchers never take the same row.
    SQLite: the write lock taken at BEGIN IMMEDIATE serialises claimers. A ``running`` job whose
    lease ran out (its worker died) is due again.
    """
    due = (OutboxJob.status == "pending") & (OutboxJob.available_at <= now)
    stale = (OutboxJob.status == "running") & (OutboxJob.claimed_at <= now - lease)
    stmt = select(OutboxJob).where(due | stale).order_by(OutboxJob.available_at, OutboxJob.id).limit(limit)
    if kinds:
        stmt = stmt.where(OutboxJob.kind.in_(kinds))
    if db_session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    jobs = list(db_session.scalars(stmt))
    for job in jobs:
        job.status = "running"
        job.claimed_by = worker
        job.claimed_at = now
        job.attempts += 1
    db_session.flush()
    return jobs


def finish(*, db_session: Session, job_id: int, worker: str, now: datetime) -> bool:
    """Mark done, but only if this worker still holds the claim (a lease may have passed on)."""
    res = db_session.execute(
        update(OutboxJob).where(OutboxJob.id == job_id, OutboxJob.claimed_by == worker,
                                OutboxJob.status == "running")
        .values(status="done", finished_at=now, last_error=None)
    )
    return bool(res.rowcount)  # type: ignore[attr-defined]


def fail(*, db_session: Session, job_id: int, worker: str, now: datetime, error: str,
         retry_in: timedelta | None, max_attempts: int = 8) -> None:
    """Put the job back with a backoff, or mark it failed for good (visible to supervisors)."""
    job = db_session.get(OutboxJob, job_id)
    if job is None or job.claimed_by != worker:
        return
    job.last_error = error[:2000]
    if retry_in is None or job.attempts >= max_attempts:
        job.status = "failed"
        job.finished_at = now
    else:
        job.status = "pending"
        job.available_at = now + retry_in
        job.claimed_by = None
