"""What this deployment sends, and when: a case's transfer (转递) and the events of a shared case.

:func:`on_event` is called by the transition service for every event it applies (in the same
transaction): on a case linked to a peer, an event of the list the peers mirror — made here, not
applied on behalf of that peer — becomes an outgoing message and an outbox job. Events a peer sent
are not echoed back.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from federation import service as peers
from federation.enums import MessageType
from federation.models import CaseLink
from federation.transfer import enqueue, message_id_for
from states.enums import CaseEvent
from storage.audit import service as audit
from storage.case.models import Case, StoredFile

#: Events each side mirrors to the other (the rest are local: pre-check at the counter, system steps).
MIRRORED: frozenset[str] = frozenset(e.value for e in (
    CaseEvent.accept, CaseEvent.return_, CaseEvent.claim, CaseEvent.approve, CaseEvent.deny, CaseEvent.mail_result,
    CaseEvent.ready_for_pickup, CaseEvent.deliver, CaseEvent.withdraw))

#: Fields of an event's payload that travel (ids of this deployment's rows do not).
PAYLOAD_FIELDS = ("note", "reason", "carrier", "tracking_no", "signed_on", "signatory")


def iso(at: datetime | None) -> str | None:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if at else None


def is_peer_actor(username: str) -> bool:
    return username.startswith("peer:") or username.startswith("peer.")


def on_event(*, db_session: Session, case_id: int, case_no: str, actor_username: str, actor_role: str,
             event: str, version: int, payload: dict[str, Any], now: datetime) -> None:
    """The transition service's hook: mirror ``event`` to the case's peer, if it has one."""
    if event not in MIRRORED or is_peer_actor(actor_username):
        return
    link = db_session.scalars(select(CaseLink).where(CaseLink.case_id == case_id)).first()
    if link is None:
        return
    blobs: list[dict[str, Any]] = []
    sources: dict[str, str] = {}
    body: dict[str, Any] = {
        "event": event, "actor": actor_username, "actor_role": actor_role, "at": iso(now), "version": version,
        "payload": {k: payload[k] for k in PAYLOAD_FIELDS if isinstance(payload.get(k), str) and payload[k]},
    }
    if event in (CaseEvent.approve, CaseEvent.deny) and payload.get("result_file_id"):
        doc = db_session.get(StoredFile, int(payload["result_file_id"]))
        if doc is not None:
            blobs.append({"sha256": doc.sha256, "size": doc.size})
            sources[doc.sha256] = doc.object_key
            body["result"] = {"sha256": doc.sha256, "size": doc.size, "filename": doc.filename, "kind": doc.kind,
                              "pages": doc.page_count}
    body["blobs"] = blobs
    enqueue(db_session=db_session, link=link, type=MessageType.event, event=event, body=body, sources=sources,
            message_id=message_id_for(case_no, version, event), now=now)


def transfer_body(*, db_session: Session, case: Case, files: list[dict[str, Any]], packet: dict[str, Any],
                  manifest: dict[str, Any]) -> dict[str, Any]:
    """The case summary with the applicant's full identifiers (the deciding zone needs them: TLS only)."""
    seq, head = audit.head(db_session=db_session, case_id=case.id)
    a = case.applicant
    by_id = {m.id: m for m in case.materials}
    return {
        "case": {
            "case_no": case.case_no, "version": case.version, "state": case.state,
            "item": {"code": case.item.code, "name": case.item.name, "zone": case.item.zone.code,
                     "promised_days": case.item.promised_days},
            "receiving_zone": {"code": case.receiving_zone.code, "name": case.receiving_zone.name},
            "handling_zone": case.handling_zone.code,
            "applicant": {"kind": a.kind, "name": a.name, "id_number": a.id_number, "phone": a.phone,
                          "address": a.address},
            "delivery_method": case.delivery_method, "delivery_address": case.delivery_address,
            "received_at": iso(case.received_at), "due_at": iso(case.due_at), "paused_since": iso(case.paused_since),
            "materials": [{"position": m.position, "name": m.name, "required": m.required, "provided": m.provided,
                           "paper_received": m.paper_received} for m in case.materials],
        },
        "files": [{**f, "material_position": by_id[f["material_id"]].position if f.get("material_id") in by_id
                   else None} for f in files],
        "packet": packet, "manifest": manifest,
        "chain_head": {"seq": seq, "hash": head},
        "blobs": [{"sha256": f["sha256"], "size": f["size"]} for f in files]
        + [{"sha256": packet["sha256"], "size": packet["size"]},
           {"sha256": manifest["sha256"], "size": manifest["size"]}],
    }


def prepare_transfer(*, db_session: Session, case_no: str, version: int, files: list[dict[str, Any]],
                     sources: dict[str, str], packet: dict[str, Any], manifest: dict[str, Any],
                     now: datetime) -> str | None:
    """The transfer message of this case version (written once; a rerun finds it). None: no peer hosts it."""
    from states.transition.service import get_case

    case = get_case(db_session=db_session, case_no=case_no)
    peer = peers.peer_for_zone(db_session=db_session, zone_code=case.handling_zone.code)
    if peer is None:
        return None
    link = peers.link_of_case(db_session=db_session, case_id=case.id)
    if link is None:
        link = CaseLink(case_id=case.id, peer_id=peer.peer_id, role="origin", case_ref=case.case_no)
        db_session.add(link)
        db_session.flush()
    mid = message_id_for(case_no, version, "transfer")
    body = transfer_body(db_session=db_session, case=case, files=files, packet=packet, manifest=manifest)
    enqueue(db_session=db_session, link=link, type=MessageType.transfer, event="transfer", body=body,
            sources=sources, message_id=mid, now=now, job=False)
    return mid
