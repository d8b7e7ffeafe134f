"""The transition service: the only code that changes a case's state.

In the caller's ONE transaction it checks role and zone, applies the event to the lifecycle,
bumps the version (optimistic lock), appends the hash-chained audit event and writes the outbox
jobs the event causes. It never commits: the caller does.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from states import identifiers
from states.lifecycle import EVENT_LABELS, allowed_events, bind
from states.sla.clock import Clock
from states.transition.errors import (
    CaseNotFound,
    EventNotAllowed,
    Forbidden,
    PayloadInvalid,
    VersionConflict,
)
from states.transition.rules import SYSTEM, Actor, is_party, may_send
from storage.audit import service as audit
from storage.case.models import Case, Shipment, StoredFile
from storage.outbox import service as outbox

#: Events a case can receive after it exists (``receive`` creates it: see states/intake).
LIFECYCLE_EVENTS = frozenset(EVENT_LABELS) - {"receive"}


def get_case(*, db_session: Session, case_no: str, for_update: bool = False) -> Case:
    stmt = select(Case).where(Case.case_no == case_no)
    if for_update:
        # Re-read the row even if the session holds it: the version we compare must be current.
        stmt = stmt.execution_options(populate_existing=True)
        if db_session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(of=Case)
    case = db_session.scalars(stmt).unique().first()
    if case is None:
        raise CaseNotFound(f"case {case_no} does not exist", case_no=case_no)
    return case


def visible_case(*, db_session: Session, actor: Actor, case_no: str, for_update: bool = False) -> Case:
    """The case if the actor is party to it (``rules.is_party``); otherwise it does not exist.

    Every interface (API, UI, attachments, shipments) reads a case through here: a case number of a
    case one is not (yet) party to answers exactly like an unknown one, so it leaks nothing.
    """
    case = get_case(db_session=db_session, case_no=case_no, for_update=for_update)
    if not is_party(actor, case):
        raise CaseNotFound(f"case {case_no} does not exist", case_no=case_no)
    return case


def events_for(actor: Actor, case: Case) -> list[str]:
    """What this actor may send now: allowed by the state AND by role and zone."""
    return [e for e in allowed_events(case.state) if may_send(actor, case, e)]


def apply_event(*, db_session: Session, case_no: str, actor: Actor, event: str, version: int | None,
                payload: dict[str, Any], now: datetime, clock: Clock) -> Case:
    case = visible_case(db_session=db_session, actor=actor, case_no=case_no, for_update=True)
    if event not in LIFECYCLE_EVENTS:
        raise EventNotAllowed(
            f"unknown event '{event}'; in state '{case.state}' you may send: "
            f"{', '.join(events_for(actor, case)) or 'nothing'}",
            state=case.state, allowed=events_for(actor, case), event=event,
        )
    if not may_send(actor, case, event):
        raise Forbidden(f"a {actor.role} of this zone may not send '{event}' on case {case_no}",
                        event=event, role=actor.role)
    if event not in allowed_events(case.state):
        allowed = events_for(actor, case)
        raise EventNotAllowed(
            f"'{event}' is not allowed in state '{case.state}'; allowed: {', '.join(allowed) or 'nothing'}",
            state=case.state, allowed=allowed, event=event,
        )
    if version is not None and version != case.version:
        raise VersionConflict(
            f"case {case_no} changed meanwhile (you sent version {version}, it is now {case.version}); "
            "reload and try again", expected=version, actual=case.version,
        )
    handler = _EFFECTS.get(event, _no_effect)
    audit_payload = handler(db_session, case, actor, payload, now)

    previous = case.state
    bind(case).send(event)
    clock.on_state_entered(case, now, previous=previous)
    try:
        db_session.flush()
    except StaleDataError as exc:
        raise VersionConflict(f"case {case_no} changed meanwhile; reload and try again") from exc
    audit.append(db_session=db_session, case_id=case.id, case_no=case.case_no, at=now, actor=actor.username,
                 actor_role=actor.role, event=event, from_state=previous, to_state=case.state,
                 version=case.version, payload=audit_payload)
    for kind in _JOBS.get(event, ()):
        outbox.enqueue(db_session=db_session, kind=kind, case_id=case.id,
                       dedupe_key=f"{kind}:{case.case_no}:v{case.version}", available_at=now,
                       payload={"case_no": case.case_no, "event": event, "version": case.version})
    if event == "return":
        return apply_event(db_session=db_session, case_no=case_no, actor=SYSTEM,
                           event="reopen_for_supplement", version=None,
                           payload={"reason": audit_payload.get("reason", "")}, now=now, clock=clock)
    return case


# --- effects: validate the payload and change what the event changes besides the state ----------

Effect = Callable[[Session, Case, Actor, dict[str, Any], datetime], dict[str, Any]]


def _no_effect(db_session: Session, case: Case, actor: Actor, payload: dict[str, Any],
               now: datetime) -> dict[str, Any]:
    note = str(payload.get("note") or "").strip()
    return {"note": note} if note else {}


def _reason(payload: dict[str, Any], field: str = "reason") -> str:
    reason = str(payload.get(field) or "").strip()
    if not reason:
        raise PayloadInvalid(field, "a reason is required")
    if len(reason) > 2000:
        raise PayloadInvalid(field, "at most 2000 characters")
    return reason


def _with_reason(db_session: Session, case: Case, actor: Actor, payload: dict[str, Any],
                 now: datetime) -> dict[str, Any]:
    case.last_reason = _reason(payload)
    return {"reason": case.last_reason}


def _request_supplement(db_session: Session, case: Case, actor: Actor, payload: dict[str, Any],
                        now: datetime) -> dict[str, Any]:
    """一次性告知: every missing or defective material at once, each with what is wrong."""
    problems = payload.get("materials")
    if not isinstance(problems, list) or not problems:
        raise PayloadInvalid("materials", "list every missing or defective material (at least one)")
    by_id = {m.id: m for m in case.materials}
    listed = []
    for i, p in enumerate(problems):
        if not isinstance(p, dict):
            raise PayloadInvalid(f"materials[{i}]", "must be an object with material_id, problem, note")
        mat = by_id.get(p.get("material_id"))  # type: ignore[arg-type]
        if mat is None:
            raise PayloadInvalid(f"materials[{i}].material_id", "not a material of this case")
        problem = p.get("problem")
        if problem not in ("missing", "defective"):
            raise PayloadInvalid(f"materials[{i}].problem", "must be 'missing' or 'defective'")
        note = str(p.get("note") or "").strip()
        if problem == "defective" and not note:
            raise PayloadInvalid(f"materials[{i}].note", "say what is defective")
        mat.verdict, mat.remark = problem, note
        listed.append({"material_id": mat.id, "name": mat.name, "problem": problem, "note": note})
    reason = str(payload.get("reason") or "").strip()
    case.last_reason = reason or "；".join(f"{m['name']}（{m['problem']}）" for m in listed)
    return {"materials": listed, "reason": reason}


def _precheck_pass(db_session: Session, case: Case, actor: Actor, payload: dict[str, Any],
                   now: datetime) -> dict[str, Any]:
    """Pass only when every required material was handed in and none is marked defective."""
    files_by_material = {f.material_id for f in case.files if f.material_id is not None}
    missing = [m.name for m in case.materials
               if m.required and not m.provided and m.id not in files_by_material]
    if missing:
        raise PayloadInvalid("materials", "required materials not received: " + "、".join(missing))
    for m in case.materials:
        m.verdict = "ok" if (m.provided or m.id in files_by_material) else m.verdict
    out = _no_effect(db_session, case, actor, payload, now)
    if payload.get("originals") is not None:
        out["originals"] = _post_originals(case, payload["originals"], now)
    return out


def _post_originals(case: Case, originals: Any, now: datetime) -> dict[str, str]:
    """原件寄递: the parcel of paper originals to the handling zone; the clock pauses until it arrives."""
    if not isinstance(originals, dict):
        raise PayloadInvalid("originals", "an object with carrier and tracking_no")
    return _record_shipment(case, originals, "originals", now, prefix="originals.")


def _record_shipment(case: Case, fields: dict[str, Any], direction: str, now: datetime, *,
                     prefix: str = "") -> dict[str, str]:
    """A parcel with its carrier and UPU S10 tracking number (check digit validated)."""
    carrier = str(fields.get("carrier") or "").strip()
    if not carrier:
        raise PayloadInvalid(f"{prefix}carrier", "name the carrier (e.g. EMS)")
    try:
        tracking = identifiers.validate_s10(str(fields.get("tracking_no") or ""), field=f"{prefix}tracking_no")
    except identifiers.IdentifierError as exc:  # its message already names the field
        raise PayloadInvalid(exc.field, exc.reason) from exc
    case.shipments.append(Shipment(direction=direction, carrier=carrier, tracking_no=tracking, sent_at=now))
    return {"carrier": carrier, "tracking_no": tracking}


def _forward(db_session: Session, case: Case, actor: Actor, payload: dict[str, Any],
             now: datetime) -> dict[str, Any]:
    """From now on the handling zone is party to the case (``rules.is_party``)."""
    if case.forwarded_at is None:
        case.forwarded_at = now
    return _no_effect(db_session, case, actor, payload, now)


def _claim(db_session: Session, case: Case, actor: Actor, payload: dict[str, Any],
           now: datetime) -> dict[str, Any]:
    case.assignee_id = actor.user_id
    return {"assignee": actor.username}


def _decide(db_session: Session, case: Case, actor: Actor, payload: dict[str, Any],
            now: datetime) -> dict[str, Any]:
    """准予/不予许可: a result document of this case, uploaded by the handling zone, is required."""
    file_id = payload.get("result_file_id")
    if not isinstance(file_id, int):
        raise PayloadInvalid("result_file_id", "upload the result document first and name its file id")
    doc = db_session.get(StoredFile, file_id)
    if doc is None or doc.case_id != case.id or doc.purpose != "result":
        raise PayloadInvalid("result_file_id", f"file {file_id} is not a result document of this case")
    out: dict[str, Any] = {"result_file_id": doc.id, "result_sha256": doc.sha256}
    reason = str(payload.get("reason") or "").strip()
    if reason:
        out["reason"] = case.last_reason = reason
    return out


def _deny(db_session: Session, case: Case, actor: Actor, payload: dict[str, Any],
          now: datetime) -> dict[str, Any]:
    _reason(payload)
    return _decide(db_session, case, actor, payload, now)


def _mail_result(db_session: Session, case: Case, actor: Actor, payload: dict[str, Any],
                 now: datetime) -> dict[str, Any]:
    return _record_shipment(case, payload, "result", now)


def _deliver(db_session: Session, case: Case, actor: Actor, payload: dict[str, Any],
             now: datetime) -> dict[str, Any]:
    """送达办结: optionally with the day the applicant signed for it (签收日期) and who signed (签收人)."""
    out = _no_effect(db_session, case, actor, payload, now)
    signed = _signed_for(payload, now)
    for shipment in case.shipments:
        if shipment.direction == "result" and shipment.delivered_at is None:
            shipment.delivered_at = now
            if signed:
                shipment.extra = {**(shipment.extra or {}), **signed}
    return {**out, **signed}


def _signed_for(payload: dict[str, Any], now: datetime) -> dict[str, str]:
    out: dict[str, str] = {}
    signed_on = str(payload.get("signed_on") or "").strip()
    if signed_on:
        try:
            day = date.fromisoformat(signed_on)
        except ValueError as exc:
            raise PayloadInvalid("signed_on", "a date as YYYY-MM-DD") from exc
        if day > (now + timedelta(days=1)).date():
            raise PayloadInvalid("signed_on", "the signing date is in the future")
        out["signed_on"] = day.isoformat()
    signatory = str(payload.get("signatory") or "").strip()
    if len(signatory) > 100:
        raise PayloadInvalid("signatory", "at most 100 characters")
    if signatory:
        out["signatory"] = signatory
    return out


def _supplement(db_session: Session, case: Case, actor: Actor, payload: dict[str, Any],
                now: datetime) -> dict[str, Any]:
    """Materials came back: their defects are considered mended until the next pre-check."""
    paper = payload.get("paper") or []
    if not isinstance(paper, list) or not all(isinstance(p, int) for p in paper):
        raise PayloadInvalid("paper", "a list of material ids whose paper was handed in")
    known = {m.id for m in case.materials}
    if set(paper) - known:
        raise PayloadInvalid("paper", "not a material of this case")
    for m in case.materials:
        if m.verdict in ("missing", "defective"):
            m.verdict = None
            m.provided = True
        if m.id in paper and not m.paper_received:
            m.paper_received, m.paper_received_at, m.provided = True, now, True
    out = _no_effect(db_session, case, actor, payload, now)
    if paper:
        out["paper"] = [m.name for m in case.materials if m.id in paper]
    return out


_EFFECTS: dict[str, Effect] = {
    "request_supplement": _request_supplement,
    "supplement": _supplement,
    "reject": _with_reason,
    "precheck_pass": _precheck_pass,
    "forward": _forward,
    "return": _with_reason,
    "reopen_for_supplement": _no_effect,
    "claim": _claim,
    "approve": _decide,
    "deny": _deny,
    "mail_result": _mail_result,
    "deliver": _deliver,
    "withdraw": _with_reason,
}

#: Outbox jobs each event causes; the flows in flows/ do them.
_JOBS: dict[str, tuple[str, ...]] = {
    "precheck_pass": ("forward",),
    # mail-back (flows/mailback.py): result copies and notices to the applicant's side
    "approve": ("mailback",),
    "deny": ("mailback",),
    "mail_result": ("mailback",),
    "ready_for_pickup": ("mailback",),
}
