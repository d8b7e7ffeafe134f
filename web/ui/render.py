"""Rendering a page: the Jinja2 environment and the context every template gets."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from starlette.requests import Request
from starlette.responses import HTMLResponse

from states.identifiers import mask_id, mask_phone, mask_text
from states.runtime import Runtime
from web.ui import i18n, views
from web.ui.nav import NAV
from web.ui.session import LANG_COOKIE, Session

TEMPLATES_DIR = Path(__file__).with_name("templates")
STATIC_DIR = Path(__file__).with_name("static")


def make_templates(runtime: Runtime) -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    tz = runtime.settings.timezone
    templates.env.filters["local"] = lambda value, fmt="%Y-%m-%d %H:%M": views.local_time(value, tz, fmt)
    templates.env.filters["size"] = views.human_size
    #: the one free-text rule (states.identifiers.mask_text) for names, reasons, remarks, file names
    templates.env.filters["mask"] = mask_text
    templates.env.globals.update(mask_id=mask_id, mask_phone=mask_phone, audit_detail=views.audit_detail)
    templates.env.trim_blocks = True
    templates.env.lstrip_blocks = True
    return templates


def lang_of(request: Request) -> str:
    return i18n.normalize_lang(request.cookies.get(LANG_COOKIE))


def session_of(request: Request) -> Session:
    return request.state.session  # type: ignore[no-any-return]


def runtime_of(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


def base_context(request: Request) -> dict[str, Any]:
    """What every template may use: ``t``, ``lang``, ``user``, ``nav``, ``flashes``, ``csrf_token``,
    ``now``, ``state_label``, ``event_label``, ``role_label``, ``left`` (time left for a due time)."""
    runtime = runtime_of(request)
    lang = lang_of(request)
    t = i18n.translator(lang)
    user = getattr(request.state, "user", None)
    session = session_of(request)
    now = runtime.now()
    return dict(
        alert_count=getattr(request.state, "alert_count", 0),
        request=request, lang=lang, t=t, user=user, nav=NAV.get(user.role, []) if user else [],
        flashes=session.take_flashes(), csrf_token=session.csrf, path=request.url.path, now=now,
        state_label=partial(i18n.state_label, lang), event_label=partial(i18n.event_label, lang),
        role_label=partial(i18n.role_label, lang),
        left=lambda due, closed=False: views.deadline_status(due=due, now=now, calendar=runtime.calendar,
                                                             tz=runtime.settings.timezone, t=t, closed=closed),
    )


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render ``name`` with the base context plus ``context`` (render inside the DB transaction when
    the context holds ORM rows: their relationships load lazily)."""
    templates: Jinja2Templates = request.app.state.ui_templates
    return templates.TemplateResponse(request, name, {**base_context(request), **context},
                                      status_code=status_code)


def error_page(request: Request, status_code: int, message: str, detail: str = "") -> HTMLResponse:
    return render(request, "error.html", status_code=status_code, status=status_code, message=message,
                  detail=detail)
