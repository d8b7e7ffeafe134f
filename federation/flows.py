"""Prefect flows of the federation: a case's transfer to the peer that decides it, and sending a message.

``transfer-case`` is what ``forward-case`` becomes when the handling zone runs its own tongban: the
same packet and manifest as a local forward, then blobs and the signed message to the peer, and the
``forward`` transition only once the peer's signed receipt — naming every file's hash — is recorded.
No receipt, no 已转递. ``federation-send`` sends one event message (outbox job ``federation``).
"""

from __future__ import annotations

from typing import Any

from prefect import flow, task

from federation import outgoing, transfer
from federation import service as peers
from flows import forward
from flows.retry import TASK_RETRIES, TASK_RETRY_DELAYS, transient_only
from flows.runtime import current
from states.enums import CaseEvent, CaseState
from states.runtime import Runtime
from states.transition import service as transitions
from states.transition.rules import SYSTEM
from storage.case.models import StoredFile
from storage.db import transaction


def hosted_by_peer(runtime: Runtime, case_no: str) -> bool:
    with transaction(runtime.session_factory) as s:
        case = transitions.get_case(db_session=s, case_no=case_no)
        return peers.peer_for_zone(db_session=s, zone_code=case.handling_zone.code) is not None


def prepare(runtime: Runtime, p: forward.ForwardPlan, packet: tuple[str, int, int, str, int]) -> str | None:
    """The transfer message (summary, files, packet, manifest, chain head), written once."""
    packet_sha, packet_size, pages, man_sha, man_size = packet
    files = [{"sha256": f.sha256, "size": f.size, "filename": f.filename, "kind": f.kind, "pages": f.page_count,
              "material": f.material_name, "material_id": _material_id(runtime, f.id)} for f in p.files]
    sources = {f.sha256: p.copy_key(f) for f in p.files}
    sources[packet_sha], sources[man_sha] = p.packet_key, p.manifest_key
    with transaction(runtime.session_factory) as s:
        return outgoing.prepare_transfer(
            db_session=s, case_no=p.case_no, version=p.version, files=files, sources=sources,
            packet={"sha256": packet_sha, "size": packet_size, "pages": pages,
                    "filename": f"转递材料包-{p.case_no}.pdf"},
            manifest={"sha256": man_sha, "size": man_size, "filename": f"manifest-{p.case_no}.json"},
            now=runtime.now())


def _material_id(runtime: Runtime, file_id: int) -> int | None:
    with transaction(runtime.session_factory) as s:
        row = s.get(StoredFile, file_id)
        return row.material_id if row is not None else None


def existing_transfer(runtime: Runtime, p: forward.ForwardPlan) -> bool:
    """A transfer message of this version was written before (a rerun): send it as it is, build nothing."""
    from sqlalchemy import select

    from federation.models import FederationMessage

    mid = transfer.message_id_for(p.case_no, p.version, "transfer")
    with transaction(runtime.session_factory) as s:
        return s.scalars(select(FederationMessage.id).where(FederationMessage.message_id == mid)).first() is not None


def send(runtime: Runtime, message_id: str) -> str:
    return transfer.deliver(settings=runtime.settings, session_factory=runtime.session_factory, store=runtime.store,
                            message_id=message_id, now=runtime.now())


def record(runtime: Runtime, p: forward.ForwardPlan, message_id: str) -> bool:
    """The ``forward`` transition, with the receipt it rests on (already in the audit chain)."""
    from sqlalchemy import select

    from federation.enums import OutStatus
    from federation.models import FederationMessage

    with transaction(runtime.session_factory) as s:
        row = s.scalars(select(FederationMessage).where(FederationMessage.message_id == message_id)).one()
        if row.status != OutStatus.acknowledged or not row.receipt:
            return False  # no receipt, no 已转递
        case = transitions.get_case(db_session=s, case_no=p.case_no, for_update=True)
        if case.state != CaseState.prechecked:
            return False
        signed: dict[str, Any] = row.receipt["signed"]
        link = peers.link_of_case(db_session=s, case_id=case.id)
        if link is not None and signed.get("case_no"):
            link.remote_case_no = str(signed["case_no"])
        body = row.body
        zone = p.handling_zone
        copied = {f.object_key for f in case.files if f.purpose == "copy"}
        for f in p.files:
            if p.copy_key(f) not in copied:
                case.files.append(StoredFile(purpose="copy", zone_code=zone, filename=f.filename, kind=f.kind,
                                             size=f.size, sha256=f.sha256, page_count=f.page_count,
                                             object_key=p.copy_key(f), source_id=f.id, created_by="system"))
        pk, mf = body["packet"], body["manifest"]
        keys_now = {f.object_key for f in case.files}
        if p.packet_key not in keys_now:
            case.files.append(StoredFile(purpose="packet", zone_code=zone, filename=pk["filename"], kind="pdf",
                                         size=pk["size"], sha256=pk["sha256"], page_count=pk["pages"],
                                         object_key=p.packet_key, created_by="system"))
        if p.manifest_key not in keys_now:
            case.files.append(StoredFile(purpose="manifest", zone_code=zone, filename=mf["filename"], kind="json",
                                         size=mf["size"], sha256=mf["sha256"], object_key=p.manifest_key,
                                         created_by="system"))
        s.flush()
        transitions.apply_event(db_session=s, case_no=p.case_no, actor=SYSTEM, event=CaseEvent.forward, version=None,
                                payload={"packet_sha256": pk["sha256"], "manifest_sha256": mf["sha256"],
                                         "files": len(p.files), "pages": pk["pages"],
                                         "note": f"跨系统转递至 {row.peer_id}，回执 {message_id}"},
                                now=runtime.now(), clock=runtime.clock)
    return True


def transfer_plain(runtime: Runtime, case_no: str) -> bool:
    """The transfer without Prefect (bench baseline, tests)."""
    p = forward.plan(runtime, case_no)
    if p is None:
        return False
    mid = transfer.message_id_for(p.case_no, p.version, "transfer")
    if not existing_transfer(runtime, p):
        forward.verify_sources(runtime, p)
        forward.copy_files(runtime, p)
        packet = forward.build_and_store_packet(runtime, p)
        forward.verify_copies(runtime, p)
        made = prepare(runtime, p, packet)
        assert made == mid
    send(runtime, mid)
    return record(runtime, p, mid)


# --- as Prefect tasks: retries declared next to them ------------------------------------------------

@task(retries=TASK_RETRIES, retry_delay_seconds=TASK_RETRY_DELAYS, retry_condition_fn=transient_only)
def existing_transfer_task(p: forward.ForwardPlan) -> bool:
    return existing_transfer(current(), p)


@task(retries=TASK_RETRIES, retry_delay_seconds=TASK_RETRY_DELAYS, retry_condition_fn=transient_only)
def prepare_task(p: forward.ForwardPlan, packet: tuple[str, int, int, str, int]) -> str | None:
    return prepare(current(), p, packet)


@task(retries=TASK_RETRIES, retry_delay_seconds=TASK_RETRY_DELAYS, retry_condition_fn=transient_only)
def send_task(message_id: str) -> str:
    return send(current(), message_id)


@task(retries=TASK_RETRIES, retry_delay_seconds=TASK_RETRY_DELAYS, retry_condition_fn=transient_only)
def record_task(p: forward.ForwardPlan, message_id: str) -> bool:
    return record(current(), p, message_id)


@flow(name="transfer-case", log_prints=True)
def transfer_case(case_no: str) -> bool:
    """跨系统转递: packet and manifest, blobs to the peer, the signed message; forwarded on its receipt."""
    p = forward.plan_task(case_no)
    if p is None:
        return False
    mid = transfer.message_id_for(p.case_no, p.version, "transfer")
    if not existing_transfer_task(p):
        forward.verify_sources_task(p)
        forward.copy_files_task(p)
        packet = forward.build_packet_task(p)
        forward.verify_copies_task(p)
        prepare_task(p, packet)
    send_task(mid)
    return record_task(p, mid)


@flow(name="federation-send", log_prints=True)
def federation_send(message_id: str) -> str:
    """Send one message of a shared case to its peer (and the earlier ones of the case first)."""
    return send_task(message_id)
