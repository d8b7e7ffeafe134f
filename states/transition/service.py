"""The transition service: the only code that changes a case's state.

In the caller's ONE transaction it checks role and zone, applies the event to the lifecycle,
bumps the version (optimistic lock), appends the hash-chained audit event, writes the outbox jobs
the event causes and moves the watched deadlines. It never commits: the caller does.

What a transition costs is what its work needs (docs/performance.md):

1. one SELECT of the case row joined with its item, with the checklist state (required materials
   neither ticked nor uploaded) and the head of its audit chain (``cases.audit_seq/audit_head``);
2. the event's own writes, if any (``precheck_pass`` marks the checklist ``ok``; ``mail_result``
   records the parcel; ``claim`` only sets a column of the case row);
3. the watched step deadline moved (the step left retired, the step entered inserted);
4. one UPDATE of the case — state, version, step clock, chain head — guarded by the version the
   SELECT read (the optimistic lock: a concurrent writer makes it match no row);
5. one INSERT of the audit event, chained to the head; one ``INSERT … ON CONFLICT DO NOTHING``
   per outbox job (exactly once by its key).

That is the *direct* path, taken whenever the event changes no pause and no overall deadline
(pre-check, forward, accept, claim, mail-back, pickup). Events that open or end a pause, decide or
close the case (the SLA clock's harder arithmetic, over the case's pause history and watched
deadlines) go through the *ORM* path: the same checks, the same audit and outbox writes, the
clock working on the mapped case. ``tests/states/test_transition_service.py`` drives the direct
events through both paths and compares every row they write.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast

from pydantic import BaseModel
from sqlalchemy import Table as SqlTable
from sqlalchemy import bindparam, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.orm.util import identity_key

from federation import outgoing as federation_hooks
from states.enums import CaseEvent, CaseState
from states.kiosk.rules import open_locker_slot, refuse_paper_in_locker
from states.lifecycle import EVENTS, LIFECYCLE_EVENTS, TRANSITIONS, Table, allowed_events
from states.sla.clock import DECIDED, PAUSED_STATES, STEP_OF_STATE, Clock
from states.transition import payloads as p
from states.transition.errors import (
    CaseNotFound,
    EventNotAllowed,
    Forbidden,
    PayloadInvalid,
    VersionConflict,
)
from states.transition.rules import SYSTEM, Actor, CaseLike, is_party, may_send
from storage.audit import service as audit
from storage.case.models import Case, Material, Shipment, StoredFile
from storage.catalog.models import Item
from storage.outbox import service as outbox

__all__ = ["LIFECYCLE_EVENTS", "TABLES", "Applied", "apply_event", "events_for", "get_case"]


def get_case(*, db_session: Session, case_no: str, for_update: bool = False) -> Case:
    stmt = select(Case).where(Case.case_no == case_no)
    if for_update:
        # Re-read the row even if the session holds it: the version we compare must be current.
        stmt = stmt.execution_options(populate_existing=True)
        if db_session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(of=Case)
    case = db_session.scalars(stmt).unique().first()
    if case is None:
        raise _unknown(case_no)
    return case


def _unknown(case_no: str) -> CaseNotFound:
    """The one answer for a case that does not exist AND for one the caller is not (yet) party to."""
    return CaseNotFound(f"case {case_no} does not exist", case_no=case_no)


def require_party(actor: Actor, case: CaseLike, case_no: str) -> None:
    """Not party → 404 (``rules.is_party``): THE check, for the ORM read and the one-SELECT read alike."""
    if not is_party(actor, case):
        raise _unknown(case_no)


def visible_case(*, db_session: Session, actor: Actor, case_no: str, for_update: bool = False) -> Case:
    """The case if the actor is party to it (``rules.is_party``); otherwise it does not exist.

    Every interface (API, UI, attachments, shipments) reads a case through here: a case number of a
    case one is not (yet) party to answers exactly like an unknown one, so it leaks nothing.
    """
    case = get_case(db_session=db_session, case_no=case_no, for_update=for_update)
    require_party(actor, case, case_no)
    return case


def events_for(actor: Actor, case: CaseLike) -> list[str]:
    """What this actor may send now: allowed by the state AND by role and zone."""
    return [e for e in allowed_events(case.state) if may_send(actor, case, e)]


@dataclass(frozen=True)
class Applied:
    """Where an event left the case."""

    case_id: int
    case_no: str
    state: str
    version: int


# --- the one SELECT ------------------------------------------------------------------------------

@dataclass(frozen=True)
class _ItemView:
    mail_side: str
    promised_days: int
    step_targets: dict[str, Any]


@dataclass
class _CaseView:
    """The case as the direct path reads it: the columns the rules, effects and clock need."""

    id: int
    case_no: str
    state: str
    version: int
    receiving_zone_id: int
    handling_zone_id: int
    due_at: datetime | None
    step: str | None
    paused_since: datetime | None
    audit_seq: int
    audit_head: str
    #: When the case was first forwarded: from then on the handling zone is party (rules.is_party).
    forwarded_at: datetime | None
    #: Required checklist lines neither ticked nor uploaded (what ``precheck_pass`` refuses).
    missing_required: int
    item: _ItemView
    #: A kiosk receipt's locker slot whose paper no clerk has confirmed yet (states/kiosk/rules.py).
    locker_slot: str | None = None


# The direct path's statements are built once, on the tables (not the mapped classes: no ORM
# bookkeeping per call), with bind parameters; each call only binds values.
_cases, _items, _materials, _files = (cast(SqlTable, m.__table__) for m in (Case, Item, Material, StoredFile))
_has_file = (exists().where(_files.c.case_id == _cases.c.id, _files.c.material_id == _materials.c.id)
             .correlate(_cases, _materials))
_MISSING = (select(func.count()).select_from(_materials)
            .where(_materials.c.case_id == _cases.c.id, _materials.c.required.is_(True),
                   _materials.c.provided.is_(False), ~_has_file)
            .correlate(_cases).scalar_subquery())
_READ = (select(_cases.c.id, _cases.c.case_no, _cases.c.state, _cases.c.version, _cases.c.receiving_zone_id,
                _cases.c.handling_zone_id, _cases.c.due_at, _cases.c.step, _cases.c.paused_since,
                _cases.c.audit_seq, _cases.c.audit_head, _cases.c.forwarded_at, _MISSING,
                _items.c.mail_side, _items.c.promised_days, _items.c.step_targets, open_locker_slot(_cases))
         .join_from(_cases, _items, _items.c.id == _cases.c.item_id)
         .where(_cases.c.case_no == bindparam("p_case_no")))
_READ_LOCKED = _READ.with_for_update(of=_cases)
_MATERIALS_OK = (update(_materials)
                 .where(_materials.c.case_id == bindparam("p_case_id"),
                        or_(_materials.c.provided.is_(True),
                            exists().where(_files.c.case_id == bindparam("p_case_id"),
                                           _files.c.material_id == _materials.c.id)))
                 .values(verdict="ok"))
_SHIPMENT = insert(cast(SqlTable, Shipment.__table__))


def _case_update(extra: frozenset[str]) -> Any:
    """UPDATE cases … WHERE id = ? AND version = ? (the optimistic lock), with the event's own columns."""
    cols = ("state", "version", "step", "step_started_at", "step_due_at", "updated_at", "audit_seq", "audit_head",
            *sorted(extra))
    return (update(_cases).where(_cases.c.id == bindparam("p_id"), _cases.c.version == bindparam("p_read_version"))
            .values({c: bindparam(f"p_{c}", type_=_cases.c[c].type) for c in cols}))


_CASE_UPDATES: dict[frozenset[str], Any] = {}


def _read(db_session: Session, case_no: str) -> _CaseView:
    if db_session.new or db_session.dirty or db_session.deleted:
        db_session.flush()  # what the caller changed before must be in the rows read here
    conn = db_session.connection()
    stmt = _READ_LOCKED if conn.dialect.name == "postgresql" else _READ
    row = conn.execute(stmt, {"p_case_no": case_no}).first()
    if row is None:
        raise _unknown(case_no)
    return _CaseView(*row[:13], item=_ItemView(row[13], row[14], row[15] or {}),  # type: ignore[arg-type, misc]
                     locker_slot=row[16])


# --- the transition ------------------------------------------------------------------------------

def apply_event(*, db_session: Session, case_no: str, actor: Actor, event: str, version: int | None,
                payload: dict[str, Any] | BaseModel, now: datetime, clock: Clock,
                direct: bool = True) -> Applied:
    """Send ``event`` to case ``case_no`` as ``actor``; refusals are :mod:`states.transition.errors`.

    ``payload`` is the event's fields (a dict, as the API and the flows send them, or the event's
    model of :mod:`states.transition.payloads`). ``direct=False`` forces the ORM path (tests).
    """
    view = _read(db_session, case_no)
    target = _check(view, actor, event, version)
    body = p.parse(event, payload)
    ev = CaseEvent(event)
    if direct and ev in _DIRECT and view.paused_since is None and target not in _ORM_STATES \
            and not clock.calendar.zones_with_local_days() \
            and not (ev is CaseEvent.precheck_pass and getattr(body, "originals", None) is not None):
        applied = _apply_direct(db_session, view, actor, ev, target, body, now, clock)
    else:
        applied = _apply_orm(db_session, case_no, actor, ev, view.version, body, now, clock)
    then = EVENTS[ev].then
    if then is not None:
        return apply_event(db_session=db_session, case_no=case_no, actor=SYSTEM, event=then, version=None,
                           payload={"reason": getattr(body, "reason", "")}, now=now, clock=clock, direct=direct)
    return applied


def _check(case: _CaseView, actor: Actor, event: str, version: int | None) -> CaseState:
    """Party, known event, role and zone, state, version — in that order; the next state."""
    case_no = getattr(case, "case_no", "")
    require_party(actor, case, case_no)
    if event not in LIFECYCLE_EVENTS:
        raise EventNotAllowed(
            f"unknown event '{event}'; in state '{case.state}' you may send: "
            f"{', '.join(events_for(actor, case)) or 'nothing'}",
            state=case.state, allowed=events_for(actor, case), event=event,
        )
    if not may_send(actor, case, event):
        raise Forbidden(f"a {actor.role} of this zone may not send '{event}' on case {case_no}",
                        event=event, role=actor.role)
    target = TRANSITIONS.get((CaseState(case.state), CaseEvent(event)))
    if target is None:
        allowed = events_for(actor, case)
        raise EventNotAllowed(
            f"'{event}' is not allowed in state '{case.state}'; allowed: {', '.join(allowed) or 'nothing'}",
            state=case.state, allowed=allowed, event=event,
        )
    current = case.version
    if version is not None and version != current:
        raise VersionConflict(
            f"case {case_no} changed meanwhile (you sent version {version}, it is now {current}); "
            "reload and try again", expected=version, actual=current,
        )
    return target


def _audit_and_jobs(db_session: Session, *, case_id: int, case_no: str, seq: int, prev_hash: str, digest: str,
                    actor: Actor, event: CaseEvent, from_state: str, to_state: str, version: int,
                    audit_payload: dict[str, Any], now: datetime) -> None:
    """The audit event the case row's new chain head names, then the event's outbox jobs."""
    audit.insert_event(db_session=db_session, case_id=case_id, seq=seq, prev_hash=prev_hash, hash=digest, at=now,
                       actor=actor.username, actor_role=actor.role, event=event.value, from_state=from_state,
                       to_state=to_state, version=version, payload=audit_payload)
    for kind in EVENTS[event].jobs:
        outbox.enqueue(db_session=db_session, kind=kind.value, case_id=case_id,
                       dedupe_key=f"{kind.value}:{case_no}:v{version}", available_at=now,
                       payload={"case_no": case_no, "event": event.value, "version": version})
    if event.value in federation_hooks.MIRRORED:  # a case shared with a peer deployment: tell it (federation/)
        federation_hooks.on_event(db_session=db_session, case_id=case_id, case_no=case_no,
                                  actor_username=actor.username, actor_role=actor.role, event=event.value,
                                  version=version, payload=audit_payload, now=now)


# --- the direct path -----------------------------------------------------------------------------

DirectEffect = Callable[[Session, _CaseView, Actor, Any, datetime, dict[str, Any]], dict[str, Any]]


def _note(body: Any) -> dict[str, Any]:
    return {"note": body.note} if getattr(body, "note", "") else {}


def _direct_plain(db_session: Session, case: _CaseView, actor: Actor, body: Any, now: datetime,
                  values: dict[str, Any]) -> dict[str, Any]:
    return _note(body)


def _direct_precheck_pass(db_session: Session, case: _CaseView, actor: Actor, body: Any, now: datetime,
                          values: dict[str, Any]) -> dict[str, Any]:
    if case.missing_required:
        _refuse_missing(db_session, case.id)
    if case.locker_slot is not None:
        refuse_paper_in_locker(case.locker_slot)
    db_session.connection().execute(_MATERIALS_OK, {"p_case_id": case.id})
    return _note(body)


def _direct_claim(db_session: Session, case: _CaseView, actor: Actor, body: Any, now: datetime,
                  values: dict[str, Any]) -> dict[str, Any]:
    values["assignee_id"] = actor.user_id
    return {"assignee": actor.username}


def _direct_mail_result(db_session: Session, case: _CaseView, actor: Actor, body: Any, now: datetime,
                        values: dict[str, Any]) -> dict[str, Any]:
    db_session.connection().execute(_SHIPMENT, {"case_id": case.id, "direction": "result", "carrier": body.carrier,
                                                "tracking_no": body.tracking_no, "sent_at": now, "extra": {}})
    return {"carrier": body.carrier, "tracking_no": body.tracking_no}


#: Events the direct path knows (when they change no pause and no overall deadline).
_DIRECT: dict[CaseEvent, DirectEffect] = {
    CaseEvent.precheck_pass: _direct_precheck_pass,
    CaseEvent.forward: _direct_plain,
    CaseEvent.accept: _direct_plain,
    CaseEvent.claim: _direct_claim,
    CaseEvent.mail_result: _direct_mail_result,
    CaseEvent.ready_for_pickup: _direct_plain,
}
#: Entering these moves the overall clock (pause, decision, end): the ORM path's arithmetic.
_ORM_STATES = PAUSED_STATES | DECIDED | frozenset(s for s in CaseState if s not in STEP_OF_STATE)


def _apply_direct(db_session: Session, case: _CaseView, actor: Actor, event: CaseEvent, target: CaseState,
                  body: Any, now: datetime, clock: Clock) -> Applied:
    values: dict[str, Any] = {}
    audit_payload = audit.canonical_payload(_DIRECT[event](db_session, case, actor, body, now, values))
    if event is CaseEvent.forward and case.forwarded_at is None:
        values["forwarded_at"] = now  # from now on the handling zone is party (as _forward does)
    conn = db_session.connection()
    step = STEP_OF_STATE[target]
    step_due = clock.step_due(step, now, due_at=case.due_at, step_targets=case.item.step_targets)
    values["step_due_provisional"] = clock.is_provisional(step_due)  # 暂定 (states/calendar)
    clock.watch_steps_sql(conn, case.id, now, left=STEP_OF_STATE.get(case.state), entered=step, due_at=step_due)
    version, seq = case.version + 1, case.audit_seq + 1
    digest = audit.event_hash(case_no=case.case_no, seq=seq, at=now, actor=actor.username, actor_role=actor.role,
                              event=event.value, from_state=case.state, to_state=target.value, version=version,
                              payload=audit_payload, prev_hash=case.audit_head)
    extra = frozenset(values)
    stmt = _CASE_UPDATES.get(extra)
    if stmt is None:
        stmt = _CASE_UPDATES[extra] = _case_update(extra)
    res = conn.execute(stmt, {
        "p_id": case.id, "p_read_version": case.version, "p_version": version, "p_state": target.value, "p_step": step,
        "p_step_started_at": now if step else None, "p_step_due_at": step_due, "p_updated_at": now,
        "p_audit_seq": seq, "p_audit_head": digest, **{f"p_{k}": v for k, v in values.items()}})
    if res.rowcount != 1:
        raise VersionConflict(f"case {case.case_no} changed meanwhile; reload and try again")
    _audit_and_jobs(db_session, case_id=case.id, case_no=case.case_no, seq=seq, prev_hash=case.audit_head,
                    digest=digest, actor=actor, event=event, from_state=case.state, to_state=target.value,
                    version=version, audit_payload=audit_payload, now=now)
    loaded = db_session.identity_map.get(identity_key(Case, case.id))
    if loaded is not None:  # a row the caller loaded before is stale now: reload it on next use
        db_session.expire(loaded)
    return Applied(case.id, case.case_no, target.value, version)


# --- the ORM path --------------------------------------------------------------------------------

Effect = Callable[[Session, Case, Actor, Any, datetime], dict[str, Any]]


def _apply_orm(db_session: Session, case_no: str, actor: Actor, event: CaseEvent, version: int, body: Any,
               now: datetime, clock: Clock) -> Applied:
    case = get_case(db_session=db_session, case_no=case_no, for_update=True)
    if case.version != version:
        raise VersionConflict(f"case {case_no} changed meanwhile; reload and try again")
    audit_payload = audit.canonical_payload(_EFFECTS[event](db_session, case, actor, body, now))
    previous = case.state
    target = TRANSITIONS[(CaseState(previous), event)]
    case.state = target.value
    clock.on_state_entered(case, now, previous=previous)
    seq, prev_hash = case.audit_seq + 1, case.audit_head
    new_version = case.version + 1  # what the version counter will write at this flush
    digest = audit.event_hash(case_no=case.case_no, seq=seq, at=now, actor=actor.username, actor_role=actor.role,
                              event=event.value, from_state=previous, to_state=target.value, version=new_version,
                              payload=audit_payload, prev_hash=prev_hash)
    case.audit_seq, case.audit_head = seq, digest
    try:
        db_session.flush()
    except StaleDataError as exc:
        raise VersionConflict(f"case {case_no} changed meanwhile; reload and try again") from exc
    assert case.version == new_version
    _audit_and_jobs(db_session, case_id=case.id, case_no=case.case_no, seq=seq, prev_hash=prev_hash,
                    digest=digest, actor=actor, event=event, from_state=previous, to_state=case.state,
                    version=case.version, audit_payload=audit_payload, now=now)
    return Applied(case.id, case.case_no, case.state, case.version)


# --- effects: change what the event changes besides the state; the audit payload -----------------

def _no_effect(db_session: Session, case: Case, actor: Actor, body: Any, now: datetime) -> dict[str, Any]:
    return _note(body)


def _with_reason(db_session: Session, case: Case, actor: Actor, body: Any, now: datetime) -> dict[str, Any]:
    case.last_reason = body.reason
    return {"reason": body.reason}


def _request_supplement(db_session: Session, case: Case, actor: Actor, body: p.RequestSupplement,
                        now: datetime) -> dict[str, Any]:
    """一次性告知: every missing or defective material at once, each with what is wrong."""
    by_id = {m.id: m for m in case.materials}
    listed = []
    for i, problem in enumerate(body.materials):
        mat = by_id.get(problem.material_id)
        if mat is None:
            raise PayloadInvalid(f"materials[{i}].material_id", "not a material of this case",
                                 reason_zh="不是本件的材料")
        mat.verdict, mat.remark = problem.problem, problem.note
        listed.append({"material_id": mat.id, "name": mat.name, "problem": problem.problem, "note": problem.note})
    case.last_reason = body.reason or "；".join(f"{m['name']}（{m['problem']}）" for m in listed)
    return {"materials": listed, "reason": body.reason}


def _refuse_missing(db_session: Session, case_id: int) -> None:
    has_file = exists().where(StoredFile.case_id == case_id, StoredFile.material_id == Material.id)
    names = db_session.scalars(select(Material.name).where(
        Material.case_id == case_id, Material.required.is_(True), Material.provided.is_(False), ~has_file)
        .order_by(Material.position)).all()
    raise PayloadInvalid("materials", "required materials not received: " + "、".join(names),
                         reason_zh="必需材料未收到：" + "、".join(names))


def _precheck_pass(db_session: Session, case: Case, actor: Actor, body: p.PrecheckPass,
                   now: datetime) -> dict[str, Any]:
    """Pass only when every required material was handed in and none is marked defective."""
    files_by_material = {f.material_id for f in case.files if f.material_id is not None}
    if any(m.required and not m.provided and m.id not in files_by_material for m in case.materials):
        _refuse_missing(db_session, case.id)
    slot = db_session.scalar(select(open_locker_slot(Case.__table__)).where(Case.id == case.id))
    if slot is not None:
        refuse_paper_in_locker(slot)
    for m in case.materials:
        m.verdict = "ok" if (m.provided or m.id in files_by_material) else m.verdict
    out = _note(body)
    if body.originals is not None:
        # 原件寄递: the paper originals to the handling zone; the clock pauses until they arrive.
        out["originals"] = _record_shipment(case, body.originals, "originals", now)
    return out


def _record_shipment(case: Case, parcel: p.Parcel, direction: str, now: datetime) -> dict[str, str]:
    case.shipments.append(Shipment(direction=direction, carrier=parcel.carrier, tracking_no=parcel.tracking_no,
                                   sent_at=now))
    return {"carrier": parcel.carrier, "tracking_no": parcel.tracking_no}


def _forward(db_session: Session, case: Case, actor: Actor, body: Any, now: datetime) -> dict[str, Any]:
    """From now on the handling zone is party to the case (``rules.is_party``)."""
    if case.forwarded_at is None:
        case.forwarded_at = now
    return _note(body)


def _claim(db_session: Session, case: Case, actor: Actor, body: Any, now: datetime) -> dict[str, Any]:
    case.assignee_id = actor.user_id
    return {"assignee": actor.username}


def _decide(db_session: Session, case: Case, actor: Actor, body: p.Approve, now: datetime) -> dict[str, Any]:
    """准予/不予许可: a result document of this case, uploaded by the handling zone, is required."""
    doc = db_session.get(StoredFile, body.result_file_id)
    if doc is None or doc.case_id != case.id or doc.purpose != "result":
        raise PayloadInvalid("result_file_id", f"file {body.result_file_id} is not a result document of this case",
                             reason_zh=f"文件 {body.result_file_id} 不是本件的结果文书")
    out: dict[str, Any] = {"result_file_id": doc.id, "result_sha256": doc.sha256}
    if body.reason:
        out["reason"] = case.last_reason = body.reason
    return out


def _mail_result(db_session: Session, case: Case, actor: Actor, body: p.MailResult, now: datetime) -> dict[str, Any]:
    return _record_shipment(case, body, "result", now)


def _deliver(db_session: Session, case: Case, actor: Actor, body: p.Deliver, now: datetime) -> dict[str, Any]:
    """送达办结: optionally with the day the applicant signed for it (签收日期) and who signed (签收人)."""
    signed = _signed_for(body, now)
    for shipment in case.shipments:
        if shipment.direction == "result" and shipment.delivered_at is None:
            shipment.delivered_at = now
            if signed:
                shipment.extra = {**(shipment.extra or {}), **signed}
    return {**_note(body), **signed}


def _signed_for(body: p.Deliver, now: datetime) -> dict[str, str]:
    out: dict[str, str] = {}
    signed_on = body.signed_on.strip()
    if signed_on:
        try:
            day = date.fromisoformat(signed_on)
        except ValueError as exc:
            raise PayloadInvalid("signed_on", "a date as YYYY-MM-DD") from exc
        if day > (now + timedelta(days=1)).date():
            raise PayloadInvalid("signed_on", "the signing date is in the future")
        out["signed_on"] = day.isoformat()
    signatory = body.signatory.strip()
    if len(signatory) > 100:
        raise PayloadInvalid("signatory", "at most 100 characters")
    if signatory:
        out["signatory"] = signatory
    return out


def _supplement(db_session: Session, case: Case, actor: Actor, body: Any, now: datetime) -> dict[str, Any]:
    """Materials came back: their defects are considered mended until the next pre-check."""
    paper = list(body.paper)
    known = {m.id for m in case.materials}
    if set(paper) - known:
        raise PayloadInvalid("paper", "not a material of this case")
    for m in case.materials:
        if m.verdict in ("missing", "defective"):
            m.verdict = None
            m.provided = True
        if m.id in paper and not m.paper_received:
            m.paper_received, m.paper_received_at, m.provided = True, now, True
    out = _note(body)
    if paper:
        out["paper"] = [m.name for m in case.materials if m.id in paper]
    return out


#: Every event of an existing case → its effect (the ORM path). The direct path's are in _DIRECT.
_EFFECTS: dict[CaseEvent, Effect] = {
    CaseEvent.request_supplement: _request_supplement,
    CaseEvent.supplement: _supplement,
    CaseEvent.reject: _with_reason,
    CaseEvent.precheck_pass: _precheck_pass,
    CaseEvent.forward: _forward,
    CaseEvent.return_: _with_reason,
    CaseEvent.reopen_for_supplement: _no_effect,
    CaseEvent.accept: _no_effect,
    CaseEvent.claim: _claim,
    CaseEvent.approve: _decide,
    CaseEvent.deny: _decide,
    CaseEvent.mail_result: _mail_result,
    CaseEvent.ready_for_pickup: _no_effect,
    CaseEvent.deliver: _deliver,
    CaseEvent.withdraw: _with_reason,
}

TABLES = [Table("states/transition/service.py _EFFECTS", "events", [e.value for e in _EFFECTS])]
