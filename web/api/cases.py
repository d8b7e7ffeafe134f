"""REST routes for cases: thin — parse, call the state layer, shape the answer."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.datastructures import UploadFile

from documents import papers as documents
from states import verify
from states.identifiers import mask_text
from states.intake import receipt as intake
from states.intake.schemas import ReceiveForm
from states.intake.uploads import Upload
from states.queue import service as queue_service
from states.runtime import Runtime
from states.transition import payloads
from states.transition import service as transitions
from states.transition.errors import CaseNotFound, PayloadInvalid
from states.transition.rules import Actor
from storage.audit import service as audit
from storage.case.models import StoredFile
from storage.db import transaction
from web.api import schemas
from web.auth import ActorDep, RuntimeDep
from web.downloads import file_headers
from web.hardening import json_value_problem

router = APIRouter(prefix="/api/v1", tags=["cases"])

#: Paging bounds: far beyond any real list, and (page - 1) × per_page stays a 64-bit integer for the database.
MAX_PAGE = 1_000_000
#: The ``case`` JSON part of a receipt: a few KB in practice.
MAX_CASE_PART = 1024 * 1024


class EventIn(BaseModel):
    """``{"event": ..., "version": ..., ...payload}``: the payload fields sit beside the event.

    Only the envelope is checked here; the payload is checked by the event's model
    (states/transition/payloads.py) inside the transition service, after the role, zone and state
    checks, so that a refusal for who you are never depends on what you sent.
    """

    model_config = ConfigDict(extra="allow")
    event: str
    version: int


#: OpenAPI: the body is one of the events' payload models, discriminated by ``event``.
_EVENT_BODY_DOC = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": payloads.openapi_schema()}}}}


async def _uploads(form: Any, *, prefix: str = "material_") -> list[Upload]:
    """Files come as ``material_<item_material_id>`` parts (a checklist line) or plain ``files`` parts."""
    uploads = []
    for key, value in form.multi_items():
        if not isinstance(value, UploadFile) or key == "case":
            continue
        if key == "files":
            material = None
        elif key.startswith(prefix) and key[len(prefix):].isdigit():
            material = int(key[len(prefix):])
        else:
            raise PayloadInvalid(key, "file parts are named 'files' or 'material_<item_material_id>'")
        uploads.append(Upload(filename=value.filename or "", stream=value.file, item_material_id=material))
    return uploads


@router.post("/cases", status_code=201, response_model=schemas.CaseOut)
async def receive_case(request: Request, actor: ActorDep,
                       runtime: RuntimeDep) -> schemas.CaseOut:
    """收件: multipart with a ``case`` JSON part and the scans."""
    intake.check_may_receive(actor)  # before the body: a caller who may not receive sends it for nothing
    form = await request.form(max_files=200)
    raw = form.get("case")
    if raw is None:
        raise PayloadInvalid("case", "the 'case' JSON part is missing")
    data = (await raw.read(MAX_CASE_PART + 1)) if isinstance(raw, UploadFile) else str(raw).encode("utf-8", "replace")
    if len(data) > MAX_CASE_PART:
        raise PayloadInvalid("case", "the 'case' part is larger than 1 MB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadInvalid("case", f"the 'case' part is not valid UTF-8 (byte {exc.start})") from exc
    try:
        parsed = json.loads(text)
        problem = json_value_problem(parsed)
        if problem is not None:
            raise PayloadInvalid("case", problem)
        case_form = ReceiveForm.model_validate(parsed)
    except json.JSONDecodeError as exc:
        raise PayloadInvalid("case", f"not valid JSON: {exc.msg}") from exc
    except RecursionError as exc:
        raise PayloadInvalid("case", "the 'case' JSON is nested too deeply") from exc
    except ValidationError as exc:
        err = exc.errors()[0]
        raise PayloadInvalid(".".join(str(p) for p in err["loc"]) or "case", err["msg"]) from exc
    uploads = await _uploads(form)
    case_no = await run_in_threadpool(
        intake.receive_case, session_factory=runtime.session_factory, store=runtime.store, clock=runtime.clock,
        actor=actor, form=case_form, uploads=uploads, now=runtime.now(), max_bytes=runtime.settings.max_file_bytes,
        workdir=runtime.spool_dir, limits=runtime.image_limits,
    )
    return await run_in_threadpool(_case_out, runtime, actor, case_no)


def _case_out(runtime: Runtime, actor: Actor, case_no: str) -> schemas.CaseOut:
    with transaction(runtime.session_factory) as s:
        case = transitions.visible_case(db_session=s, actor=actor, case_no=case_no)
        return schemas.case_out(case, runtime.now(), transitions.events_for(actor, case), runtime.clock)


@router.get("/cases/{case_no}", response_model=schemas.CaseOut)
def get_case(case_no: str, actor: ActorDep,
             runtime: RuntimeDep) -> schemas.CaseOut:
    return _case_out(runtime, actor, case_no)


class CasePage(BaseModel):
    total: int
    items: list[schemas.CaseSummary]


@router.get("/cases", response_model=CasePage)
def list_cases(actor: ActorDep, runtime: RuntimeDep, state: str | None = None,
               side: str | None = Query(None, pattern="^(receiving|handling)$"),
               overdue: bool | None = None, q: str | None = None, item: str | None = None,
               page: int = Query(1, ge=1, le=MAX_PAGE), per_page: int = Query(50, ge=1, le=500)) -> CasePage:
    now = runtime.now()
    with transaction(runtime.session_factory) as s:
        rows, total = queue_service.list_cases(
            db_session=s, actor=actor, now=now, limit=per_page, offset=(page - 1) * per_page,
            flt=queue_service.CaseFilter(state=state, side=side, overdue=overdue, text=q, item_code=item),
        )
        return CasePage(total=total, items=[schemas.CaseSummary(**schemas.summary(c, now)) for c in rows])


@router.get("/queue", response_model=list[schemas.CaseSummary])
def work_queue(actor: ActorDep, runtime: RuntimeDep, page: int = Query(1, ge=1, le=MAX_PAGE),
               per_page: int = Query(50, ge=1, le=500)) -> list[schemas.CaseSummary]:
    now = runtime.now()
    with transaction(runtime.session_factory) as s:
        rows = queue_service.queue(db_session=s, actor=actor, limit=per_page, offset=(page - 1) * per_page)
        return [schemas.CaseSummary(**schemas.summary(c, now)) for c in rows]


@router.post("/cases/{case_no}/events", response_model=schemas.CaseOut, openapi_extra=_EVENT_BODY_DOC)
def send_event(case_no: str, body: Annotated[dict[str, Any], Body()], actor: ActorDep,
               runtime: RuntimeDep) -> schemas.CaseOut:
    """Send an event; its fields sit beside ``event`` and ``version`` (see the request body's variants)."""
    try:
        envelope = EventIn.model_validate(body)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise PayloadInvalid(".".join(str(p) for p in err["loc"]) or "body", err["msg"]) from exc
    payload = dict(envelope.model_extra or {})
    with transaction(runtime.session_factory) as s:
        transitions.visible_case(db_session=s, actor=actor, case_no=case_no)
        transitions.apply_event(db_session=s, case_no=case_no, actor=actor, event=envelope.event,
                                version=envelope.version, payload=payload, now=runtime.now(), clock=runtime.clock)
    runtime.wake_dispatcher()
    return _case_out(runtime, actor, case_no)


@router.post("/cases/{case_no}/files", status_code=201, response_model=list[schemas.FileOut])
async def attach_files(case_no: str, request: Request, actor: ActorDep,
                       runtime: RuntimeDep) -> list[schemas.FileOut]:
    """补正材料 (``purpose=supplement``) or 结果文书 (``purpose=result``)."""
    # Before the body is read: someone who may attach nothing to this case is refused at once.
    await run_in_threadpool(intake.check_may_attach, session_factory=runtime.session_factory, actor=actor,
                            case_no=case_no)
    form = await request.form(max_files=200)
    purpose = str(form.get("purpose") or "")
    uploads = await _uploads(form)
    ids = await run_in_threadpool(
        intake.attach_files, session_factory=runtime.session_factory, store=runtime.store, actor=actor,
        case_no=case_no, purpose=purpose, uploads=uploads, now=runtime.now(),
        max_bytes=runtime.settings.max_file_bytes, workdir=runtime.spool_dir, limits=runtime.image_limits,
    )
    with transaction(runtime.session_factory) as s:
        return [schemas.file_out(f) for f in (s.get(StoredFile, i) for i in ids) if f is not None]


def _stream_file(runtime: Runtime, actor: Actor, case_no: str, pick: Any, *, ours: bool = False) -> StreamingResponse:
    with transaction(runtime.session_factory) as s:
        case = transitions.visible_case(db_session=s, actor=actor, case_no=case_no)
        f = pick(case)
        if f is None:
            raise CaseNotFound(f"case {case_no} has no such file", case_no=case_no)
        key, name, kind = f.object_key, mask_text(f.filename), f.kind  # the name is shown back: masked
    media = {"pdf": "application/pdf", "jpeg": "image/jpeg", "png": "image/png", "tiff": "image/tiff",
             "json": "application/json"}.get(kind, "application/octet-stream")
    return StreamingResponse(runtime.store.iter_bytes(key), media_type=media, headers=file_headers(name, ours=ours))


@router.get("/cases/{case_no}/files/{file_id}")
def download_file(case_no: str, file_id: int, actor: ActorDep,
                  runtime: RuntimeDep) -> StreamingResponse:
    return _stream_file(runtime, actor, case_no, lambda c: next((f for f in c.files if f.id == file_id), None))


@router.get("/cases/{case_no}/packet")
def download_packet(case_no: str, actor: ActorDep,
                    runtime: RuntimeDep) -> StreamingResponse:
    """The transfer packet (转递材料包) in the handling zone's store."""
    return _stream_file(runtime, actor, case_no,
                        lambda c: next((f for f in reversed(c.files) if f.purpose == "packet"), None), ours=True)


@router.get("/cases/{case_no}/receipt.pdf")
def receipt(case_no: str, actor: ActorDep, runtime: RuntimeDep) -> Response:
    """收件回执, printable for the applicant."""
    with transaction(runtime.session_factory) as s:
        case = transitions.visible_case(db_session=s, actor=actor, case_no=case_no)
        pdf = documents.receipt_pdf(case, tz=runtime.settings.timezone)
    return Response(pdf, media_type="application/pdf", headers=file_headers(f"receipt-{case_no}.pdf"))


@router.get("/cases/{case_no}/notice.pdf")
def supplement_notice(case_no: str, actor: ActorDep,
                      runtime: RuntimeDep) -> Response:
    """一次性告知书: the latest supplement request, as told to the applicant."""
    with transaction(runtime.session_factory) as s:
        case = transitions.visible_case(db_session=s, actor=actor, case_no=case_no)
        events = [e for e in audit.list_events(db_session=s, case_id=case.id) if e.event == "request_supplement"]
        if not events:
            raise CaseNotFound(f"case {case_no} has no supplement notice", case_no=case_no)
        tz = runtime.settings.timezone
        by = documents.supplement_deadline(events[-1].at, workdays=runtime.settings.supplement_workdays,
                                           calendar=runtime.calendar, tz=tz)
        pdf = documents.notice_pdf(case, events[-1], tz=tz, supplement_by=by)
    return Response(pdf, media_type="application/pdf", headers=file_headers(f"notice-{case_no}.pdf"))


@router.get("/cases/{case_no}/audit", response_model=list[schemas.AuditOut])
def audit_trail(case_no: str, actor: ActorDep,
                runtime: RuntimeDep) -> list[schemas.AuditOut]:
    with transaction(runtime.session_factory) as s:
        case = transitions.visible_case(db_session=s, actor=actor, case_no=case_no)
        return [schemas.audit_out(e) for e in audit.list_events(db_session=s, case_id=case.id)]


class VerifyOut(BaseModel):
    ok: bool
    files_checked: int
    events_checked: int
    #: 电子证照 whose issuer's signature was checked again.
    licences_checked: int = 0
    problems: list[str]


@router.get("/cases/{case_no}/verify", response_model=VerifyOut)
def verify_case(case_no: str, actor: ActorDep,
                runtime: RuntimeDep) -> VerifyOut:
    with transaction(runtime.session_factory) as s:
        transitions.visible_case(db_session=s, actor=actor, case_no=case_no)
        r = verify.verify_case(db_session=s, store=runtime.store, case_no=case_no)
        return VerifyOut(ok=r.ok, files_checked=r.files_checked, events_checked=r.events_checked,
                         licences_checked=r.licences_checked, problems=r.problems)
