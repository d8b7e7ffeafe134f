"""REST routes of 协作机制 (一事一议): start a request, answer it, promote its item. Thin: parse, call
``states.adhoc.service``, shape the answer. The request's one case is received at ``POST
/api/v1/cases`` with ``adhoc_request_id`` in the ``case`` part (the normal intake)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Query

from states.adhoc import service
from states.adhoc.schemas import DecisionIn, PromoteIn, RequestIn
from states.adhoc.views import view
from storage.db import transaction
from web.auth import ActorDep, RuntimeDep

router = APIRouter(prefix="/api/v1/adhoc-requests", tags=["adhoc"])


@router.post("", status_code=201)
def start(body: RequestIn, actor: ActorDep, runtime: RuntimeDep) -> dict[str, Any]:
    """发起一事一议 (window clerk): what the applicant needs, which zone decides it, why it is urgent."""
    now = runtime.now()
    with transaction(runtime.session_factory) as s:
        req = service.start_request(db_session=s, actor=actor, form=body, now=now, clock=runtime.clock,
                                    answer_workdays=runtime.settings.adhoc_answer_workdays)
        return asdict(view(db_session=s, zone_id=actor.zone_id, req=req, now=now, with_events=True))


@router.get("")
def list_requests(actor: ActorDep, runtime: RuntimeDep,
                  state: str | None = Query(default=None, pattern="^(pending|accepted|declined)$"),
                  ) -> list[dict[str, Any]]:
    """The zone's requests: those its window started and those it is asked to decide."""
    now = runtime.now()
    with transaction(runtime.session_factory) as s:
        return [asdict(view(db_session=s, zone_id=actor.zone_id, req=r, now=now))
                for r in service.list_requests(db_session=s, actor=actor, state=state)]


@router.get("/{request_id}")
def get_request(request_id: int, actor: ActorDep, runtime: RuntimeDep) -> dict[str, Any]:
    now = runtime.now()
    with transaction(runtime.session_factory) as s:
        req = service.get_request(db_session=s, actor=actor, request_id=request_id)
        return asdict(view(db_session=s, zone_id=actor.zone_id, req=req, now=now, with_events=True))


@router.post("/{request_id}/decision")
def decide(request_id: int, body: DecisionIn, actor: ActorDep, runtime: RuntimeDep) -> dict[str, Any]:
    """同意 (with ``materials`` and ``promised_days``) or 拒绝 (with ``reason``): deciding zone's supervisor/admin."""
    now = runtime.now()
    with transaction(runtime.session_factory) as s:
        req = service.decide(db_session=s, actor=actor, request_id=request_id, decision=body, now=now)
        return asdict(view(db_session=s, zone_id=actor.zone_id, req=req, now=now, with_events=True))


@router.post("/{request_id}/promote", status_code=201)
def promote(request_id: int, body: PromoteIn, actor: ActorDep, runtime: RuntimeDep) -> dict[str, Any]:
    """转入目录 (deciding zone's admin): the request's item becomes a catalog entry in one step."""
    with transaction(runtime.session_factory) as s:
        item = service.promote(db_session=s, actor=actor, request_id=request_id, code=body.code, now=runtime.now())
        return {"id": item.id, "code": item.code, "name": item.name, "handling_zone": item.zone.code,
                "promised_days": item.promised_days, "materials": [m.name for m in item.materials]}
