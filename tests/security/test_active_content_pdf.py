"""A PDF that would run something in the reviewer's viewer never gets there (issue 10, point 4).

Decision: such a file is REFUSED at the counter, with a Chinese reason naming the file and what it
carries, while the applicant is still there (print it to PDF or scan the paper). The transfer packet
is additionally stripped of active content, so a file that reached the store before this check
existed is still forwarded, without it. Each story parses what comes out with pypdf and looks at
every object, reachable or not (``files_support.active_parts``).
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, NameObject, NumberObject, RectangleObject, TextStringObject

from documents import build_packet, normalize_upload
from documents.errors import MaterialError
from storage.db import transaction
from tests.app_harness import Tongban, make_pdf
from tests.security.files_support import active_parts, hostile_pdf
from tests.web.drive import case, objects, ok, receive, row_counts, send, sql

#: Each kind of active content on its own, as the issue lists them.
KINDS: dict[str, dict[str, bool]] = {
    name: {k: k == name for k in ("open_action", "page_aa", "launch_link", "js_link", "document_js",
                                  "embedded_file", "xfa")}
    for name in ("open_action", "page_aa", "launch_link", "js_link", "document_js", "embedded_file", "xfa")
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_counter_refuses_a_pdf_with_active_content_naming_the_file(tb: Tongban, kind: str) -> None:
    name = f"营业执照-{kind}.pdf"
    rows, keys = row_counts(tb), objects(tb)
    r = tb.receive(files=[("申请表.pdf", make_pdf("ok")), (name, hostile_pdf(**KINDS[kind]))])
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "invalid_file" and body["reason"] == "active_content" and body["file"] == name
    assert f"文件“{name}”含有活动内容" in body["message_zh"] and "不予接收" in body["message_zh"]
    assert "打印为 PDF" in body["message_zh"]  # what the clerk can do about it
    assert name in body["message"]
    assert row_counts(tb) == rows and objects(tb) == keys  # nothing kept


def test_the_reason_says_what_the_file_carries(tmp_path: Any) -> None:
    path = tmp_path / "all.pdf"
    path.write_bytes(hostile_pdf())
    with pytest.raises(MaterialError) as refused:
        normalize_upload(path, "全部.pdf", workdir=tmp_path / "w", max_bytes=10**7)
    for words in ("JavaScript", "/Launch", "内嵌文件", "XFA", "/AA", "打开文件时自动执行"):
        assert words in refused.value.message_zh


def test_a_supplement_with_active_content_is_refused_too(tb: Tongban) -> None:
    case_no = receive(tb)
    before = len(case(tb, case_no)["files"])
    r = tb.upload("bj_clerk", case_no, "supplement", "补正.pdf", hostile_pdf(embedded_file=False, xfa=False))
    assert r.status_code == 422 and r.json()["reason"] == "active_content" and r.json()["file"] == "补正.pdf"
    assert len(case(tb, case_no)["files"]) == before


def _harmless_extras() -> bytes:
    """Go-to-page open action, a web link and a next-page named action: ordinary, not active."""
    w = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf("目录", 2))))
    w._root_object[NameObject("/OpenAction")] = ArrayObject([w.pages[0].indirect_reference, NameObject("/Fit")])
    uri = DictionaryObject({NameObject("/S"): NameObject("/URI"),
                            NameObject("/URI"): TextStringObject("https://www.gsxt.gov.cn/")})
    named = DictionaryObject({NameObject("/S"): NameObject("/Named"), NameObject("/N"): NameObject("/NextPage")})
    w.pages[0][NameObject("/Annots")] = ArrayObject([
        w._add_object(DictionaryObject({NameObject("/Type"): NameObject("/Annot"), NameObject("/Subtype"):
                      NameObject("/Link"), NameObject("/Rect"): RectangleObject([0, 0, 99, 99]), NameObject("/A"): a,
                      NameObject("/Border"): ArrayObject([NumberObject(0)] * 3)}))
        for a in (uri, named)])
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


def test_ordinary_links_and_a_go_to_page_open_action_are_accepted(tb: Tongban) -> None:
    ok(tb.receive(files=[("带链接的说明.pdf", _harmless_extras())]), 201)


def test_the_packet_builder_strips_every_kind_of_active_content() -> None:
    out = io.BytesIO()
    pages = build_packet(make_pdf("封面"), [("恶意材料", io.BytesIO(hostile_pdf(pages=3))),
                                           ("普通材料", io.BytesIO(make_pdf("普通", 2)))], out)
    assert pages == 1 + 3 + 2
    packet = out.getvalue()
    assert active_parts(packet) == []
    assert b"payload.exe" not in packet and b"cmd.exe" not in packet and b"app.alert" not in packet
    reader = PdfReader(io.BytesIO(packet))
    # the pages themselves are intact
    assert "ordinary looking material page 1" in (reader.pages[1].extract_text() or "")


def test_a_file_stored_before_the_check_is_forwarded_without_its_active_content(tb: Tongban) -> None:
    """An old receipt's file carries scripts (it was taken before intake refused them): the case still
    goes to the handling zone, and the packet the reviewer opens runs nothing."""
    case_no = receive(tb)
    files = case(tb, case_no)["files"]
    legacy = hostile_pdf(pages=2)
    with transaction(tb.runtime.session_factory) as s:
        from sqlalchemy import select

        from storage.case.models import StoredFile

        row = s.scalars(select(StoredFile).where(StoredFile.id == files[0]["id"])).one()
        key = row.object_key
    stored = tb.runtime.store.put_bytes(key, legacy)
    sql(tb, "UPDATE stored_files SET sha256 = :sha, size = :size, page_count = 2 WHERE id = :id",
        sha=stored.sha256, size=stored.size, id=files[0]["id"])
    send(tb, "bj_clerk", case_no, "precheck_pass")
    tb.dispatch()
    assert case(tb, case_no)["state"] == "forwarded"
    r = tb.client.get(f"/api/v1/cases/{case_no}/packet", headers=tb.h("tj_reviewer"))
    assert r.status_code == 200
    assert active_parts(r.content) == []
    reader = PdfReader(io.BytesIO(r.content))
    assert len(reader.pages) >= 1 + 2  # cover + the legacy file's pages (+ the other material)
