"""The outbox on its own (storage/outbox): exactly one job per key, claimed under a lease, finished
only by its holder, retried with a backoff and failed for good after its attempts.

On SQLite and PostgreSQL; on PostgreSQL two claimers at once never take the same job.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from storage.db import transaction
from storage.outbox import service as outbox
from storage.outbox.models import OutboxJob
from tests.states.world import NOW, World, world

__all__ = ["world"]


def enqueue(w: World, key: str, kind: str = "test") -> int:
    """A new job's id (the key must be new)."""
    got = enqueue_again(w, key, kind)
    assert got is not None
    return got


def enqueue_again(w: World, key: str, kind: str = "test") -> int | None:
    with transaction(w.runtime.session_factory) as s:
        return outbox.enqueue(db_session=s, kind=kind, dedupe_key=key, payload={"case_no": key}, available_at=NOW)


def job(w: World, job_id: int) -> OutboxJob:
    with transaction(w.runtime.session_factory) as s:
        found = s.get(OutboxJob, job_id)
        assert found is not None
        s.expunge(found)
        return found


def claim(w: World, worker: str, kind: str, *, at: object = NOW, lease: timedelta = timedelta(minutes=10)) -> list[int]:
    with transaction(w.runtime.session_factory) as s:
        return [j.id for j in outbox.claim(db_session=s, worker=worker, now=at, kinds=[kind], lease=lease)]  # type: ignore[arg-type]


def test_the_same_key_writes_one_job_however_often_it_is_enqueued(world: World) -> None:
    enqueue(world, "once:1")
    assert enqueue_again(world, "once:1") is None and enqueue_again(world, "once:1") is None
    with transaction(world.runtime.session_factory) as s:
        assert len(list(s.scalars(select(OutboxJob).where(OutboxJob.dedupe_key == "once:1")))) == 1


def test_a_claimed_job_is_not_claimed_again_until_its_lease_runs_out(world: World) -> None:
    job_id = enqueue(world, "lease:1", kind="lease")
    assert claim(world, "w1", "lease") == [job_id]
    assert claim(world, "w2", "lease") == []
    assert claim(world, "w2", "lease", at=NOW + timedelta(minutes=11)) == [job_id]  # w1 died
    assert job(world, job_id).attempts == 2 and job(world, job_id).claimed_by == "w2"
    with transaction(world.runtime.session_factory) as s:
        assert outbox.finish(db_session=s, job_id=job_id, worker="w1", now=NOW) is False  # not w1's any more
        assert outbox.finish(db_session=s, job_id=job_id, worker="w2", now=NOW) is True
    assert job(world, job_id).status == "done"
    assert claim(world, "w3", "lease", at=NOW + timedelta(hours=1)) == []


def test_a_failure_is_retried_after_its_backoff_then_failed_for_good(world: World) -> None:
    job_id = enqueue(world, "retry:1", kind="retry")
    assert claim(world, "w1", "retry") == [job_id]
    with transaction(world.runtime.session_factory) as s:
        outbox.fail(db_session=s, job_id=job_id, worker="w1", now=NOW, error="boom", retry_in=timedelta(seconds=30),
                    max_attempts=2)
    assert job(world, job_id).status == "pending"
    assert claim(world, "w1", "retry", at=NOW + timedelta(seconds=10)) == []
    assert claim(world, "w1", "retry", at=NOW + timedelta(seconds=31)) == [job_id]
    with transaction(world.runtime.session_factory) as s:
        outbox.fail(db_session=s, job_id=job_id, worker="w1", now=NOW, error="boom again",
                    retry_in=timedelta(seconds=30), max_attempts=2)
    failed = job(world, job_id)
    assert (failed.status, failed.attempts, failed.last_error) == ("failed", 2, "boom again")


def test_two_claimers_at_once_take_different_jobs(world: World) -> None:
    ids = {enqueue(world, f"race:{n}", kind="race") for n in range(4)}
    factory = world.runtime.session_factory
    if world.backend != "postgresql":
        # SQLite: BEGIN IMMEDIATE makes the second claimer wait for the first; it then sees the rest.
        first, second = claim(world, "a", "race"), claim(world, "b", "race")
    else:
        with transaction(factory) as a, transaction(factory) as b:
            first = [j.id for j in outbox.claim(db_session=a, worker="a", now=NOW, kinds=["race"], limit=2)]
            second = [j.id for j in outbox.claim(db_session=b, worker="b", now=NOW, kinds=["race"], limit=10)]
    assert set(first).isdisjoint(second) and set(first) | set(second) == ids
