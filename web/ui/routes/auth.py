"""Sign in, sign out, language switch, and each role's home page."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from storage.db import transaction
from storage.session import service as sessions
from storage.user import service as users
from web.ui.deps import FormDep, UserDep
from web.ui.i18n import LANGS, translate
from web.ui.nav import home_for
from web.ui.render import lang_of, render, runtime_of, session_of
from web.ui.session import LANG_COOKIE

router = APIRouter(prefix="/ui", include_in_schema=False)


def _local_path(value: str | None, default: str = "/ui/") -> str:
    """Only a path on this site: ``next=//evil.example`` must not become an open redirect."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    return value


def _demo(request: Request) -> dict[str, Any]:
    """Only a demo deployment (``tongban serve --demo``) prints its password on the sign-in page."""
    from storage.demo.seed import DEMO_PASSWORD

    demo = bool(runtime_of(request).settings.demo)
    return {"demo": demo, "demo_password": DEMO_PASSWORD if demo else ""}


@router.get("/")
def home(user: UserDep) -> RedirectResponse:
    return RedirectResponse(home_for(user.role), status_code=303)


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    return render(request, "login.html", next=_local_path(next), username="", error="", **_demo(request))


@router.post("/login")
async def login(request: Request, form: FormDep) -> Response:
    runtime = runtime_of(request)
    username = str(form.get("username") or "").strip()
    password = str(form.get("password") or "")
    target = _local_path(str(form.get("next") or ""))

    def check() -> tuple[str | None, str]:
        now = runtime.now()
        with transaction(runtime.session_factory) as s:  # commits the failure count too
            outcome = users.authenticate(db_session=s, username=username, password=password, now=now)
            if outcome.user is None:
                return None, "login.locked" if outcome.locked else "login.failed"
            return sessions.open_session(db_session=s, user_id=outcome.user.id, now=now), ""

    sid, error = await run_in_threadpool(check)
    if sid is None:
        return render(request, "login.html", status_code=401, next=target, username=username,
                      error=translate(lang_of(request), error), **_demo(request))
    session_of(request).rotate(sid)
    return RedirectResponse(target, status_code=303)


@router.post("/logout")
def logout(request: Request, form: FormDep) -> RedirectResponse:
    session = session_of(request)
    if session.sid is not None:  # ended server-side: a copy of the cookie no longer signs anyone in
        runtime = runtime_of(request)
        with transaction(runtime.session_factory) as s:
            sessions.end_session(db_session=s, token=session.sid, now=runtime.now())
    session.rotate(None)
    session.flash("info", translate(lang_of(request), "logout.done"))
    return RedirectResponse("/ui/login", status_code=303)


@router.get("/lang/{lang}")
def switch_language(lang: str, next: str | None = None) -> RedirectResponse:
    """A preference, not a change of data: a plain link, so it works from every page and the login."""
    response = RedirectResponse(quote(_local_path(next), safe="/?=&"), status_code=303)
    if lang in LANGS:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="lax", httponly=True)
    return response
