"""The kiosk's two steps that own transactions: a receipt at the terminal, and the clerk's locker check.

A kiosk receipt is an ordinary receipt (``states.intake.receipt.receive_case``, as the kiosk's device
account) plus, in the SAME transaction, its locker slot, the hash of its pickup code and the
applicant's drawn signature as a stored PNG. Nothing of it stays when any part is refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PIL import Image, UnidentifiedImageError
from sqlalchemy.orm import Session, sessionmaker

from documents.intake import ImageLimits
from states.intake import receipt as intake
from states.intake.schemas import ReceiveForm
from states.intake.uploads import Upload
from states.kiosk import service
from states.kiosk.service import Device
from states.sla.clock import Clock
from states.transition.errors import PayloadInvalid
from states.transition.rules import Actor
from storage.case.models import Case, StoredFile
from storage.db import transaction
from storage.objects import ObjectStore

SIGNATURE_NAME = "电子签名.png"
MAX_SIGNATURE_BYTES = 2 * 1024 * 1024
MAX_SIGNATURE_SIDE = 4000
#: Dark pixels a drawn signature has at least (a blank or a dot is no signature).
MIN_INK_PIXELS = 60


@dataclass(frozen=True)
class KioskResult:
    case_no: str
    slot: str
    pickup_code: str


def clean_signature(data: bytes) -> bytes:
    """The drawn signature as a PNG we wrote ourselves (decoded and re-encoded: nothing else rides along)."""
    refuse = PayloadInvalid("signature", "draw the signature in the box (a PNG of the drawing is expected)",
                            reason_zh="请在签名框内用手指签名后再提交。")
    if not data or len(data) > MAX_SIGNATURE_BYTES or not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise refuse
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format != "PNG" or max(img.size) > MAX_SIGNATURE_SIDE:
                raise refuse
            rgba = img.convert("RGBA")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise refuse from exc
    flat = Image.new("RGB", rgba.size, "white")
    flat.paste(rgba, mask=rgba.getchannel("A"))
    ink = sum(flat.convert("L").point(lambda v: 255 if v < 128 else 0).histogram()[255:])
    if ink < MIN_INK_PIXELS:
        raise refuse
    out = io.BytesIO()
    flat.save(out, format="PNG", optimize=True)
    return out.getvalue()


def receive_at_kiosk(*, session_factory: sessionmaker[Session], store: ObjectStore, clock: Clock, device: Device,
                     form: ReceiveForm, uploads: Sequence[Upload], signature_png: bytes, now: datetime,
                     max_bytes: int, workdir: Path | None = None,
                     limits: ImageLimits | None = None) -> KioskResult:
    """自助收件: the case is received now (its clock starts at the kiosk), its paper goes to a slot."""
    signature = clean_signature(signature_png)
    with transaction(session_factory) as s:  # a full locker refuses before any file is stored
        service.free_slot(db_session=s, terminal_pk=device.pk)
    sha = hashlib.sha256(signature).hexdigest()
    key = f"{device.zone_code}/incoming/{now:%Y/%m/%d}/{uuid.uuid4().hex}.png"
    stored = store.put_stream(key, io.BytesIO(signature), expected_sha256=sha)
    pickup_code = service.new_pickup_code()
    slots: list[str] = []

    def with_locker(db_session: Session, case: Case) -> None:
        slot = service.free_slot(db_session=db_session, terminal_pk=device.pk)
        sig = StoredFile(material_id=None, purpose="signature", zone_code=device.zone_code, filename=SIGNATURE_NAME,
                         kind="png", size=stored.size, sha256=stored.sha256, page_count=1, object_key=key,
                         created_at=now, created_by=device.username)
        case.files.append(sig)
        db_session.flush()
        service.record_kiosk_receipt(db_session=db_session, case=case, device=device, slot=slot,
                                     pickup_code=pickup_code, signature_file_id=sig.id, now=now)
        slots.append(slot)

    try:
        case_no = intake.receive_case(session_factory=session_factory, store=store, clock=clock, actor=device.actor,
                                      form=form, uploads=uploads, now=now, max_bytes=max_bytes, workdir=workdir,
                                      limits=limits, after_record=with_locker)
    except BaseException:
        with contextlib.suppress(Exception):
            store.delete(key)
        raise
    return KioskResult(case_no=case_no, slot=slots[0], pickup_code=pickup_code)


def confirm_from_locker(*, session_factory: sessionmaker[Session], actor: Actor, case_no: str, slot: str,
                        pickup_code: str, now: datetime) -> str:
    """The clerk's confirmation of the paper in the locker; a wrong code is counted, then refused."""
    try:
        with transaction(session_factory) as s:
            receipt = service.confirm_locker(db_session=s, actor=actor, case_no=case_no, slot=slot,
                                             pickup_code=pickup_code, now=now)
            return receipt.slot
    except service.WrongPickupCode as exc:
        with transaction(session_factory) as s:
            service.count_wrong_code(db_session=s, receipt_id=exc.receipt_id)
        raise
