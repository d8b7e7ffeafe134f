"""Dependencies of UI routes: who is signed in, their role, and a CSRF-checked form."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData

from states.transition.errors import Forbidden
from web.ui.render import session_of
from web.ui.session import CSRF_HEADER, UiUser, csrf_ok


class LoginRequired(Exception):
    """No signed-in user: pages redirect to the login page."""


class CsrfRefused(Exception):
    """An unsafe request without the session's CSRF token: 403 with a clear page."""


def ui_user(request: Request) -> UiUser:
    user = getattr(request.state, "user", None)
    if not isinstance(user, UiUser):
        raise LoginRequired()
    return user


UserDep = Annotated[UiUser, Depends(ui_user)]


def require_role(user: UiUser, *roles: str) -> None:
    if user.role not in roles:
        raise Forbidden(f"this page is for {' / '.join(roles)}; you are {user.role}")


#: Uploads per request: several scans per checklist line.
MAX_FILES = 200


async def checked_form(request: Request) -> FormData:
    """The posted form, refused unless it carries the session's CSRF token (field or header)."""
    form = await request.form(max_files=MAX_FILES)
    token = form.get("csrf_token")
    if not isinstance(token, str):
        token = request.headers.get(CSRF_HEADER)
    if not csrf_ok(session_of(request), token):
        raise CsrfRefused()
    return form


FormDep = Annotated[FormData, Depends(checked_form)]


def wants_json(request: Request) -> bool:
    """The page's own script (fetch/XHR) asks for JSON so it can keep the form as it is."""
    return "application/json" in request.headers.get("accept", "")
