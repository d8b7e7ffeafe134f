"""What the API shows of a case: PII masked on every field (docs/architecture.md#privacy, issue 10.7).

The applicant's ID number and phone are masked (``mask_id`` / ``mask_phone``); every text a person
typed — the applicant's name, reasons, remarks, notes, file names, audit payloads — goes through the
one free-text rule ``mask_text``. The full text stays in the stored record (and the hash chain is
verified over it server-side: ``/verify``, ``tongban verify``); see docs/security.md ("The surfaces").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import object_session

from states.calendar import PROVISIONAL_NOTE, UnknownYearError
from states.identifiers import mask_id, mask_payload, mask_phone, mask_text
from states.lifecycle import STATE_LABELS
from states.sla.clock import Clock
from states.sla.overdue import is_overdue
from storage.audit.models import AuditEvent
from storage.case.models import Case, StoredFile
from storage.licence.models import CaseLicence
from storage.sla.models import deadlines_of, pauses_of


class FileOut(BaseModel):
    id: int
    purpose: str
    filename: str
    kind: str
    size: int
    sha256: str
    page_count: int
    zone: str
    material_id: int | None
    created_at: datetime


class ELicenceOut(BaseModel):
    """电子证照 · 已核验: the e-licence that stands in for the material, and who issued it."""

    status: str = "verified"
    label: str = "电子证照 · 已核验"
    licence_type: str
    type_name: str
    number: str
    issuer: str
    issuer_name: str
    key_id: str
    valid_from: str
    valid_until: str | None
    verified_at: datetime
    rendering_file_id: int
    original_file_id: int
    record_file_id: int


class MaterialOut(BaseModel):
    id: int
    name: str
    required: bool
    provided: bool
    #: The paper was handed in (at the counter or with a supplement); scans are the material's files.
    paper_received: bool = False
    verdict: str | None
    remark: str
    e_licence: ELicenceOut | None = None


class ShipmentOut(BaseModel):
    direction: str
    carrier: str
    tracking_no: str
    sent_at: datetime
    delivered_at: datetime | None


class PauseOut(BaseModel):
    """暂停计时: why the overall clock stood still, and how far it moved the deadline."""

    reason: str
    started_at: datetime
    ended_at: datetime | None
    workdays: int | None


class CaseSummary(BaseModel):
    case_no: str
    state: str
    state_label: str
    version: int
    item_code: str
    item_name: str
    receiving_zone: str
    handling_zone: str
    applicant_name: str
    applicant_id: str  # masked
    received_at: datetime
    due_at: datetime | None
    step: str | None
    step_due_at: datetime | None
    #: 暂定: counted with a year whose holidays are not yet published (以国务院办公厅公布的节假日安排为准).
    due_provisional: bool = False
    step_due_provisional: bool = False
    overdue: bool


class DeadlineOut(BaseModel):
    """A watched deadline (the overall one or one visit of a step) and its next alert time."""

    step: str
    visit: int
    due_at: datetime
    active: bool
    next_level: str | None
    next_alert_at: datetime | None
    provisional: bool


class CalendarOut(BaseModel):
    """Which calendar the case's working days are counted by (the handling zone's, for both sides)."""

    zone: str
    #: Set when the zones' calendars differ: the handling zone's rules.
    note: str | None = None
    #: Set while any date of the case is provisional.
    provisional_note: str | None = None


class CaseOut(CaseSummary):
    applicant_kind: str
    applicant_phone: str  # masked
    delivery_method: str
    paused_since: datetime | None
    decided_at: datetime | None
    closed_at: datetime | None
    last_reason: str
    assignee_id: int | None
    materials: list[MaterialOut]
    files: list[FileOut]
    shipments: list[ShipmentOut]
    allowed_events: list[str]
    # --- the overall clock (承诺时限), computed by the server in working days
    time_used_workdays: int | None = None
    time_left_workdays: int | None = None
    paused_workdays: int = 0
    pauses: list[PauseOut] = []
    deadlines: list[DeadlineOut] = []
    calendar: CalendarOut | None = None


class AuditOut(BaseModel):
    seq: int
    at: datetime
    actor: str
    actor_role: str
    event: str
    from_state: str | None
    to_state: str
    version: int
    payload: dict[str, Any]
    hash: str


def summary(case: Case, now: datetime) -> dict[str, Any]:
    return dict(
        case_no=case.case_no, state=case.state, state_label=STATE_LABELS[case.state], version=case.version,
        item_code=case.item.code, item_name=case.item.name, receiving_zone=case.receiving_zone.code,
        handling_zone=case.handling_zone.code, applicant_name=mask_text(case.applicant.name),
        applicant_id=mask_id(case.applicant.id_number), received_at=case.received_at, due_at=case.due_at,
        step=case.step, step_due_at=case.step_due_at, due_provisional=bool(case.due_provisional),
        step_due_provisional=bool(case.step_due_provisional),
        overdue=is_overdue(case, now),
    )


def calendar_of(case: Case, clock: Clock, watched_provisional: bool = False) -> CalendarOut:
    note = None
    if clock.calendar.differs_between(case.receiving_zone.code, case.handling_zone.code):
        note = (f"时限按承办地（{case.handling_zone.name}）工作日历计算 — the handling zone's calendar "
                "counts (the two zones' calendars differ)")
    provisional = case.due_provisional or case.step_due_provisional or watched_provisional
    return CalendarOut(zone=case.handling_zone.code, note=note,
                       provisional_note=f"暂定 provisional：{PROVISIONAL_NOTE}" if provisional else None)


def licences_of(case: Case) -> list[CaseLicence]:
    from licences import service as e_licence

    db_session = object_session(case)
    return e_licence.licences_of(db_session=db_session, case_id=case.id) if db_session is not None else []


def file_out(f: StoredFile) -> FileOut:
    return FileOut(id=f.id, purpose=f.purpose, filename=mask_text(f.filename), kind=f.kind, size=f.size,
                   sha256=f.sha256, page_count=f.page_count, zone=f.zone_code, material_id=f.material_id,
                   created_at=f.created_at)


def case_out(case: Case, now: datetime, allowed: list[str], clock: Clock | None = None) -> CaseOut:
    clock_fields: dict[str, Any] = {}
    if clock is not None:
        clock_fields["pauses"] = [PauseOut(reason=mask_text(p.reason), started_at=p.started_at, ended_at=p.ended_at,
                                           workdays=p.workdays) for p in pauses_of(case)]
        watched = deadlines_of(case)
        clock_fields["deadlines"] = [DeadlineOut(step=d.step, visit=d.visit, due_at=d.due_at, active=d.active,
                                                 next_level=d.next_level, next_alert_at=d.next_alert_at,
                                                 provisional=d.provisional) for d in watched]
        clock_fields["calendar"] = calendar_of(case, clock, any(d.provisional and d.active for d in watched))
        try:
            standing = clock.standing(case, now)
        except UnknownYearError:
            pass  # a year the calendar does not know yet: show no count rather than a guess
        else:
            clock_fields.update(time_used_workdays=standing.used_workdays,
                                time_left_workdays=standing.left_workdays, paused_workdays=standing.paused_workdays)
    e_licences = {r.material_id: ELicenceOut(
        licence_type=r.licence_type, type_name=r.type_name, number=mask_text(r.number), issuer=r.issuer_code,
        issuer_name=r.issuer_name, key_id=r.key_id, valid_from=r.valid_from, valid_until=r.valid_until,
        verified_at=r.verified_at, rendering_file_id=r.rendering_file_id, original_file_id=r.original_file_id,
        record_file_id=r.record_file_id) for r in licences_of(case)}
    return CaseOut(
        **summary(case, now), applicant_kind=case.applicant.kind, applicant_phone=mask_phone(case.applicant.phone),
        delivery_method=case.delivery_method, paused_since=case.paused_since, decided_at=case.decided_at,
        closed_at=case.closed_at, last_reason=mask_text(case.last_reason or ""), assignee_id=case.assignee_id,
        materials=[MaterialOut(id=m.id, name=m.name, required=m.required, provided=m.provided,
                               paper_received=m.paper_received, verdict=m.verdict, remark=mask_text(m.remark or ""),
                               e_licence=e_licences.get(m.id))
                   for m in case.materials],
        files=[file_out(f) for f in case.files],
        shipments=[ShipmentOut(direction=s.direction, carrier=s.carrier, tracking_no=s.tracking_no,
                               sent_at=s.sent_at, delivered_at=s.delivered_at) for s in case.shipments],
        allowed_events=allowed, **clock_fields,
    )


def audit_out(ev: AuditEvent) -> AuditOut:
    return AuditOut(seq=ev.seq, at=ev.at, actor=ev.actor, actor_role=ev.actor_role, event=ev.event,
                    from_state=ev.from_state, to_state=ev.to_state, version=ev.version,
                    payload=mask_payload(ev.payload), hash=ev.hash)  # type: ignore[arg-type]
