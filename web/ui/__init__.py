"""The server-rendered UI (zh-CN default, English switch), served by the same app as the API.

``install(app)`` adds the session middleware, the static files, the HTML error pages for ``/ui``
and every router found in ``web.ui.routes`` (a module there with a ``router`` is picked up, so new
pages need no edit here).
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from states.calendar import UnknownYearError
from states.transition.errors import TransitionError
from storage.objects.base import ObjectStoreUnavailable
from web.ui import routes
from web.ui.deps import CsrfRefused, LoginRequired, wants_json
from web.ui.i18n import translate
from web.ui.render import STATIC_DIR, error_page, lang_of, make_templates
from web.ui.session import SessionMiddleware


def _is_ui(request: Request) -> bool:
    return request.url.path == "/" or request.url.path.startswith("/ui")


def install(app: FastAPI) -> None:
    runtime = app.state.runtime
    app.state.ui_templates = make_templates(runtime)
    app.add_middleware(SessionMiddleware, runtime=runtime)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    for info in pkgutil.iter_modules(routes.__path__):
        module = importlib.import_module(f"{routes.__name__}.{info.name}")
        if hasattr(module, "router"):
            app.include_router(module.router)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/ui/", status_code=303)

    previous: dict[Any, Any] = dict(app.exception_handlers)

    async def _delegate(exc_type: Any, request: Request, exc: Exception) -> Response:
        handler = previous.get(exc_type)
        if handler is None:
            raise exc
        return await handler(request, exc)  # type: ignore[no-any-return]

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        if wants_json(request):
            return JSONResponse({"error": "login_required", "message": "sign in first"}, status_code=401)
        return RedirectResponse(f"/ui/login?next={request.url.path}", status_code=303)

    @app.exception_handler(CsrfRefused)
    async def _csrf(request: Request, exc: CsrfRefused) -> Response:
        message = translate(lang_of(request), "error.csrf")
        if wants_json(request):
            return JSONResponse({"error": "csrf", "message": message}, status_code=403)
        return error_page(request, 403, message)

    @app.exception_handler(TransitionError)
    async def _transition(request: Request, exc: TransitionError) -> Response:
        if not _is_ui(request) or wants_json(request):
            return await _delegate(TransitionError, request, exc)
        lang = lang_of(request)
        key = {404: "error.404", 403: "error.403"}.get(exc.status, f"error.{exc.code}")
        # a third party learns nothing: 404 and 403 pages carry no detail about the case
        detail = "" if exc.status in (403, 404) else exc.message
        return error_page(request, exc.status, translate(lang, key), detail)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if not _is_ui(request) or wants_json(request):
            return await _delegate(StarletteHTTPException, request, exc)  # the API's JSON shape
        key = {404: "error.404", 403: "error.403", 405: "error.405"}.get(exc.status_code, "error.title")
        return error_page(request, exc.status_code, translate(lang_of(request), key))

    @app.exception_handler(OverflowError)
    async def _overflow(request: Request, exc: OverflowError) -> Response:
        # e.g. /ui/admin/users/99999999999999999999999/…: beyond what the database holds, so no such row
        if not _is_ui(request) or wants_json(request):
            return await _delegate(OverflowError, request, exc)
        return error_page(request, 404, translate(lang_of(request), "error.404"))

    @app.exception_handler(UnknownYearError)
    async def _calendar(request: Request, exc: UnknownYearError) -> Response:
        if not _is_ui(request):
            return await _delegate(UnknownYearError, request, exc)
        return error_page(request, 503, translate(lang_of(request), "error.calendar"), str(exc))

    @app.exception_handler(ObjectStoreUnavailable)
    async def _store(request: Request, exc: ObjectStoreUnavailable) -> Response:
        if not _is_ui(request):
            return await _delegate(ObjectStoreUnavailable, request, exc)
        return error_page(request, 503, translate(lang_of(request), "error.store_unavailable"))
