"""协作机制 (一事一议) pages: the zone's requests on both sides, starting one (窗口), answering one (办理地主管
或管理员), receiving its one case (the normal intake) and promoting its item into the catalog (管理员).

Thin: every rule is in ``states.adhoc.service``; refusals are shown on the page in Chinese, next to the
field they concern, with what was typed kept."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from starlette.datastructures import FormData, UploadFile

from documents.errors import MATERIAL_ERROR_STATUS, MaterialError
from states import identifiers
from states.adhoc import service
from states.adhoc.enums import DECIDING_ROLES, RequestState
from states.adhoc.errors import zh_of
from states.adhoc.schemas import DecisionIn, MaterialIn, RequestIn
from states.adhoc.sla import alerts_of
from states.adhoc.views import view
from states.intake import receipt as intake
from states.intake.schemas import ReceiveForm
from states.intake.uploads import Upload
from states.transition.errors import PayloadInvalid, TransitionError
from storage.db import transaction
from storage.zone.models import Zone
from web.ui import adhoc_text  # noqa: F401 - registers the pages' strings
from web.ui import errors as ui_errors
from web.ui.deps import FormDep, UserDep
from web.ui.render import lang_of, render, runtime_of, session_of
from web.ui.session import UiUser

router = APIRouter(prefix="/ui", include_in_schema=False)

START_FIELDS = ("need", "handling_zone", "urgency", "applicant_name")
RECEIVE_FIELDS = ("applicant_kind", "applicant_name", "applicant_id_number", "applicant_phone", "applicant_address",
                  "delivery_method", "delivery_address")


def _message(lang: str, exc: TransitionError) -> str:
    return zh_of(exc) if lang == "zh" and zh_of(exc) else ui_errors.refusal_text(lang, exc)


def _list_page(request: Request, user: UiUser, *, values: dict[str, str] | None = None,
               errors: dict[str, str] | None = None, status: int = 200) -> Response:
    runtime = runtime_of(request)
    now = runtime.now()
    state = request.query_params.get("state")
    state = state if state in set(RequestState) else None
    with transaction(runtime.session_factory) as s:
        rows = service.list_requests(db_session=s, actor=user.actor, state=state)
        views = [view(db_session=s, zone_id=user.zone_id, req=r, now=now) for r in rows]
        alerts = alerts_of(db_session=s, zone_id=user.zone_id, request_ids=[r.id for r in rows])
        zones = [(z.code, z.name) for z in s.scalars(select(Zone).where(Zone.id != user.zone_id).order_by(Zone.code))]
        return render(request, "adhoc/list.html", status_code=status, requests=views, alerts=alerts, zones=zones,
                      values=values or {}, errors=errors or {}, state=state or "")


@router.get("/adhoc")
def adhoc_list(request: Request, user: UserDep) -> Response:
    return _list_page(request, user)


@router.post("/adhoc")
def adhoc_start(request: Request, user: UserDep, form: FormDep) -> Response:
    runtime = runtime_of(request)
    values = {k: str(form.get(k) or "") for k in START_FIELDS}
    try:
        with transaction(runtime.session_factory) as s:
            req = service.start_request(db_session=s, actor=user.actor, form=RequestIn(**values), now=runtime.now(),
                                        clock=runtime.clock, answer_workdays=runtime.settings.adhoc_answer_workdays)
            ref, rid = req.ref, req.id
    except TransitionError as exc:
        field = str(exc.detail.get("field", "_form"))
        status = exc.status
        return _list_page(request, user, values=values, status=status,
                          errors={field if field in START_FIELDS else "_form": _message(lang_of(request), exc)})
    session_of(request).flash("ok", f"已发起一事一议申请 {ref}，等待办理地答复")
    return RedirectResponse(f"/ui/adhoc/{rid}", status_code=303)


def _detail(request: Request, user: UiUser, request_id: int, *, errors: dict[str, str] | None = None,
            values: dict[str, str] | None = None, status: int = 200) -> Response:
    runtime = runtime_of(request)
    now = runtime.now()
    with transaction(runtime.session_factory) as s:
        req = service.get_request(db_session=s, actor=user.actor, request_id=request_id)
        v = view(db_session=s, zone_id=user.zone_id, req=req, now=now, with_events=True)
        recurring = service.recurring(db_session=s, zone_id=req.handling_zone_id).get(req.need, 0)
    pending = v.state == RequestState.pending
    deciding_zone = user.zone_id == req.handling_zone_id
    may_decide = pending and deciding_zone and user.role in DECIDING_ROLES
    may_receive = (v.state == RequestState.accepted and v.case_no is None and user.role == "clerk"
                   and user.zone_id == req.requesting_zone_id)
    may_promote = (v.state == RequestState.accepted and v.promoted_item_code is None and user.role == "admin"
                   and deciding_zone)
    why_not = ""
    if pending and not may_decide:
        why_not = ("只有办理地的主管或管理员可以答复一事一议申请" if deciding_zone
                   else f"此申请由{v.handling_zone_name}答复，本区不能代为决定")
    return render(request, "adhoc/detail.html", status_code=status, r=v, may_decide=may_decide,
                  may_receive=may_receive, may_promote=may_promote, why_not=why_not, recurring=recurring,
                  errors=errors or {}, values=values or {"applicant_kind": "enterprise", "delivery_method": "mail"})


@router.get("/adhoc/{request_id}")
def adhoc_detail(request: Request, request_id: int, user: UserDep) -> Response:
    return _detail(request, user, request_id)


def _decision(form: FormData) -> tuple[DecisionIn | None, dict[str, str], dict[str, str]]:
    values = {k: str(form.get(k) or "") for k in ("decision", "promised_days", "materials", "reason")}
    lines = [line.strip() for line in values["materials"].splitlines() if line.strip()]
    materials = []
    for line in lines:  # "名称" or "名称｜复印件" or "名称｜复印件｜选交"
        parts = [p.strip() for p in line.replace("|", "｜").split("｜")]
        materials.append(MaterialIn(name=parts[0], form=parts[1] if len(parts) > 1 and parts[1] else "原件",
                                    required=not (len(parts) > 2 and parts[2] in ("选交", "可选", "否"))))
    days_raw = values["promised_days"].strip()
    if days_raw and not days_raw.isdigit():
        return None, values, {"promised_days": "承诺时限须是整数个工作日"}
    if values["decision"] not in ("accept", "decline"):
        return None, values, {"_form": "请选择“同意受理”或“拒绝”"}
    try:
        return DecisionIn(decision=values["decision"], promised_days=int(days_raw) if days_raw else None,  # type: ignore[arg-type]
                          materials=materials, reason=values["reason"]), values, {}
    except ValidationError:
        return None, values, {"materials": "材料行写法有误"}


@router.post("/adhoc/{request_id}/decision")
def adhoc_decide(request: Request, request_id: int, user: UserDep, form: FormDep) -> Response:
    runtime = runtime_of(request)
    decision, values, errors = _decision(form)
    if decision is not None:
        try:
            with transaction(runtime.session_factory) as s:
                req = service.decide(db_session=s, actor=user.actor, request_id=request_id, decision=decision,
                                     now=runtime.now())
                ref, state = req.ref, req.state
        except TransitionError as exc:
            if exc.status == 404:
                raise
            field = str(exc.detail.get("field", "_form"))
            field = "materials" if field.startswith("materials") else field
            errors = {field if field in values else "_form": _message(lang_of(request), exc)}
            return _detail(request, user, request_id, errors=errors, values=values, status=exc.status)
        word = "已同意受理" if state == RequestState.accepted else "已拒绝"
        session_of(request).flash("ok", f"{ref} {word}")
        return RedirectResponse(f"/ui/adhoc/{request_id}", status_code=303)
    return _detail(request, user, request_id, errors=errors, values=values, status=422)


def _uploads(form: FormData) -> tuple[list[Upload], dict[str, str]]:
    uploads: list[Upload] = []
    where: dict[str, str] = {}
    for key, value in form.multi_items():
        if isinstance(value, UploadFile) and value.filename and key.startswith("material_") and key[9:].isdigit():
            uploads.append(Upload(filename=value.filename, stream=value.file, item_material_id=int(key[9:])))
            where.setdefault(value.filename, key)
    return uploads, where


@router.post("/adhoc/{request_id}/receive")
async def adhoc_receive(request: Request, request_id: int, user: UserDep, form: FormDep) -> Response:
    """据此收件: the normal intake (``states.intake.receipt.receive_case``) with the request's one-off item."""
    runtime = runtime_of(request)
    lang = lang_of(request)
    values = {k: str(form.get(k) or "") for k in RECEIVE_FIELDS}
    values.update({k: "1" for k in form if k.startswith("tick_")})
    errors: dict[str, str] = {}
    uploads, where = _uploads(form)
    kind = values["applicant_kind"]
    try:
        if kind == "enterprise":
            identifiers.validate_uscc(values["applicant_id_number"])
        elif kind == "person":
            identifiers.validate_resident_id(values["applicant_id_number"], today=runtime.now().date())
    except identifiers.IdentifierError as exc:
        errors["applicant_id_number"] = ui_errors.identifier_text(lang, exc)
    ticks = [int(k[5:]) for k in form if k.startswith("tick_") and k[5:].isdigit()]
    if not errors:
        try:
            receive_form = ReceiveForm.model_validate({
                "item_code": f"YSYY-{request_id:05d}", "adhoc_request_id": request_id,
                "applicant": {"kind": kind, "name": values["applicant_name"].strip(),
                              "id_number": values["applicant_id_number"], "phone": values["applicant_phone"],
                              "address": values["applicant_address"]},
                "checklist": [{"item_material_id": m} for m in ticks],
                "delivery_method": values["delivery_method"] or "mail", "delivery_address": values["delivery_address"],
            })
        except ValidationError as exc:
            for e in exc.errors():
                errors.setdefault(ui_errors.input_of(".".join(str(p) for p in e["loc"])),
                                  ui_errors.pydantic_text(lang, dict(e)))
        else:
            try:
                case_no = await run_in_threadpool(
                    intake.receive_case, session_factory=runtime.session_factory, store=runtime.store,
                    clock=runtime.clock, actor=user.actor, form=receive_form, uploads=uploads, now=runtime.now(),
                    max_bytes=runtime.settings.max_file_bytes, workdir=runtime.spool_dir, limits=runtime.image_limits)
            except MaterialError as exc:
                errors[where.get(exc.filename, "checklist")] = ui_errors.material_text(lang, exc)
                return _detail(request, user, request_id, errors=errors, values=values,
                               status=MATERIAL_ERROR_STATUS.get(exc.code, 422))
            except TransitionError as exc:
                if exc.status == 404:
                    raise
                field = ui_errors.input_of(str(exc.detail.get("field", "")))
                message = _message(lang, exc) if not isinstance(exc, PayloadInvalid) or zh_of(exc) \
                    else ui_errors.refusal_text(lang, exc)
                errors[field if field in values or field == "checklist" else "_form"] = message
                return _detail(request, user, request_id, errors=errors, values=values, status=exc.status)
            session_of(request).flash("ok", f"已据一事一议申请收件，办件编号 {case_no}")
            return RedirectResponse(f"/ui/cases/{case_no}?print=receipt", status_code=303)
    return _detail(request, user, request_id, errors=errors, values=values, status=422)


@router.post("/adhoc/{request_id}/promote")
def adhoc_promote(request: Request, request_id: int, user: UserDep, form: FormDep) -> Response:
    runtime = runtime_of(request)
    code = str(form.get("code") or "")
    try:
        with transaction(runtime.session_factory) as s:
            item = service.promote(db_session=s, actor=user.actor, request_id=request_id, code=code,
                                   now=runtime.now())
            label = f"{item.code} {item.name}"
    except TransitionError as exc:
        if exc.status == 404:
            raise
        return _detail(request, user, request_id, errors={"code": _message(lang_of(request), exc)},
                       values={"code": code}, status=exc.status)
    session_of(request).flash("ok", f"已转入事项目录：{label}，各窗口即可按目录事项收件")
    return RedirectResponse(f"/ui/adhoc/{request_id}", status_code=303)


