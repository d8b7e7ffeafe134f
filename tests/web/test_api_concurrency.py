"""Two people acting on one case at once: exactly one wins, the other gets a clear 409 (docs/architecture.md#lifecycle).

Real threads send real HTTP requests to the app at the same moment (a barrier releases them
together); the app runs each in its own worker thread with its own database transaction, so the
race is decided by the database: SQLite's write lock (BEGIN IMMEDIATE) or PostgreSQL's row lock
(SELECT … FOR UPDATE). The loser sees the case already changed: 409 ``event_not_allowed`` when
the new state no longer allows its event, ``version_conflict`` when it still would.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest

from storage.db import transaction
from storage.user import service as users
from tests.app_harness import Tongban
from tests.web.drive import case, cases_in, ok, payload_for, receive


def add_user(tb: Tongban, role: str, zone: str) -> str:
    """A second colleague at the same window (the demo has one user per role and zone)."""
    username = f"{zone[:2].lower()}_{role}_{uuid.uuid4().hex[:6]}"
    with transaction(tb.runtime.session_factory) as s:
        _, token = users.add(db_session=s, username=username, display_name=username, role=role, zone_code=zone)
    tb.tokens[username] = token
    return username


def at_once(tb: Tongban, case_no: str, sends: list[tuple[str, str, dict[str, Any]]], version: int) -> list[Any]:
    """Each (user, event, payload) from its own thread, released together; the responses in order."""
    barrier = threading.Barrier(len(sends))
    out: list[Any] = [None] * len(sends)

    def go(i: int, user: str, event: str, payload: dict[str, Any]) -> None:
        barrier.wait()
        try:
            out[i] = tb.client.post(f"/api/v1/cases/{case_no}/events", headers=tb.h(user),
                                    json={"event": event, "version": version, **payload})
        except Exception as exc:  # noqa: BLE001 - a crash is an answer too, reported below
            out[i] = exc

    threads = [threading.Thread(target=go, args=(i, *s)) for i, s in enumerate(sends)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return out


def one_winner(tb: Tongban, case_no: str, results: list[Any], user: str) -> str:
    """Exactly one 200, every other answer a 409; the audit chain intact with one new event. → the winner's event."""
    assert not [r for r in results if isinstance(r, Exception)], results
    codes = [r.status_code for r in results]
    assert codes.count(200) == 1 and codes.count(409) == len(codes) - 1, [(r.status_code, r.text) for r in results]
    for r in results:
        if r.status_code == 409:
            assert r.json()["error"] in ("event_not_allowed", "version_conflict"), r.text
    winner = next(r.json() for r in results if r.status_code == 200)
    trail = ok(tb.client.get(f"/api/v1/cases/{case_no}/audit", headers=tb.h(user)))
    verify = ok(tb.client.get(f"/api/v1/cases/{case_no}/verify", headers=tb.h(user)))
    assert verify["ok"] is True, verify["problems"]
    assert case(tb, case_no, user)["state"] == winner["state"]
    return str(trail[-1]["event"])


@pytest.mark.parametrize("round_", range(3))
def test_two_clerks_decide_the_same_receipt_at_once(tb: Tongban, round_: int) -> None:
    other = add_user(tb, "clerk", "BJ-ETOWN")
    case_no = receive(tb)
    v = case(tb, case_no)["version"]
    results = at_once(tb, case_no, [("bj_clerk", "reject", {"reason": "材料不属于本事项"}),
                                     (other, "precheck_pass", {})], v)
    won = one_winner(tb, case_no, results, "bj_clerk")
    trail = ok(tb.client.get(f"/api/v1/cases/{case_no}/audit", headers=tb.h("bj_clerk")))
    assert [e["event"] for e in trail] == ["receive", won]
    assert case(tb, case_no)["version"] == v + 1


def test_four_clients_race_every_event_a_receipt_allows(tb: Tongban) -> None:
    clerks = ["bj_clerk", *(add_user(tb, "clerk", "BJ-ETOWN") for _ in range(3))]
    case_no = receive(tb)
    v = case(tb, case_no)["version"]
    sends = [(user, event, payload_for(tb, user, case_no, event))
             for user, event in zip(clerks, ("reject", "precheck_pass", "withdraw", "request_supplement"), strict=True)]
    won = one_winner(tb, case_no, at_once(tb, case_no, sends, v), "bj_clerk")
    trail = ok(tb.client.get(f"/api/v1/cases/{case_no}/audit", headers=tb.h("bj_clerk")))
    assert [e["event"] for e in trail] == ["receive", won]


def test_two_reviewers_claim_the_same_case_one_gets_it(tb: Tongban) -> None:
    other = add_user(tb, "reviewer", "TJ-TEDA")
    case_no = cases_in(tb, {"accepted": 1})["accepted"][0]
    v = case(tb, case_no, "tj_reviewer")["version"]
    results = at_once(tb, case_no, [("tj_reviewer", "claim", {}), (other, "claim", {})], v)
    assert one_winner(tb, case_no, results, "tj_reviewer") == "claim"
    loser = next(r for r in results if r.status_code == 409).json()
    assert loser["state"] == "under_review" or loser["error"] == "version_conflict"
    winner = next(r.json() for r in results if r.status_code == 200)
    trail = ok(tb.client.get(f"/api/v1/cases/{case_no}/audit", headers=tb.h("tj_reviewer")))
    assert [e["event"] for e in trail].count("claim") == 1
    assert case(tb, case_no, "tj_reviewer")["assignee_id"] == winner["assignee_id"] is not None


def test_a_stale_version_is_a_conflict_even_when_the_event_is_allowed(tb: Tongban) -> None:
    """Someone sent request_supplement and the applicant supplemented meanwhile: the case is
    'received' again, so precheck_pass is allowed — but it was decided on an old page."""
    case_no = receive(tb)
    old = case(tb, case_no)["version"]
    ok(tb.event("bj_clerk", case_no, "request_supplement", **payload_for(tb, "bj_clerk", case_no,
                                                                           "request_supplement")))
    ok(tb.event("bj_clerk", case_no, "supplement"))
    r = tb.event("bj_clerk", case_no, "precheck_pass", old)
    assert r.status_code == 409 and r.json()["error"] == "version_conflict", r.text
    assert str(old) in r.json()["message"] and r.json()["actual"] == old + 2
    assert case(tb, case_no)["state"] == "received"
