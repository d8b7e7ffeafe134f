"""Courier confirmations (妥投确认): the courier desk reports a result shipment delivered."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel

from states.shipments.service import ConfirmationError, record_carrier_confirmation
from states.transition.errors import CaseNotFound, Forbidden, PayloadInvalid
from states.transition.rules import is_party
from states.transition.service import get_case
from storage.db import transaction
from web.auth import ActorDep, RuntimeDep

router = APIRouter(prefix="/api/v1", tags=["shipments"])


class DeliveredIn(BaseModel):
    case_no: str | None = None
    #: When the carrier says it was delivered; defaults to now.
    delivered_at: datetime | None = None


class DeliveredOut(BaseModel):
    case_no: str
    tracking_no: str
    queued: bool


@router.post("/shipments/{tracking_no}/delivered", response_model=DeliveredOut, status_code=202)
def shipment_delivered(tracking_no: str, body: DeliveredIn, actor: ActorDep, runtime: RuntimeDep) -> DeliveredOut:
    """Records the confirmation; the mail-back flow then closes the case (202: it happens next)."""
    if actor.role not in ("clerk", "supervisor"):
        raise Forbidden("only a window clerk or a supervisor records a courier's confirmation")
    now = runtime.now()
    with transaction(runtime.session_factory) as s:
        try:
            case_no = record_carrier_confirmation(
                db_session=s, tracking_no=tracking_no, confirmed_at=body.delivered_at or now,
                confirmed_by=actor.username, now=now, case_no=body.case_no)
        except ConfirmationError as exc:
            raise PayloadInvalid("tracking_no", str(exc)) from exc
        if not is_party(actor, get_case(db_session=s, case_no=case_no)):
            raise CaseNotFound(f"no result shipment {tracking_no} of your zone's cases")  # rolls back
    runtime.wake_dispatcher()
    return DeliveredOut(case_no=case_no, tracking_no=tracking_no.replace(" ", "").upper(), queued=True)
