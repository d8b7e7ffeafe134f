"""Mail-back: the decision reaches the applicant's side, the parcel is tracked, the carrier closes the case."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from states.transition.service import get_case
from storage.db import transaction
from storage.outbox.models import OutboxJob
from storage.sla.models import Delivery
from tests.app_harness import USCC, Tongban
from tests.flows.story import (
    assert_consistent,
    audit_events,
    case_json,
    decide,
    jobs_of,
    prechecked_case,
    tracking_no,
)
from web.cli import app as cli


@pytest.fixture(params=["sqlite+fs", "postgres+s3"])
def tb(request: pytest.FixtureRequest) -> Tongban:
    return request.getfixturevalue("tb_fs" if request.param == "sqlite+fs" else "tb_pg")


@pytest.fixture(autouse=True)
def window_channel(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[None]:
    """The receiving window's clerks have a channel (never sent to here: only the ledger is read)."""
    tb = request.getfixturevalue("tb") if "tb" in request.fixturenames else request.getfixturevalue("tb_fs")
    routes = tmp_path / "routes.json"
    routes.write_text(json.dumps({"channels": {"bj-window": "json://127.0.0.1:9/tongban"},
                                  "zones": {"BJ-ETOWN": {"clerk": ["bj-window"]}}}))
    tb.runtime.settings.notification_routes = routes
    yield
    tb.runtime.settings.notification_routes = None


def _courier_desk(tb: Tongban, *args: str) -> tuple[int, str]:
    """`tongban shipment delivered …` as the courier desk runs it, against this tongban's data."""
    s = tb.runtime.settings
    env = {"TONGBAN_DATABASE_URL": s.resolved_database_url(), "TONGBAN_STORAGE_URL": s.resolved_storage_url(),
           "TONGBAN_HOME": str(s.home)}
    result = CliRunner().invoke(cli, ["shipment", "delivered", *args], env=env)
    return result.exit_code, result.output


def _notices(tb: Tongban, case_no: str) -> list[str]:
    """Topics of the result notices in the ledger for this case, in the order they were queued."""
    with transaction(tb.runtime.session_factory) as s:
        rows = s.execute(select(Delivery.dedupe_key, Delivery.recipient, Delivery.body)
                         .where(Delivery.kind == "result", Delivery.dedupe_key.like(f"%:{case_no}:%"))
                         .order_by(Delivery.id)).all()
    assert all(r.recipient == "channel:bj-window" for r in rows)
    assert not any(USCC in r.body for r in rows)
    return [r.dedupe_key.split(":", 1)[0] for r in rows]


def test_approved_case_goes_back_by_post_and_the_carrier_closes_it(tb: Tongban) -> None:
    case_no = prechecked_case(tb)
    tb.dispatch()
    decide(tb, case_no, "approve")

    # The decision: its document is copied to the receiving window, verified, and the window is told.
    assert tb.dispatch() >= 1
    case = case_json(tb, case_no)
    copies = [f for f in case["files"] if f["purpose"] == "copy" and f["zone"] == "BJ-ETOWN"]
    assert len(copies) == 1 and copies[0]["filename"] == "决定书.pdf"
    assert _notices(tb, case_no) == ["result_decided"]
    assert audit_events(tb, case_no)[-2:] == ["approve", "copy_result"]

    # The handling zone mails it: the tracking number is the shipment record; the window hears of it.
    tracking = tracking_no()
    r = tb.event("tj_reviewer", case_no, "mail_result", carrier="EMS", tracking_no=tracking)
    assert r.status_code == 200, r.text
    tb.dispatch()
    assert _notices(tb, case_no) == ["result_decided", "result_mailed"]
    assert case_json(tb, case_no)["state"] == "mailed"
    with transaction(tb.runtime.session_factory) as s:
        body = s.scalars(select(Delivery.body).where(Delivery.dedupe_key.like(f"result_mailed:{case_no}:%"))).one()
    assert tracking in body and "EMS" in body

    # The courier desk confirms delivery; the next dispatch closes the case as the system.
    code, out = _courier_desk(tb, tracking.lower())
    assert code == 0, out
    assert case_no in out
    assert tb.dispatch() >= 1
    case = case_json(tb, case_no)
    assert case["state"] == "closed"
    assert case["shipments"][0]["delivered_at"]
    with transaction(tb.runtime.session_factory) as s:
        from storage.audit.models import AuditEvent

        c = get_case(db_session=s, case_no=case_no)
        last = s.scalars(select(AuditEvent).where(AuditEvent.case_id == c.id).order_by(AuditEvent.seq.desc())).first()
        assert last is not None and last.event == "deliver" and last.actor == "system"
        assert tracking in last.payload["note"] and "courier desk" in last.payload["note"]
    assert_consistent(tb, case_no, "closed")

    # Confirming again, or rerunning every job, changes nothing.
    code, out = _courier_desk(tb, tracking)
    assert code == 1 and "no result shipment" in out
    with transaction(tb.runtime.session_factory) as s:
        s.execute(update(OutboxJob).where(OutboxJob.case_id == get_case(db_session=s, case_no=case_no).id,
                                          OutboxJob.kind == "mailback").values(status="pending"))
    tb.dispatch()
    assert_consistent(tb, case_no, "closed")
    assert _notices(tb, case_no) == ["result_decided", "result_mailed"]


def test_denied_case_ready_for_pickup_is_announced_once(tb_fs: Tongban) -> None:
    tb = tb_fs
    case_no = prechecked_case(tb)
    tb.dispatch()
    decide(tb, case_no, "deny")
    tb.dispatch()
    r = tb.event("bj_clerk", case_no, "ready_for_pickup")
    assert r.status_code == 200, r.text
    tb.dispatch()
    tb.dispatch()
    assert sorted(_notices(tb, case_no)) == ["result_decided", "result_ready_for_pickup"]
    assert audit_events(tb, case_no).count("copy_result") == 1
    assert_consistent(tb, case_no, "awaiting_pickup")


def test_courier_desk_gets_a_clear_refusal_for_an_unknown_or_invalid_number(tb_fs: Tongban) -> None:
    code, out = _courier_desk(tb_fs, tracking_no())
    assert code == 1 and "no result shipment" in out
    code, out = _courier_desk(tb_fs, "EA123456789CN")
    assert code == 1 and "check digit" in out


def test_a_result_altered_in_the_store_fails_fast_and_nothing_is_copied(tb_fs: Tongban) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName, FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import FlowRunSort

    tb = tb_fs
    case_no = prechecked_case(tb)
    tb.dispatch()
    decide(tb, case_no, "approve")
    result = next(f for f in case_json(tb, case_no)["files"] if f["purpose"] == "result")
    with transaction(tb.runtime.session_factory) as s:
        key = next(f.object_key for f in get_case(db_session=s, case_no=case_no).files if f.id == result["id"])
    tb.runtime.store.put_bytes(key, b"%PDF-1.4 forged")

    assert tb.dispatch() == 0
    job = next(j for j in jobs_of(tb, case_no) if j.kind == "mailback")
    assert job.status == "pending" and (job.last_error or "").startswith("[permanent] IntegrityError")
    case = case_json(tb, case_no)
    assert case["state"] == "approved"
    assert not [f for f in case["files"] if f["purpose"] == "copy" and f["zone"] == "BJ-ETOWN"]
    assert tb.runtime.store.list(f"BJ-ETOWN/cases/{case_no}/") == []
    # Failed at the first try: the task was not retried.
    with get_client(sync_client=True) as client:
        run = client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=["mailback"])),
                                    sort=FlowRunSort.START_TIME_DESC, limit=1)[0]
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])))
    copy_task = next(t for t in tasks if t.name.startswith("copy_results_task"))
    assert copy_task.state is not None and copy_task.state.is_failed()
    assert copy_task.run_count == 1


def test_the_routes_file_decides_who_hears_of_a_result(tb_fs: Tongban, tmp_path: Path) -> None:
    """`results: [supervisor]`: the notice goes to the receiving zone's supervisors, not the window."""
    tb = tb_fs
    routes = tmp_path / "routes-results.json"
    routes.write_text(json.dumps({"channels": {"bj-window": "json://127.0.0.1:9/window",
                                               "bj-lead": "json://127.0.0.1:9/lead"},
                                  "results": ["supervisor"],
                                  "zones": {"BJ-ETOWN": {"clerk": ["bj-window"], "supervisor": ["bj-lead"]}}}))
    tb.runtime.settings.notification_routes = routes
    case_no = prechecked_case(tb)
    tb.dispatch()
    decide(tb, case_no, "deny")
    tb.dispatch()
    with transaction(tb.runtime.session_factory) as s:
        heard = s.execute(select(Delivery.recipient, Delivery.dedupe_key).where(
            Delivery.kind == "result", Delivery.dedupe_key.like(f"%:{case_no}:%"))).all()
    assert [r.recipient for r in heard] == ["channel:bj-lead"], heard
    assert heard[0].dedupe_key.startswith("result_decided:")
