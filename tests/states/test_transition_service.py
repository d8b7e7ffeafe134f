"""The transition service on its own, on SQLite and on PostgreSQL: what one event writes, what a
refusal leaves untouched, and that its direct path writes exactly what the ORM path writes.

(The same rules seen through HTTP: tests/web/test_api_events_matrix.py, test_api_branches.py.)
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select

from states.transition import service as transitions
from states.transition.errors import CaseNotFound, EventNotAllowed, Forbidden, PayloadInvalid, VersionConflict
from states.transition.rules import SYSTEM, Actor
from states.verify import verify_case
from storage.audit import service as audit
from storage.audit.models import AuditEvent
from storage.case.models import Case, Material, Shipment, StoredFile
from storage.db import transaction
from storage.outbox.models import OutboxJob
from storage.sla.models import CaseDeadline
from tests.app_harness import TRACKING
from tests.states.world import NOW, World, world

__all__ = ["world"]


def send(w: World, case_no: str, actor: Actor | str, event_: str, *, version: int | None = None,
         direct: bool = True, now: Any = NOW, **payload: Any) -> transitions.Applied:
    who = actor if isinstance(actor, Actor) else w.actor(actor)
    with transaction(w.runtime.session_factory) as s:
        return transitions.apply_event(db_session=s, case_no=case_no, actor=who, event=event_, version=version,
                                       payload=payload, now=now, clock=w.runtime.clock, direct=direct)


def result_doc(w: World, case_no: str) -> int:
    """A result document in the store and on the case (what the upload would have recorded)."""
    key = f"test/{case_no}/result.pdf"
    stored = w.runtime.store.put_bytes(key, b"%PDF-1.4 decision")
    with transaction(w.runtime.session_factory) as s:
        case = transitions.get_case(db_session=s, case_no=case_no)
        doc = StoredFile(case_id=case.id, purpose="result", zone_code="TJ-TEDA", filename="决定书.pdf", kind="pdf",
                         size=stored.size, sha256=stored.sha256, object_key=key)
        s.add(doc)
        s.flush()
        return doc.id


def snapshot(w: World, case_no: str) -> dict[str, Any]:
    """Every row a transition writes for a case, without what differs between two cases by nature."""
    with transaction(w.runtime.session_factory) as s:
        case = transitions.get_case(db_session=s, case_no=case_no)
        cid = case.id
        row = {c: getattr(case, c) for c in ("state", "version", "closed", "due_at", "step", "step_started_at",
                                             "step_due_at", "paused_since", "decided_at", "closed_at", "last_reason",
                                             "assignee_id", "audit_seq")}
        return {
            "case": row,
            "materials": [(m.position, m.verdict, m.provided, m.remark)
                          for m in s.scalars(select(Material).where(Material.case_id == cid).order_by(Material.id))],
            "shipments": [(x.direction, x.carrier, x.tracking_no, x.sent_at, x.delivered_at)
                          for x in s.scalars(select(Shipment).where(Shipment.case_id == cid).order_by(Shipment.id))],
            "deadlines": [(d.step, d.visit, d.started_at, d.due_at, d.active, d.ended_at, d.next_level,
                           d.next_alert_at)
                          for d in s.scalars(select(CaseDeadline).where(CaseDeadline.case_id == cid)
                                             .order_by(CaseDeadline.step, CaseDeadline.visit))],
            "audit": [(e.seq, e.event, e.actor, e.from_state, e.to_state, e.version,
                       {k: v for k, v in e.payload.items() if k != "result_file_id"})
                      for e in audit.list_events(db_session=s, case_id=cid)],
            "outbox": [(j.kind, j.status, j.dedupe_key.replace(case_no, "N"), j.payload["event"], j.payload["version"])
                       for j in s.scalars(select(OutboxJob).where(OutboxJob.case_id == cid).order_by(OutboxJob.id))],
            "problems": verify_case(db_session=s, store=w.runtime.store, case_no=case_no).problems,
        }


def walk(w: World, case_no: str, *, direct: bool) -> None:
    """The whole happy path, an hour between events, by whoever may send each."""
    t = NOW
    for who, ev in (("bj_clerk", "precheck_pass"), (SYSTEM, "forward"), ("tj_reviewer", "accept"),
                    ("tj_reviewer", "claim")):
        t += timedelta(hours=1)
        send(w, case_no, who, ev, direct=direct, now=t, note="ok" if ev == "accept" else "")
    t += timedelta(hours=1)
    send(w, case_no, "tj_reviewer", "approve", result_file_id=result_doc(w, case_no), direct=direct, now=t)
    t += timedelta(hours=1)
    send(w, case_no, "tj_reviewer", "mail_result", carrier="EMS", tracking_no=TRACKING, direct=direct, now=t)
    t += timedelta(hours=1)
    send(w, case_no, "tj_clerk", "deliver", direct=direct, now=t)


def test_the_direct_path_writes_exactly_what_the_orm_path_writes(world: World) -> None:
    fast, slow = world.receive(), world.receive()
    walk(world, fast, direct=True)
    walk(world, slow, direct=False)
    a, b = snapshot(world, fast), snapshot(world, slow)
    for part in ("case", "materials", "shipments", "deadlines", "audit", "outbox"):
        assert a[part] == b[part], part
    assert a["case"]["state"] == "closed" and a["problems"] == [] and b["problems"] == []


def test_precheck_pass_writes_state_clock_chain_outbox_and_the_watched_deadline(world: World) -> None:
    case_no = world.receive()
    before = snapshot(world, case_no)
    seen: list[str] = []
    engine = world.runtime.engine
    listener = lambda *a: seen.append(a[2])  # noqa: E731
    clerk = world.actor("bj_clerk")
    event.listen(engine, "before_cursor_execute", listener)
    try:
        applied = send(world, case_no, clerk, "precheck_pass", version=before["case"]["version"])
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    after = snapshot(world, case_no)
    assert (applied.state, applied.version) == ("prechecked", before["case"]["version"] + 1)
    assert after["case"]["step"] == "forward" and after["case"]["step_started_at"] == NOW
    assert after["case"]["step_due_at"] > NOW and after["case"]["audit_seq"] == 2
    assert all(m[1] == "ok" for m in after["materials"])
    assert after["audit"][-1][:6] == (2, "precheck_pass", "bj_clerk", "received", "prechecked", applied.version)
    assert after["outbox"] == [("forward", "pending", f"forward:N:v{applied.version}", "precheck_pass",
                                applied.version)]
    watched = [d for d in after["deadlines"] if d[4]]
    assert sorted(d[0] for d in watched) == ["forward", "overall"]
    assert [d for d in after["deadlines"] if d[0] == "precheck"][0][4] is False
    assert after["problems"] == []
    # One read, the checklist, the deadline moved (retire + insert), the case, audit, outbox.
    sql = [s for s in seen if not s.startswith("BEGIN")]
    assert len(sql) == 7, sql
    assert sql[0].lstrip().startswith("SELECT")


def test_return_reopens_for_supplement_in_the_same_transaction(world: World) -> None:
    case_no = world.receive()
    send(world, case_no, "bj_clerk", "precheck_pass")
    send(world, case_no, SYSTEM, "forward")
    applied = send(world, case_no, "tj_reviewer", "return", reason="材料不全")
    assert applied.state == "awaiting_supplement"
    trail = snapshot(world, case_no)["audit"]
    assert [e[1] for e in trail[-2:]] == ["return", "reopen_for_supplement"]
    assert trail[-2][6] == {"reason": "材料不全"} and trail[-1][6] == {}
    assert snapshot(world, case_no)["case"]["paused_since"] == NOW


@pytest.mark.parametrize(("who", "ev", "payload", "error", "field"), [
    ("tj_reviewer", "precheck_pass", {}, CaseNotFound, None),        # not party before the forward: as if absent
    ("bj_clerk", "accept", {}, Forbidden, None),                      # nor the receiving side accept
    ("bj_clerk", "claim", {}, Forbidden, None),
    ("bj_clerk", "teleport", {}, EventNotAllowed, None),
    ("bj_clerk", "supplement", {}, EventNotAllowed, None),            # nothing was asked for
    ("bj_clerk", "reject", {"reason": "  "}, PayloadInvalid, "reason"),
    ("bj_clerk", "request_supplement", {"materials": []}, PayloadInvalid, "materials"),
    ("bj_clerk", "request_supplement", {"materials": [{"material_id": 999999, "problem": "missing"}]},
     PayloadInvalid, "materials[0].material_id"),
    ("bj_clerk", "request_supplement", {"materials": [{"material_id": 1, "problem": "defective"}]},
     PayloadInvalid, "materials[0].note"),
    ("bj_clerk", "precheck_pass", {"originals": {"carrier": "EMS", "tracking_no": "RR473124828GB"}},
     PayloadInvalid, "originals.tracking_no"),
])
def test_a_refusal_names_what_is_wrong_and_changes_nothing(world: World, who: str, ev: str,
                                                           payload: dict[str, Any], error: type, field: str) -> None:
    case_no = world.receive()
    before = snapshot(world, case_no)
    with pytest.raises(error) as refused:
        send(world, case_no, who, ev, **payload)
    if field is not None:
        assert refused.value.field == field  # type: ignore[attr-defined]
    assert snapshot(world, case_no) == before


def test_precheck_pass_refuses_a_checklist_with_required_materials_missing(world: World) -> None:
    case_no = world.receive(tick_all=False)
    before = snapshot(world, case_no)
    with pytest.raises(PayloadInvalid) as refused:
        send(world, case_no, "bj_clerk", "precheck_pass")
    assert refused.value.field == "materials" and "required materials not received" in refused.value.reason
    assert snapshot(world, case_no) == before


def test_a_stale_version_is_a_conflict_and_the_winner_is_kept(world: World) -> None:
    case_no = world.receive()
    v = snapshot(world, case_no)["case"]["version"]
    send(world, case_no, "bj_clerk", "precheck_pass", version=v)
    after = snapshot(world, case_no)
    with pytest.raises(VersionConflict):
        send(world, case_no, "bj_clerk", "withdraw", version=v, reason="申请人撤回")
    assert snapshot(world, case_no) == after


def test_the_direct_update_is_guarded_by_the_version_it_read(world: World) -> None:
    """Between the SELECT and the UPDATE nobody else can win (the row is locked); if the guard ever
    met a moved version it refuses rather than overwrite."""
    case_no = world.receive()
    clerk = world.actor("bj_clerk")
    with transaction(world.runtime.session_factory) as s:
        view = transitions._read(s, case_no)
        view.version -= 1  # what a lost race would look like
        with pytest.raises(VersionConflict):
            transitions._apply_direct(s, view, clerk, transitions.CaseEvent.precheck_pass,
                                      transitions.CaseState.prechecked, transitions.p.parse("precheck_pass", {}),
                                      NOW, world.runtime.clock)
        s.rollback()
    assert snapshot(world, case_no)["case"]["state"] == "received"


def test_a_file_attached_between_events_moves_the_chain_not_the_version(world: World) -> None:
    """Non-lifecycle audit events (files, copies, reassignment) keep the version a clerk's page holds."""
    case_no = world.receive()
    v = snapshot(world, case_no)["case"]["version"]
    with transaction(world.runtime.session_factory) as s:
        case = transitions.get_case(db_session=s, case_no=case_no)
        audit.append(db_session=s, case_id=case.id, case_no=case_no, at=NOW, actor="bj_clerk", actor_role="clerk",
                     event="attach_supplement", from_state=case.state, to_state=case.state, version=case.version,
                     payload={"files": []})
    mid = snapshot(world, case_no)
    assert mid["case"]["version"] == v and mid["case"]["audit_seq"] == 2
    send(world, case_no, "bj_clerk", "precheck_pass", version=v)
    after = snapshot(world, case_no)
    assert [e[0] for e in after["audit"]] == [1, 2, 3] and after["problems"] == []


def test_a_peer_or_a_flow_sends_as_the_system(world: World) -> None:
    case_no = world.receive()
    send(world, case_no, "bj_clerk", "precheck_pass")
    peer = Actor(username="peer:TJ-TEDA", role="system")
    applied = send(world, case_no, peer, "forward", packet_sha256="b" * 64)
    assert applied.state == "forwarded"
    assert snapshot(world, case_no)["audit"][-1][2] == "peer:TJ-TEDA"


def test_the_payload_may_be_the_events_model(world: World) -> None:
    case_no = world.receive()
    body = transitions.p.Reject.model_validate({"reason": "不属于代收范围"})
    assert send(world, case_no, "bj_clerk", "reject", **body.model_dump(exclude={"event", "version"})).state == \
        "rejected"
    other, clerk = world.receive(), world.actor("bj_clerk")
    with transaction(world.runtime.session_factory) as s:
        applied = transitions.apply_event(db_session=s, case_no=other, actor=clerk, event="reject", version=None,
                                          payload=body, now=NOW, clock=world.runtime.clock)
    assert applied.state == "rejected"
    with transaction(world.runtime.session_factory) as s:
        last = s.scalars(select(AuditEvent).join(Case, Case.id == AuditEvent.case_id)
                         .where(Case.case_no == other).order_by(AuditEvent.seq.desc())).first()
        assert last is not None and last.payload == {"reason": "不属于代收范围"}
