"""Staff pages of the kiosk: the admin's terminal registry and the clerk's smart locker (智能流转柜)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select

from states.kiosk import flows as kiosk_flows
from states.kiosk import service as kiosk
from states.transition.errors import PayloadInvalid, TransitionError
from storage.db import transaction
from storage.kiosk.models import KioskReceipt
from web.ui import errors as ui_errors
from web.ui import kiosk_text  # noqa: F401 - registers the strings
from web.ui.deps import FormDep, UserDep, require_role
from web.ui.i18n import translate
from web.ui.render import lang_of, render, runtime_of, session_of
from web.ui.routes.admin import SECTIONS
from web.ui.session import UiUser

router = APIRouter(prefix="/ui", include_in_schema=False)


# --- 自助终端 (admin) ----------------------------------------------------------------------------------

def _terminals_page(request: Request, user: UiUser, *, status_code: int = 200, **context: Any) -> Response:
    with transaction(runtime_of(request).session_factory) as s:
        terminals = kiosk.list_terminals(db_session=s, zone_id=user.zone_id)
        waiting = dict(s.execute(select(KioskReceipt.terminal_pk, func.count()).where(
            KioskReceipt.confirmed_at.is_(None)).group_by(KioskReceipt.terminal_pk)).tuples().all())
        return render(request, "kiosk/terminals.html", status_code=status_code, sections=SECTIONS,
                      terminals=terminals, waiting=waiting, **{"secret": "", "secret_for": "", "error": "",
                                                               "values": {}, **context})


@router.get("/admin/kiosks")
def terminals(request: Request, user: UserDep) -> Response:
    require_role(user, "admin")
    return _terminals_page(request, user)


@router.post("/admin/kiosks")
def register(request: Request, user: UserDep, form: FormDep) -> Response:
    require_role(user, "admin")
    runtime = runtime_of(request)
    values = {k: str(form.get(k) or "").strip() for k in ("terminal_id", "location", "locker_slots", "reader_url")}
    lang = lang_of(request)
    try:
        slots = int(values["locker_slots"] or "12")
    except ValueError:
        slots = 0
    try:
        with transaction(runtime.session_factory) as s:
            terminal, secret = kiosk.register_terminal(
                db_session=s, admin=user.actor, terminal_id=values["terminal_id"], location=values["location"],
                locker_slots=slots, reader_url=values["reader_url"], now=runtime.now())
            terminal_id = terminal.terminal_id
    except PayloadInvalid as exc:
        return _terminals_page(request, user, status_code=422, values=values,
                               error=exc.reason_zh if lang == "zh" else exc.reason)
    # The secret in this answer only (no redirect, no flash in a cookie): shown once.
    return _terminals_page(request, user, secret=secret,
                           secret_for=translate(lang, "kiosk.registered", terminal=terminal_id))


@router.post("/admin/kiosks/{terminal_pk}/active")
def set_active(request: Request, terminal_pk: int, user: UserDep, form: FormDep) -> Response:
    require_role(user, "admin")
    with transaction(runtime_of(request).session_factory) as s:
        kiosk.set_terminal_active(db_session=s, admin=user.actor, terminal_pk=terminal_pk,
                                  active=form.get("active") == "1")
    return RedirectResponse("/ui/admin/kiosks", status_code=303)


@router.post("/admin/kiosks/{terminal_pk}/secret")
def rotate(request: Request, terminal_pk: int, user: UserDep, form: FormDep) -> Response:
    require_role(user, "admin")
    with transaction(runtime_of(request).session_factory) as s:
        secret = kiosk.rotate_secret(db_session=s, admin=user.actor, terminal_pk=terminal_pk)
        terminal = s.get(kiosk.KioskTerminal, terminal_pk)
        name = terminal.terminal_id if terminal else ""
    return _terminals_page(request, user, secret=secret,
                           secret_for=translate(lang_of(request), "kiosk.rotated", terminal=name))


# --- 智能流转柜 (clerk) ---------------------------------------------------------------------------------

def _locker_page(request: Request, user: UiUser, *, status_code: int = 200, errors: dict[str, str] | None = None,
                 values: dict[str, str] | None = None) -> Response:
    with transaction(runtime_of(request).session_factory) as s:
        rows = kiosk.pending_for_zone(db_session=s, zone_id=user.zone_id)
        return render(request, "kiosk/locker.html", status_code=status_code, rows=rows, errors=errors or {},
                      values=values or {})


@router.get("/locker")
def locker(request: Request, user: UserDep) -> Response:
    require_role(user, "clerk")
    return _locker_page(request, user)


@router.post("/locker/confirm")
async def confirm(request: Request, user: UserDep, form: FormDep) -> Response:
    require_role(user, "clerk")
    runtime = runtime_of(request)
    lang = lang_of(request)
    values = {k: str(form.get(k) or "").strip() for k in ("case_no", "slot", "pickup_code")}
    try:
        slot = await run_in_threadpool(
            kiosk_flows.confirm_from_locker, session_factory=runtime.session_factory, actor=user.actor,
            case_no=values["case_no"], slot=values["slot"], pickup_code=values["pickup_code"], now=runtime.now())
    except PayloadInvalid as exc:
        message = exc.reason_zh if lang == "zh" else exc.reason
        return _locker_page(request, user, status_code=422, values=values,
                            errors={values["case_no"]: message})
    except TransitionError as exc:
        if exc.status in (403, 404):
            raise
        return _locker_page(request, user, status_code=exc.status, values=values,
                            errors={values["case_no"]: ui_errors.refusal_text(lang, exc)})
    session_of(request).flash("ok", translate(lang, "locker.confirmed", case_no=values["case_no"], slot=slot))
    return RedirectResponse(f"/ui/cases/{values['case_no']}", status_code=303)
