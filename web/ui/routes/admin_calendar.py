"""节假日安排: the admin enters a year's published schedule, previews what moves, then applies it.

Validation is states/calendar/schedule.py (refused input changes nothing and says why, in Chinese);
the preview is :func:`states.calendar.recompute.plan` with the entered year added (no writes); apply
stores the year and recomputes every provisional date in one transaction
(:func:`states.calendar.recompute.publish`). The calendar is alliance-wide, so any zone's admin
may add a year; the preview lists the moved cases the admin's zone is party to and counts the rest.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from states.calendar import WorkCalendar
from states.calendar.recompute import official_years, plan, publish
from states.calendar.schedule import ScheduleInvalid, parse_schedule
from states.transition.rules import visible_clause
from storage.case.models import Case
from storage.db import transaction
from web.ui import calendar_text  # noqa: F401 - registers the page's strings
from web.ui.deps import FormDep, UserDep, require_role
from web.ui.i18n import translate
from web.ui.render import lang_of, render, runtime_of, session_of
from web.ui.routes.admin import SECTIONS

router = APIRouter(prefix="/ui/admin/calendar", include_in_schema=False)
FIELDS = ("year", "source", "holidays", "workdays")


def _page(request: Request, status: int = 200, **context: Any) -> Response:
    runtime = runtime_of(request)
    cal = runtime.calendar
    with transaction(runtime.session_factory) as s:
        tz = runtime.clock.zone
        provisional: Counter[int] = Counter()
        for (due,) in s.execute(select(Case.due_at).where(Case.closed.is_(False), Case.due_provisional.is_(True))):
            if due is not None:
                provisional[due.astimezone(tz).year] += 1
    years = sorted(cal.covered_years())
    packaged = [y for y in years if cal.source_of(y) == "chinesecalendar"]
    others = [(y, cal.source_of(y)) for y in years if cal.source_of(y) != "chinesecalendar"]
    next_year = max(years) + 1
    form = {"year": str(next_year), "source": "", "holidays": "", "workdays": "", **context.pop("form", {})}
    response = render(request, "admin/calendar.html", sections=SECTIONS, packaged=packaged, others=others,
                      provisional=sorted(provisional.items()), form=form, **context)
    response.status_code = status
    return response


@router.get("")
def calendar_page(request: Request, user: UserDep) -> Response:
    require_role(user, "admin")
    return _page(request)


def _form(form: FormDep) -> dict[str, str]:
    return {f: str(form.get(f) or "")[:5000] for f in FIELDS}


def _parse(request: Request, values: dict[str, str]):  # type: ignore[no-untyped-def]
    return parse_schedule(year_text=values["year"], source=values["source"], holidays_text=values["holidays"],
                          workdays_text=values["workdays"], calendar=runtime_of(request).calendar)


@router.post("/preview")
def preview(request: Request, user: UserDep, form: FormDep) -> Response:
    require_role(user, "admin")
    values = _form(form)
    try:
        schedule = _parse(request, values)
    except ScheduleInvalid as exc:
        return _page(request, 400, form=values, problems=exc.problems)
    runtime = runtime_of(request)
    with transaction(runtime.session_factory) as s:
        official = [*official_years(db_session=s), schedule.official()]
        clock = runtime.make_clock(WorkCalendar(runtime.settings.calendar_override, official=official))
        moves = [m for m in plan(db_session=s, clock=clock) if m.open]
        mine_ids = set(s.scalars(select(Case.id).where(
            Case.id.in_([m.case_id for m in moves]), visible_clause(user.actor))))  # the one party rule
        s.rollback()  # a preview writes nothing
    mine = [m for m in moves if m.case_id in mine_ids]
    return render(request, "admin/calendar_preview.html", sections=SECTIONS, schedule=schedule, form=values,
                  total=len(moves), moves=mine, days=sum(b.toordinal() - a.toordinal() + 1 for a, b, _ in
                                                          schedule.ranges))


@router.post("/apply")
def apply(request: Request, user: UserDep, form: FormDep) -> Response:
    require_role(user, "admin")
    values = _form(form)
    try:
        schedule = _parse(request, values)
    except ScheduleInvalid as exc:
        return _page(request, 400, form=values, problems=exc.problems)
    try:
        report = publish(runtime_of(request), schedule=schedule, added_by=user.username)
    except IntegrityError:  # another admin applied the same year a moment earlier
        runtime_of(request).reload_calendar()
        return _page(request, 409, form=values, problems=[f"{schedule.year} 年已有正式的节假日安排，不能重复添加"])
    session_of(request).flash("ok", translate(lang_of(request), "cal.applied", year=schedule.year,
                                              moved=len(report.moved), people=len(report.notified)))
    return RedirectResponse("/ui/admin/calendar", status_code=303)


