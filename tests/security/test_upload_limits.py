"""Nobody can make the server read a huge body it will refuse anyway (issue 10, point 14).

A reviewer may not receive: their 210 MB upload used to be read whole before the 403. Now who is
calling is authorised from the headers and the path before the body is read, and every request's
total body is capped (``TONGBAN_MAX_REQUEST_BYTES``): 413 in the app's ``{"error", "message"}``
shape, at once when ``Content-Length`` says so, or as soon as a chunked body passes the cap.
Measured against real ``tongban serve`` processes over a raw socket: how many bytes the client got
to send before the answer came, and the server's peak memory.
"""

from __future__ import annotations

import json
import select
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import pytest

from tests.security.files_support import ServedTongban, serve_tongban
from tests.security.test_pixel_bomb import bomb_png

MiB = 1024 * 1024
CHUNK = b"\0" * (64 * 1024)


@dataclass
class RawAnswer:
    status: int
    body: dict[str, object]
    sent: int  # body bytes the client managed to send before the answer arrived
    seconds: float


def raw_post(base_url: str, path: str, headers: dict[str, str], *, total: int, chunked: bool = False,
             timeout: float = 60.0) -> RawAnswer:
    """POST ``total`` bytes of multipart-looking body, watching for the answer before every chunk."""
    url = urlsplit(base_url)
    boundary = uuid.uuid4().hex
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.pdf\"\r\n"
            "Content-Type: application/pdf\r\n\r\n").encode()
    lines = [f"POST {path} HTTP/1.1", f"Host: {url.netloc}",
             f"Content-Type: multipart/form-data; boundary={boundary}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}")
    started = time.monotonic()
    sock = socket.create_connection((url.hostname, url.port), timeout=timeout)
    sock.setblocking(False)
    pending = ("\r\n".join(lines) + "\r\n\r\n").encode()
    body_left, sent, first = total, 0, True
    received = b""
    try:
        while True:
            readable, writable, _ = select.select([sock], [sock] if (pending or body_left) else [], [], timeout)
            if readable:
                break
            if not writable:
                raise AssertionError(f"no answer and no progress within {timeout} s ({sent} bytes sent)")
            if not pending and body_left:
                piece = head if first else CHUNK[: min(len(CHUNK), body_left)]
                first = False
                body_left -= len(piece)
                pending = (f"{len(piece):x}\r\n".encode() + piece + b"\r\n") if chunked else piece
                if chunked and not body_left:
                    pending += b"0\r\n\r\n"
            try:
                n = sock.send(pending)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += n
            pending = pending[n:]
        sock.setblocking(True)
        while True:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            received += data
            if b"\r\n\r\n" in received:
                header, _, rest = received.partition(b"\r\n\r\n")
                length = next((int(h.split(b":")[1]) for h in header.split(b"\r\n")
                               if h.lower().startswith(b"content-length:")), None)
                if length is not None and len(rest) >= length:
                    break
    finally:
        sock.close()
    header, _, rest = received.partition(b"\r\n\r\n")
    status = int(header.split(b" ")[1])
    return RawAnswer(status=status, body=json.loads(rest or b"{}"), sent=sent, seconds=time.monotonic() - started)


def test_a_reviewer_s_210_mb_receipt_is_refused_before_the_body_is_read(served: ServedTongban) -> None:
    before = served.peak_rss()
    answer = raw_post(served.base_url, "/api/v1/cases", served.h("bj_reviewer"), total=210 * 1000 * 1000)
    assert answer.status == 403, answer
    assert answer.body["error"] == "forbidden" or set(answer.body) >= {"error", "message"}
    assert "clerk" in str(answer.body["message"])
    assert answer.sent < 32 * MiB, f"the client got {answer.sent / MiB:.0f} MiB in before the answer"
    assert answer.seconds < 15
    assert served.peak_rss() - before < 50 * MiB


def test_a_reviewer_who_may_attach_nothing_is_refused_before_the_body_is_read(served: ServedTongban) -> None:
    r = httpx.post(f"{served.base_url}/api/v1/cases", headers=served.h("bj_clerk"), timeout=60,
                   files=served.receipt_parts([("申请表.png", bomb_png(100), "image/png")]))
    assert r.status_code == 201, r.text
    case_no = r.json()["case_no"]
    # the receiving zone's reviewer: neither its clerk (supplements) nor the handling zone's reviewer (results)
    answer = raw_post(served.base_url, f"/api/v1/cases/{case_no}/files", served.h("bj_reviewer"),
                      total=210 * 1000 * 1000)
    assert answer.status == 403, answer
    assert answer.sent < 32 * MiB


def test_an_unauthenticated_upload_is_refused_before_the_body_is_read(served: ServedTongban) -> None:
    answer = raw_post(served.base_url, "/api/v1/cases", {}, total=210 * 1000 * 1000)
    assert answer.status == 401
    assert answer.sent < 32 * MiB


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedTongban]:
    """A second real server with a small cap on a request (4 MiB), so going past it is quick."""
    yield from serve_tongban(tmp_path_factory.mktemp("tongban-capped"), max_request_bytes=4 * MiB)


def test_a_body_declared_over_the_cap_gets_413_before_it_is_sent(capped: ServedTongban) -> None:
    answer = raw_post(capped.base_url, "/api/v1/cases", capped.h("bj_clerk"), total=300 * MiB)
    assert answer.status == 413, answer
    assert answer.body["error"] == "request_too_large"
    assert "4 MiB" in str(answer.body["message"]) and "4 MiB" in str(answer.body["message_zh"])
    assert answer.sent < 16 * MiB


def test_a_chunked_body_is_cut_off_at_the_cap_with_413(capped: ServedTongban) -> None:
    before = capped.peak_rss()
    answer = raw_post(capped.base_url, "/api/v1/cases", capped.h("bj_clerk"), total=300 * MiB, chunked=True)
    assert answer.status == 413, answer
    assert answer.body["error"] == "request_too_large" and answer.body["message"]
    # the server stopped reading at the cap: what got in is the cap plus what the sockets buffer
    assert answer.sent < 4 * MiB + 16 * MiB, f"{answer.sent / MiB:.0f} MiB sent"
    assert capped.peak_rss() - before < 50 * MiB
    # and the server is fine afterwards: an ordinary receipt under the cap goes through
    r = httpx.post(f"{capped.base_url}/api/v1/cases", headers=capped.h("bj_clerk"), timeout=60,
                   files=capped.receipt_parts([("申请表.png", bomb_png(100), "image/png")]))
    assert r.status_code == 201, r.text
