"""A cap on the size of a whole request body (all files of a receipt together), as ASGI middleware.

A declared ``Content-Length`` over the cap is answered with 413 before a byte of the body is read.
A body without one (chunked) is counted as it streams in: once it passes the cap the app is told
the client went away, and the client gets the same 413 if no answer has started yet. Either way
the server reads at most the cap (plus one network chunk), never the whole body.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from states.intake.uploads import size_text


def too_large_body(limit: int) -> bytes:
    return json.dumps({
        "error": "request_too_large",
        "message": f"the request is larger than the limit of {size_text(limit)}; nothing was saved",
        "message_zh": f"请求总大小超过 {size_text(limit)} 的上限，未保存任何内容。",
        "limit": limit,
    }, ensure_ascii=False).encode()


class BodyLimit:
    """Refuse request bodies larger than ``max_bytes`` with 413 ``{"error", "message"}``."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        if max_bytes <= 0:
            raise ValueError("max_request_bytes must be positive")
        self.app = app
        self.max_bytes = max_bytes

    async def _refuse(self, send: Send) -> None:
        body = too_large_body(self.max_bytes)
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(send)
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
                        await self._refuse(send)
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
