"""The case page shared by every role, the actions on it, and the case search.

Routes only translate forms into the state layer's calls: the transition service decides what is
allowed (role, zone, state, version) and the page shows only what ``events_for`` offers.
"""

from __future__ import annotations

import contextlib
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile

from documents import papers as documents
from documents import pdf_outline_pages
from documents.errors import MaterialError
from licences import service as e_licence
from states import identifiers
from states.enums import Form
from states.intake import receipt as intake
from states.intake.uploads import Upload
from states.lifecycle import EVENTS, STATE_LABELS
from states.queue import service as queue_service
from states.transition import payloads
from states.transition import service as transitions
from states.transition.errors import PayloadInvalid, TransitionError
from storage.audit import service as audit
from storage.case import idhash
from storage.case.models import Case
from storage.db import transaction
from storage.user.models import User
from web.api.schemas import calendar_of
from web.ui import errors as ui_errors
from web.ui import views
from web.ui.deps import FormDep, UserDep
from web.ui.i18n import event_label, state_label, translate, translator
from web.ui.render import lang_of, render, runtime_of, session_of
from web.ui.routes.alerts import case_alerts
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
#: Events the service refuses without a reason: the form says so next to the field first.
REASON_NEEDED = tuple(e.value for e, m in payloads.MODELS.items()
                      if "reason" in m.model_fields and m.model_fields["reason"].validate_default)


def visible_case(s: Session, user: UiUser, case_no: str) -> Case:
    """The case if the user's zone is party to it; otherwise it does not exist (404, nothing leaks)."""
    return transitions.visible_case(db_session=s, actor=user.actor, case_no=case_no)


def _packet_bookmarks(request: Request, key: str) -> list[tuple[str, int | None]]:
    with contextlib.suppress(Exception):  # a page still shows when the packet cannot be read now
        return pdf_outline_pages(b"".join(runtime_of(request).store.iter_bytes(key)))
    return []


#: States in which the system is working on the case (the page polls and updates itself).
IN_TRANSIT = ("prechecked",)


def _originals_needed(case: Case) -> bool:
    """The item asks for paper originals (原件) of a material the applicant handed in on paper."""
    forms = {im.id: im.form for im in case.item.materials}
    return any(forms.get(m.item_material_id or -1) == "原件" and m.paper_received for m in case.materials)


def _case_context(request: Request, s: Session, user: UiUser, case: Case) -> dict[str, Any]:
    runtime = runtime_of(request)
    trail = audit.list_events(db_session=s, case_id=case.id)
    packet = next((f for f in reversed(case.files) if f.purpose == "packet"), None)
    role, side, states = intake.ATTACH_RULES["supplement"]
    t = translator(lang_of(request))
    open_pauses = [p.reason for p in getattr(case, "pauses", []) if p.ended_at is None]
    usernames = {e.actor for e in trail} | {str(e.payload["assignee"]) for e in trail if e.payload.get("assignee")}
    people = {u.username: u.display_name for u in s.scalars(select(User).where(User.username.in_(usernames)))}
    people["system"] = t("role.system")
    return dict(
        case=case, events=transitions.events_for(user.actor, case), trail=trail,
        packet=packet, bookmarks=_packet_bookmarks(request, packet.object_key) if packet else [],
        has_notice=any(e.event == "request_supplement" for e in trail),
        assignee=s.get(User, case.assignee_id) if case.assignee_id else None,
        can_attach_supplement=(user.role == role and user.zone_id == case.receiving_zone_id
                               and case.state in states),
        files_of={m.id: [f for f in case.files if f.material_id == m.id
                         and f.purpose in ("material", "supplement")] for m in case.materials},
        e_licence_of={r.material_id: r for r in e_licence.licences_of(db_session=s, case_id=case.id)},
        on_time=(case.decided_at <= case.due_at) if case.decided_at and case.due_at else None,
        one_click=ONE_CLICK, reason_only=REASON_ONLY, panels=panels(transitions.events_for(user.actor, case)),
        calendar_note=calendar_of(case, runtime.clock).note,
        promise=views.promise_status(due=case.due_at, now=runtime.now(), paused_since=case.paused_since,
                                     decided_at=case.decided_at, calendar=runtime.calendar,
                                     tz=runtime.settings.timezone, t=t),
        pause_reasons=[t(f"pause.{r}") for r in
                       (open_pauses or (["awaiting_supplement"] if case.paused_since else []))],
        zone_names={z.code: z.name for z in (case.receiving_zone, case.handling_zone)},
        in_transit=case.state in IN_TRANSIT, originals_needed=_originals_needed(case),
        display_name=lambda username: people.get(username, username),
        case_alerts=case_alerts(s, user, case.id),
        form_errors={}, form_values={}, form_event="",
        print_receipt=request.query_params.get("print") == "receipt",
        federation=_federation_of(s, case),
    )


def _federation_of(s: Any, case: Case) -> Any:
    """跨系统转递: the case's messages to or from a peer deployment (None when it is not shared)."""
    from federation.service import case_federation
    from web.ui import federation_text  # noqa: F401 - registers the section's strings

    return case_federation(db_session=s, case_id=case.id)


@router.get("/cases/{case_no}")
def case_page(request: Request, case_no: str, user: UserDep) -> Response:
    with transaction(runtime_of(request).session_factory) as s:
        case = visible_case(s, user, case_no)
        return render(request, "case.html", **_case_context(request, s, user, case))


def _case_again(request: Request, user: UiUser, case_no: str, *, event: str, errors: dict[str, str],
                form: FormData) -> Response:
    """The case page again with the refused form as it was typed and the reason next to its field."""
    values = {k: str(v) for k, v in form.multi_items() if isinstance(v, str) and k != "csrf_token"}
    with transaction(runtime_of(request).session_factory) as s:
        case = visible_case(s, user, case_no)
        context = _case_context(request, s, user, case)
        context.update(form_errors=errors, form_values=values, form_event=event)
        return render(request, "case.html", status_code=422, **context)


@router.get("/cases/{case_no}/status")
def case_status(request: Request, case_no: str, user: UserDep) -> Response:
    """What the case page polls while the system works on the case (转递中…): state and version."""
    lang = lang_of(request)
    with transaction(runtime_of(request).session_factory) as s:
        case = visible_case(s, user, case_no)
        return JSONResponse({"state": case.state, "version": case.version,
                             "state_label": state_label(lang, case.state),
                             "in_transit": case.state in IN_TRANSIT})


@router.get("/cases/{case_no}/receipt")
def receipt_print(request: Request, case_no: str, user: UserDep) -> Response:
    """收件回执 as a print view (the same content as the PDF): the counter prints it in one step."""
    runtime = runtime_of(request)
    with transaction(runtime.session_factory) as s:
        case = visible_case(s, user, case_no)
        info = documents.receipt_info(s, case, tz=runtime.settings.timezone)
        return render(request, "receipt_print.html", info=info, case=case,
                      autoprint=request.query_params.get("print") == "1")


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
    """A form problem found before calling the service: shown next to its field, the form kept."""

    def __init__(self, message: str, field: str = "_form") -> None:
        super().__init__(message)
        self.field = field


def _parcel(text: dict[str, str], lang: str, prefix: str) -> dict[str, str]:
    """Carrier + UPU S10 tracking number from the form (``carrier``/``tracking_no`` with a prefix)."""
    carrier = text.get(f"{prefix}carrier", "")
    if not carrier:
        raise _Refused(translate(lang, "ferr.carrier.needed"), f"{prefix}carrier")
    try:  # the reason next to the field; the transition service validates again
        tracking = identifiers.validate_s10(text.get(f"{prefix}tracking_no", ""), field="tracking_no")
    except identifiers.IdentifierError as exc:
        raise _Refused(ui_errors.identifier_text(lang, exc), f"{prefix}tracking_no") from exc
    return {"carrier": carrier, "tracking_no": tracking}


def _payload(event: str, form: FormData, lang: str) -> dict[str, Any]:
    """The event's payload from the form fields of its panel, checked by the event's own model."""
    text = {k: str(v).strip() for k, v in form.multi_items() if isinstance(v, str)}
    payload: dict[str, Any] = {}
    if text.get("note"):
        payload["note"] = text["note"]
    if event in WITH_REASON:
        payload["reason"] = text.get("reason", "")
        if event in REASON_NEEDED and not payload["reason"]:
            raise _Refused(translate(lang, "ferr.reason.needed"), "reason")
    if event in ("precheck_pass", "request_supplement"):
        marked = [{"material_id": int(k[len("verdict_"):]), "problem": v,
                   "note": text.get(f"note_{k[len('verdict_'):]}", "")}
                  for k, v in text.items() if k.startswith("verdict_") and v in ("missing", "defective")]
        if event == "precheck_pass" and marked:
            raise _Refused(translate(lang, "precheck.conflict"), "materials")
        if event == "request_supplement":
            if not marked:
                raise _Refused(translate(lang, "precheck.none_marked"), "materials")
            for m in marked:
                if m["problem"] == "defective" and not m["note"]:
                    raise _Refused(translate(lang, "ferr.materials.defective_note"), f"note_{m['material_id']}")
            payload["materials"] = marked
    if event == "precheck_pass" and text.get("originals_tracking_no"):  # the carrier is prefilled (EMS)
        payload["originals"] = _parcel(text, lang, "originals_")
    if event == "mail_result":
        payload.update(_parcel(text, lang, ""))
    if event == "supplement":
        payload["paper"] = [int(k[len("paper_"):]) for k in text if k.startswith("paper_") and k[6:].isdigit()]
    if event == "deliver":
        if not text.get("signed_on"):
            raise _Refused(translate(lang, "ferr.signed_on.invalid"), "signed_on")
        if not text.get("signatory"):
            raise _Refused(translate(lang, "ferr.signatory.needed"), "signatory")
        if not text.get("sure"):
            raise _Refused(translate(lang, "deliver.sure_needed"), "sure")
        payload.update(signed_on=text["signed_on"], signatory=text["signatory"])
    return payload


def refusal_text(lang: str, exc: TransitionError) -> str:
    """A refusal as a clerk reads it: one plain sentence in the page's language."""
    return ui_errors.refusal_text(lang, exc)


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
        return _case_again(request, user, case_no, event=event, errors={exc.field: str(exc)}, form=form)
    except MaterialError as exc:
        return _case_again(request, user, case_no, event=event,
                           errors={"result": ui_errors.material_text(lang, exc)}, form=form)
    except TransitionError as exc:
        if exc.status == 404:
            raise
        if isinstance(exc, PayloadInvalid):
            field = ui_errors.input_of(exc.field)
            return _case_again(request, user, case_no, event=event, errors={field: refusal_text(lang, exc)},
                               form=form)
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
            max_bytes=runtime.settings.max_file_bytes, workdir=runtime.spool_dir, limits=runtime.image_limits,
        )
        return ids[-1]

    def earlier() -> int | None:
        with transaction(runtime.session_factory) as s:
            case = visible_case(s, user, case_no)
            return next((f.id for f in reversed(case.files) if f.purpose == "result"), None)

    found = await run_in_threadpool(earlier)
    if found is None:
        raise _Refused(translate(lang, "decide.result_needed"), "result")
    return found


def may_attach(request: Request, case_no: str, user: UserDep) -> UiUser:
    """Resolved before the form (FastAPI solves dependencies in order): who may attach nothing to this
    case is refused before the upload is read."""
    intake.check_may_attach(session_factory=runtime_of(request).session_factory, actor=user.actor, case_no=case_no)
    return user


@router.post("/cases/{case_no}/files")
async def attach_supplement(request: Request, case_no: str, user: Annotated[UiUser, Depends(may_attach)],
                            form: FormDep) -> Response:
    """补正材料: the applicant brought what the notice asked for."""
    runtime = runtime_of(request)
    lang = lang_of(request)
    session = session_of(request)
    uploads = _file_uploads(form, "files")
    try:
        ids = await run_in_threadpool(
            intake.attach_files, session_factory=runtime.session_factory, store=runtime.store, actor=user.actor,
            case_no=case_no, purpose="supplement", uploads=uploads, now=runtime.now(),
            max_bytes=runtime.settings.max_file_bytes, workdir=runtime.spool_dir, limits=runtime.image_limits,
        )
    except MaterialError as exc:
        return _case_again(request, user, case_no, event="attach", errors={"files": ui_errors.material_text(lang, exc)},
                           form=form)
    except TransitionError as exc:
        if exc.status == 404:
            raise
        return _case_again(request, user, case_no, event="attach", errors={"files": refusal_text(lang, exc)},
                           form=form)
    else:
        session.flash("ok", translate(lang, "supplement.uploaded", n=len(ids)))
    return RedirectResponse(f"/ui/cases/{case_no}", status_code=303)


PER_PAGE = 50


def _case_list(request: Request, user: UserDep, *, q: str, state: str, side: str, overdue: str, page: int,
               by_id: bool) -> Response:
    runtime = runtime_of(request)
    page = max(page, 1)
    flt = queue_service.CaseFilter(state=state or None, side=side if side in ("receiving", "handling") else None,
                                   text=q or None, overdue=True if overdue in ("1", "true") else None)
    with transaction(runtime.session_factory) as s:
        rows, total = queue_service.list_cases(db_session=s, actor=user.actor, flt=flt, now=runtime.now(),
                                               limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
        # an ID search pages by POST too (the pager is a form); any other search stays a plain link
        query = "" if by_id else urlencode({"q": q, "state": state, "side": side, "overdue": overdue})
        return render(request, "cases.html", rows=rows, total=total, page=page, per_page=PER_PAGE, query=query,
                      q=q, state=state, side=side, overdue=overdue, by_id=by_id, states=list(STATE_LABELS))


@router.get("/cases")
def find_cases(request: Request, user: UserDep, q: str = "", state: str = "", side: str = "",
               overdue: str = "", page: int = 1) -> Response:
    """办件查询: every case the user's zone is party to, newest first."""
    if idhash.is_full_number(q):
        # an old bookmark or a typed URL: the number is not searched from the URL (nor echoed back into it)
        session_of(request).flash("info", translate(lang_of(request), "cases.id_by_form"))
        return RedirectResponse("/ui/cases", status_code=303)
    return _case_list(request, user, q=q, state=state, side=side, overdue=overdue, page=page, by_id=False)


@router.post("/cases")
def find_cases_posted(request: Request, user: UserDep, form: FormDep) -> Response:
    """The search form posts: a full ID number is answered here (the keyed-hash index finds it), so the
    number is never in a URL, the history or a Referer; any other search is sent on to the GET list,
    whose URL can be bookmarked and paged."""
    def field(name: str) -> str:
        value = form.get(name)
        return value.strip()[:200] if isinstance(value, str) else ""

    q, state, side, overdue = field("q"), field("state"), field("side"), field("overdue")
    page = int(field("page")) if field("page").isdigit() and len(field("page")) < 7 else 1
    if idhash.is_full_number(q):
        response = _case_list(request, user, q=q, state=state, side=side, overdue=overdue, page=page, by_id=True)
        response.headers["Cache-Control"] = "no-store"  # the number is in this page: not kept in the cache
        return response
    query = urlencode({k: v for k, v in {"q": q, "state": state, "side": side, "overdue": overdue}.items() if v})
    return RedirectResponse("/ui/cases" + (f"?{query}" if query else ""), status_code=303)
