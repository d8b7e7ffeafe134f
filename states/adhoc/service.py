"""协作机制 (一事一议): start a request, answer it, receive its one case, promote it into the catalog.

Plain functions over a caller-owned session (they never commit). The one case of an accepted
request is received through the normal intake (``states.intake``): ``ReceiveForm.adhoc_request_id``
makes the intake take the request's one-off item (:func:`item_for_receipt`) instead of looking the
code up in the catalog, and binds the case to the request in the same transaction
(:func:`bind_case`). From then on the case is an ordinary case: every state change goes through the
transition service.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from states.adhoc.enums import DECIDING_ROLES, RequestEvent, RequestState
from states.adhoc.errors import RequestForbidden, RequestNotFound, RequestStateConflict, invalid
from states.adhoc.schemas import DecisionIn, RequestIn
from states.sla.clock import Clock
from states.transition.rules import Actor
from storage.adhoc.models import AdhocEvent, AdhocRequest
from storage.audit import service as audit
from storage.case.models import Case
from storage.catalog import service as catalog
from storage.catalog.models import Item, ItemMaterial
from storage.zone.models import Zone

MAX_NEED = 200
MAX_TEXT = 2000
MAX_DAYS = 365
MAX_MATERIALS = 50


# --- the trail ------------------------------------------------------------------------------------

def _append(*, db_session: Session, req: AdhocRequest, actor: Actor, event: str, at: datetime,
            from_state: str | None, payload: dict[str, Any]) -> AdhocEvent:
    """One event of the request's hash-chained trail (the same hash as a case's audit events)."""
    last = db_session.scalars(select(AdhocEvent).where(AdhocEvent.request_id == req.id)
                              .order_by(AdhocEvent.seq.desc()).limit(1)).first()
    seq, prev = (last.seq + 1, last.hash) if last else (1, audit.GENESIS)
    payload = audit.canonical_payload(payload)
    row = AdhocEvent(request_id=req.id, seq=seq, at=at, actor=actor.username, actor_role=actor.role, event=event,
                     payload=payload, prev_hash=prev,
                     hash=audit.event_hash(case_no=req.ref, seq=seq, at=at, actor=actor.username,
                                           actor_role=actor.role, event=event, from_state=from_state,
                                           to_state=req.state, version=seq, payload=payload, prev_hash=prev))
    db_session.add(row)
    db_session.flush()
    return row


def events_of(*, db_session: Session, request_id: int) -> list[AdhocEvent]:
    return list(db_session.scalars(select(AdhocEvent).where(AdhocEvent.request_id == request_id)
                                   .order_by(AdhocEvent.seq)))


def verify_trail(*, db_session: Session, req: AdhocRequest) -> list[str]:
    """Problems of the request's trail (empty when every hash and link holds)."""
    problems, prev = [], audit.GENESIS
    for e in events_of(db_session=db_session, request_id=req.id):
        if e.prev_hash != prev:
            problems.append(f"event {e.seq}: not linked to the event before it")
        prev = e.hash
    return problems


# --- start ----------------------------------------------------------------------------------------

def _text(value: str, field: str, label: str, limit: int) -> str:
    text = " ".join((value or "").split()) if limit <= MAX_NEED else (value or "").strip()
    if not text:
        raise invalid(field, "is required", f"请填写{label}")
    if len(text) > limit:
        raise invalid(field, f"at most {limit} characters", f"{label}最多 {limit} 个字")
    return text


def start_request(*, db_session: Session, actor: Actor, form: RequestIn, now: datetime, clock: Clock,
                  answer_workdays: int) -> AdhocRequest:
    """发起一事一议: a window clerk asks the zone that would decide the item; the answer is due in
    ``answer_workdays`` working days (watched by the SLA sweep like any deadline)."""
    if actor.role != "clerk" or actor.zone_id is None:
        raise RequestForbidden("only a window clerk (窗口人员) may start an ad-hoc request",
                               "只有窗口人员可以发起一事一议申请")
    need = _text(form.need, "need", "申请事项（申请人要办什么）", MAX_NEED)
    code = (form.handling_zone or "").strip()
    if not code:
        raise invalid("handling_zone", "is required", "请选择由哪个开发区办理（作出决定）")
    zone = db_session.scalars(select(Zone).where(Zone.code == code)).first()
    if zone is None:
        raise invalid("handling_zone", f"unknown zone '{code}'", f"没有编码为“{code}”的开发区")
    if zone.id == actor.zone_id:
        raise invalid("handling_zone", "must be another zone than the window's own",
                      "办理地须是其他开发区：本区自己的事项不需要跨区一事一议")
    urgency = _text(form.urgency, "urgency", "紧急事由（为什么不能等）", MAX_TEXT)
    applicant = " ".join((form.applicant_name or "").split())
    if len(applicant) > MAX_NEED:
        raise invalid("applicant_name", f"at most {MAX_NEED} characters", f"申请人名称最多 {MAX_NEED} 个字")
    own = clock.for_zone(zone.code)  # the deciding zone's working days
    req = AdhocRequest(state=RequestState.pending, need=need, urgency=urgency, applicant_name=applicant,
                       requesting_zone_id=actor.zone_id, handling_zone_id=zone.id, requested_by=actor.username,
                       requested_at=now, started_at=now, due_at=own.due(now, answer_workdays), materials=[],
                       decline_reason="")
    own.schedule(req, "warning")  # type: ignore[arg-type]  # shaped like a case deadline
    db_session.add(req)
    db_session.flush()
    _append(db_session=db_session, req=req, actor=actor, event=RequestEvent.request, at=now, from_state=None,
            payload={"need": need, "handling_zone": zone.code, "urgency": urgency, "applicant": applicant,
                     "answer_due_at": req.due_at.isoformat()})
    return req


# --- read -----------------------------------------------------------------------------------------

def _party(actor: Actor, req: AdhocRequest) -> bool:
    return actor.zone_id is not None and actor.zone_id in (req.requesting_zone_id, req.handling_zone_id)


def get_request(*, db_session: Session, actor: Actor, request_id: int, for_update: bool = False) -> AdhocRequest:
    """The request, if the caller's zone asked or decides it; otherwise as if it did not exist."""
    stmt = select(AdhocRequest).where(AdhocRequest.id == request_id)
    if for_update and db_session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(of=AdhocRequest)
    req = db_session.scalars(stmt).unique().first()
    if req is None or not _party(actor, req):
        raise RequestNotFound(request_id)
    return req


def list_requests(*, db_session: Session, actor: Actor, state: str | None = None,
                  limit: int = 200) -> list[AdhocRequest]:
    """The zone's requests, as the window that asked and as the zone that decides, newest first."""
    if actor.zone_id is None:
        return []
    stmt = (select(AdhocRequest).where(or_(AdhocRequest.requesting_zone_id == actor.zone_id,
                                           AdhocRequest.handling_zone_id == actor.zone_id))
            .order_by(AdhocRequest.id.desc()).limit(limit))
    if state:
        stmt = stmt.where(AdhocRequest.state == state)
    return list(db_session.scalars(stmt).unique())


def case_no_of(*, db_session: Session, req: AdhocRequest, zone_id: int | None = None) -> str | None:
    """The request's case number; the deciding zone learns it only once the case is forwarded to it."""
    if req.case_id is None:
        return None
    stmt = select(Case.case_no).where(Case.id == req.case_id)
    if zone_id is not None and zone_id != req.requesting_zone_id:
        stmt = stmt.where(Case.forwarded_at.is_not(None))
    return db_session.scalar(stmt)


# --- answer ---------------------------------------------------------------------------------------

def _check_decider(actor: Actor, req: AdhocRequest) -> None:
    if actor.role not in DECIDING_ROLES:
        raise RequestForbidden(f"only a supervisor or admin of the deciding zone may answer; you are {actor.role}",
                               "只有办理地的主管或管理员可以答复一事一议申请")
    if actor.zone_id != req.handling_zone_id:
        raise RequestForbidden("only the zone named to decide this item may answer the request",
                               f"此申请由{req.handling_zone.name}答复，本区不能代为决定")


def _check_pending(req: AdhocRequest) -> None:
    if req.state != RequestState.pending:
        from states.adhoc.enums import STATE_LABELS
        raise RequestStateConflict(f"the request is already {req.state}",
                                   f"此申请已答复（{STATE_LABELS.get(req.state, req.state)}），不能再次答复",
                                   req.state)


def _materials(decision: DecisionIn) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, m in enumerate(decision.materials):
        name = " ".join(m.name.split())
        if not name:
            continue  # an empty line of the form, not a material
        if len(name) > MAX_NEED:
            raise invalid(f"materials[{i}].name", f"at most {MAX_NEED} characters", f"材料名称最多 {MAX_NEED} 个字")
        if name in seen:
            raise invalid(f"materials[{i}].name", f"'{name}' is listed twice", f"材料“{name}”重复了")
        seen.add(name)
        form = (m.form or "原件").strip()[:20] or "原件"
        lines.append({"name": name, "form": form, "copies": m.copies, "required": m.required})
    if not lines:
        raise invalid("materials", "at least one material is required", "请列出至少一项申请材料")
    if len(lines) > MAX_MATERIALS:
        raise invalid("materials", f"at most {MAX_MATERIALS} materials", f"材料最多 {MAX_MATERIALS} 项")
    return lines


def decide(*, db_session: Session, actor: Actor, request_id: int, decision: DecisionIn,
           now: datetime) -> AdhocRequest:
    """同意 (this one case, with its checklist and 承诺时限) or 拒绝 (with a reason); audited either way."""
    req = get_request(db_session=db_session, actor=actor, request_id=request_id, for_update=True)
    _check_decider(actor, req)
    _check_pending(req)
    if decision.decision == "decline":
        reason = _text(decision.reason, "reason", "拒绝理由", MAX_TEXT)
        # claim the answer: a concurrent answer that read 'pending' too finds nothing to update
        if not _claim(db_session, req, RequestState.declined):
            _check_pending(_refreshed(db_session, req))
        req.decline_reason = reason
        payload: dict[str, Any] = {"reason": reason}
    else:
        days = decision.promised_days
        if days is None:
            raise invalid("promised_days", "is required", "请填写承诺时限（工作日）")
        if not 1 <= days <= MAX_DAYS:
            raise invalid("promised_days", f"must be between 1 and {MAX_DAYS} working days",
                          f"承诺时限须在 1 到 {MAX_DAYS} 个工作日之间")
        lines = _materials(decision)
        if not _claim(db_session, req, RequestState.accepted):
            _check_pending(_refreshed(db_session, req))
        item = Item(code=req.ref, name=req.need, zone_id=req.handling_zone_id, promised_days=days, adhoc=True,
                    active=False, result_delivery="either", mail_side="handling", same_standard=False)
        item.materials = [ItemMaterial(position=i, name=m["name"], form=m["form"], copies=m["copies"],
                                       required=m["required"]) for i, m in enumerate(lines, start=1)]
        db_session.add(item)
        db_session.flush()
        req.item_id, req.promised_days, req.materials = item.id, days, lines
        payload = {"promised_days": days, "materials": lines, "item": item.code}
    req.decided_by, req.decided_role, req.decided_at = actor.username, actor.role, now
    req.next_level = req.next_alert_at = None  # answered: the answer deadline raises nothing more
    db_session.flush()
    _append(db_session=db_session, req=req, actor=actor, event=decision.decision, at=now,
            from_state=RequestState.pending, payload=payload)
    return req


def _claim(db_session: Session, req: AdhocRequest, state: RequestState) -> bool:
    done = db_session.execute(update(AdhocRequest).where(AdhocRequest.id == req.id,
                                                         AdhocRequest.state == RequestState.pending)
                              .values(state=state).execution_options(synchronize_session=False))
    if done.rowcount != 1:  # type: ignore[attr-defined]
        return False
    req.state = state
    return True


def _refreshed(db_session: Session, req: AdhocRequest) -> AdhocRequest:
    db_session.refresh(req)
    return req


# --- the one case (called by the intake, in its transaction) --------------------------------------

def item_for_receipt(*, db_session: Session, actor: Actor, request_id: int) -> Item:
    """The one-off item an accepted request gives its one case; refused for any other request state."""
    req = get_request(db_session=db_session, actor=actor, request_id=request_id)
    if actor.zone_id != req.requesting_zone_id:
        raise RequestForbidden("only the window that asked may receive the case of an ad-hoc request",
                               "只有发起申请的窗口可以据此收件")
    if req.state == RequestState.pending:
        raise invalid("adhoc_request_id", f"{req.ref} has not been answered yet",
                      f"{req.ref} 尚未答复：办理地同意后才能收件")
    if req.state == RequestState.declined:
        raise invalid("adhoc_request_id", f"{req.ref} was declined: {req.decline_reason}",
                      f"{req.ref} 已被办理地拒绝，不能收件。拒绝理由：{req.decline_reason}")
    if req.case_id is not None or req.item_id is None:
        raise invalid("adhoc_request_id", f"{req.ref} was used for a case already",
                      f"{req.ref} 仅限一件，已据此收件，不能再收")
    item = db_session.get(Item, req.item_id)
    assert item is not None
    return item


def bind_case(*, db_session: Session, actor: Actor, request_id: int, case: Case, now: datetime) -> None:
    """The case received on the request: one case per request, recorded in both trails."""
    req = get_request(db_session=db_session, actor=actor, request_id=request_id)
    done = db_session.execute(update(AdhocRequest).where(AdhocRequest.id == req.id, AdhocRequest.case_id.is_(None))
                              .values(case_id=case.id).execution_options(synchronize_session=False))
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise invalid("adhoc_request_id", f"{req.ref} was used for a case already",
                      f"{req.ref} 仅限一件，已据此收件，不能再收")
    req.case_id = case.id
    _append(db_session=db_session, req=req, actor=actor, event=RequestEvent.receive, at=now,
            from_state=req.state, payload={"case_no": case.case_no})
    audit.append(db_session=db_session, case_id=case.id, case_no=case.case_no, at=now, actor=actor.username,
                 actor_role=actor.role, event="adhoc_terms", from_state=case.state, to_state=case.state,
                 version=case.version,
                 payload={"request": req.ref, "need": req.need, "decided_by": req.decided_by,
                          "decided_at": req.decided_at.isoformat() if req.decided_at else None,
                          "promised_days": req.promised_days, "materials": [m["name"] for m in req.materials],
                          "note": f"一事一议 {req.ref}：{req.decided_by} 同意，承诺时限 {req.promised_days} 个工作日"})


def request_of_case(*, db_session: Session, case_id: int) -> AdhocRequest | None:
    return db_session.scalars(select(AdhocRequest).where(AdhocRequest.case_id == case_id)).unique().first()


# --- promote into the catalog ---------------------------------------------------------------------

def recurring(*, db_session: Session, zone_id: int) -> dict[str, int]:
    """How often each need was accepted for this deciding zone (the same words, spaces folded):
    what an admin may want to list for good."""
    counts: dict[str, int] = {}
    for need in db_session.scalars(select(AdhocRequest.need).where(AdhocRequest.handling_zone_id == zone_id,
                                                                   AdhocRequest.state == RequestState.accepted)):
        counts[need] = counts.get(need, 0) + 1
    return counts


def promote(*, db_session: Session, actor: Actor, request_id: int, code: str, now: datetime) -> Item:
    """转入目录 in one step: a catalog entry of the deciding zone with the request's name, materials and
    limit, offered at every window from now on."""
    req = get_request(db_session=db_session, actor=actor, request_id=request_id, for_update=True)
    if actor.role != "admin" or actor.zone_id != req.handling_zone_id:
        raise RequestForbidden("only an admin of the deciding zone may put the item into its catalog",
                               "只有办理地的管理员可以把此事项转入事项目录")
    if req.state != RequestState.accepted:
        raise RequestStateConflict("only an accepted request can become a catalog item",
                                   "只有已同意的申请才能转入事项目录", req.state)
    if req.promoted_item_id is not None:
        raise RequestStateConflict("the request's item is in the catalog already",
                                   "此申请的事项已转入事项目录", req.state)
    code = (code or "").strip().upper()
    if not code:
        raise invalid("code", "is required", "请填写事项编码")
    if len(code) > 40 or not all(c.isalnum() or c in "-_" for c in code):
        raise invalid("code", "letters, digits, '-' and '_' only, at most 40",
                      "事项编码只能由字母、数字、“-”和“_”组成，最多 40 位")
    if code.startswith("YSYY-"):
        raise invalid("code", "YSYY- codes are kept for one-off items", "“YSYY-”开头的编码留给一事一议，请换一个")
    if db_session.scalars(select(Item.id).where(Item.zone_id == req.handling_zone_id, Item.code == code)).first():
        raise invalid("code", f"item {code} exists already in this zone", f"本区已有编码为 {code} 的事项")
    spec = catalog.ItemSpec(code=code, name=req.need, zone=req.handling_zone.code,
                            promised_days=req.promised_days or 1,
                            materials=[catalog.MaterialSpec(**m) for m in req.materials])
    item = catalog.upsert_item(db_session=db_session, spec=spec)
    req.promoted_item_id = item.id
    db_session.flush()
    _append(db_session=db_session, req=req, actor=actor, event=RequestEvent.promote, at=now, from_state=req.state,
            payload={"code": code, "item_id": item.id})
    return item
