"""The name stored is the name that was checked (issue 10, point 12).

A name arrives as the browser or scanner spelled it: decomposed accents (NFD, as macOS writes
them), spaces around it. The checks run on its NFC, trimmed form, and that same form is what the
database row, the audit event, the object key's extension and the download carry.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

from sqlalchemy import select

from storage.audit.models import AuditEvent
from storage.case.models import StoredFile
from storage.db import transaction
from tests.app_harness import Tongban, make_pdf
from tests.web.drive import case, ok, receive

RAW = "  Re\u0301sume\u0301 申请表.PDF  "  # NFD accents, spaces around, upper-case extension
CHECKED = unicodedata.normalize("NFC", RAW).strip()


def _rows(tb: Tongban, case_no: str) -> list[StoredFile]:
    from storage.case.models import Case

    with transaction(tb.runtime.session_factory) as s:
        case_id = s.scalars(select(Case.id).where(Case.case_no == case_no)).one()
        rows = list(s.scalars(select(StoredFile).where(StoredFile.case_id == case_id).order_by(StoredFile.id)))
        s.expunge_all()
        return rows


def test_a_receipt_stores_the_nfc_trimmed_name_in_the_row_and_the_key(tb: Tongban) -> None:
    assert CHECKED == "Résumé 申请表.PDF" and CHECKED != RAW
    r = ok(tb.receive(files=[(RAW, make_pdf("resume"))]), 201)
    case_no = r["case_no"]
    assert [f["filename"] for f in r["files"]] == [CHECKED]
    (row,) = _rows(tb, case_no)
    assert row.filename == CHECKED and unicodedata.is_normalized("NFC", row.filename)
    assert row.object_key.endswith(".pdf") and " " not in row.object_key  # the checked extension, lower-cased
    with transaction(tb.runtime.session_factory) as s:
        event = s.scalars(select(AuditEvent)
                          .where(AuditEvent.case_id == row.case_id, AuditEvent.event == "receive")).one()
        assert [f["name"] for f in event.payload["files"]] == [CHECKED]
    download = tb.client.get(f"/api/v1/cases/{case_no}/files/{row.id}", headers=tb.h("bj_clerk"))
    assert download.status_code == 200
    assert f"filename*=UTF-8''{quote(CHECKED)}" in download.headers["content-disposition"]


def test_a_supplement_stores_the_checked_name_too(tb: Tongban) -> None:
    case_no = receive(tb)
    ok(tb.upload("bj_clerk", case_no, "supplement", "\u3000补正材料.pdf ", make_pdf("补正")), 201)
    names = [f["filename"] for f in case(tb, case_no)["files"]]
    assert "补正材料.pdf" in names  # ideographic space and ASCII spaces trimmed
    row = next(r for r in _rows(tb, case_no) if r.filename == "补正材料.pdf")
    assert row.object_key.endswith(".pdf")


def test_names_that_only_differ_by_normalisation_are_one_name(tb: Tongban) -> None:
    nfd = unicodedata.normalize("NFD", "Café.pdf")
    r = ok(tb.receive(files=[(nfd, make_pdf("a")), ("Café.pdf", make_pdf("b"))]), 201)
    assert [f["filename"] for f in r["files"]] == ["Café.pdf", "Café.pdf"]
