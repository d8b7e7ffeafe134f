"""``/docs``, ``/redoc`` and ``/openapi.json`` as ``Settings.api_docs`` says (issue 10.20).

- ``public`` (default in embedded/demo mode): FastAPI's own pages, open to anyone who reaches the server;
- ``login`` (default in distributed mode): the same pages for signed-in users only — a bearer token or
  the UI's session cookie; a browser without a session is sent to the sign-in page;
- ``off``: not served at all (404).

The schema lists every route and parameter, which helps an attacker map the API; on a deployment
reachable from a network it is something to hand out to the people who integrate, not to everyone.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from web.auth import ActorDep
from web.ui.deps import UserDep


def fastapi_kwargs(access: str) -> dict[str, Any]:
    """What ``FastAPI(...)`` serves by itself: everything when public, nothing otherwise."""
    if access == "public":
        return {}
    return {"docs_url": None, "redoc_url": None, "openapi_url": None}


def install(app: FastAPI, access: str) -> None:
    if access != "login":
        return

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(actor: ActorDep) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    def swagger(request: Request, user: UserDep) -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} — API")

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request, user: UserDep) -> HTMLResponse:
        return get_redoc_html(openapi_url="/openapi.json", title=f"{app.title} — API")
