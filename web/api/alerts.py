"""REST routes for SLA alerts (预警) and the notification ledger, scoped to the caller's zone."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query
from pydantic import BaseModel

from notifications.templates import LEVEL_LABELS, STEP_LABELS
from states.sla import alerts as service
from storage.db import transaction
from web.auth import ActorDep, RuntimeDep

router = APIRouter(prefix="/api/v1", tags=["alerts"])


class AlertOut(BaseModel):
    id: int
    case_no: str
    item_code: str
    item_name: str
    step: str
    step_label: str
    #: Which entry into the step (2 = it came back after a return).
    visit: int
    level: str
    level_label: str
    #: The caller's zone's side of the case: ``receiving``, ``handling`` or ``both``.
    side: str
    due_at: datetime
    raised_at: datetime
    #: Messages for this alert by status (``sent``, ``pending``, ``failed`` …).
    deliveries: dict[str, int]


class DeliveryOut(BaseModel):
    id: int
    kind: str
    alert_id: int | None
    recipient: str
    subject: str
    status: str
    attempts: int
    next_attempt_at: datetime
    sent_at: datetime | None
    last_error: str | None
    created_at: datetime


@router.get("/alerts", response_model=list[AlertOut])
def list_alerts(actor: ActorDep, runtime: RuntimeDep,
                level: str | None = Query(None, pattern="^(warning|overdue|escalation)$"),
                case_no: str | None = None, before_id: int | None = Query(None, ge=1, le=2**63 - 1),
                limit: int = Query(50, ge=1, le=500)) -> list[AlertOut]:
    """The caller's zone's alerts, newest first; page with ``before_id`` = the last id seen."""
    with transaction(runtime.session_factory) as s:
        rows = service.list_alerts(db_session=s, actor=actor, level=level, case_no=case_no,
                                   before_id=before_id, limit=limit)
    return [AlertOut(**r.__dict__, step_label=STEP_LABELS["zh-CN"].get(r.step, r.step),
                     level_label=LEVEL_LABELS["zh-CN"][r.level]) for r in rows]


@router.get("/alerts/deliveries", response_model=list[DeliveryOut])
def list_deliveries(actor: ActorDep, runtime: RuntimeDep,
                    status: str | None = Query("failed", pattern="^(pending|sending|sent|failed)$"),
                    limit: int = Query(100, ge=1, le=1000)) -> list[DeliveryOut]:
    """通知台账 for supervisors and admins: by default the messages that failed for good."""
    with transaction(runtime.session_factory) as s:
        rows = service.list_deliveries(db_session=s, actor=actor, status=status, limit=limit)
        return [DeliveryOut(id=d.id, kind=d.kind, alert_id=d.alert_id, recipient=d.recipient, subject=d.subject,
                            status=d.status, attempts=d.attempts, next_attempt_at=d.next_attempt_at,
                            sent_at=d.sent_at, last_error=d.last_error, created_at=d.created_at) for d in rows]
