"""The case page shared by every role, the actions on it, and the case search.

Routes only translate forms into the state layer's calls: the transition service decides what is
allowed (role, zone, state, version) and the page shows only what ``events_for`` offers.
"""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile

from states.enums import CaseEvent, Form
from states.intake import flows as intake
from states.intake.uploads import Upload
from states.lifecycle import EVENTS, STATE_LABELS
from states.queue import service as queue_service
from states.transition import payloads
from states.transition import service as transitions
from states.transition.errors import CaseNotFound, PayloadInvalid, TransitionError
from states.transition.rules import is_party
from storage.audit import service as audit
from storage.case.models import Case
from storage.db import transaction
from storage.pdf import pdf_outline_pages
from storage.pdf.errors import MaterialError
from storage.user.models import User
from web.ui.deps import FormDep, UserDep
from web.ui.i18n import event_label, translate
from web.ui.render import lang_of, render, runtime_of, session_of
from web.ui.session import UiUser

router = APIRouter(prefix="/ui", include_in_schema=False)

#: Events the page offers as one click, without a form of their own (states/lifecycle.py EVENTS).
ONE_CLICK = tuple(e.value for e, f in EVENTS.items() if f.form is Form.one_click)
#: Events offered as a button with a required reason, outside any panel.
REASON_ONLY = tuple(e.value for e, f in EVENTS.items() if f.form is Form.reason)
#: Events whose payload carries a reason (required or not): the form's ``reason`` goes with them.
WITH_REASON = tuple(e.value for e, m in payloads.MODELS.items() if "reason" in m.model_fields)
#: event → the panel of _case_actions.html that offers it.
PANEL_OF = {e.value: f.panel for e, f in EVENTS.items() if f.form is Form.panel and f.panel}


def panels(events: list[str]) -> set[str]:
    """The panels of the case page to show for the events this user may send now."""
    return {PANEL_OF[e] for e in events if e in PANEL_OF}


def visible_case(s: Session, user: UiUser, case_no: str) -> Case:
    """The case if the user's zone is party to it; otherwise it does not exist (404, nothing leaks)."""
    case = transitions.get_case(db_session=s, case_no=case_no)
    if not is_party(user.actor, case):
        raise CaseNotFound(f"case {case_no} does not exist", case_no=case_no)
    return case


def _packet_bookmarks(request: Request, key: str) -> list[tuple[str, int | None]]:
    with contextlib.suppress(Exception):  # a page still shows when the packet cannot be read now
        return pdf_outline_pages(b"".join(runtime_of(request).store.iter_bytes(key)))
    return []


@router.get("/cases/{case_no}")
def case_page(request: Request, case_no: str, user: UserDep) -> Response:
    runtime = runtime_of(request)
    with transaction(runtime.session_factory) as s:
        case = visible_case(s, user, case_no)
        trail = audit.list_events(db_session=s, case_id=case.id)
        packet = next((f for f in reversed(case.files) if f.purpose == "packet"), None)
        role, side, states = intake.ATTACH_RULES["supplement"]
        return render(
            request, "case.html", case=case, events=transitions.events_for(user.actor, case), trail=trail,
            packet=packet, bookmarks=_packet_bookmarks(request, packet.object_key) if packet else [],
            has_notice=any(e.event == "request_supplement" for e in trail),
            assignee=s.get(User, case.assignee_id) if case.assignee_id else None,
            can_attach_supplement=(user.role == role and user.zone_id == case.receiving_zone_id
                                   and case.state in states),
            files_of={m.id: [f for f in case.files if f.material_id == m.id] for m in case.materials},
            on_time=(case.decided_at <= case.due_at) if case.decided_at and case.due_at else None,
            one_click=ONE_CLICK, reason_only=REASON_ONLY, panels=panels(transitions.events_for(user.actor, case)),
        )


def _file_uploads(form: FormData, field: str) -> list[Upload]:
    out = []
    for key, value in form.multi_items():
        if key == field and isinstance(value, UploadFile) and value.filename:
            material = form.get("material_id")
            out.append(Upload(filename=value.filename, stream=value.file,
                              item_material_id=int(material) if isinstance(material, str) and material.isdigit()
                              else None))
    return out


class _Refused(Exception):
    """A form problem found before calling the service: flash it and go back to the case."""


def _payload(event: str, form: FormData, lang: str) -> dict[str, Any]:
    """The event's payload from the form fields of its panel, checked by the event's own model."""
    text = {k: str(v).strip() for k, v in form.multi_items() if isinstance(v, str)}
    payload: dict[str, Any] = {}
    if text.get("note"):
        payload["note"] = text["note"]
    if event in WITH_REASON:
        payload["reason"] = text.get("reason", "")
    if event in (CaseEvent.precheck_pass, CaseEvent.request_supplement):
        marked = [{"material_id": int(k[len("verdict_"):]), "problem": v,
                   "note": text.get(f"note_{k[len('verdict_'):]}", "")}
                  for k, v in text.items() if k.startswith("verdict_") and v in ("missing", "defective")]
        if event == CaseEvent.precheck_pass and marked:
            raise _Refused(translate(lang, "precheck.conflict"))
        if event == CaseEvent.request_supplement:
            if not marked:
                raise _Refused(translate(lang, "precheck.none_marked"))
            payload["materials"] = marked
    if event == CaseEvent.mail_result:
        payload["carrier"] = text.get("carrier", "")
        payload["tracking_no"] = text.get("tracking_no", "")
    if event not in payloads.MODELS or event in (CaseEvent.approve, CaseEvent.deny):
        return payload  # unknown: the service refuses it; decisions: the result document comes next
    try:  # the same model the service checks with: the reason shows next to the form, in the page's language
        return payloads.parse(event, payload).model_dump(exclude={"event", "version"}, exclude_defaults=True)
    except PayloadInvalid as exc:
        head = translate(lang, "error.invalid")
        raise _Refused(f"{head} {exc.field}：{exc.reason_zh}" if lang == "zh" else f"{head} {exc.message}") from exc


def refusal_text(lang: str, exc: TransitionError) -> str:
    """A refusal as a clerk reads it: a plain sentence first, the service's precise words after."""
    head = translate(lang, f"error.{exc.code}")
    return f"{head} {exc.message}" if head != f"error.{exc.code}" else exc.message


@router.post("/cases/{case_no}/events")
async def send_event(request: Request, case_no: str, user: UserDep, form: FormDep) -> Response:
    runtime = runtime_of(request)
    lang = lang_of(request)
    session = session_of(request)
    event = str(form.get("event") or "")
    version_raw = str(form.get("version") or "")
    version = int(version_raw) if version_raw.isdigit() else None
    back = RedirectResponse(f"/ui/cases/{case_no}", status_code=303)
    try:
        payload = _payload(event, form, lang)
        if event in ("approve", "deny"):
            payload["result_file_id"] = await _result_document(request, user, case_no, form, lang)

        def apply() -> None:
            with transaction(runtime.session_factory) as s:
                visible_case(s, user, case_no)
                transitions.apply_event(db_session=s, case_no=case_no, actor=user.actor, event=event,
                                        version=version, payload=payload, now=runtime.now(), clock=runtime.clock)

        await run_in_threadpool(apply)
    except _Refused as exc:
        session.flash("error", str(exc))
        return back
    except MaterialError as exc:
        session.flash("error", exc.message_zh if lang == "zh" else exc.message)
        return back
    except TransitionError as exc:
        if exc.status == 404:
            raise
        session.flash("error", refusal_text(lang, exc))
        return back
    runtime.wake_dispatcher()
    session.flash("ok", translate(lang, "case.event_done", event=event_label(lang, event)))
    return back


async def _result_document(request: Request, user: UiUser, case_no: str, form: FormData, lang: str) -> int:
    """结果文书: attach the uploaded file (purpose=result), or reuse one attached before."""
    runtime = runtime_of(request)
    uploads = _file_uploads(form, "result")
    if uploads:
        ids = await run_in_threadpool(
            intake.attach_files, session_factory=runtime.session_factory, store=runtime.store, actor=user.actor,
            case_no=case_no, purpose="result", uploads=uploads, now=runtime.now(),
            max_bytes=runtime.settings.max_file_bytes,
        )
        return ids[-1]

    def earlier() -> int | None:
        with transaction(runtime.session_factory) as s:
            case = visible_case(s, user, case_no)
            return next((f.id for f in reversed(case.files) if f.purpose == "result"), None)

    found = await run_in_threadpool(earlier)
    if found is None:
        raise _Refused(translate(lang, "decide.result_needed"))
    return found


@router.post("/cases/{case_no}/files")
async def attach_supplement(request: Request, case_no: str, user: UserDep, form: FormDep) -> Response:
    """补正材料: the applicant brought what the notice asked for."""
    runtime = runtime_of(request)
    lang = lang_of(request)
    session = session_of(request)
    uploads = _file_uploads(form, "files")
    try:
        ids = await run_in_threadpool(
            intake.attach_files, session_factory=runtime.session_factory, store=runtime.store, actor=user.actor,
            case_no=case_no, purpose="supplement", uploads=uploads, now=runtime.now(),
            max_bytes=runtime.settings.max_file_bytes,
        )
    except MaterialError as exc:
        session.flash("error", exc.message_zh if lang == "zh" else exc.message)
    except TransitionError as exc:
        if exc.status == 404:
            raise
        session.flash("error", refusal_text(lang, exc))
    else:
        session.flash("ok", translate(lang, "supplement.uploaded", n=len(ids)))
    return RedirectResponse(f"/ui/cases/{case_no}", status_code=303)


PER_PAGE = 50


@router.get("/cases")
def find_cases(request: Request, user: UserDep, q: str = "", state: str = "", side: str = "",
               overdue: str = "", page: int = 1) -> Response:
    """办件查询: every case the user's zone is party to, newest first."""
    runtime = runtime_of(request)
    page = max(page, 1)
    flt = queue_service.CaseFilter(state=state or None, side=side if side in ("receiving", "handling") else None,
                                   text=q or None, overdue=True if overdue in ("1", "true") else None)
    with transaction(runtime.session_factory) as s:
        rows, total = queue_service.list_cases(db_session=s, actor=user.actor, flt=flt, now=runtime.now(),
                                               limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
        query = urlencode({"q": q, "state": state, "side": side, "overdue": overdue})
        return render(request, "cases.html", rows=rows, total=total, page=page, per_page=PER_PAGE, query=query,
                      q=q, state=state, side=side, states=list(STATE_LABELS))
