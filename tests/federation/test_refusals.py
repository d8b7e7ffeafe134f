"""What a deployment refuses from a peer — and what it accepts although it looks odd (a retry, a
message that is early, a clock a few minutes off). Refusals name a machine-readable reason, are
counted per peer, and change nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.federation.crafted import (
    event_message,
    identity_of,
    post,
    resign,
    stranger,
    transfer_message,
)
from tests.federation.deployments import Deployment
from tests.federation.pairing import Pair


def refusals(d: Deployment, peer: str) -> dict[str, int]:
    rows = json.loads(d.cli("peer", "list", "--json").stdout)
    return next(r for r in rows if r["peer_id"] == peer)["refusals_by_code"]


def case_count(d: Deployment, user: str) -> int:
    return int(d.api("GET", "/api/v1/cases", user, params={"per_page": 1}).json()["total"])


def test_message_signed_by_an_unknown_key_is_refused_and_changes_nothing(pair: Pair, tmp_path: Path) -> None:
    b = pair.b
    before, count = refusals(b, "BJ").get("unknown_key", 0), case_count(b, "tj_reviewer")
    forged = stranger(tmp_path, "BJ")  # says it is BJ, signs with a key BJ never had
    r = post(b, transfer_message(forged, b, "TJ", tmp_path, uploader=identity_of(pair.a)))
    assert r.status_code == 401 and r.json()["refused"] == "unknown_key", r.text
    assert r.json()["detail_zh"] == "未知签名密钥"
    assert refusals(b, "BJ")["unknown_key"] == before + 1
    assert case_count(b, "tj_reviewer") == count


def test_clock_skew_of_minutes_is_accepted_and_of_hours_refused(pair: Pair, tmp_path: Path) -> None:
    a, b = pair.a, pair.b
    ident = identity_of(a)
    now = datetime.now(UTC)
    count = case_count(b, "tj_reviewer")
    ahead = post(b, transfer_message(ident, b, "TJ", tmp_path, created_at=now + timedelta(minutes=5)))
    behind = post(b, transfer_message(ident, b, "TJ", tmp_path, created_at=now - timedelta(minutes=5)))
    assert ahead.status_code == 200, ahead.text
    assert behind.status_code == 200, behind.text
    assert case_count(b, "tj_reviewer") == count + 2  # two mirrored cases
    future = post(b, transfer_message(ident, b, "TJ", tmp_path, created_at=now + timedelta(hours=3)))
    past = post(b, transfer_message(ident, b, "TJ", tmp_path, created_at=now - timedelta(hours=3)))
    assert future.status_code == 422 and future.json()["refused"] == "from_the_future", future.text
    assert past.status_code == 422 and past.json()["refused"] == "too_old", past.text
    assert case_count(b, "tj_reviewer") == count + 2


def test_same_message_twice_gets_the_same_receipt_and_one_case(pair: Pair, tmp_path: Path) -> None:
    a, b = pair.a, pair.b
    ident = identity_of(a)
    msg = transfer_message(ident, b, "TJ", tmp_path)
    first = post(b, msg)
    assert first.status_code == 200, first.text
    count = case_count(b, "tj_reviewer")
    again = post(b, resign(ident, msg, datetime.now(UTC)))  # a retry: same id, signed again
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert again.json()["receipt"] == first.json()["receipt"]
    assert case_count(b, "tj_reviewer") == count
    receipt = first.json()["receipt"]["signed"]
    assert receipt["status"] == "applied" and receipt["case_no"].startswith("TJTEDA-")
    assert {v["sha256"] for v in receipt["verified"]} == {x["sha256"] for x in msg.body["blobs"]}


def test_replayed_old_message_is_refused(pair: Pair, tmp_path: Path) -> None:
    a, b = pair.a, pair.b
    ident = identity_of(a)
    msg = transfer_message(ident, b, "TJ", tmp_path)
    assert post(b, msg).status_code == 200
    count = case_count(b, "tj_reviewer")
    # The captured copy, replayed hours later: outside the replay window.
    old = resign(ident, msg, datetime.now(UTC) - timedelta(hours=2))
    r = post(b, old)
    assert r.status_code == 422 and r.json()["refused"] == "too_old", r.text
    # The same body under a fresh id: its sequence number was used.
    again = transfer_message(ident, b, "TJ", tmp_path, case_ref=msg.envelope["case_ref"])
    r = post(b, again)
    assert r.status_code == 422 and r.json()["refused"] == "stale_sequence", r.text
    # A tampered body: its hash is not the signed one.
    tampered = msg.as_json()
    tampered["body"]["case"]["applicant"]["name"] = "别人"
    import httpx

    r = httpx.post(f"{b.base}/federation/v1/messages", json=tampered, timeout=30)
    assert r.status_code == 422 and r.json()["refused"] in ("body_hash_mismatch", "message_id_conflict"), r.text
    assert case_count(b, "tj_reviewer") == count


def test_messages_out_of_order_wait_for_the_gap(pair: Pair, tmp_path: Path) -> None:
    """B's accept and claim reach A in the wrong order: the claim waits, then both apply in order."""
    a, b = pair.a, pair.b
    case = a.receive()
    no = case["case_no"]
    a.event("bj_clerk", no, "precheck_pass")
    a.wait_state(no, "bj_clerk", "forwarded")
    tj = identity_of(b)
    claim = event_message(tj, "BJ", no, 2, "claim", "reviewer")
    accept = event_message(tj, "BJ", no, 1, "accept", "reviewer")
    early = post(a, claim)
    assert early.status_code == 202 and early.json()["receipt"]["signed"]["status"] == "held", early.text
    assert a.case(no, "bj_clerk")["state"] == "forwarded"  # nothing applied yet
    assert post(a, accept).status_code == 200
    assert a.case(no, "bj_clerk")["state"] == "under_review"
    again = post(a, resign(tj, claim, datetime.now(UTC)))
    assert again.status_code == 200 and again.json()["receipt"]["signed"]["status"] == "applied"
