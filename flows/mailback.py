"""Mail-back (结果送达): the decision goes back to the applicant's side and, by post, to the applicant.

The flow is driven by the case's state, so every run — first, rerun, or re-dispatched by the
reconciler — does only what is still missing:

- **approved / denied** (准予 / 不予许可): the result documents the handling zone uploaded are copied
  into the receiving zone's area (``<receiving>/cases/<case_no>/result/…``), verified by SHA-256 there,
  recorded as ``copy`` rows with an audit event, and the receiving side is notified (``result_decided``);
- **mailed** (已寄出 — the mailing side entered a tracking number: the ``mail_result`` event, through the
  transition service, recorded the shipment): the receiving side is notified (``result_mailed``); once
  the carrier has confirmed delivery, the flow sends ``deliver`` as SYSTEM and the case is closed (办结);
- **awaiting_pickup** (待领取): the receiving side is notified (``result_ready_for_pickup``).

Notices go into the notification ledger (notifications/messaging.py) in the same transaction as the
rows they announce, one per recipient the routes name for the receiving zone (``results:``), with a dedupe
key per case, topic, version and recipient: exactly once however often the flow runs. The ledger's
sender (the SLA sweep, every minute) delivers them through apprise with retries. A state the case
has already left by the time the flow runs is not announced any more (the newer one is).

Delivery confirmation (妥投确认). There is no carrier API here: the courier desk (or a carrier
integration later) runs ``tongban shipment delivered TRACKING_NO``, which records the confirmation on
the shipment row and, in the same transaction, writes a ``mailback`` outbox job; this flow then sends
``deliver``. A confirmation recorded while the dispatcher was away is found by the reconciler.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from prefect import flow

from flows.checkpoints import checkpoint
from flows.files import FileRef
from flows.retry import step
from notifications import messaging
from states.enums import CaseEvent, CaseState
from states.runtime import Runtime
from states.shipments import service as shipments
from states.shipments.service import Confirmation
from states.transition import service as transitions
from states.transition.rules import SYSTEM
from storage.audit import service as audit
from storage.case.models import Case, StoredFile
from storage.db import transaction

__all__ = ["MailbackPlan", "mailback", "mailback_plain"]

log = logging.getLogger("tongban.mailback")

#: state → the notification the applicant's side gets in it.
TOPICS = {
    "approved": "result_decided",
    "denied": "result_decided",
    "mailed": "result_mailed",
    "awaiting_pickup": "result_ready_for_pickup",
}


#: A result document the handling zone uploaded, to copy to the receiving side.
ResultDoc = FileRef


@dataclass(frozen=True)
class MailbackPlan:
    case_no: str
    state: str
    version: int
    receiving_zone: str
    docs_to_copy: tuple[ResultDoc, ...]
    confirmation: Confirmation | None

    def copy_key(self, doc: ResultDoc) -> str:
        return f"{self.receiving_zone}/cases/{self.case_no}/result/{doc.id}{Path(doc.filename).suffix.lower()}"


def plan(runtime: Runtime, case_no: str) -> MailbackPlan | None:
    """What is still to do; None when the case is not (or no longer) in a mail-back state."""
    with transaction(runtime.session_factory) as s:
        case = transitions.get_case(db_session=s, case_no=case_no)
        if case.state not in TOPICS:
            return None
        return MailbackPlan(case_no=case.case_no, state=case.state, version=case.version,
                            receiving_zone=case.receiving_zone.code, docs_to_copy=_missing_copies(case),
                            confirmation=shipments.pending_confirmation(case))


def _missing_copies(case: Case) -> tuple[ResultDoc, ...]:
    """Result documents not yet at the receiving side (none when one zone both receives and decides)."""
    if case.receiving_zone_id == case.handling_zone_id:
        return ()
    copied = {f.source_id for f in case.files if f.purpose == "copy" and f.zone_code == case.receiving_zone.code}
    return tuple(ResultDoc.of(f) for f in case.files if f.purpose == "result" and f.id not in copied)


def copy_results(runtime: Runtime, p: MailbackPlan) -> None:
    """Copy each result document to the applicant's side; the store verifies the hash there."""
    for doc in p.docs_to_copy:
        runtime.store.copy(doc.object_key, p.copy_key(doc), expected_sha256=doc.sha256)


def record(runtime: Runtime, p: MailbackPlan) -> bool:
    """Copy rows, their audit event and the notices in ONE transaction. False: nothing to do."""
    checkpoint("mailback.before_record", case_no=p.case_no)
    now = runtime.now()
    with transaction(runtime.session_factory) as s:
        case = transitions.get_case(db_session=s, case_no=p.case_no, for_update=True)
        if case.state not in TOPICS:
            return False
        still_missing = {d.id for d in _missing_copies(case)}
        added = []
        for doc in p.docs_to_copy:
            if doc.id not in still_missing:
                continue  # another run recorded it first
            row = StoredFile(purpose="copy", zone_code=p.receiving_zone, filename=doc.filename, kind=doc.kind,
                             size=doc.size, sha256=doc.sha256, page_count=doc.page_count,
                             object_key=p.copy_key(doc), source_id=doc.id, created_at=now, created_by="system")
            case.files.append(row)
            added.append(row)
        s.flush()
        if added:
            audit.append(db_session=s, case_id=case.id, case_no=case.case_no, at=now, actor=SYSTEM.username,
                         actor_role=SYSTEM.role, event="copy_result", from_state=case.state, to_state=case.state,
                         version=case.version, payload={
                             "zone": p.receiving_zone,
                             "files": [{"id": r.id, "source_id": r.source_id, "sha256": r.sha256} for r in added]})
        messaging.queue_result_notice(db_session=s, case=case, topic=TOPICS[case.state], now=now,
                                      routes_file=runtime.settings.notification_routes,
                                      base_url=runtime.settings.base_url)
    return True


def confirm_delivery(runtime: Runtime, p: MailbackPlan) -> bool:
    """The carrier confirmed: ``deliver`` as SYSTEM, through the transition service. False: nothing to do."""
    if p.confirmation is None:
        return False
    c = p.confirmation
    with transaction(runtime.session_factory) as s:
        case = transitions.get_case(db_session=s, case_no=p.case_no, for_update=True)
        if case.state != CaseState.mailed:
            return False  # delivered meanwhile (a clerk, or another run)
        transitions.apply_event(db_session=s, case_no=p.case_no, actor=SYSTEM, event=CaseEvent.deliver, version=None,
                                # The deliver effect keeps the note: everything the confirmation said.
                                payload={"note": f"carrier confirmed delivery of {c.tracking_no} at "
                                                 f"{c.confirmed_at} ({c.confirmed_by})"},
                                now=runtime.now(), clock=runtime.clock)
    return True


def mailback_plain(runtime: Runtime, case_no: str) -> str | None:
    """The same steps without Prefect. Returns the state the case is left in (None: not ours)."""
    p = plan(runtime, case_no)
    if p is None:
        return None
    copy_results(runtime, p)
    record(runtime, p)
    return "closed" if confirm_delivery(runtime, p) else p.state


# --- the Prefect flow: the same steps as tasks, under the one retry policy (flows.retry.step) ------

plan_task = step(plan)
copy_results_task = step(copy_results)
record_task = step(record)
confirm_delivery_task = step(confirm_delivery)


@flow(name="mailback", log_prints=True)
def mailback(case_no: str) -> str | None:
    """结果送达: result copies to the applicant's side, notice, and closing on carrier confirmation."""
    p = plan_task(case_no)
    if p is None:
        return None
    copy_results_task(p)
    record_task(p)
    return "closed" if confirm_delivery_task(p) else p.state
