"""A cap on the size of a whole request body (all files of a receipt together), as ASGI middleware.

A declared ``Content-Length`` over the cap is answered with 413 before a byte of the body is read.
A body without one (chunked) is counted as it streams in: once it passes the cap the app is told
the client went away, and the client gets the same 413 if no answer has started yet. Either way
the server reads at most the cap (plus one network chunk), never the whole body.

The refusal speaks the asker's language: the API (and the UI's own scripts, which ask for JSON) get
``{"error", "message", "message_zh", "limit"}``; a page of the UI submitted by the browser gets a
plain Chinese HTML page (English if the user chose English) saying what happened and what to do.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from states.intake.uploads import size_text
from web.ui import i18n
from web.ui.session import LANG_COOKIE


def too_large_body(limit: int, scope: Scope | None = None) -> bytes:
    """The JSON refusal. From a UI page's own script (a ``/ui`` path) ``message`` is in the page's
    language, since the script shows it as it is; the API's ``message`` stays English."""
    message = f"the request is larger than the limit of {size_text(limit)}; nothing was saved"
    if scope is not None and _is_ui(scope):
        message = i18n.translate(_lang(scope), "error.too_large_inline", limit=size_text(limit))
    return json.dumps({
        "error": "request_too_large",
        "message": message,
        "message_zh": f"请求总大小超过 {size_text(limit)} 的上限，未保存任何内容。",
        "limit": limit,
    }, ensure_ascii=False).encode()


def _is_ui(scope: Scope) -> bool:
    path = scope.get("path", "")
    return bool(path == "/" or path.startswith("/ui"))


def _lang(scope: Scope) -> str:
    return i18n.normalize_lang(HTTPConnection(scope).cookies.get(LANG_COOKIE))


def wants_html(scope: Scope) -> bool:
    """A page of the UI posted by the browser itself (not the API, not a script asking for JSON)."""
    return _is_ui(scope) and "application/json" not in HTTPConnection(scope).headers.get("accept", "")


def too_large_page(limit: int, scope: Scope) -> bytes:
    """The UI's 413: a self-contained page (the request never reached the session or the templates)."""
    lang = _lang(scope)
    t = i18n.translator(lang)
    html_lang = "zh-CN" if lang == "zh" else "en"
    return (f'<!doctype html><html lang="{html_lang}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{escape(t("error.too_large"))} · {escape(t("app.name"))}</title>'
            '<link rel="stylesheet" href="/static/ui.css"></head><body>'
            f'<header class="top"><a class="brand" href="/ui/">{escape(t("app.name"))}</a></header>'
            '<main id="main"><section class="card error-page" role="alert">'
            f'<h1><span class="code">413</span> {escape(t("error.too_large"))}</h1>'
            f'<p class="message">{escape(t("error.too_large_detail", limit=size_text(limit)))}</p>'
            f'<p><a href="/ui/" data-history-back>{escape(t("error.back"))}</a> · '
            f'<a href="/ui/">{escape(t("error.home"))}</a></p></section></main>'
            '<script src="/static/ui.js"></script></body></html>').encode()


class BodyLimit:
    """Refuse request bodies larger than ``max_bytes`` with 413 ``{"error", "message"}``."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        if max_bytes <= 0:
            raise ValueError("max_request_bytes must be positive")
        self.app = app
        self.max_bytes = max_bytes

    async def _refuse(self, scope: Scope, send: Send) -> None:
        html = wants_html(scope)
        body = too_large_page(self.max_bytes, scope) if html else too_large_body(self.max_bytes, scope)
        kind = b"text/html; charset=utf-8" if html else b"application/json"
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", kind), (b"content-length", str(len(body)).encode()),
            (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, send)
            return
        state: dict[str, Any] = {"received": 0, "refused": False, "started": False}

        async def counted_receive() -> Message:
            if state["refused"]:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > self.max_bytes:
                    state["refused"] = True
                    if not state["started"]:
                        await self._refuse(scope, send)
                    return {"type": "http.disconnect"}  # the app stops reading; nothing is saved
            return message

        async def guarded_send(message: Message) -> None:
            if state["refused"]:
                return  # our 413 went out; whatever the app says after the "disconnect" is dropped
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not state["refused"]:
                raise  # the app's own failure; once refused, the app's reaction to the cut-off is moot


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
