"""Browser sessions: a signed cookie (itsdangerous), the logged-in actor, and CSRF protection.

The cookie holds only a random session id, a per-session CSRF token and one-shot flash messages,
signed with ``Settings.secret_key``. The session itself lives in the database
(``storage.session``): it is looked up with its user on every request, so logout, a password
change, a deactivation or an admin's "sign out everywhere" end it at once — a copy of the cookie
taken before is worth nothing — and counter (clerk) sessions end after ``session_idle_minutes``
without a request. A cookie signed with the right key but naming no live session is no login.

The middleware sets ``request.state.actor`` (the same
:class:`~states.transition.rules.Actor` a bearer token yields), so ``web.auth.current_actor`` works
for the API when the browser calls it.

CSRF: every UI form carries ``csrf_token`` (checked by :func:`web.ui.deps.checked_form`). An API
request that is authenticated by the cookie and is not a safe method must send the same token in
the ``X-CSRF-Token`` header, otherwise it is refused with 403 before it reaches a route. Bearer
requests are not affected (a browser never adds that header on its own).
"""

from __future__ import annotations

import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from states.runtime import Runtime
from states.transition.rules import Actor
from storage.db import transaction
from storage.session import service as sessions
from web.ui import i18n, security_text  # noqa: F401 - security_text registers the session strings

COOKIE = "tongban_session"
LANG_COOKIE = "lang"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
CSRF_HEADER = "x-csrf-token"


class Session(dict[str, Any]):
    """The cookie's content; remembers whether it changed so the cookie is re-sent only then."""

    modified: bool = False

    def __setitem__(self, key: str, value: Any) -> None:
        self.modified = True
        super().__setitem__(key, value)

    def pop(self, key: str, *default: Any) -> Any:  # type: ignore[override]
        if key in self:
            self.modified = True
        return super().pop(key, *default)

    def clear(self) -> None:
        self.modified = True
        super().clear()

    @property
    def csrf(self) -> str:
        return str(self.get("csrf", ""))

    @property
    def sid(self) -> str | None:
        """The server-side session's id (``storage.session``), when signed in."""
        value = self.get("sid")
        return value if isinstance(value, str) and value else None

    def rotate(self, sid: str | None) -> None:
        """A new session at sign-in and sign-out: a fresh CSRF token, no fixation."""
        lang = self.get("lang")
        self.clear()
        self["csrf"] = secrets.token_urlsafe(24)
        if sid is not None:
            self["sid"] = sid
        if lang:
            self["lang"] = lang

    def flash(self, kind: str, message: str) -> None:
        """A message for the next page (``ok``, ``error``, ``info``)."""
        self["flash"] = [*self.get("flash", []), [kind, message]]

    def take_flashes(self) -> list[tuple[str, str]]:
        return [(k, m) for k, m in self.pop("flash", [])]


@dataclass(frozen=True)
class UiUser:
    """Who is signed in, as pages show it."""

    id: int
    username: str
    display_name: str
    role: str
    zone_id: int
    zone_code: str
    zone_name: str

    @property
    def actor(self) -> Actor:
        return Actor(username=self.username, role=self.role, zone_id=self.zone_id, user_id=self.id)


def csrf_ok(session: Session, token: str | None) -> bool:
    return bool(token) and bool(session.csrf) and hmac.compare_digest(str(token), session.csrf)


class SessionMiddleware:
    """Pure ASGI (no body buffering, so streamed uploads stay streamed)."""

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime
        self.serializer = URLSafeTimedSerializer(runtime.settings.secret_key, salt="tongban.session")
        self.max_age = timedelta(hours=runtime.settings.session_max_hours)
        minutes = runtime.settings.session_idle_minutes
        self.idle = timedelta(minutes=minutes) if minutes > 0 else None

    def _load(self, raw: str | None) -> Session:
        session = Session()
        if raw:
            try:
                data = self.serializer.loads(raw, max_age=int(self.max_age.total_seconds()))
                if isinstance(data, dict):
                    dict.update(session, data)
            except BadSignature:
                pass
        if not session.csrf:
            session["csrf"] = secrets.token_urlsafe(24)
        return session

    def _user(self, sid: str, with_alerts: bool = False) -> tuple[UiUser | None, int]:
        """The signed-in user of a live session, and for a page the count of alerts on their own cases."""
        with transaction(self.runtime.session_factory) as s:  # commits last_seen_at / an ended session
            user = sessions.find_user(db_session=s, token=sid, now=self.runtime.now(), max_age=self.max_age,
                                      idle=self.idle)
            if user is None:
                return None, 0
            ui_user = UiUser(id=user.id, username=user.username, display_name=user.display_name, role=user.role,
                             zone_id=user.zone_id, zone_code=user.zone.code, zone_name=user.zone.name)
            if not with_alerts:
                return ui_user, 0
            from web.ui.routes.alerts import count_for

            return ui_user, count_for(s, ui_user)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        path: str = scope["path"]
        if path.startswith("/static/"):
            await self.app(scope, receive, send)
            return
        session = self._load(conn.cookies.get(COOKIE))
        state = scope.setdefault("state", {})
        state["session"] = session
        bearer = conn.headers.get("authorization", "").lower().startswith("bearer ")
        sid = session.sid
        if sid is not None and not bearer:
            page = path.startswith("/ui/") and scope["method"] == "GET"
            user, alert_count = await run_in_threadpool(self._user, sid, page)
            if user is None:  # ended (logout elsewhere, idle, admin) or never was: signed out
                session.rotate(None)
                session.flash("info", i18n.translate(i18n.normalize_lang(conn.cookies.get(LANG_COOKIE)),
                                                       "session.ended"))
            else:
                state["user"] = user
                state["alert_count"] = alert_count
                state["actor"] = user.actor
                if (path.startswith("/api/") and scope["method"] not in SAFE_METHODS
                        and not csrf_ok(session, conn.headers.get(CSRF_HEADER))):
                    await _refuse_csrf(send)
                    return
        secure = scope.get("scheme") == "https"

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and session.modified and not bearer:
                headers = MutableHeaders(scope=message)
                value = self.serializer.dumps(dict(session))
                cookie = f"{COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax"
                headers.append("set-cookie", cookie + ("; Secure" if secure else ""))
            await send(message)

        await self.app(scope, receive, send_with_cookie)


async def _refuse_csrf(send: Send) -> None:
    body = json.dumps({"error": "csrf", "message": "a request signed in by cookie must send the X-CSRF-Token "
                       "header with the session's token (or use a bearer token)"}).encode()
    await send({"type": "http.response.start", "status": 403,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
