"""The whole lifecycle through the HTTP API, on SQLite + filesystem and PostgreSQL + S3."""

from __future__ import annotations

from documents import pdf_outline_titles, pdf_text
from tests.app_harness import TRACKING, Tongban, make_pdf


def _forwarded_case(tb: Tongban) -> str:
    r = tb.receive()
    assert r.status_code == 201, r.text
    case_no = r.json()["case_no"]
    assert tb.event("bj_clerk", case_no, "precheck_pass").status_code == 200
    assert tb.dispatch() >= 1
    return case_no


def test_clerk_receives_case_with_two_scans_and_gets_a_receipt(tb: Tongban) -> None:
    r = tb.receive(files=[("申请表.pdf", make_pdf("申请表")), ("营业执照.pdf", make_pdf("执照", 3))])
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["case_no"].startswith("BJETOWN-")
    assert case["state"] == "received" and case["state_label"] == "已收件"
    assert case["handling_zone"] == "TJ-TEDA" and case["receiving_zone"] == "BJ-ETOWN"
    assert [f["page_count"] for f in case["files"]] == [1, 3]
    assert case["due_at"] and case["step"] == "precheck"
    assert "*" in case["applicant_id"]
    assert set(case["allowed_events"]) == {"precheck_pass", "reject", "request_supplement", "withdraw"}
    pdf = tb.client.get(f"/api/v1/cases/{case['case_no']}/receipt.pdf", headers=tb.h("bj_clerk"))
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert case["case_no"] in pdf_text(pdf.content)


def test_happy_path_from_receipt_to_closed_by_mail(tb: Tongban) -> None:
    case_no = _forwarded_case(tb)
    case = tb.client.get(f"/api/v1/cases/{case_no}", headers=tb.h("tj_reviewer")).json()
    assert case["state"] == "forwarded"
    packet = tb.client.get(f"/api/v1/cases/{case_no}/packet", headers=tb.h("tj_reviewer"))
    assert packet.status_code == 200
    titles = pdf_outline_titles(packet.content)
    assert titles[0].startswith("封面") and len(titles) == 3
    assert tb.event("tj_reviewer", case_no, "accept").status_code == 200
    assert tb.event("tj_reviewer", case_no, "claim").status_code == 200
    up = tb.upload("tj_reviewer", case_no, "result", "准予许可决定书.pdf", make_pdf("决定书"))
    assert up.status_code == 201, up.text
    r = tb.event("tj_reviewer", case_no, "approve", result_file_id=up.json()[0]["id"])
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "approved"
    r = tb.event("tj_reviewer", case_no, "mail_result", carrier="EMS", tracking_no=TRACKING)
    assert r.status_code == 200, r.text
    assert r.json()["shipments"][0]["tracking_no"] == TRACKING
    r = tb.event("tj_clerk", case_no, "deliver")  # the window confirms the applicant got it
    assert r.json()["state"] == "closed"
    trail = tb.client.get(f"/api/v1/cases/{case_no}/audit", headers=tb.h("bj_clerk")).json()
    assert [e["event"] for e in trail] == ["receive", "precheck_pass", "forward", "accept", "claim",
                                           "attach_result", "approve", "mail_result", "deliver"]
    v = tb.client.get(f"/api/v1/cases/{case_no}/verify", headers=tb.h("bj_supervisor")).json()
    assert v["ok"] is True and v["problems"] == [] and v["files_checked"] >= 6
