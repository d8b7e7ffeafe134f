"""The reconciler finds what outages left failed or stuck, redoes it once, and sweeps orphaned uploads."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import delete, update

from flows import runtime as flow_runtime
from flows.reconcile import reconcile, reconcile_plain
from states.transition.service import get_case
from storage.db import transaction
from storage.outbox.models import OutboxJob
from tests.app_harness import Tongban, make_pdf
from tests.flows.story import assert_consistent, case_json, decide, jobs_of, prechecked_case, received_case


def _set_job(tb: Tongban, job_id: int, **values: object) -> None:
    with transaction(tb.runtime.session_factory) as s:
        s.execute(update(OutboxJob).where(OutboxJob.id == job_id).values(**values))


def test_a_forward_given_up_after_a_long_outage_is_redone_by_the_reconciler(tb_fs: Tongban) -> None:
    tb = tb_fs
    case_no = prechecked_case(tb)
    [job] = [j for j in jobs_of(tb, case_no) if j.kind == "forward"]
    # What the dispatcher leaves after the store stayed down through every attempt:
    _set_job(tb, job.id, status="failed", attempts=8, finished_at=tb.clock.now,
             last_error="[transient] ObjectStoreUnavailable: S3 endpoint … is unavailable")

    report = reconcile_plain(tb.runtime)
    assert f"forward:{case_no} (job #{job.id})" in report.redispatched
    assert reconcile_plain(tb.runtime).redispatched == []  # once is enough: it is pending now
    assert tb.dispatch() >= 1
    assert_consistent(tb, case_no, "forwarded")
    [job] = [j for j in jobs_of(tb, case_no) if j.kind == "forward"]
    assert job.status == "done" and "re-dispatched by the reconciler" not in (job.last_error or "")


def test_a_case_stuck_with_no_job_gets_exactly_one_new_one_once_it_overstays(tb_fs: Tongban) -> None:
    tb = tb_fs
    case_no = prechecked_case(tb)
    with transaction(tb.runtime.session_factory) as s:  # an outbox row lost (e.g. purged by hand)
        s.execute(delete(OutboxJob).where(OutboxJob.case_id == get_case(db_session=s, case_no=case_no).id))

    assert f"forward:{case_no}" not in reconcile_plain(tb.runtime).redispatched  # not stuck yet
    tb.clock.now = tb.clock.now + timedelta(minutes=20)
    try:
        assert f"forward:{case_no}" in reconcile_plain(tb.runtime).redispatched
        assert f"forward:{case_no}" not in reconcile_plain(tb.runtime).redispatched
        assert len([j for j in jobs_of(tb, case_no) if j.kind == "forward"]) == 1
        tb.dispatch()
    finally:
        tb.clock.now = tb.clock.now - timedelta(minutes=20)
    assert_consistent(tb, case_no, "forwarded")


def test_a_decided_case_whose_mailback_never_ran_is_picked_up(tb_fs: Tongban) -> None:
    tb = tb_fs
    case_no = prechecked_case(tb)
    tb.dispatch()
    decide(tb, case_no, "approve")
    with transaction(tb.runtime.session_factory) as s:
        s.execute(delete(OutboxJob).where(OutboxJob.case_id == get_case(db_session=s, case_no=case_no).id,
                                          OutboxJob.kind == "mailback"))
    tb.clock.now = tb.clock.now + timedelta(minutes=20)
    try:
        assert f"mailback:{case_no}" in reconcile_plain(tb.runtime).redispatched
        tb.dispatch()
        # Done since the case entered its state: the reconciler leaves it alone from now on.
        assert f"mailback:{case_no}" not in reconcile_plain(tb.runtime).redispatched
    finally:
        tb.clock.now = tb.clock.now - timedelta(minutes=20)
    assert [f for f in case_json(tb, case_no)["files"] if f["purpose"] == "copy" and f["zone"] == "BJ-ETOWN"]
    assert_consistent(tb, case_no, "approved")


def test_a_permanent_failure_is_reported_not_retried(tb_fs: Tongban) -> None:
    tb = tb_fs
    case_no = prechecked_case(tb)
    with transaction(tb.runtime.session_factory) as s:
        key = get_case(db_session=s, case_no=case_no).files[0].object_key
    tb.runtime.store.put_bytes(key, make_pdf("篡改"))  # altered behind the system's back
    for _ in range(3):
        tb.dispatch()
        tb.clock.now = tb.clock.now + timedelta(minutes=5)
    try:
        [job] = [j for j in jobs_of(tb, case_no) if j.kind == "forward"]
        assert job.status == "failed" and (job.last_error or "").startswith("[permanent] IntegrityError")
        report = reconcile_plain(tb.runtime)
        assert any(line.startswith(f"forward:{case_no} (job #{job.id})") for line in report.needs_attention)
        assert f"forward:{case_no}" not in report.redispatched
        assert len(jobs_of(tb, case_no)) == 1
    finally:
        tb.clock.now = tb.clock.now - timedelta(minutes=15)
    assert case_json(tb, case_no)["state"] == "prechecked"


def test_orphaned_uploads_are_removed_once_old_and_only_if_no_row_names_them(tb_pg: Tongban) -> None:
    tb = tb_pg
    store = tb.runtime.store
    now = tb.clock.now
    two_days_ago = now - timedelta(days=2)
    # A receipt two days ago (its files are referenced) and what a crash left that day and today.
    tb.clock.now = two_days_ago
    try:
        old_case = received_case(tb)
    finally:
        tb.clock.now = now
    old_orphan = f"BJ-ETOWN/incoming/{two_days_ago:%Y/%m/%d}/{uuid.uuid4().hex}.pdf"
    fresh_orphan = f"BJ-ETOWN/incoming/{now:%Y/%m/%d}/{uuid.uuid4().hex}.pdf"
    for key in (old_orphan, fresh_orphan):
        store.put_bytes(key, make_pdf("orphan"))

    flow_runtime.use(tb.runtime)
    result = reconcile(orphan_age_minutes=60)  # the Prefect flow, as the schedule runs it
    assert old_orphan in result["orphans_deleted"]
    assert fresh_orphan not in result["orphans_deleted"]
    assert not store.exists(old_orphan) and store.exists(fresh_orphan)
    assert_consistent(tb, old_case, "received")  # every referenced upload is still there
    assert reconcile(orphan_age_minutes=60)["orphans_deleted"] == []
