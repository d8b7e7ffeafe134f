"""监管看板: SLA health of the supervisor's zone as receiving and as handling side, reassignment, exports.

Supervisors and admins only, and only their own zone's cases (the cases it is party to): the scope
is the signed-in user's zone, never a parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from states.adhoc import reports as adhoc_reports
from states.lifecycle import STATE_LABELS
from states.queue.service import CaseFilter, list_cases
from states.reports import charts, exports
from states.reports import service as reports
from states.reports.assignment import REASSIGNABLE_STATES, reassign, reviewers_of
from states.transition.errors import EventNotAllowed, PayloadInvalid, VersionConflict
from storage.case import idhash
from storage.case.models import Case
from storage.db import transaction
from storage.user.models import User
from storage.zone.models import Zone
from web.downloads import FILE_CSP
from web.ui import supervision_text  # noqa: F401 - registers the pages' strings
from web.ui.deps import FormDep, UserDep, require_role
from web.ui.i18n import translate
from web.ui.render import lang_of, render, runtime_of, session_of
from web.ui.session import UiUser

router = APIRouter(prefix="/ui", include_in_schema=False)

#: Rows of the filtered list shown on the page; exports take up to EXPORT_LIMIT.
LIST_ROWS = 50
EXPORT_LIMIT = 50_000
#: Days shown in the chart when no range is given.
DEFAULT_DAYS = 30


def guard(user: UiUser) -> None:
    require_role(user, "supervisor", "admin")


@dataclass
class DashboardQuery:
    """What the supervisor filtered by; the same query string drives the page and its exports."""

    state: str = ""
    side: str = ""
    item: str = ""
    overdue: bool = False
    text: str = ""
    start: date | None = None
    end: date | None = None
    bad_date: bool = False
    #: a full 证件号码 arrived in the URL: not searched (the number belongs in 办件查询's posted form)
    id_refused: bool = False

    @classmethod
    def parse(cls, request: Request, today: date) -> DashboardQuery:
        q = request.query_params
        out = cls(state=q.get("state", "") if q.get("state", "") in STATE_LABELS else "",
                  side=q.get("side", "") if q.get("side") in ("receiving", "handling") else "",
                  item=q.get("item", "").strip()[:40], overdue=q.get("overdue") == "1",
                  text=q.get("q", "").strip()[:100])
        if idhash.is_full_number(out.text):
            out.text, out.id_refused = "", True
        try:
            out.end = date.fromisoformat(q["to"]) if q.get("to") else today
            out.start = date.fromisoformat(q["from"]) if q.get("from") else out.end - timedelta(days=DEFAULT_DAYS - 1)
            if out.start > out.end or (out.end - out.start).days > 366:
                raise ValueError("range")
        except ValueError:
            out.bad_date = True
            out.end, out.start = today, today - timedelta(days=DEFAULT_DAYS - 1)
        return out

    def case_filter(self) -> CaseFilter:
        return CaseFilter(state=self.state or None, side=self.side or None, item_code=self.item or None,
                          overdue=True if self.overdue else None, text=self.text or None)

    def query_string(self) -> str:
        pairs = {"state": self.state, "side": self.side, "item": self.item, "overdue": "1" if self.overdue else "",
                 "q": self.text, "from": self.start.isoformat() if self.start else "",
                 "to": self.end.isoformat() if self.end else ""}
        return urlencode({k: v for k, v in pairs.items() if v})


def _today(request: Request) -> date:
    runtime = runtime_of(request)
    return runtime.now().astimezone(ZoneInfo(runtime.settings.timezone)).date()


def _usernames(db_session: Session, cases: list[Case]) -> dict[int, str]:
    ids = {c.assignee_id for c in cases if c.assignee_id is not None}
    if not ids:
        return {}
    return dict(db_session.execute(select(User.id, User.display_name).where(User.id.in_(ids))).tuples().all())


@router.get("/dashboard")
def dashboard(request: Request, user: UserDep) -> Response:
    guard(user)
    runtime = runtime_of(request)
    now, tz = runtime.now(), runtime.settings.timezone
    query = DashboardQuery.parse(request, _today(request))
    if query.bad_date:
        session_of(request).flash("error", translate(lang_of(request), "sup.bad_date"))
    if query.id_refused:  # sent on without it, so the number is not echoed in any link of the page
        session_of(request).flash("info", translate(lang_of(request), "cases.id_by_form"))
        qs = query.query_string()
        return RedirectResponse("/ui/dashboard" + (f"?{qs}" if qs else ""), status_code=303)
    assert query.start is not None and query.end is not None
    with transaction(runtime.session_factory) as s:
        counts = reports.state_counts(db_session=s, zone_id=user.zone_id)
        by_item = reports.on_time_by_item(db_session=s, zone_id=user.zone_id, now=now)
        by_zone = reports.on_time_by_zone(db_session=s, zone_id=user.zone_id, now=now)
        overdue = reports.overdue_cases(db_session=s, zone_id=user.zone_id, now=now)
        at_risk = reports.at_risk_cases(db_session=s, zone_id=user.zone_id, now=now, clock=runtime.clock)
        days = reports.daily_counts(db_session=s, zone_id=user.zone_id, start=query.start, end=query.end, tz=tz)
        alerts = reports.alert_log(db_session=s, zone_id=user.zone_id)
        adhoc = adhoc_reports.summary(db_session=s, zone_id=user.zone_id, now=now)  # 一事一议, counted apart
        cases, total = list_cases(db_session=s, actor=user.actor, flt=query.case_filter(), now=now, limit=LIST_ROWS)
        reviewers = reviewers_of(db_session=s, zone_id=user.zone_id) if user.role == "supervisor" else []
        assignees = _usernames(s, [*overdue, *at_risk, *cases])
        t = lambda key, **kw: translate(lang_of(request), key, **kw)  # noqa: E731
        # the chart's words as the page's language has them (placeholders stay for the chart to fill)
        words = {k: translate(lang_of(request), f"chart.{k}") for k in charts.WORDS_ZH}
        zone_names = {z.code: z.name for z in s.scalars(select(Zone))}
        return render(
            request, "supervision/dashboard.html", counts=counts, by_item=by_item, by_zone=by_zone,
            overdue=overdue, at_risk=at_risk, alerts=alerts, cases=cases, total=total, query=query,
            qs=query.query_string(), reviewers=reviewers, assignees=assignees, states=list(STATE_LABELS),
            may_reassign=lambda c: (user.role == "supervisor" and c.handling_zone_id == user.zone_id
                                    and c.state in REASSIGNABLE_STATES and bool(reviewers)),
            side_of=lambda c: _side(c, user.zone_id),
            timeliness=lambda c: exports.timeliness(c, now),
            zone_names=zone_names,
            daily_svg=charts.daily_chart(days, title=t("sup.chart"), words=words),
            rate_svg=charts.on_time_chart(by_item, title=t("sup.chart_rate"), zone_names=zone_names, words=words),
            pct=exports.pct, adhoc=adhoc,
        )


def _side(case: Case, zone_id: int) -> str:
    if case.receiving_zone_id == case.handling_zone_id:
        return "both"
    return "receiving" if case.receiving_zone_id == zone_id else "handling"


def _export_cases(request: Request, user: UiUser) -> tuple[list[Case], Any]:
    runtime = runtime_of(request)
    query = DashboardQuery.parse(request, _today(request))
    with transaction(runtime.session_factory) as s:
        cases, _ = list_cases(db_session=s, actor=user.actor, flt=query.case_filter(), now=runtime.now(),
                              limit=EXPORT_LIMIT)
        return cases, runtime


def _download(content: bytes, media_type: str, filename: str, *, shown: str = "") -> Response:
    """``filename`` is the ASCII fallback; ``shown`` the Chinese name a browser saves it under (RFC 6266)."""
    disposition = f'attachment; filename="{filename}"' + (f"; filename*=UTF-8''{quote(shown)}" if shown else "")
    return Response(content, media_type=media_type,
                    headers={"Content-Disposition": disposition,
                             "Cache-Control": "no-store",
                             "X-Content-Type-Options": "nosniff", "Content-Security-Policy": FILE_CSP})


@router.get("/dashboard/cases.csv")
def export_csv(request: Request, user: UserDep) -> Response:
    guard(user)
    cases, runtime = _export_cases(request, user)
    body = exports.cases_csv(cases, tz=runtime.settings.timezone, now=runtime.now())
    return _download(body, "text/csv; charset=utf-8", f"cases-{user.zone_code}-{_today(request)}.csv",
                     shown=f"办件清单-{user.zone_name}-{_today(request)}.csv")


@router.get("/dashboard/cases.xlsx")
def export_xlsx(request: Request, user: UserDep) -> Response:
    guard(user)
    cases, runtime = _export_cases(request, user)
    body = exports.cases_xlsx(cases, tz=runtime.settings.timezone, now=runtime.now())
    return _download(body, exports.SPREADSHEET_XLSX, f"cases-{user.zone_code}-{_today(request)}.xlsx",
                     shown=f"办件清单-{user.zone_name}-{_today(request)}.xlsx")


@router.post("/dashboard/reassign")
def reassign_case(request: Request, user: UserDep, form: FormDep) -> Response:
    require_role(user, "supervisor")
    runtime = runtime_of(request)
    case_no = str(form.get("case_no") or "")
    assignee = str(form.get("assignee") or "")
    version_raw = str(form.get("version") or "")
    back = "/ui/dashboard" + (f"?{form.get('qs')}" if form.get("qs") else "")
    lang = lang_of(request)
    try:
        with transaction(runtime.session_factory) as s:
            reassign(db_session=s, case_no=case_no, actor=user.actor, assignee=assignee,
                     version=int(version_raw) if version_raw.isdigit() else None, now=runtime.now(),
                     reason=str(form.get("reason") or ""))
    except (PayloadInvalid, VersionConflict, EventNotAllowed) as exc:
        session_of(request).flash("error", exc.message)
    else:
        session_of(request).flash("ok", translate(lang, "sup.reassigned", case_no=case_no, assignee=assignee))
    return RedirectResponse(back, status_code=303)
