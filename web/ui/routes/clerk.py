"""Clerk pages: receive a case at the counter (收件) and the item's material checklist."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile

from documents.errors import MATERIAL_ERROR_STATUS, MaterialError
from licences import service as e_licence
from states import identifiers
from states.intake import receipt as intake
from states.intake.schemas import ReceiveForm
from states.intake.uploads import Upload
from states.transition.errors import CaseNotFound, PayloadInvalid, TransitionError
from storage.catalog import service as catalog
from storage.catalog.models import Item
from storage.db import transaction
from web.ui import errors as ui_errors
from web.ui.deps import FormDep, UserDep, require_role, wants_json
from web.ui.i18n import translate
from web.ui.render import lang_of, render, runtime_of, session_of
from web.ui.session import UiUser

router = APIRouter(prefix="/ui", include_in_schema=False)

#: Form fields of the receive page (kept and shown again when something is refused).
FIELDS = ("item", "item_id", "applicant_kind", "applicant_name", "applicant_id_number", "applicant_phone",
          "applicant_address", "delivery_method", "delivery_address")


def item_label(item: Item) -> str:
    return f"{item.code} {item.name}（{item.zone.name}）"


def match_items(items: list[Item], text: Any) -> list[Item]:
    """What the clerk typed → the items it means: the full label, the code in any case ("qy-001"),
    the start of a label, or a piece of the name ("档案查询"); several only when it is ambiguous."""
    text = " ".join(str(text or "").split())
    if not text:
        return []
    folded = text.casefold()
    for rule in (lambda i: item_label(i).casefold() == folded,
                 lambda i: i.code.casefold() == folded.split()[0],
                 lambda i: item_label(i).casefold().startswith(folded),
                 lambda i: folded in i.name.casefold() or folded in item_label(i).casefold()):
        found = [i for i in items if rule(i)]
        if found:
            return found
    return []


def _find_item(items: list[Item], item_id: Any, text: Any) -> Item | None:
    """By the id the page's script set, else by what the clerk typed when it means one item."""
    if isinstance(item_id, str) and item_id.isdigit():
        found = next((i for i in items if i.id == int(item_id)), None)
        if found is not None and (not text or match_items([found], text)):
            return found
    matches = match_items(items, text)
    return matches[0] if len(matches) == 1 else None


@dataclass(frozen=True)
class ChosenItem:
    id: int
    code: str
    zone_code: str
    material_ids: tuple[int, ...]


def _choose(request: Request, user: UiUser, item_id: str, text: str) -> ChosenItem | list[str]:
    """The item, or the labels of the candidates when the text means none or several."""
    with transaction(runtime_of(request).session_factory) as s:
        items = catalog.list_items(db_session=s, exclude_zone_id=user.zone_id)
        item = _find_item(items, item_id, text)
        if item is None:
            return [item_label(i) for i in match_items(items, text)]
        return ChosenItem(item.id, item.code, item.zone.code, tuple(m.id for m in item.materials))


def item_error(lang: str, text: str, candidates: list[str]) -> str:
    if len(candidates) > 1:
        shown = "；".join(candidates[:5]) + ("…" if len(candidates) > 5 else "")
        return translate(lang, "receive.item_ambiguous", n=len(candidates), text=text, names=shown)
    return translate(lang, "receive.item_unknown")


@router.get("/items/match")
def match_item(request: Request, user: UserDep, q: str = "") -> Response:
    """The picker's lookup (code in any case, a unique piece of the name): JSON for the page's script."""
    require_role(user, "clerk")
    lang = lang_of(request)
    with transaction(runtime_of(request).session_factory) as s:
        found = match_items(catalog.list_items(db_session=s, exclude_zone_id=user.zone_id), q)
        if len(found) == 1:
            return JSONResponse({"id": found[0].id, "label": item_label(found[0])})
        return JSONResponse({"id": None, "candidates": [item_label(i) for i in found[:10]],
                             "message": item_error(lang, q.strip(), [item_label(i) for i in found])})


def _page(request: Request, user: UiUser, *, values: dict[str, str], errors: dict[str, str], status: int = 200,
          notice: str = "") -> Response:
    with transaction(runtime_of(request).session_factory) as s:  # render inside: the checklist loads lazily
        items = catalog.list_items(db_session=s, exclude_zone_id=user.zone_id)
        item = _find_item(items, values.get("item_id"), values.get("item"))
        return render(request, "receive.html", status_code=status, items=items, item=item, item_label=item_label,
                      values=values, errors=errors, notice=notice, licence_names=e_licence_names(s),
                      ticked={k for k in values if k.startswith("tick_")})


@router.get("/receive")
def receive_page(request: Request, user: UserDep, item_id: str | None = None) -> Response:
    require_role(user, "clerk")
    return _page(request, user, values={"item_id": item_id or "", "applicant_kind": "enterprise",
                                        "delivery_method": "mail"}, errors={})


@router.get("/items/{item_id}/materials")
def item_materials(request: Request, item_id: int, user: UserDep) -> Response:
    """The checklist fragment the receive page swaps in when the clerk picks an item."""
    require_role(user, "clerk")
    with transaction(runtime_of(request).session_factory) as s:
        items = catalog.list_items(db_session=s, exclude_zone_id=user.zone_id)
        item = next((i for i in items if i.id == item_id), None)
        if item is None:
            raise CaseNotFound(f"no item {item_id} for this window")
        return render(request, "_checklist.html", item=item, item_label=item_label, values={}, errors={},
                      ticked=set(), licence_names=e_licence_names(s))


def e_licence_names(db_session: Any) -> dict[str, str]:
    return {t.code: t.name for t in e_licence.list_types(db_session=db_session)}


def _e_licences(form: FormData, material_ids: tuple[int, ...]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """电子证照 per checklist line: ``licence_no_<id>`` (with ``licence_type_<id>``); a ticked
    ``licence_fallback_<id>`` says the clerk gives a scan instead because the issuer is unreachable."""
    wanted, fallbacks = [], []
    for m in material_ids:
        number = str(form.get(f"licence_no_{m}") or "").strip()
        kind = str(form.get(f"licence_type_{m}") or "").strip()
        if form.get(f"licence_fallback_{m}"):
            fallbacks.append({"item_material_id": m, "licence_type": kind, "number": number})
        elif number:
            wanted.append({"item_material_id": m, "licence_type": kind, "number": number})
    return wanted, fallbacks


def _uploads(form: FormData) -> tuple[list[Upload], dict[str, str]]:
    """Scans per checklist line (``material_<item_material_id>``); remembers which line each file was on."""
    uploads: list[Upload] = []
    where: dict[str, str] = {}
    for key, value in form.multi_items():
        if not isinstance(value, UploadFile) or not value.filename:
            continue
        if key.startswith("material_") and key[len("material_"):].isdigit():
            uploads.append(Upload(filename=value.filename, stream=value.file, item_material_id=int(key[9:])))
            where.setdefault(value.filename, key)
    return uploads, where


def clerk_user(user: UserDep) -> UiUser:
    """Resolved before the form (FastAPI solves dependencies in order): only a clerk's upload is read."""
    require_role(user, "clerk")
    return user


@router.post("/receive")
async def receive(request: Request, user: Annotated[UiUser, Depends(clerk_user)], form: FormDep) -> Response:
    runtime = runtime_of(request)
    lang = lang_of(request)
    values = {k: str(form.get(k) or "") for k in FIELDS}
    values.update({k: "1" for k in form if k.startswith(("tick_", "licence_fallback_"))})
    values.update({k: str(form.get(k) or "") for k in form if k.startswith("licence_no_")})
    errors: dict[str, str] = {}
    file_error: dict[str, str] | None = None

    item = await run_in_threadpool(_choose, request, user, values["item_id"], values["item"])
    uploads, where = _uploads(form)
    if not isinstance(item, ChosenItem):
        errors["item"] = item_error(lang, values["item"].strip(), item)
    elif form.get("action") == "load":  # no script: show the chosen item's checklist, keep what was typed
        notice = translate(lang, "receive.files_dropped", n=len(uploads)) if uploads else ""
        return _page(request, user, values={**values, "item_id": str(item.id)}, errors={}, notice=notice)
    else:
        values["item_id"] = str(item.id)
        kind = values["applicant_kind"]
        try:  # the reason next to the field, in the page's language; the intake service validates again
            if kind == "enterprise":
                identifiers.validate_uscc(values["applicant_id_number"])
            elif kind == "person":
                identifiers.validate_resident_id(values["applicant_id_number"], today=runtime.now().date())
        except identifiers.IdentifierError as exc:
            errors["applicant_id_number"] = ui_errors.identifier_text(lang, exc)
    if not errors and isinstance(item, ChosenItem):
        try:
            receive_form = ReceiveForm.model_validate({
                "item_code": item.code, "handling_zone": item.zone_code,
                "applicant": {"kind": values["applicant_kind"], "name": values["applicant_name"].strip(),
                              "id_number": values["applicant_id_number"], "phone": values["applicant_phone"],
                              "address": values["applicant_address"]},
                "checklist": [{"item_material_id": m} for m in item.material_ids if form.get(f"tick_{m}")],
                "delivery_method": values["delivery_method"] or "mail",
                "delivery_address": values["delivery_address"],
                **dict(zip(("e_licences", "licence_fallbacks"), _e_licences(form, item.material_ids), strict=True)),
            })
        except ValidationError as exc:
            for e in exc.errors():
                field = ui_errors.input_of(".".join(str(p) for p in e["loc"]))
                errors.setdefault(field, ui_errors.pydantic_text(lang, dict(e)))
        else:
            try:
                case_no = await run_in_threadpool(
                    intake.receive_case, session_factory=runtime.session_factory, store=runtime.store,
                    clock=runtime.clock, actor=user.actor, form=receive_form, uploads=uploads, now=runtime.now(),
                    max_bytes=runtime.settings.max_file_bytes, workdir=runtime.spool_dir,
                    limits=runtime.image_limits,
                )
            except MaterialError as exc:
                message = ui_errors.material_text(lang, exc)
                field = where.get(exc.filename, "checklist")
                errors[field] = message
                file_error = {"file": exc.filename, "field": field, "reason": exc.code}
            except PayloadInvalid as exc:
                if "item_material_id" not in exc.detail:  # not about one line's e-licence: as every refusal
                    field = ui_errors.input_of(exc.field)
                    errors[field if field in FIELDS or field == "checklist" else "_form"] = \
                        ui_errors.refusal_text(lang, exc)
                else:  # the line's own slot, in Chinese, naming the material
                    errors[f"licence_{exc.detail['item_material_id']}"] = exc.reason_zh if lang == "zh" else exc.reason
            except TransitionError as exc:
                if exc.status in (403, 404):
                    raise
                field = ui_errors.input_of(str(exc.detail.get("field", "")))
                errors[field if field in FIELDS or field == "checklist" else "_form"] = \
                    ui_errors.refusal_text(lang, exc)
            else:
                message = translate(lang, "receive.done", case_no=case_no)
                session_of(request).flash("ok", message)
                # 确认收件并打印回执: the case page opens the receipt's print view at once (one step)
                target = f"/ui/cases/{case_no}?print=receipt"
                if wants_json(request):
                    return JSONResponse({"ok": True, "case_no": case_no, "redirect": target})
                return RedirectResponse(target, status_code=303)
    status = MATERIAL_ERROR_STATUS.get(file_error["reason"], 422) if file_error else 422
    if wants_json(request):
        field, message = next(iter(errors.items()))
        body: dict[str, Any] = {"error": "invalid_file" if file_error else "invalid", "field": field,
                                "message": message, "errors": errors}
        if file_error:
            body["file"] = file_error["file"]
        return JSONResponse(body, status_code=status)
    notice = translate(lang, "receive.fix") + " " + translate(lang, "receive.reselect")
    return _page(request, user, values=values, errors=errors, status=status, notice=notice)
