"""Issue 10.7 — an ID number or a mobile number a clerk typed into free text (the applicant's name, a
reason, a note, a file name) comes back masked on every surface: API answers, audit payloads, the case
page, lists, the receipt, the one-time notice, the packet, exports. The stored record keeps the text."""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from documents.packet import pdf_outline_titles
from states.identifiers import mask_id, mask_phone, mask_text
from storage.case.models import Case
from storage.db import transaction
from tests.app_harness import USCC, Tongban, make_pdf
from tests.security.surfaces import browser

PHONE = "13812345678"
TYPED_ID = "11010519491231002X"  # the applicant's resident ID, typed into a text by the clerk
SPACED_PHONE = "138 1234 5678"
FULL = (TYPED_ID, PHONE, SPACED_PHONE, TYPED_ID[6:14] + TYPED_ID[14:])  # nothing of these may show


def assert_masked(text: str, where: str) -> None:
    for secret in FULL:
        assert secret not in text, f"{where}: {secret} shown in full"


@pytest.fixture(scope="module")
def case_no(surface_tb: Tongban) -> str:
    r = surface_tb.receive(
        files=[(f"身份证{TYPED_ID}.pdf", make_pdf("身份证")), (f"联系人{PHONE}.pdf", make_pdf("执照"))],
        applicant={"kind": "enterprise", "name": f"天津测试科技有限公司（联系人 {PHONE}）", "id_number": USCC,
                   "phone": PHONE, "address": "天津市滨海新区第三大街1号"})
    assert r.status_code == 201, r.text
    case = r.json()
    r = surface_tb.event("bj_clerk", case["case_no"], "request_supplement",
                         reason=f"请补身份证 {TYPED_ID} 的复印件，联系 {SPACED_PHONE}",
                         materials=[{"material_id": case["materials"][0]["id"], "problem": "defective",
                                     "note": f"复印件号码 {TYPED_ID} 不清楚，电话{PHONE}"}])
    assert r.status_code == 200, r.text
    return str(case["case_no"])


def test_the_stored_record_keeps_the_full_text(surface_tb: Tongban, case_no: str) -> None:
    with transaction(surface_tb.runtime.session_factory) as s:
        case = s.scalars(select(Case).where(Case.case_no == case_no)).unique().one()
        assert TYPED_ID in case.last_reason and TYPED_ID in case.materials[0].remark
        assert any(TYPED_ID in f.filename for f in case.files)


def test_the_api_detail_masks_reasons_remarks_file_names_and_names(surface_tb: Tongban, case_no: str) -> None:
    for user in ("bj_clerk", "bj_supervisor"):
        r = surface_tb.client.get(f"/api/v1/cases/{case_no}", headers=surface_tb.h(user))
        assert r.status_code == 200
        assert_masked(r.text, f"GET /cases/{{no}} as {user}")
        case = r.json()
        assert mask_id(TYPED_ID) in case["last_reason"] and mask_phone(PHONE) in case["materials"][0]["remark"]
        assert any(mask_id(TYPED_ID) in f["filename"] for f in case["files"])
        assert mask_phone(PHONE) in case["applicant_name"]
        assert case["applicant_id"] == mask_id(USCC) and case["applicant_phone"] == mask_phone(PHONE)


def test_audit_payloads_are_masked_and_hashes_left_whole(surface_tb: Tongban, case_no: str) -> None:
    r = surface_tb.client.get(f"/api/v1/cases/{case_no}/audit", headers=surface_tb.h("bj_clerk"))
    assert r.status_code == 200
    assert_masked(r.text, "/audit")
    trail = r.json()
    files = trail[0]["payload"].get("files") or []
    assert all(re.fullmatch(r"[0-9a-f]{64}", f["sha256"]) for f in files if "sha256" in f)
    assert all(re.fullmatch(r"[0-9a-f]{64}", e["hash"]) for e in trail)
    # the chain is still verified over what was stored
    assert surface_tb.client.get(f"/api/v1/cases/{case_no}/verify", headers=surface_tb.h("bj_clerk")).json()["ok"]


def test_lists_and_search_mask_the_name(surface_tb: Tongban, case_no: str) -> None:
    h = surface_tb.h("bj_clerk")
    for path in ("/api/v1/cases", f"/api/v1/cases?q={case_no}"):
        r = surface_tb.client.get(path, headers=h)
        assert case_no in r.text
        assert_masked(r.text, path)
    clerk = browser(surface_tb, "bj_clerk")
    for path in (f"/ui/cases?q={case_no}", "/ui/cases"):
        page = clerk.get(path).text
        assert case_no in page
        assert_masked(page, path)


def test_the_case_page_masks_what_the_audit_trail_masks(surface_tb: Tongban, case_no: str) -> None:
    page = browser(surface_tb, "bj_clerk").get(f"/ui/cases/{case_no}").text
    assert_masked(page, "case page")
    assert mask_id(TYPED_ID) in page and mask_phone(PHONE) in page


def _pdf_text(data: bytes) -> str:
    return "".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(data)).pages)


def test_the_notice_and_receipt_pdfs_mask_notes_and_file_names(surface_tb: Tongban, case_no: str) -> None:
    h = surface_tb.h("bj_clerk")
    notice = surface_tb.client.get(f"/api/v1/cases/{case_no}/notice.pdf", headers=h)
    receipt = surface_tb.client.get(f"/api/v1/cases/{case_no}/receipt.pdf", headers=h)
    assert notice.status_code == receipt.status_code == 200
    for name, r in (("notice", notice), ("receipt", receipt)):
        text = _pdf_text(r.content).replace(" ", "")
        assert_masked(text, f"{name}.pdf")
        assert "110105********002X" in text or "********" in text, text[:500]


def test_the_case_list_export_masks_them(surface_tb: Tongban, case_no: str) -> None:
    body = browser(surface_tb, "bj_supervisor").get("/ui/dashboard/cases.csv").content.decode("utf-8-sig")
    assert case_no in body
    assert_masked(body, "cases.csv")


def test_the_handling_zone_sees_them_masked_in_the_packet_too(surface_tb: Tongban, case_no: str,
                                                              prefect_harness: None) -> None:
    r = surface_tb.receive(files=[(f"身份证{TYPED_ID}.pdf", make_pdf("身份证"))])
    no = r.json()["case_no"]
    assert surface_tb.event("bj_clerk", no, "precheck_pass").status_code == 200
    surface_tb.dispatch()
    h = surface_tb.h("tj_reviewer")
    packet = surface_tb.client.get(f"/api/v1/cases/{no}/packet", headers=h)
    assert packet.status_code == 200
    titles = " ".join(pdf_outline_titles(packet.content))
    assert mask_text(TYPED_ID) in titles
    assert_masked(titles, "packet bookmarks")
    assert_masked(_pdf_text(packet.content).replace(" ", ""), "packet cover sheet")
    for view in (surface_tb.client.get(f"/api/v1/cases/{no}", headers=h).text,
                 browser(surface_tb, "tj_reviewer").get(f"/ui/cases/{no}").text):
        assert_masked(view, "handling zone's view")
