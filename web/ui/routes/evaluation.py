"""年度评估: the zone's cross-zone service over one year, per item, as a page, PDF and Excel.

Supervisors and admins see their own zone's figures (cases it received or handled); the year and
an item code are the only parameters.
"""

from __future__ import annotations

from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select

from states.reports import exports
from states.reports import service as reports
from storage.catalog.models import Item
from storage.db import transaction
from storage.zone.models import Zone
from web.downloads import FILE_CSP
from web.ui import supervision_text  # noqa: F401 - registers the pages' strings
from web.ui.deps import UserDep
from web.ui.render import render, runtime_of
from web.ui.routes.supervisor import guard
from web.ui.session import UiUser

router = APIRouter(prefix="/ui", include_in_schema=False)

FIRST_YEAR = 2021  # the Beijing–Tianjin cross-zone service began in 2021

def _params(request: Request) -> tuple[int, str | None]:
    runtime = runtime_of(request)
    this_year = runtime.now().astimezone(ZoneInfo(runtime.settings.timezone)).year
    raw = request.query_params.get("year", "")
    year = int(raw) if raw.isdigit() and FIRST_YEAR <= int(raw) <= this_year + 1 else this_year
    item = request.query_params.get("item", "").strip()[:40] or None
    return year, item

def _evaluation(request: Request, user: UiUser, year: int, item: str | None) -> reports.Evaluation:
    runtime = runtime_of(request)
    with transaction(runtime.session_factory) as s:
        return reports.annual_evaluation(db_session=s, year=year, clock=runtime.clock, now=runtime.now(),
                                         zone_id=user.zone_id, item_code=item)

@router.get("/evaluation")
def evaluation_page(request: Request, user: UserDep) -> Response:
    guard(user)
    year, item = _params(request)
    ev = _evaluation(request, user, year, item)
    runtime = runtime_of(request)
    with transaction(runtime.session_factory) as s:
        # code → name (the first zone's name where zones differ): the picker shows "QY-001 企业档案查询"
        codes: dict[str, str] = {}
        for code, name in s.execute(select(Item.code, Item.name).where(Item.active.is_(True))
                                    .order_by(Item.code, Item.zone_id)):
            codes.setdefault(code, name)
        zone_names = {z.code: z.name for z in s.scalars(select(Zone))}
    this_year = runtime.now().astimezone(ZoneInfo(runtime.settings.timezone)).year
    qs = f"year={year}" + (f"&item={item}" if item else "")
    return render(request, "supervision/evaluation.html", ev=ev, year=year, item=item or "", codes=codes,
                  years=list(range(this_year, FIRST_YEAR - 1, -1)), qs=qs, pct=exports.pct, days=exports.days,
                  reasons=exports.reasons, zone_names=zone_names)

def _download(content: bytes, media_type: str, filename: str, *, shown: str = "") -> Response:
    """``filename`` is the ASCII fallback; ``shown`` the Chinese name a browser saves it under (RFC 6266)."""
    disposition = f'attachment; filename="{filename}"' + (f"; filename*=UTF-8''{quote(shown)}" if shown else "")
    return Response(content, media_type=media_type,
                    headers={"Content-Disposition": disposition, "Cache-Control": "no-store",
                             "X-Content-Type-Options": "nosniff", "Content-Security-Policy": FILE_CSP})

@router.get("/evaluation/report.pdf")
def evaluation_pdf(request: Request, user: UserDep) -> Response:
    guard(user)
    year, item = _params(request)
    ev = _evaluation(request, user, year, item)
    body = exports.evaluation_pdf(ev, tz=runtime_of(request).settings.timezone)
    return _download(body, "application/pdf", f"evaluation-{year}-{user.zone_code}.pdf",
                     shown=f"{year}年度评估-{user.zone_name}.pdf")

@router.get("/evaluation/report.xlsx")
def evaluation_xlsx(request: Request, user: UserDep) -> Response:
    guard(user)
    year, item = _params(request)
    ev = _evaluation(request, user, year, item)
    body = exports.evaluation_xlsx(ev, tz=runtime_of(request).settings.timezone)
    return _download(body, exports.SPREADSHEET_XLSX, f"evaluation-{year}-{user.zone_code}.xlsx",
                     shown=f"{year}年度评估-{user.zone_name}.xlsx")

