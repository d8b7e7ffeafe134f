"""Forward a pre-checked case to its handling zone (转递): packet, copies, verification, transition.

Every step is idempotent and nothing is recorded until the end: a run that dies half-way leaves
objects under deterministic keys that the rerun overwrites or finds already correct, and the
``forward`` transition — with the rows of the copies — is written in one transaction at the end.
"""

from __future__ import annotations

import io
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from prefect import flow

from documents import build_packet, normalize_upload
from documents import papers as documents
from flows.checkpoints import checkpoint
from flows.files import FileRef
from flows.retry import TRANSIENT, step
from states.enums import CaseEvent, CaseState
from states.identifiers import mask_text
from states.runtime import Runtime
from states.transition import service as transitions
from states.transition.rules import SYSTEM
from storage.case.models import StoredFile
from storage.db import transaction
from storage.objects.base import IntegrityError

__all__ = ["TRANSIENT", "forward_case", "forward_plain"]

#: Packet staging directories start with this (see ``flows.reconcile.remove_stale_temp_files``).
FORWARD_SPOOL_PREFIX = "tongban-forward-"


@dataclass(frozen=True)
class SourceFile(FileRef):
    """A scan to forward, with the checklist line it belongs to (the packet's bookmark)."""

    material_name: str = "其他材料"


@dataclass(frozen=True)
class ForwardPlan:
    case_no: str
    handling_zone: str
    version: int
    files: tuple[SourceFile, ...]
    cover_pdf: bytes

    @property
    def base(self) -> str:
        return f"{self.handling_zone}/cases/{self.case_no}"

    def copy_key(self, f: SourceFile) -> str:
        return f"{self.base}/files/{f.id}{Path(f.filename).suffix.lower()}"

    @property
    def packet_key(self) -> str:
        return f"{self.base}/packet-v{self.version}.pdf"

    @property
    def manifest_key(self) -> str:
        return f"{self.base}/manifest-v{self.version}.json"


def plan(runtime: Runtime, case_no: str) -> ForwardPlan | None:
    """What to send; None when the case is no longer waiting to be forwarded (already done)."""
    with transaction(runtime.session_factory) as s:
        case = transitions.get_case(db_session=s, case_no=case_no)
        if case.state != CaseState.prechecked:
            return None
        names = {m.id: m.name for m in case.materials}
        files = tuple(
            SourceFile.of(f, material_name=names.get(f.material_id or -1, "其他材料"))
            # 电子证照: the signed original and its verification record travel too (copied and hashed,
            # listed in the manifest) but are not pages of the packet; their rendering is.
            for f in case.files if f.purpose in ("material", "supplement", "licence")
        )
        cover = documents.cover_pdf(case, tz=runtime.settings.timezone, now=runtime.now())
        return ForwardPlan(case_no=case.case_no, handling_zone=case.handling_zone.code, version=case.version,
                           files=files, cover_pdf=cover)


def verify_sources(runtime: Runtime, p: ForwardPlan) -> None:
    """First hop check: every file is still what was received."""
    for f in p.files:
        actual = runtime.store.sha256(f.object_key)
        if actual != f.sha256:
            raise IntegrityError(f.object_key, f.sha256, actual, f"“{f.filename}” of case {p.case_no} was altered")


def copy_files(runtime: Runtime, p: ForwardPlan) -> None:
    """Copy each file into the handling zone's area; the store verifies the hash at the destination."""
    checkpoint("forward.before_copy", case_no=p.case_no)
    for f in p.files:
        runtime.store.copy(f.object_key, p.copy_key(f), expected_sha256=f.sha256)


def manifest(p: ForwardPlan, packet_sha256: str, packet_pages: int) -> bytes:
    body = {
        "case_no": p.case_no, "version": p.version, "handling_zone": p.handling_zone,
        "packet": {"key": p.packet_key, "sha256": packet_sha256, "pages": packet_pages},
        "files": [{"id": f.id, "material": f.material_name, "filename": f.filename, "sha256": f.sha256,
                   "size": f.size, "pages": f.page_count, "key": p.copy_key(f)} for f in p.files],
    }
    return json.dumps(body, ensure_ascii=False, indent=2, sort_keys=True).encode()


def build_and_store_packet(runtime: Runtime, p: ForwardPlan) -> tuple[str, int, int, str, int]:
    """One PDF: cover sheet, then every material bookmarked; plus manifest.json. Returns hashes and sizes.

    Staged under the spool directory (``tongban-forward-*``: the reconciler removes what a crash left).
    Active content is not refused here but stripped by :func:`build_packet`: intake refuses it, so
    only a file stored before that check can still carry any, and its case must still be forwarded.
    """
    with tempfile.TemporaryDirectory(dir=runtime.spool_dir, prefix=FORWARD_SPOOL_PREFIX) as tmp:
        parts: list[tuple[str, io.BufferedReader | Path]] = []
        for f in p.files:
            if f.kind == "json":  # an e-licence's signed original or record: copied, not a packet page
                continue
            src = Path(tmp) / f"src-{f.id}{Path(f.filename).suffix.lower()}"
            with src.open("wb") as out:
                for chunk in runtime.store.iter_bytes(p.copy_key(f)):
                    out.write(chunk)
            norm = normalize_upload(src, f.filename, workdir=Path(tmp), max_bytes=max(f.size, 1) * 2 + 1,
                                    limits=runtime.image_limits, refuse_hostile=False)
            # bookmark titles are shown back (packet viewer, case page): the one free-text masking rule
            parts.append((mask_text(f"{f.material_name} · {f.filename}"), norm.pdf_path))
        packet_path = Path(tmp) / "packet.pdf"
        with packet_path.open("wb") as out:
            pages = build_packet(p.cover_pdf, parts, out)  # type: ignore[arg-type]
        with packet_path.open("rb") as fh:
            packet = runtime.store.put_stream(p.packet_key, fh)
    man = runtime.store.put_bytes(p.manifest_key, manifest(p, packet.sha256, pages))
    return packet.sha256, packet.size, pages, man.sha256, man.size


def verify_copies(runtime: Runtime, p: ForwardPlan) -> None:
    """Last hop check, at the destination, before the case is declared forwarded."""
    for f in p.files:
        actual = runtime.store.sha256(p.copy_key(f))
        if actual != f.sha256:
            raise IntegrityError(p.copy_key(f), f.sha256, actual, f"copy of “{f.filename}” does not match")


def record_forward(runtime: Runtime, p: ForwardPlan, packet: tuple[str, int, int, str, int]) -> bool:
    """Rows for the copies and the packet, and the ``forward`` transition, in ONE transaction."""
    packet_sha, packet_size, pages, man_sha, man_size = packet
    checkpoint("forward.before_record", case_no=p.case_no)
    with transaction(runtime.session_factory) as s:
        case = transitions.get_case(db_session=s, case_no=p.case_no, for_update=True)
        if case.state != CaseState.prechecked:
            return False  # another run got there first
        zone = p.handling_zone
        # A case forwarded again (returned, supplemented) keeps the copies it already has: same
        # source file, same key, same bytes. Only new files get a row.
        copied = {f.object_key for f in case.files if f.purpose == "copy"}
        for f in p.files:
            if p.copy_key(f) in copied:
                continue
            case.files.append(StoredFile(purpose="copy", zone_code=zone, filename=f.filename, kind=f.kind,
                                         size=f.size, sha256=f.sha256, page_count=f.page_count,
                                         object_key=p.copy_key(f), source_id=f.id, created_by="system"))
        case.files.append(StoredFile(purpose="packet", zone_code=zone, filename=f"转递材料包-{p.case_no}.pdf",
                                     kind="pdf", size=packet_size, sha256=packet_sha, page_count=pages,
                                     object_key=p.packet_key, created_by="system"))
        case.files.append(StoredFile(purpose="manifest", zone_code=zone, filename=f"manifest-{p.case_no}.json",
                                     kind="json", size=man_size, sha256=man_sha, object_key=p.manifest_key,
                                     created_by="system"))
        s.flush()
        checkpoint("forward.recording", case_no=p.case_no, db_session=s)
        transitions.apply_event(db_session=s, case_no=p.case_no, actor=SYSTEM, event=CaseEvent.forward, version=None,
                                payload={"packet_sha256": packet_sha, "manifest_sha256": man_sha,
                                         "files": len(p.files), "pages": pages},
                                now=runtime.now(), clock=runtime.clock)
    return True


def forward_plain(runtime: Runtime, case_no: str) -> bool:
    """The same steps without Prefect: the baseline the benchmark compares the flow against."""
    from federation.flows import hosted_by_peer, transfer_plain

    if hosted_by_peer(runtime, case_no):
        return transfer_plain(runtime, case_no)
    p = plan(runtime, case_no)
    if p is None:
        return False
    verify_sources(runtime, p)
    copy_files(runtime, p)
    packet = build_and_store_packet(runtime, p)
    verify_copies(runtime, p)
    return record_forward(runtime, p, packet)


# --- the Prefect flow: the same steps as tasks, under the one retry policy (flows.retry.step) ------

def _hosted_by_peer(runtime: Runtime, case_no: str) -> bool:
    """Whether the handling zone runs its own tongban (then the case crosses as a signed transfer)."""
    from federation.flows import hosted_by_peer

    return hosted_by_peer(runtime, case_no)


hosted_by_peer_task = step(_hosted_by_peer, name="hosted_by_peer_task")
plan_task = step(plan)
verify_sources_task = step(verify_sources)
copy_files_task = step(copy_files)
build_packet_task = step(build_and_store_packet, name="build_packet_task")
verify_copies_task = step(verify_copies)
record_forward_task = step(record_forward)


@flow(name="forward-case", log_prints=True)
def forward_case(case_no: str) -> bool:
    """转递: build the packet, copy to the handling zone, verify every hash there, then forward."""
    if hosted_by_peer_task(case_no):  # the handling zone runs its own tongban: a signed transfer
        from federation.flows import transfer_case

        return transfer_case(case_no)
    p = plan_task(case_no)
    if p is None:
        return False
    verify_sources_task(p)
    copy_files_task(p)
    packet = build_packet_task(p)
    verify_copies_task(p)
    return record_forward_task(p, packet)
