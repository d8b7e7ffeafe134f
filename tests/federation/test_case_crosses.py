"""A case received in zone A and decided in zone B, each on its own tongban: the whole story."""

from __future__ import annotations

from tests.app_harness import TRACKING, make_pdf
from tests.federation.pairing import Pair


def test_case_received_in_a_is_decided_in_b_and_delivered_in_a(pair: Pair) -> None:
    a, b = pair.a, pair.b
    case = a.receive()
    no = case["case_no"]
    a.event("bj_clerk", no, "precheck_pass")
    forwarded = a.wait_state(no, "bj_clerk", "forwarded")
    # B has its own mirrored case, with its own number, linked to A's, forwarded to TJ-TEDA.
    sent = a.transfer(no, "bj_clerk")
    assert sent["shared"] and sent["role"] == "origin" and sent["peer_id"] == "TJ"
    transfer = sent["messages"][0]
    assert transfer["type"] == "transfer" and transfer["status"] == "acknowledged"
    assert transfer["receipt_by"] == "TJ" and transfer["verified_files"] == 4  # 2 scans, packet, manifest
    mirror_no = sent["remote_case_no"]
    assert mirror_no.startswith("TJTEDA-") and mirror_no != no
    mirror = b.wait_state(mirror_no, "tj_reviewer", "forwarded")
    assert mirror["due_at"] == forwarded["due_at"]  # one clock: the origin's promised deadline

    b.event("tj_reviewer", mirror_no, "accept")
    b.event("tj_reviewer", mirror_no, "claim")
    result_id = b.upload_result("tj_reviewer", mirror_no)
    b.event("tj_reviewer", mirror_no, "approve", result_file_id=result_id)
    a.wait_state(no, "bj_clerk", "approved")
    b.wait_state(mirror_no, "tj_reviewer", "approved")
    # The deciding zone mails the result (the item's mail side) and confirms its delivery.
    b.event("tj_reviewer", mirror_no, "mail_result", carrier="EMS", tracking_no=TRACKING)
    a.wait_state(no, "bj_clerk", "mailed")
    b.event("tj_clerk", mirror_no, "deliver", signatory="张三")
    a.wait_state(no, "bj_clerk", "closed")
    b.wait_state(mirror_no, "tj_reviewer", "closed")

    out_a = a.cli("verify", no)
    assert "OK" in out_a.stdout and "peer receipts checked" in out_a.stdout, out_a.stdout
    assert "OK" in b.cli("verify", mirror_no).stdout
    agree = a.cli("federation", "verify", no)
    assert "AGREE" in agree.stdout, agree.stdout
    assert "AGREE" in b.cli("federation", "verify", mirror_no).stdout


def test_return_in_b_pauses_the_clock_in_a_with_the_reason(pair: Pair) -> None:
    """退回 with reasons crosses back: A's case awaits a supplement, its overall clock paused, the reason shown."""
    a, b = pair.a, pair.b
    no = a.receive()["case_no"]
    a.event("bj_clerk", no, "precheck_pass")
    a.wait_state(no, "bj_clerk", "forwarded")
    mirror_no = a.transfer(no, "bj_clerk")["remote_case_no"]
    b.event("tj_reviewer", mirror_no, "return", reason="营业执照复印件不清晰")
    back = a.wait_state(no, "bj_clerk", "awaiting_supplement")
    assert back["paused_since"] is not None and back["last_reason"] == "营业执照复印件不清晰"
    mirror = b.case(mirror_no, "tj_reviewer")
    assert mirror["state"] == "awaiting_supplement" and mirror["paused_since"] is not None
    # 补正 at A's counter and pre-checked again: the case crosses again to the same mirror, with the new scan.
    a.api("POST", f"/api/v1/cases/{no}/files", "bj_clerk", data={"purpose": "supplement"},
          files=[("files", ("执照-清晰版.pdf", make_pdf("执照清晰版"), "application/pdf"))])
    a.event("bj_clerk", no, "supplement")
    a.event("bj_clerk", no, "precheck_pass")
    a.wait_state(no, "bj_clerk", "forwarded")
    again = b.wait_state(mirror_no, "tj_reviewer", "forwarded")
    assert "执照-清晰版.pdf" in [f["filename"] for f in again["files"]]
    assert a.transfer(no, "bj_clerk")["remote_case_no"] == mirror_no  # the same mirror, not a second one
