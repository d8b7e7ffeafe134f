"""What the API and the pages show of a request: one plain shape, read inside the caller's session."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from states.adhoc import service
from states.adhoc.enums import EVENT_LABELS, STATE_LABELS, RequestState
from storage.adhoc.models import AdhocRequest
from storage.catalog.models import Item


@dataclass
class RequestView:
    id: int
    ref: str
    state: str
    state_label: str
    need: str
    urgency: str
    applicant_name: str
    requesting_zone: str
    requesting_zone_name: str
    handling_zone: str
    handling_zone_name: str
    requested_by: str
    requested_at: datetime
    answer_due_at: datetime
    answer_overdue: bool
    decided_by: str | None
    decided_at: datetime | None
    decline_reason: str
    promised_days: int | None
    #: the one-off checklist with the ids the receipt ticks (``item_material_id``), once accepted
    materials: list[dict[str, Any]]
    item_code: str | None
    case_no: str | None
    promoted_item_code: str | None
    events: list[dict[str, Any]] = field(default_factory=list)


def view(*, db_session: Session, req: AdhocRequest, now: datetime, with_events: bool = False,
         zone_id: int | None = None) -> RequestView:
    item = db_session.get(Item, req.item_id) if req.item_id else None
    promoted = db_session.get(Item, req.promoted_item_id) if req.promoted_item_id else None
    materials = ([{"item_material_id": m.id, "name": m.name, "form": m.form, "copies": m.copies,
                   "required": m.required} for m in item.materials] if item else list(req.materials))
    events = ([{"seq": e.seq, "at": e.at, "actor": e.actor, "actor_role": e.actor_role, "event": e.event,
                "label": EVENT_LABELS.get(e.event, e.event), "payload": e.payload, "hash": e.hash}
               for e in service.events_of(db_session=db_session, request_id=req.id)] if with_events else [])
    return RequestView(
        id=req.id, ref=req.ref, state=req.state, state_label=STATE_LABELS.get(req.state, req.state), need=req.need,
        urgency=req.urgency, applicant_name=req.applicant_name, requesting_zone=req.requesting_zone.code,
        requesting_zone_name=req.requesting_zone.name, handling_zone=req.handling_zone.code,
        handling_zone_name=req.handling_zone.name, requested_by=req.requested_by, requested_at=req.requested_at,
        answer_due_at=req.due_at, answer_overdue=req.state == RequestState.pending and req.due_at < now,
        decided_by=req.decided_by, decided_at=req.decided_at, decline_reason=req.decline_reason,
        promised_days=req.promised_days, materials=materials, item_code=item.code if item else None,
        case_no=service.case_no_of(db_session=db_session, req=req, zone_id=zone_id),
        promoted_item_code=promoted.code if promoted else None, events=events,
    )
