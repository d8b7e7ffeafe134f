"""The reconciler (对账): find what an outage or a crash left half-done, and set it going again.

Three sweeps, each safe to run twice at once and to rerun at any time:

1. **Failed jobs worth another go.** An outbox job the dispatcher gave up on after an outage that
   outlasted its retries (``last_error`` starts with ``[transient]``) goes back to ``pending``.
   Permanent failures (a file whose hash no longer matches) are left failed and reported: a person
   must look at them; redoing them would fail the same way.
2. **Cases stuck in an automated step.** A case that has sat longer than ``stuck_after`` in a state
   whose work a flow does — ``prechecked`` (forward) or ``approved``/``denied``/``mailed``/
   ``awaiting_pickup`` (mail-back) — with no job that is pending, running, failed, or (mail-back) done
   since it entered the state, gets a new job. The case row is locked while deciding, so two
   reconcilers never both add one.
3. **Orphaned uploads.** Objects under ``<zone>/incoming/`` that no ``stored_files`` row references
   are what a crash between storing the files and committing the receipt leaves behind. They are
   deleted once certainly older than ``orphan_age`` — judged by the date in the key
   (``<zone>/incoming/YYYY/MM/DD/…``, UTC, written by the same clock as the receipt), so an object
   counts as old only after its whole day plus ``orphan_age`` has passed: conservative (a crash at
   09:00 is cleaned up after 01:00 the next day), never early, and the same with every object store.
   Only the last ``orphan_window_days`` days are listed, so the cost does not grow with the archive.
4. **Temporary files a crash left.** Upload spool directories (``tongban-upload-*``) and packet
   staging directories (``tongban-forward-*``) under ``<home>/spool``, the filesystem store's
   half-written ``.tongban-tmp-*`` files and the S3 store's open multipart uploads, once nothing has
   touched them for ``temp_max_age_seconds`` (judged by the file system's own clock: a spool being
   written is touched all the time). Counted in the report like the orphans.
"""

from __future__ import annotations

import logging
import os
import shutil
import time as wallclock
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from prefect import flow, task
from sqlalchemy import and_, exists, func, or_, select, update

from flows.checkpoints import checkpoint
from flows.retry import TASK_RETRIES, TASK_RETRY_DELAYS, transient_only
from flows.runtime import current
from states.enums import JobKind
from states.lifecycle import JOBS
from states.runtime import Runtime
from states.transition import service as transitions
from storage.case.models import Case, StoredFile
from storage.db import transaction
from storage.outbox import service as outbox
from storage.outbox.models import OutboxJob
from storage.zone.models import Zone

__all__ = ["ReconcileReport", "reconcile", "reconcile_plain"]

log = logging.getLogger("tongban.reconcile")

#: Which flow does the work of each state (the automated steps), derived from states/lifecycle.py JOBS.
STEP_JOBS: dict[str, tuple[str, ...]] = {kind.value: tuple(s.value for s in facts.waiting_in)
                                         for kind, facts in JOBS.items()}
ACTIVE = ("pending", "running")


@dataclass
class ReconcileReport:
    #: ``kind:case_no`` (or ``job #id``) set going again
    redispatched: list[str] = field(default_factory=list)
    #: permanent failures a person must look at
    needs_attention: list[str] = field(default_factory=list)
    orphans_deleted: list[str] = field(default_factory=list)
    #: temporary files and directories (and open multipart uploads) a crash left behind
    temp_files_removed: list[str] = field(default_factory=list)

    def merge(self, other: ReconcileReport) -> ReconcileReport:
        self.redispatched += other.redispatched
        self.needs_attention += other.needs_attention
        self.orphans_deleted += other.orphans_deleted
        self.temp_files_removed += other.temp_files_removed
        return self


# --- 1. failed jobs -------------------------------------------------------------------------------

def redispatch_failed(runtime: Runtime, *, limit: int = 200) -> ReconcileReport:
    report = ReconcileReport()
    now = runtime.now()
    with transaction(runtime.session_factory) as s:
        # Only jobs whose case still waits in that job's step: the rest were overtaken by events.
        waiting = or_(*(and_(OutboxJob.kind == kind, Case.state.in_(states)) for kind, states in STEP_JOBS.items()))
        rows = s.execute(
            select(OutboxJob.id, OutboxJob.kind, OutboxJob.payload, OutboxJob.last_error)
            .join(Case, Case.id == OutboxJob.case_id)
            .where(OutboxJob.status == "failed", waiting)
            .order_by(OutboxJob.id).limit(limit)
        ).all()
    for job_id, kind, payload, error in rows:
        label = f"{kind}:{payload.get('case_no', '?')} (job #{job_id})"
        if not (error or "").startswith("[transient]"):
            report.needs_attention.append(f"{label}: {error}")
            continue
        with transaction(runtime.session_factory) as s:
            res = s.execute(
                update(OutboxJob).where(OutboxJob.id == job_id, OutboxJob.status == "failed")
                .values(status="pending", attempts=0, available_at=now, claimed_by=None, finished_at=None,
                        last_error=f"re-dispatched by the reconciler after: {error}"[:2000])
            )
        if res.rowcount:  # type: ignore[attr-defined]
            report.redispatched.append(label)
    return report


# --- 2. stuck cases -------------------------------------------------------------------------------

def _covered(kind: str):  # type: ignore[no-untyped-def]
    """SQL: the case has a job of ``kind`` that is doing, or has done, the work of its current step."""
    job = OutboxJob
    settled = ("failed", "done") if kind == JobKind.mailback else ("failed",)
    in_flight = or_(job.status.in_(ACTIVE),
                    and_(job.status.in_(settled), job.available_at >= Case.step_started_at))
    return exists().where(job.case_id == Case.id, job.kind == kind, in_flight)


def redispatch_stuck(runtime: Runtime, *, stuck_after: timedelta, limit: int = 200) -> ReconcileReport:
    report = ReconcileReport()
    now = runtime.now()
    cutoff = now - stuck_after
    for kind, states in STEP_JOBS.items():
        with transaction(runtime.session_factory) as s:
            case_nos = list(s.scalars(
                select(Case.case_no)
                .where(Case.state.in_(states), Case.step_started_at <= cutoff, ~_covered(kind))
                .order_by(Case.step_started_at).limit(limit)
            ))
        for case_no in case_nos:
            with transaction(runtime.session_factory) as s:
                # Lock the case, then look again: another reconciler may have just done this.
                case = transitions.get_case(db_session=s, case_no=case_no, for_update=True)
                still = s.scalar(select(func.count()).select_from(Case)
                                 .where(Case.id == case.id, Case.state.in_(states), ~_covered(kind)))
                if not still:
                    continue
                n = s.scalar(select(func.count()).where(OutboxJob.case_id == case.id, OutboxJob.kind == kind))
                outbox.enqueue(db_session=s, kind=kind, case_id=case.id, available_at=now,
                               dedupe_key=f"{kind}:{case.case_no}:v{case.version}:reconcile{n}",
                               payload={"case_no": case.case_no, "event": "reconcile", "version": case.version})
            log.warning("case %s sat in %s since before %s with no %s job; re-dispatched", case_no,
                        "/".join(states), cutoff.isoformat(), kind)
            report.redispatched.append(f"{kind}:{case_no}")
    if report.redispatched:
        runtime.wake_dispatcher()
    return report


# --- 3. orphaned uploads --------------------------------------------------------------------------

def _key_day(key: str) -> date | None:
    """The UTC day in ``<zone>/incoming/YYYY/MM/DD/<name>``; None for a key of another shape."""
    parts = key.split("/")
    try:
        i = parts.index("incoming")
        return date(int(parts[i + 1]), int(parts[i + 2]), int(parts[i + 3]))
    except (ValueError, IndexError):
        return None


def remove_orphans(runtime: Runtime, *, orphan_age: timedelta, window_days: int = 7) -> ReconcileReport:
    report = ReconcileReport()
    now = runtime.now()
    with transaction(runtime.session_factory) as s:
        zones = list(s.scalars(select(Zone.code).order_by(Zone.code)))
    today = now.astimezone(UTC).date()
    for zone in zones:
        for back in range(window_days, -1, -1):
            day = today - timedelta(days=back)
            end_of_day = datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)
            if end_of_day + orphan_age > now:
                break  # this day's objects (and later ones) may still belong to a receipt being committed
            keys = [k for k in runtime.store.list(f"{zone}/incoming/{day:%Y/%m/%d}/") if _key_day(k) == day]
            if not keys:
                continue
            with transaction(runtime.session_factory) as s:
                known = set(s.scalars(select(StoredFile.object_key).where(StoredFile.object_key.in_(keys))))
            for key in keys:
                if key in known:
                    continue
                checkpoint("reconcile.before_delete", key=key)
                with transaction(runtime.session_factory) as s:
                    # Look once more, right before deleting: never remove what a row names.
                    if s.scalar(select(func.count()).where(StoredFile.object_key == key)):
                        continue
                runtime.store.delete(key)
                log.warning("deleted orphaned upload %s (no stored_files row; left by an interrupted receipt)", key)
                report.orphans_deleted.append(key)
    return report


# --- 4. temporary files left by a crash -------------------------------------------------------------

#: What the app stages under ``<home>/spool`` (see ``states.intake.receipt`` and ``flows.forward``).
SPOOL_PREFIXES = ("tongban-upload-", "tongban-forward-")


def _newest_mtime(path: Path) -> float:
    """The latest modification anywhere in a file or directory tree (a spool being written is fresh)."""
    newest = path.lstat().st_mtime
    if path.is_dir() and not path.is_symlink():
        for dirpath, dirnames, filenames in os.walk(path):
            for name in dirnames + filenames:
                try:
                    newest = max(newest, (Path(dirpath) / name).lstat().st_mtime)
                except FileNotFoundError:
                    continue
    return newest


def remove_stale_temp_files(runtime: Runtime, *, max_age_seconds: float) -> ReconcileReport:
    report = ReconcileReport()
    cutoff = wallclock.time() - max_age_seconds
    spool = runtime.settings.spool_dir()
    if spool.is_dir():
        for entry in sorted(spool.iterdir()):
            if not entry.name.startswith(SPOOL_PREFIXES):
                continue
            try:
                if _newest_mtime(entry) > cutoff:
                    continue
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
            except FileNotFoundError:  # its request finished and removed it meanwhile
                continue
            log.warning("removed stale temporary %s (left by an interrupted upload or forward)", entry)
            report.temp_files_removed.append(f"spool/{entry.name}")
    sweep = getattr(runtime.store, "remove_stale_temp_files", None)
    if sweep is not None:
        for name in sweep(older_than=max_age_seconds):
            log.warning("removed stale temporary object-store file %s (left by an interrupted write)", name)
            report.temp_files_removed.append(f"store/{name}")
    return report


# --- together ---------------------------------------------------------------------------------------

def reconcile_plain(runtime: Runtime, *, stuck_after_minutes: float = 15, orphan_age_minutes: float = 60,
                    orphan_window_days: int = 7, limit: int = 200,
                    temp_max_age_seconds: float | None = None,
                    progress: Callable[[], None] | None = None) -> ReconcileReport:
    """All four sweeps (:data:`RECONCILE_SWEEPS`) without Prefect (embedded mode's timer, ``tongban
    reconcile``); ``progress`` is called after each."""
    age = runtime.settings.temp_max_age_seconds if temp_max_age_seconds is None else temp_max_age_seconds
    sweeps: list[Callable[[], ReconcileReport]] = [
        lambda: redispatch_failed(runtime, limit=limit),
        lambda: redispatch_stuck(runtime, stuck_after=timedelta(minutes=stuck_after_minutes), limit=limit),
        lambda: remove_orphans(runtime, orphan_age=timedelta(minutes=orphan_age_minutes),
                               window_days=orphan_window_days),
        lambda: remove_stale_temp_files(runtime, max_age_seconds=age),
    ]
    report = ReconcileReport()
    for sweep in sweeps:
        report.merge(sweep())
        if progress is not None:
            progress()
    return report


#: The reconciler's sweeps, in the order they run.
RECONCILE_SWEEPS = ("redispatch failed", "redispatch stuck", "remove orphans", "remove stale temporary files")


@task(retries=TASK_RETRIES, retry_delay_seconds=TASK_RETRY_DELAYS, retry_condition_fn=transient_only)
def redispatch_failed_task(limit: int) -> ReconcileReport:
    return redispatch_failed(current(), limit=limit)


@task(retries=TASK_RETRIES, retry_delay_seconds=TASK_RETRY_DELAYS, retry_condition_fn=transient_only)
def redispatch_stuck_task(stuck_after_minutes: float, limit: int) -> ReconcileReport:
    return redispatch_stuck(current(), stuck_after=timedelta(minutes=stuck_after_minutes), limit=limit)


@task(retries=TASK_RETRIES, retry_delay_seconds=TASK_RETRY_DELAYS, retry_condition_fn=transient_only)
def remove_orphans_task(orphan_age_minutes: float, orphan_window_days: int) -> ReconcileReport:
    return remove_orphans(current(), orphan_age=timedelta(minutes=orphan_age_minutes), window_days=orphan_window_days)


@task(retries=TASK_RETRIES, retry_delay_seconds=TASK_RETRY_DELAYS, retry_condition_fn=transient_only)
def remove_stale_temp_files_task(temp_max_age_seconds: float | None) -> ReconcileReport:
    runtime = current()
    age = runtime.settings.temp_max_age_seconds if temp_max_age_seconds is None else temp_max_age_seconds
    return remove_stale_temp_files(runtime, max_age_seconds=age)


@flow(name="reconcile", log_prints=True)
def reconcile(stuck_after_minutes: float = 15, orphan_age_minutes: float = 60, orphan_window_days: int = 7,
              limit: int = 200, temp_max_age_seconds: float | None = None) -> dict[str, list[str]]:
    """对账: redo what outages left failed or stuck; remove uploads and temporary files an interrupted
    receipt, write or forward left behind."""
    report = redispatch_failed_task(limit)
    report.merge(redispatch_stuck_task(stuck_after_minutes, limit))
    report.merge(remove_orphans_task(orphan_age_minutes, orphan_window_days))
    report.merge(remove_stale_temp_files_task(temp_max_age_seconds))
    return {"redispatched": report.redispatched, "needs_attention": report.needs_attention,
            "orphans_deleted": report.orphans_deleted, "temp_files_removed": report.temp_files_removed}
