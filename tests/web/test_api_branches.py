"""Every branch of the lifecycle besides the happy path, through the HTTP API on both backend pairs:
补正 (supplement), 不予收件 (reject), 退回 (return), 不予许可 (deny), 领取 (pickup), 撤回 (withdraw).
"""

from __future__ import annotations

import hashlib
from typing import Any

from documents import pdf_text
from tests.app_harness import Tongban, make_pdf
from tests.web.drive import case, cases_in, ok, receive, send


def trail(tb: Tongban, case_no: str, user: str = "bj_clerk") -> list[dict[str, Any]]:
    return list(ok(tb.client.get(f"/api/v1/cases/{case_no}/audit", headers=tb.h(user))))


def events(tb: Tongban, case_no: str) -> list[str]:
    return [e["event"] for e in trail(tb, case_no)]


def test_supplement_one_time_notice_then_supplement_then_precheck(tb: Tongban) -> None:
    mats = tb.item("QY-001", "TJ-TEDA")["materials"]
    # The applicant forgot the ID copy (third line of the checklist) and the licence scan is blurred.
    case_no = receive(tb, checklist=[{"item_material_id": m["id"]} for m in (mats[0], mats[1])])
    refused = tb.event("bj_clerk", case_no, "precheck_pass")
    assert refused.status_code == 422 and refused.json()["field"] == "materials"
    assert mats[2]["name"] in refused.json()["message"]

    c = case(tb, case_no)
    by_name = {m["name"]: m["id"] for m in c["materials"]}
    assert tb.event("bj_clerk", case_no, "request_supplement", materials=[]).status_code == 422
    r = tb.event("bj_clerk", case_no, "request_supplement", materials=[
        {"material_id": by_name[mats[2]["name"]], "problem": "missing"},
        {"material_id": by_name[mats[1]["name"]], "problem": "defective", "note": "复印件模糊，无法辨认"},
    ])
    c = ok(r)
    assert c["state"] == "awaiting_supplement" and c["state_label"] == "待补正"
    assert set(c["allowed_events"]) == {"supplement", "withdraw"}
    assert c["paused_since"] is not None  # the overall clock waits for the applicant

    notice = tb.client.get(f"/api/v1/cases/{case_no}/notice.pdf", headers=tb.h("bj_clerk"))
    assert notice.status_code == 200 and notice.headers["content-type"] == "application/pdf"
    text = pdf_text(notice.content)
    assert case_no in text and mats[2]["name"] in text and mats[1]["name"] in text and "复印件模糊" in text

    scans = [(f"material_{mats[2]['id']}", ("身份证复印件.pdf", make_pdf("ID"), "application/pdf")),
             (f"material_{mats[1]['id']}", ("营业执照-重扫.pdf", make_pdf("licence"), "application/pdf"))]
    up = tb.client.post(f"/api/v1/cases/{case_no}/files", headers=tb.h("bj_clerk"), data={"purpose": "supplement"},
                        files=scans)
    added = ok(up, 201)
    assert [f["purpose"] for f in added] == ["supplement", "supplement"]
    c = ok(tb.event("bj_clerk", case_no, "supplement"))
    assert c["state"] == "received" and c["paused_since"] is None
    c = ok(tb.event("bj_clerk", case_no, "precheck_pass"))
    assert c["state"] == "prechecked"
    assert {m["name"]: m["verdict"] for m in c["materials"] if m["required"]} == {m["name"]: "ok" for m in mats
                                                                                if m["required"]}
    assert events(tb, case_no) == ["receive", "request_supplement", "attach_supplement", "supplement",
                                   "precheck_pass"]
    notice_event = trail(tb, case_no)[1]
    assert [m["name"] for m in notice_event["payload"]["materials"]] == [mats[2]["name"], mats[1]["name"]]


def test_reject_needs_a_reason_and_ends_the_case(tb: Tongban) -> None:
    case_no = receive(tb)
    no_reason = tb.event("bj_clerk", case_no, "reject")
    assert no_reason.status_code == 422 and no_reason.json()["field"] == "reason"
    c = ok(tb.event("bj_clerk", case_no, "reject", reason="不属于本事项受理范围"))
    assert c["state"] == "rejected" and c["allowed_events"] == [] and c["last_reason"] == "不属于本事项受理范围"
    assert c["step"] is None and c["step_due_at"] is None
    last = trail(tb, case_no)[-1]
    assert last["event"] == "reject" and last["payload"] == {"reason": "不属于本事项受理范围"}
    later = tb.event("bj_clerk", case_no, "precheck_pass")
    assert later.status_code == 409 and later.json()["state"] == "rejected" and later.json()["allowed"] == []


def test_return_is_two_audit_events_then_the_case_is_supplemented_and_forwarded_again(tb: Tongban) -> None:
    case_no = cases_in(tb, {"forwarded": 1})["forwarded"][0]
    no_reason = tb.event("tj_reviewer", case_no, "return")
    assert no_reason.status_code == 422 and no_reason.json()["field"] == "reason"
    c = ok(tb.event("tj_reviewer", case_no, "return", reason="授权委托书缺少公章"))
    assert c["state"] == "awaiting_supplement" and c["last_reason"] == "授权委托书缺少公章"
    assert c["allowed_events"] == []  # the reviewer's part is over; the receiving window takes it up
    tail = trail(tb, case_no, "tj_reviewer")[-2:]
    assert [(e["event"], e["from_state"], e["to_state"], e["actor"]) for e in tail] == [
        ("return", "forwarded", "returned", "tj_reviewer"),
        ("reopen_for_supplement", "returned", "awaiting_supplement", "system"),
    ]
    assert tail[1]["version"] == tail[0]["version"] + 1 == c["version"]
    assert set(case(tb, case_no, "bj_clerk")["allowed_events"]) == {"supplement", "withdraw"}

    # The window gets the stamped letter, supplements, pre-checks again; the case goes back to TJ.
    send(tb, "bj_clerk", case_no, "supplement")
    send(tb, "bj_clerk", case_no, "precheck_pass")
    tb.dispatch()
    c = case(tb, case_no, "tj_reviewer")
    assert c["state"] == "forwarded"
    assert events(tb, case_no).count("forward") == 2
    assert len([f for f in c["files"] if f["purpose"] == "packet"]) == 2
    v = ok(tb.client.get(f"/api/v1/cases/{case_no}/verify", headers=tb.h("tj_supervisor")))
    assert v["ok"] is True, v["problems"]


def test_deny_with_result_document_and_reason_then_pickup_at_the_receiving_window(tb: Tongban) -> None:
    case_no = cases_in(tb, {"under_review": 1})["under_review"][0]
    assert tb.event("tj_reviewer", case_no, "deny", reason="不符合条件").json()["field"] == "result_file_id"
    doc = ok(tb.upload("tj_reviewer", case_no, "result", "不予许可决定书.pdf", make_pdf("deny")), 201)[0]
    no_reason = tb.event("tj_reviewer", case_no, "deny", result_file_id=doc["id"])
    assert no_reason.status_code == 422 and no_reason.json()["field"] == "reason"
    # A file that is not this case's result document is refused, naming the field.
    other = cases_in(tb, {"received": 1})["received"][0]
    wrong = tb.event("tj_reviewer", case_no, "deny", result_file_id=case(tb, other)["files"][0]["id"], reason="x")
    assert wrong.status_code == 422 and wrong.json()["field"] == "result_file_id"

    c = ok(tb.event("tj_reviewer", case_no, "deny", result_file_id=doc["id"], reason="申请材料不符合法定形式"))
    assert c["state"] == "denied" and c["last_reason"] == "申请材料不符合法定形式" and c["decided_at"]
    last = trail(tb, case_no, "tj_reviewer")[-1]
    assert last["event"] == "deny"
    assert last["payload"]["result_sha256"] == doc["sha256"] and last["payload"]["reason"] == "申请材料不符合法定形式"
    got = tb.client.get(f"/api/v1/cases/{case_no}/files/{doc['id']}", headers=tb.h("bj_clerk"))
    assert got.status_code == 200 and hashlib.sha256(got.content).hexdigest() == doc["sha256"]

    # The reviewer mistypes the tracking number: refused, nothing recorded; the applicant then
    # prefers to collect the decision at the BJ window.
    typo = tb.event("tj_reviewer", case_no, "mail_result", carrier="EMS", tracking_no="RR473124828GB")
    assert typo.status_code == 422 and typo.json()["field"] == "tracking_no", typo.text
    assert "check digit" in typo.json()["message"]
    c = case(tb, case_no)
    assert c["state"] == "denied" and c["shipments"] == [] and events(tb, case_no)[-1] == "deny"
    assert tb.event("tj_reviewer", case_no, "ready_for_pickup").status_code == 403
    c = ok(tb.event("bj_clerk", case_no, "ready_for_pickup"))
    assert c["state"] == "awaiting_pickup" and c["state_label"] == "待领取"
    assert tb.event("tj_reviewer", case_no, "deliver").status_code == 403  # the applicant is at BJ's counter
    assert tb.event("bj_reviewer", case_no, "deliver").status_code == 403  # handed over by the window clerk
    c = ok(tb.event("bj_clerk", case_no, "deliver"))
    assert c["state"] == "closed" and c["closed_at"] and c["allowed_events"] == []
    assert events(tb, case_no)[-2:] == ["ready_for_pickup", "deliver"]


def test_withdraw_at_the_applicants_request_until_the_decision(tb: Tongban) -> None:
    """Withdrawal from each state on the receiving side and one at the handling zone (the events
    matrix, test_api_events_matrix.py, tries every state on SQLite)."""
    states = ("received", "awaiting_supplement", "prechecked", "under_review")
    made = cases_in(tb, {s: 1 for s in states})
    for state in states:
        case_no = made[state][0]
        assert tb.event("bj_clerk", case_no, "withdraw").json()["field"] == "reason"
        refused = tb.event("tj_reviewer", case_no, "withdraw", case(tb, case_no)["version"], reason="x")
        # Before the forward the handling zone is not party at all (404, docs/architecture.md#party); after it, it is
        # party but withdrawal is the receiving clerk's (403).
        assert refused.status_code == (403 if state == "under_review" else 404), (state, refused.text)
        c = ok(tb.event("bj_clerk", case_no, "withdraw", reason="申请人申请撤回"))
        assert c["state"] == "withdrawn" and c["allowed_events"] == [] and c["step"] is None, state
        last = trail(tb, case_no)[-1]
        assert (last["event"], last["from_state"], last["to_state"]) == ("withdraw", state, "withdrawn")
        assert last["payload"] == {"reason": "申请人申请撤回"}
        again = tb.event("bj_clerk", case_no, "withdraw", reason="再次")
        assert again.status_code == 409 and again.json()["state"] == "withdrawn"
    # The pending forward job of the pre-checked case finds it withdrawn and forwards nothing.
    tb.dispatch()
    c = case(tb, made["prechecked"][0])
    assert c["state"] == "withdrawn" and not any(f["purpose"] == "packet" for f in c["files"])
