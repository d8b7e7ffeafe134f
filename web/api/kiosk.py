"""自助机 over HTTP: a registered terminal's receipt, and the clerk's confirmation of the locker paper.

The terminal authenticates with ``X-Kiosk-Terminal`` and ``X-Kiosk-Secret`` (its registry entry),
never with a user's token; it is refused before its body is read when it is not registered or disabled.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, ValidationError
from starlette.datastructures import UploadFile

from states.intake.schemas import ReceiveForm
from states.intake.uploads import Upload
from states.kiosk import flows as kiosk_flows
from states.kiosk import service as kiosk
from states.transition.errors import PayloadInvalid
from storage.db import transaction
from web.auth import ActorDep, RuntimeDep

router = APIRouter(prefix="/api/v1", tags=["kiosk"])
MAX_CASE_PART = 1 << 20
MAX_SIGNATURE = 2 * 1024 * 1024


class KioskReceiptOut(BaseModel):
    case_no: str
    #: 智能流转柜 slot the applicant drops the paper into
    slot: str
    #: 取件码, printed on the receipt; shown only in this answer
    pickup_code: str


class LockerConfirmation(BaseModel):
    slot: str = Field(max_length=10)
    pickup_code: str = Field(max_length=20)


class LockerConfirmed(BaseModel):
    case_no: str
    slot: str
    confirmed: bool = True


def _device(runtime: Any, terminal: str, secret: str) -> kiosk.Device:
    with transaction(runtime.session_factory) as s:
        return kiosk.authenticate(db_session=s, terminal_id=terminal, secret=secret)


@router.post("/kiosk/receipts", status_code=201, response_model=KioskReceiptOut)
async def kiosk_receipt(request: Request, runtime: RuntimeDep,
                        x_kiosk_terminal: Annotated[str, Header()] = "",
                        x_kiosk_secret: Annotated[str, Header()] = "") -> KioskReceiptOut:
    """自助收件: multipart with a ``case`` JSON part (as ``POST /cases``), ``material_<id>`` scans and a
    ``signature`` PNG (the applicant's drawn e-signature)."""
    device = await run_in_threadpool(_device, runtime, x_kiosk_terminal, x_kiosk_secret)
    form = await request.form(max_files=200)
    raw = form.get("case")
    if not isinstance(raw, str | UploadFile):
        raise PayloadInvalid("case", "the 'case' JSON part is missing")
    data = (await raw.read(MAX_CASE_PART + 1)) if isinstance(raw, UploadFile) else raw.encode("utf-8", "replace")
    try:
        case_form = ReceiveForm.model_validate(json.loads(data[:MAX_CASE_PART + 1].decode("utf-8")))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise PayloadInvalid("case", "the 'case' part is not valid UTF-8 JSON") from exc
    except ValidationError as exc:
        err = exc.errors()[0]
        raise PayloadInvalid(".".join(str(p) for p in err["loc"]) or "case", err["msg"]) from exc
    if case_form.applicant.kind != "person":
        raise PayloadInvalid("applicant.kind", "the kiosk receives for a person identified by their ID card",
                             reason_zh="自助机只受理以居民身份证办理的个人申请")
    sig = form.get("signature")
    signature = await sig.read(MAX_SIGNATURE + 1) if isinstance(sig, UploadFile) else b""
    uploads = []
    for key, value in form.multi_items():
        if isinstance(value, UploadFile) and key.startswith("material_") and key[9:].isdigit():
            uploads.append(Upload(filename=value.filename or "", stream=value.file, item_material_id=int(key[9:])))
    result = await run_in_threadpool(
        kiosk_flows.receive_at_kiosk, session_factory=runtime.session_factory, store=runtime.store,
        clock=runtime.clock, device=device, form=case_form, uploads=uploads, signature_png=signature,
        now=runtime.now(), max_bytes=runtime.settings.max_file_bytes, workdir=runtime.spool_dir,
        limits=runtime.image_limits)
    return KioskReceiptOut(case_no=result.case_no, slot=result.slot, pickup_code=result.pickup_code)


@router.post("/cases/{case_no}/locker-confirmation", response_model=LockerConfirmed)
def locker_confirmation(case_no: str, body: LockerConfirmation, actor: ActorDep,
                        runtime: RuntimeDep) -> LockerConfirmed:
    """The receiving clerk took the kiosk case's paper from its slot: slot and pickup code must match."""
    slot = kiosk_flows.confirm_from_locker(session_factory=runtime.session_factory, actor=actor, case_no=case_no,
                                           slot=body.slot, pickup_code=body.pickup_code, now=runtime.now())
    return LockerConfirmed(case_no=case_no, slot=slot)
