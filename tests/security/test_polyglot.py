"""A file that is also a web page is refused, and no file is ever shown as a page of ours (issue 10,
point 13).

An HTML/PDF polyglot (HTML first, ``%PDF-`` within the first KiB, where PDF readers still find it)
used to be accepted and served back inline. Now intake refuses it naming the file, and every file
download — materials, packet, receipt, notice, exports — is an attachment with
``X-Content-Type-Options: nosniff`` and ``Content-Security-Policy: default-src 'none'; sandbox``.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from storage.demo.seed import DEMO_PASSWORD
from tests.app_harness import Tongban, make_pdf
from tests.web.drive import case, objects, ok, receive, row_counts, send
from web.downloads import FILE_CSP

POLYGLOTS = {
    "html before the header": b"<html><body><script>fetch('/api/v1/cases')</script></body></html>\n" + make_pdf("p"),
    "doctype before the header": b"<!DOCTYPE html><title>x</title>\n" + make_pdf("p"),
    "script after the header": make_pdf("p")[:9] + b"%<script>alert(document.cookie)</script>\n" + make_pdf("p")[9:],
    "svg before the header": b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>" + make_pdf("p"),
}


@pytest.mark.parametrize("kind", list(POLYGLOTS))
def test_an_html_pdf_polyglot_is_refused_naming_the_file(tb: Tongban, kind: str) -> None:
    rows, keys = row_counts(tb), objects(tb)
    r = tb.receive(files=[("申请表.pdf", make_pdf("ok")), ("网页.pdf", POLYGLOTS[kind])])
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["reason"] == "polyglot" and body["file"] == "网页.pdf"
    assert "文件“网页.pdf”同时是一个网页" in body["message_zh"] and "不予接收" in body["message_zh"]
    assert row_counts(tb) == rows and objects(tb) == keys


def test_an_image_with_html_up_front_is_refused_too(tb: Tongban) -> None:
    from tests.security.test_pixel_bomb import bomb_png

    png = bomb_png(50)
    # a tEXt-like payload right after the signature, in the first KiB a browser sniffs
    r = tb.receive(files=[("照片.png", png[:8] + b"<html><script>alert(1)</script>" + png[8:])])
    assert r.status_code == 422 and r.json()["reason"] == "polyglot"


FILE_HEADERS = {"x-content-type-options": "nosniff", "content-security-policy": FILE_CSP}


def _is_safe_download(r: object) -> None:
    headers = r.headers  # type: ignore[attr-defined]
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    assert headers["content-disposition"].startswith("attachment;"), headers["content-disposition"]
    for name, value in FILE_HEADERS.items():
        assert headers[name] == value, name


def test_every_file_download_is_an_attachment_with_nosniff_and_a_sandbox(tb: Tongban) -> None:
    case_no = receive(tb)
    file_id = case(tb, case_no)["files"][0]["id"]
    get = tb.client.get
    _is_safe_download(get(f"/api/v1/cases/{case_no}/files/{file_id}", headers=tb.h("bj_clerk")))
    _is_safe_download(get(f"/api/v1/cases/{case_no}/receipt.pdf", headers=tb.h("bj_clerk")))
    send(tb, "bj_clerk", case_no, "request_supplement")
    _is_safe_download(get(f"/api/v1/cases/{case_no}/notice.pdf", headers=tb.h("bj_clerk")))


def test_the_packet_is_shown_inline_and_the_exports_are_attachments(tb: Tongban) -> None:
    case_no = receive(tb)
    send(tb, "bj_clerk", case_no, "precheck_pass")
    tb.dispatch()
    # The packet is tongban's own PDF with active content stripped (test_active_content_pdf): the case
    # page embeds it, so it is inline — still nosniff, and never framed by another origin.
    r = tb.client.get(f"/api/v1/cases/{case_no}/packet", headers=tb.h("tj_reviewer"))
    assert r.status_code == 200 and r.headers["content-disposition"].startswith("inline;")
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["content-type"] == "application/pdf"
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert "frame-ancestors 'self'" in r.headers["content-security-policy"]
    # the supervisor's CSV export, through the signed-in UI
    with TestClient(tb.client.app) as ui:
        token = re.search(r'name="csrf_token" value="([^"]+)"', ui.get("/ui/login").text)
        assert token is not None
        r = ui.post("/ui/login", data={"username": "bj_supervisor", "password": DEMO_PASSWORD,
                                       "csrf_token": token.group(1)})
        assert r.status_code == 200, r.text
        _is_safe_download(ui.get("/ui/dashboard/cases.csv"))


def test_a_refused_polyglot_was_never_stored_so_it_cannot_be_served(tb: Tongban) -> None:
    before = objects(tb)
    assert tb.receive(files=[("网页.pdf", POLYGLOTS["html before the header"])]).status_code == 422
    assert not [k for k in objects(tb) if k not in before]
    ok(tb.receive(files=[("普通.pdf", make_pdf("plain"))]), 201)  # and a plain PDF still is
