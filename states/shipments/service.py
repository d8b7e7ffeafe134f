"""妥投确认: the carrier's word that a result parcel was delivered, recorded on the shipment row.

There is no carrier API here: the courier desk (``tongban shipment delivered``) or a carrier feed
(``POST /api/shipments/…/delivered``) records it through :func:`record_carrier_confirmation`, which
also queues the ``mailback`` job; the mail-back flow reads it back with :func:`pending_confirmation`
and sends ``deliver`` through the transition service. A plain function over the caller's session:
it never commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from states import identifiers
from states.enums import CaseState
from storage.case.models import Case, Shipment
from storage.outbox import service as outbox


class ConfirmationError(ValueError):
    """The courier desk's confirmation cannot be matched to exactly one shipment in the post."""


@dataclass(frozen=True)
class Confirmation:
    shipment_id: int
    tracking_no: str
    confirmed_at: str
    confirmed_by: str


def pending_confirmation(case: Case) -> Confirmation | None:
    """The confirmation recorded on the case's result shipment and not yet acted on (None: none)."""
    if case.state != CaseState.mailed:
        return None
    for sh in case.shipments:
        if sh.direction == "result" and sh.delivered_at is None and sh.extra.get("carrier_confirmed_at"):
            return Confirmation(shipment_id=sh.id, tracking_no=sh.tracking_no,
                                confirmed_at=str(sh.extra["carrier_confirmed_at"]),
                                confirmed_by=str(sh.extra.get("confirmed_by", "")))
    return None


def record_carrier_confirmation(*, db_session: Session, tracking_no: str, confirmed_at: datetime,
                                confirmed_by: str, now: datetime, case_no: str | None = None) -> str:
    """妥投确认: mark the shipment confirmed and queue the ``mailback`` job that closes the case.

    Idempotent: confirming the same shipment again changes nothing and queues nothing new.
    Returns the case number.
    """
    try:
        tracking = identifiers.validate_s10(tracking_no, field="tracking_no")
    except identifiers.IdentifierError as exc:
        raise ConfirmationError(exc.message) from exc
    stmt = (select(Shipment, Case).join(Case, Shipment.case_id == Case.id)
            .where(Shipment.tracking_no == tracking, Shipment.direction == "result",
                   Shipment.delivered_at.is_(None), Case.state == CaseState.mailed))
    if case_no:
        stmt = stmt.where(Case.case_no == case_no)
    found = list(db_session.execute(stmt).unique().all())
    if not found:
        where = f" for case {case_no}" if case_no else ""
        raise ConfirmationError(f"no result shipment {tracking} in the post{where} (already delivered, "
                                "or the tracking number was never entered)")
    if len({c.case_no for _, c in found}) > 1:
        raise ConfirmationError(f"tracking number {tracking} is on several cases in the post "
                                f"({', '.join(sorted(c.case_no for _, c in found))}); name the case")
    shipment, case = found[0]
    if not shipment.extra.get("carrier_confirmed_at"):
        shipment.extra = {**shipment.extra, "carrier_confirmed_at": confirmed_at.isoformat(),
                          "confirmed_by": confirmed_by}
    outbox.enqueue(db_session=db_session, kind="mailback", case_id=case.id, available_at=now,
                   dedupe_key=f"mailback:{case.case_no}:delivered:{shipment.id}",
                   payload={"case_no": case.case_no, "event": "carrier_confirmed", "version": case.version})
    db_session.flush()
    return case.case_no
