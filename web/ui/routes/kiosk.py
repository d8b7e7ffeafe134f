"""自助机 pages: a registered terminal's full-screen touch flow (Chinese only, large targets).

The terminal signs in once with its terminal id and device secret (issued by an admin); the signed
cookie is checked against the registry on every request, so a disabled terminal stops at once.
The applicant's data lives in the page until 提交; after it the server keeps only the receipt to show
(``KioskVisit``) until 完成 or the inactivity timeout (``Settings.kiosk_idle_seconds``), then forgets
it. Every answer is ``no-store``; 完成 also asks the browser to clear its cache.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeSerializer
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile

from documents.errors import MATERIAL_ERROR_STATUS, MaterialError
from states import identifiers
from states.intake.schemas import ReceiveForm
from states.intake.uploads import Upload
from states.kiosk import flows as kiosk_flows
from states.kiosk import service as kiosk
from states.kiosk.categories import categories_in, category_of
from states.transition.errors import PayloadInvalid, TransitionError
from states.transition.service import get_case
from storage.catalog import service as catalog
from storage.catalog.models import Item
from storage.db import transaction
from web import hardening
from web.ui import errors as ui_errors
from web.ui.deps import FormDep
from web.ui.render import render, runtime_of

router = APIRouter(prefix="/ui/kiosk", include_in_schema=False)

DEVICE_COOKIE = "tongban_kiosk"
VISIT_COOKIE = "tongban_kiosk_visit"
COOKIE_PATH = "/ui/kiosk"
PHONE_RE = re.compile(r"1\d{10}")
FIELDS = ("applicant_name", "applicant_id_number", "applicant_phone", "applicant_address", "delivery_method",
          "delivery_address")
NO_STORE = {"Cache-Control": "no-store, no-cache, must-revalidate, max-age=0", "Pragma": "no-cache",
            "Expires": "0"}


def _serializer(request: Request) -> URLSafeSerializer:
    return URLSafeSerializer(runtime_of(request).settings.secret_key, salt="tongban.kiosk.device")


def _device(request: Request) -> kiosk.Device | None:
    """The signed-in terminal, checked against the registry now (disabled or re-keyed: none)."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw:
        return None
    try:
        data = _serializer(request).loads(raw)
        terminal_id, secret = str(data["t"]), str(data["s"])
    except (BadSignature, KeyError, TypeError):
        return None
    try:
        with transaction(runtime_of(request).session_factory) as s:
            return kiosk.authenticate(db_session=s, terminal_id=terminal_id, secret=secret)
    except kiosk.TerminalRefused:
        return None


def _csp(device: kiosk.Device | None) -> str:
    """The page CSP, letting the page reach the terminal's own ID-card reader and nothing else."""
    if device is None or not device.reader_url:
        return hardening.PAGE_CSP
    parts = urlsplit(device.reader_url)
    return hardening.PAGE_CSP.replace("connect-src 'self'", f"connect-src 'self' {parts.scheme}://{parts.netloc}")


def _page(request: Request, name: str, device: kiosk.Device | None, status_code: int = 200,
          **context: Any) -> Response:
    response = render(request, name, status_code=status_code, device=device,
                      idle_seconds=runtime_of(request).settings.kiosk_idle_seconds, **context)
    response.headers.update(NO_STORE)
    response.headers["Content-Security-Policy"] = _csp(device)
    return response


def _to(path: str, **headers: str) -> RedirectResponse:
    response = RedirectResponse(path, status_code=303)
    response.headers.update({**NO_STORE, **headers})
    return response


def _signin() -> RedirectResponse:
    return _to("/ui/kiosk/signin")


# --- sign-in of the terminal ---------------------------------------------------------------------

@router.get("/signin")
def signin_page(request: Request) -> Response:
    return _page(request, "kiosk/signin.html", None, error="")


@router.post("/signin")
async def signin(request: Request, form: FormDep) -> Response:
    terminal_id, secret = str(form.get("terminal_id") or ""), str(form.get("secret") or "")
    runtime = runtime_of(request)

    def check() -> kiosk.Device:
        with transaction(runtime.session_factory) as s:
            return kiosk.authenticate(db_session=s, terminal_id=terminal_id, secret=secret)

    try:
        device = await run_in_threadpool(check)
    except kiosk.TerminalRefused:
        return _page(request, "kiosk/signin.html", None, status_code=403, error=kiosk.TerminalRefused.MESSAGE_ZH,
                     terminal_id=terminal_id)
    response = _to("/ui/kiosk")
    value = _serializer(request).dumps({"t": device.terminal_id, "s": secret.strip()})
    secure = "; Secure" if request.url.scheme == "https" else ""
    response.headers.append("set-cookie", f"{DEVICE_COOKIE}={value}; Path={COOKIE_PATH}; Max-Age=31536000; "
                                          f"HttpOnly; SameSite=Strict{secure}")
    return response


# --- pick the item ---------------------------------------------------------------------------------

def _items(request: Request, device: kiosk.Device) -> list[Item]:
    with transaction(runtime_of(request).session_factory) as s:
        items = catalog.list_items(db_session=s, exclude_zone_id=device.zone_id)
        for i in items:
            _ = i.zone.name, list(i.materials)  # loaded before the session closes
        s.expunge_all()
        return items


@router.get("")
def home(request: Request, q: str = "", cat: str = "", ended: str = "") -> Response:
    device = _device(request)
    if device is None:
        return _signin()
    items = _items(request, device)
    categories = categories_in([i.code for i in items])
    query = " ".join(q.split())[:40]
    shown = [i for i in items if (not cat or category_of(i.code) == cat)
             and (not query or query.casefold() in f"{i.code} {i.name}".casefold())]
    notice = {"timeout": "因长时间无操作，本次办理已结束，屏幕信息已清除。",
              "done": "办理完成，感谢使用。本次信息已从屏幕清除。"}.get(ended, "")
    return _page(request, "kiosk/home.html", device, items=shown, categories=categories, cat=cat, q=query,
                 notice=notice, category_of=category_of)


# --- the application: applicant, scans, signature ----------------------------------------------------

def _item(request: Request, device: kiosk.Device, item_id: int) -> Item | None:
    return next((i for i in _items(request, device) if i.id == item_id), None)


@router.get("/apply/{item_id}")
def apply_page(request: Request, item_id: int) -> Response:
    device = _device(request)
    if device is None:
        return _signin()
    item = _item(request, device, item_id)
    if item is None:
        return _to("/ui/kiosk")
    return _page(request, "kiosk/apply.html", device, item=item, values={"delivery_method": "pickup"}, errors={},
                 category=category_of(item.code))


def _signature(form: FormData) -> bytes:
    raw = str(form.get("signature") or "")
    prefix = "data:image/png;base64,"
    if not raw.startswith(prefix):
        return b""
    try:
        return base64.b64decode(raw[len(prefix):], validate=True)
    except (binascii.Error, ValueError):
        return b""


def _uploads(form: FormData, known: set[int]) -> tuple[list[Upload], dict[str, str], set[int]]:
    uploads: list[Upload] = []
    where: dict[str, str] = {}
    scanned: set[int] = set()
    for key, value in form.multi_items():
        if not isinstance(value, UploadFile) or not value.filename or not key.startswith("material_"):
            continue
        mid = key[len("material_"):]
        if mid.isdigit() and int(mid) in known:
            uploads.append(Upload(filename=value.filename, stream=value.file, item_material_id=int(mid)))
            where.setdefault(value.filename, key)
            scanned.add(int(mid))
    return uploads, where, scanned


def _check(form: FormData, item: Item, values: dict[str, str], scanned: set[int], today: Any) -> dict[str, str]:
    """Everything the applicant can mend on the screen, each next to its field, in Chinese."""
    errors: dict[str, str] = {}
    if not values["applicant_name"].strip():
        errors["applicant_name"] = "请填写申请人姓名（或刷身份证读取）。"
    try:
        identifiers.validate_resident_id(values["applicant_id_number"], today=today)
    except identifiers.IdentifierError as exc:
        errors["applicant_id_number"] = ui_errors.identifier_text("zh", exc)
    if not PHONE_RE.fullmatch(values["applicant_phone"].strip()):
        errors["applicant_phone"] = "请填写 11 位手机号码，用于通知办理结果。"
    if values["delivery_method"] not in ("pickup", "mail"):
        errors["delivery_method"] = "请选择结果领取方式。"
    elif values["delivery_method"] == "mail" and not (values["delivery_address"]
                                                      or values["applicant_address"]):
        errors["delivery_address"] = "选择邮寄送达时，请填写收件地址。"
    missing = [m.name for m in item.materials if m.required and m.id not in scanned]
    if missing:
        errors["materials"] = "请扫描或上传以下必需材料：" + "、".join(missing)
    return errors


@router.post("/apply/{item_id}")
async def apply(request: Request, item_id: int, form: FormDep) -> Response:
    device = await run_in_threadpool(_device, request)
    if device is None:
        return _signin()
    item = await run_in_threadpool(_item, request, device, item_id)
    if item is None:
        return _to("/ui/kiosk")
    runtime = runtime_of(request)
    values = {k: str(form.get(k) or "").strip() for k in FIELDS}
    uploads, where, scanned = _uploads(form, {m.id for m in item.materials})
    errors = _check(form, item, values, scanned, runtime.now().date())
    signature = _signature(form)
    status = 422
    if not errors:
        try:
            receive_form = ReceiveForm.model_validate({
                "item_code": item.code, "handling_zone": item.zone.code,
                "applicant": {"kind": "person", "name": values["applicant_name"],
                              "id_number": values["applicant_id_number"], "phone": values["applicant_phone"],
                              "address": values["applicant_address"]},
                "checklist": [], "delivery_method": values["delivery_method"],
                "delivery_address": values["delivery_address"],
            })
            result = await run_in_threadpool(
                kiosk_flows.receive_at_kiosk, session_factory=runtime.session_factory, store=runtime.store,
                clock=runtime.clock, device=device, form=receive_form, uploads=uploads, signature_png=signature,
                now=runtime.now(), max_bytes=runtime.settings.max_file_bytes, workdir=runtime.spool_dir,
                limits=runtime.image_limits)
        except ValidationError as exc:
            for e in exc.errors():
                field = ui_errors.input_of(".".join(str(p) for p in e["loc"]))
                errors.setdefault(field if field in FIELDS else "_form", ui_errors.pydantic_text("zh", dict(e)))
        except MaterialError as exc:
            errors[where.get(exc.filename, "materials")] = ui_errors.material_text("zh", exc)
            status = MATERIAL_ERROR_STATUS.get(exc.code, 422)
        except PayloadInvalid as exc:
            field = ui_errors.input_of(exc.field)
            errors[field if field in (*FIELDS, "signature") else "_form"] = exc.reason_zh
        except TransitionError as exc:
            errors["_form"] = ui_errors.refusal_text("zh", exc)
            status = exc.status
        else:
            def remember() -> str:
                with transaction(runtime.session_factory) as s:
                    return kiosk.open_visit(db_session=s, device=device, case_no=result.case_no,
                                            pickup_code=result.pickup_code, slot=result.slot, now=runtime.now())

            token = await run_in_threadpool(remember)
            response = _to("/ui/kiosk/receipt")
            response.headers.append("set-cookie", f"{VISIT_COOKIE}={token}; Path={COOKIE_PATH}; HttpOnly; "
                                                  "SameSite=Strict")
            return response
    if not errors.get("signature") and not errors.get("_form"):
        errors.setdefault("_again", "为保护您的信息，已选择的文件和签名未保留：请重新扫描材料并重新签名。")
    return _page(request, "kiosk/apply.html", device, status_code=status, item=item, values=values, errors=errors,
                 category=category_of(item.code))


# --- the receipt, 完成 ---------------------------------------------------------------------------------

@router.get("/receipt")
def receipt(request: Request) -> Response:
    device = _device(request)
    if device is None:
        return _signin()
    runtime = runtime_of(request)
    with transaction(runtime.session_factory) as s:
        visit = kiosk.current_visit(db_session=s, device=device, token=request.cookies.get(VISIT_COOKIE),
                                    now=runtime.now(), idle=timedelta(seconds=runtime.settings.kiosk_idle_seconds))
        if visit is None:  # after 完成, a timeout or on another applicant's turn: nothing to show
            return _to("/ui/kiosk")
        case = get_case(db_session=s, case_no=visit.case_no)
        return _page(request, "kiosk/receipt.html", device, visit=visit, case=case, item=case.item,
                     applicant=case.applicant)


@router.post("/finish")
async def finish(request: Request, form: FormDep) -> Response:
    """完成 or the page's timeout: the server forgets the applicant, the browser its cache."""
    device = await run_in_threadpool(_device, request)
    ended = "timeout" if form.get("reason") == "timeout" else "done"
    if device is not None:
        runtime = runtime_of(request)

        def forget() -> None:
            with transaction(runtime.session_factory) as s:
                kiosk.end_visits(db_session=s, device=device)

        await run_in_threadpool(forget)
    response = _to(f"/ui/kiosk?ended={ended}", **{"Clear-Site-Data": '"cache"'})
    response.headers.append("set-cookie", f"{VISIT_COOKIE}=; Path={COOKIE_PATH}; Max-Age=0; HttpOnly; "
                                          "SameSite=Strict")
    return response
