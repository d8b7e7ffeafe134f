"""Bad input at the counter gets a clear 4xx naming the field or the file, and changes nothing
(docs/architecture.md#bad-input): no row in cases, applicants, stored_files, audit_events, outbox_jobs or
shipments, and no object in the store — also when the database refuses after the files were already stored.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader, PdfWriter

from states.runtime import Runtime
from tests.app_harness import RESIDENT_ID, USCC, Tongban, make_pdf
from tests.web.drive import case, objects, ok, receive, row_counts, sql
from web.app import create_app


@contextmanager
def leaves_nothing(tb: Tongban) -> Iterator[None]:
    """The block may be refused in any way, but no row and no object may stay behind."""
    rows, keys = row_counts(tb), objects(tb)
    yield
    assert row_counts(tb) == rows
    assert objects(tb) == keys


def encrypted_pdf() -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf("secret"))))
    writer.encrypt(user_password="", owner_password="owner-secret")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


#: name → (file name, bytes, expected reason code)
BAD_FILES: dict[str, tuple[str, Callable[[], bytes], str]] = {
    "encrypted": ("加密.pdf", encrypted_pdf, "encrypted"),
    "truncated": ("截断.pdf", lambda: make_pdf("cut", 3)[:-200], "corrupt"),
    "empty": ("空文件.pdf", lambda: b"", "empty"),
    "text named pdf": ("说明.pdf", lambda: "这不是PDF，是一段文字。\n".encode() * 20, "type_mismatch"),
    "path traversal": ("../../etc/passwd.pdf", lambda: make_pdf("traversal"), "bad_name"),
    # (a full "C:\\…" path never reaches us: the multipart parser keeps only its last part, as old IE sent it)
    "windows traversal": ("..\\..\\Windows\\win.ini.pdf", lambda: make_pdf("windows"), "bad_name"),
    "hidden control character": ("scan\u202egpj.pdf", lambda: make_pdf("rtl"), "bad_name"),
}


@pytest.mark.parametrize("bad", list(BAD_FILES))
def test_a_bad_file_among_good_ones_refuses_the_whole_receipt(tb: Tongban, bad: str) -> None:
    name, data, reason = BAD_FILES[bad]
    with leaves_nothing(tb):
        # The good scan comes first, so it would be stored already if files were not all checked first.
        r = tb.receive(files=[("申请表.pdf", make_pdf("ok")), (name, data())])
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "invalid_file" and body["reason"] == reason
    assert body["file"] == name and body["message"] and body["message_zh"]
    assert name.replace("\u202e", "\\x202e") in body["message"]


def test_a_bad_supplement_file_is_refused_and_leaves_nothing(tb: Tongban) -> None:
    case_no = receive(tb)
    before = len(case(tb, case_no)["files"])
    with leaves_nothing(tb):
        r = tb.upload("bj_clerk", case_no, "supplement", "补正.pdf", make_pdf("cut", 2)[:-300])
    assert r.status_code == 422 and r.json()["reason"] == "corrupt" and r.json()["file"] == "补正.pdf"
    assert len(case(tb, case_no)["files"]) == before


def test_an_over_size_file_is_refused_naming_the_file_and_the_limit(tb: Tongban) -> None:
    limit = 64 * 1024
    small = tb.runtime.settings.model_copy(update={"max_file_bytes": limit})
    runtime = Runtime(small, now_fn=tb.clock)
    try:
        client = TestClient(create_app(runtime=runtime, run_dispatcher=False))
        big = make_pdf("big " * 30, 150)
        assert len(big) > limit
        fits = make_pdf("fits")
        with leaves_nothing(tb):
            r = client.post("/api/v1/cases", headers=tb.h("bj_clerk"), files=_parts(tb, [("fits.pdf", fits),
                                                                                        ("大文件.pdf", big)]))
        assert r.status_code == 413, r.text
        body = r.json()
        assert body["reason"] == "too_large" and body["file"] == "大文件.pdf"
        assert "大文件.pdf" in body["message"] and re.search(r"64(\.0)? KiB|65536 bytes", body["message"]), body
        # The same request without the big file goes through on that app: the size was the reason.
        r = client.post("/api/v1/cases", headers=tb.h("bj_clerk"), files=_parts(tb, [("fits.pdf", fits)]))
        assert r.status_code == 201, r.text
    finally:
        runtime.dispose()


def _parts(tb: Tongban, files: list[tuple[str, bytes]], form: dict[str, Any] | None = None) -> list[Any]:
    mats = tb.item("QY-001", "TJ-TEDA")["materials"]
    form = form or _form(tb)
    parts: list[Any] = [("case", ("case.json", json.dumps(form), "application/json"))]
    parts += [(f"material_{mats[0]['id']}", (name, io.BytesIO(data), "application/pdf")) for name, data in files]
    return parts


def _form(tb: Tongban, **changes: Any) -> dict[str, Any]:
    mats = tb.item("QY-001", "TJ-TEDA")["materials"]
    form: dict[str, Any] = {
        "item_code": "QY-001", "handling_zone": "TJ-TEDA",
        "applicant": {"kind": "enterprise", "name": "测试有限公司", "id_number": USCC, "address": "天津市"},
        "checklist": [{"item_material_id": m["id"]} for m in mats],
    }
    for key, value in changes.items():
        target = form
        *path, last = key.split(".")
        for p in path:
            target = target[p]
        target[last] = value
    return form


#: A form that fails validation → the field the answer must name.
BAD_FORMS: dict[str, tuple[dict[str, Any], str]] = {
    "USCC check character": ({"applicant.id_number": USCC[:-1] + ("3" if USCC[-1] != "3" else "4")},
                             "applicant.id_number"),
    "USCC length": ({"applicant.id_number": "91350100M000100Y4"}, "applicant.id_number"),
    "resident ID check digit": ({"applicant.kind": "person", "applicant.id_number": RESIDENT_ID[:-1] + "1"},
                                "applicant.id_number"),
    "resident ID birth date": ({"applicant.kind": "person", "applicant.id_number": "110105194902300027"},
                               "applicant.id_number"),
    "enterprise code given for a person": ({"applicant.kind": "person"}, "applicant.id_number"),
    "unknown item": ({"item_code": "NO-SUCH-ITEM"}, "item_code"),
    "item of another zone's catalog": ({"item_code": "SP-001", "handling_zone": "BJ-ETOWN"}, "item_code"),
    "unknown applicant kind": ({"applicant.kind": "robot"}, "applicant.kind"),
    "checklist line of another item": ({"checklist": [{"item_material_id": 999_999}]},
                                       "checklist[0].item_material_id"),
    "no address to mail to": ({"applicant.address": "", "delivery_method": "mail"}, "delivery_address"),
}


@pytest.mark.parametrize("bad", list(BAD_FORMS))
def test_an_invalid_form_is_refused_naming_the_field(tb: Tongban, bad: str) -> None:
    changes, field = BAD_FORMS[bad]
    with leaves_nothing(tb):
        r = tb.client.post("/api/v1/cases", headers=tb.h("bj_clerk"),
                           files=_parts(tb, [("申请表.pdf", make_pdf("ok"))], _form(tb, **changes)))
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["field"] == field, body
    assert body["message"].startswith(field) and body["message"].count(field) == 1, body["message"]


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", json.dumps({"item_code": "QY-001"}), None])
def test_a_bad_case_part_is_refused_naming_it(tb: Tongban, raw: str | None) -> None:
    parts: list[Any] = [("material_1", ("a.pdf", io.BytesIO(make_pdf("ok")), "application/pdf"))]
    if raw is not None:
        parts.insert(0, ("case", ("case.json", raw, "application/json")))
    with leaves_nothing(tb):
        r = tb.client.post("/api/v1/cases", headers=tb.h("bj_clerk"), files=parts)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "invalid" and (body["field"] == "case" or body["field"].startswith("applicant")), body


def test_only_a_clerk_receives(tb: Tongban) -> None:
    with leaves_nothing(tb):
        r = tb.receive(user="bj_reviewer")
    assert r.status_code == 403


def test_a_file_for_a_checklist_line_of_another_item_is_refused_after_the_files_were_stored(tb: Tongban) -> None:
    """The form itself passes; the database step refuses the file part → the stored objects go again."""
    form = _form(tb)
    parts: list[Any] = [("case", ("case.json", json.dumps(form), "application/json")),
                        ("material_999999", ("申请表.pdf", io.BytesIO(make_pdf("ok")), "application/pdf"))]
    with leaves_nothing(tb):
        r = tb.client.post("/api/v1/cases", headers=tb.h("bj_clerk"), files=parts)
    assert r.status_code == 422 and r.json()["field"] == "files[申请表.pdf]", r.text


def test_a_database_failure_after_the_files_were_stored_leaves_no_object(tb: Tongban) -> None:
    """Provoke a real unique-constraint clash: set the zone's case counter back by one, so the next
    case number is one that exists. The INSERT fails after the scans are in the store."""
    receive(tb)  # today's counter exists and its last number is taken
    day = tb.clock.now.astimezone(ZoneInfo("Asia/Shanghai")).date()
    counter = "UPDATE case_sequences SET last = last + :d WHERE day = :day AND zone_id = " \
              "(SELECT id FROM zones WHERE code = 'BJ-ETOWN')"
    sql(tb, counter, d=-1, day=day)
    try:
        client = TestClient(tb.client.app, raise_server_exceptions=False)
        with leaves_nothing(tb):
            r = client.post("/api/v1/cases", headers=tb.h("bj_clerk"),
                            files=_parts(tb, [("申请表.pdf", make_pdf("a")), ("执照.pdf", make_pdf("b", 2))]))
        assert r.status_code == 500 and r.json()["error"] == "internal", r.text
        assert "nothing was kept" in r.json()["message"]
    finally:
        sql(tb, counter, d=1, day=day)
    assert receive(tb)  # the counter is right again and intake works


@pytest.mark.parametrize("tracking", ["RR473124828GB", "RR47312482GB", "12345", ""])
def test_an_invalid_tracking_number_is_refused_and_records_no_shipment(tb: Tongban, tracking: str) -> None:
    """The originals go to the handling zone by post with the pre-check (UPU S10 check digit).
    The result's tracking number (mail_result) is refused the same way: see test_api_branches."""
    case_no = receive(tb)
    with leaves_nothing(tb):
        r = tb.event("bj_clerk", case_no, "precheck_pass", originals={"carrier": "EMS", "tracking_no": tracking})
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "originals.tracking_no" and r.json()["message"].count("tracking_no") == 1
    assert case(tb, case_no)["state"] == "received"


def test_stale_version_is_a_conflict_and_changes_nothing(tb: Tongban) -> None:
    case_no = receive(tb)
    v = case(tb, case_no)["version"]
    ok(tb.event("bj_clerk", case_no, "request_supplement", v,
                materials=[{"material_id": case(tb, case_no)["materials"][2]["id"], "problem": "missing"}]))
    with leaves_nothing(tb):
        r = tb.event("bj_clerk", case_no, "withdraw", v, reason="用旧页面操作")
    assert r.status_code == 409 and r.json()["error"] == "version_conflict"
    assert r.json()["expected"] == v and r.json()["actual"] == v + 1
    assert case(tb, case_no)["state"] == "awaiting_supplement"

