"""Every event from every state, sent by every role of every zone, through the HTTP API.

The expectations are docs/architecture.md#lifecycle written down again here (not imported from the code under test):
which events each state allows, where each leads, and who may send it. For each resting state and
each user of both zones (clerk, reviewer, supervisor, admin of BJ-ETOWN, the receiving side, and of
TJ-TEDA, the handling side), every event is sent:

- the user may not send it (role or zone) → 403;
- the user may, but the state does not allow it → 409 naming the state and the events this user
  may send now;
- a user of the handling zone (TJ-TEDA) on a case not yet forwarded to it → 404 for the case and
  every event, as for a case that does not exist (docs/architecture.md#party: it is not party yet);
- both → it succeeds and the case is in the next state (each allowed event once per state, by one
  of the users allowed to send it; the case it leaves behind is reused for the next state's probes).

The exhaustive matrix (13 states × 8 users × 16 events, ≈1,800 requests and 8 real forward flow
runs) runs on SQLite + filesystem only, to keep the suite quick. On PostgreSQL + S3 a
representative subset probes every refusal in three states (before the forward step, at the
handling zone, after the decision): the rules are evaluated in Python, and the backends differ
only in how the row is locked, which tests/web/test_api_concurrency.py covers on both. Each
allowed event succeeding on PostgreSQL + S3 is shown by the branch stories
(tests/web/test_api_branches.py, test_api_lifecycle.py), which run on both pairs.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from tests.app_harness import Tongban
from tests.states.test_lifecycle import EXPECTED_MACHINE
from tests.web.drive import USERS, case, cases_in, payload_for

#: docs/architecture.md#lifecycle: state → event → next state as the product design has it (the table of
#: tests/states/test_lifecycle.py, not the code under test); over the API ``return`` passes through
#: ``returned`` automatically, so it lands in ``awaiting_supplement``.
NEXT: dict[str, dict[str, str]] = {
    state: {event: ("awaiting_supplement" if to == "returned" else to) for event, to in events.items()}
    for state, events in EXPECTED_MACHINE.items() if state != "returned"}
#: In the order the matrix walks them: a case an event leaves behind is probed again in its new state.
ORDER = tuple(NEXT)

#: Every event name a client could send, including the system's and ``receive`` (only for new cases).
EVENTS = ("receive", "request_supplement", "supplement", "reject", "precheck_pass", "forward", "return",
          "reopen_for_supplement", "accept", "claim", "approve", "deny", "mail_result", "ready_for_pickup",
          "deliver", "withdraw")


def senders(event: str, state: str) -> frozenset[str]:
    """Who may send ``event`` on a case received by BJ-ETOWN for TJ-TEDA (QY-001: TJ mails the result)."""
    if event in ("request_supplement", "supplement", "reject", "precheck_pass", "withdraw", "ready_for_pickup"):
        return frozenset({"bj_clerk"})
    if event in ("return", "accept", "claim", "approve", "deny"):
        return frozenset({"tj_reviewer"})
    if event == "mail_result":
        return frozenset({"tj_clerk", "tj_reviewer"})
    # docs/architecture.md#lifecycle: a clerk (or the courier's confirmation, i.e. the system) confirms it
    if event == "deliver":
        return frozenset({"bj_clerk"}) if state == "awaiting_pickup" else frozenset({"tj_clerk"})
    return frozenset()  # receive (new cases only), forward and reopen_for_supplement (the system's)


def may_now(user: str, state: str) -> list[str]:
    return sorted(e for e in NEXT[state] if user in senders(e, state))


def expected(user: str, state: str, event: str) -> int:
    if event == "receive":
        return 409  # not an event of an existing case, whoever asks
    if user not in senders(event, state):
        return 403
    return 200 if event in NEXT[state] else 409


def successes(state: str) -> list[tuple[str, str]]:
    """(event, user) for each event the state allows that a person can send; senders take turns."""
    out = []
    for n, event in enumerate(sorted(NEXT[state])):
        who = sorted(senders(event, state))
        if who:
            out.append((event, who[(ORDER.index(state) + n) % len(who)]))
    return out


def plan(states: tuple[str, ...], succeed: bool) -> dict[str, int]:
    """How many cases to build in each state, counting those that earlier states' events leave behind."""
    if not succeed:
        return {state: 1 for state in states}
    produced: Counter[str] = Counter()
    build: dict[str, int] = {}
    for state in states:
        need = max(1, len(successes(state)))
        build[state] = max(0, need - produced[state])
        for event, _ in successes(state):
            produced[NEXT[state][event]] += 1
    return {s: n for s, n in build.items() if n}


def forwarded(tb: Tongban, case_no: str) -> bool:
    """Has the case been forwarded to the handling zone (ever, also if it came back since)?"""
    return any(e["event"] == "forward" for e in tb.client.get(f"/api/v1/cases/{case_no}/audit",
                                                              headers=tb.h("bj_clerk")).json())


def probe(tb: Tongban, case_no: str, state: str, user: str, events: tuple[str, ...]) -> list[str]:
    """Every refusal this user should get on this case; returns the mismatches (empty = all as expected)."""
    wrong = []
    if user.startswith("tj_") and not forwarded(tb, case_no):  # not party yet: the case does not exist
        version = case(tb, case_no)["version"]
        got = tb.client.get(f"/api/v1/cases/{case_no}", headers=tb.h(user))
        if got.status_code != 404:
            wrong.append(f"{state} GET as {user} before forward: {got.status_code}, expected 404")
        for event in events:
            r = tb.client.post(f"/api/v1/cases/{case_no}/events", headers=tb.h(user),
                               json={"event": event, "version": version, **payload_for_refusal(event)})
            if r.status_code != 404 or r.json().get("error") != "not_found":
                wrong.append(f"{state} {event} as {user} before forward: {r.status_code} {r.text}, expected 404")
        return wrong
    c = tb.client.get(f"/api/v1/cases/{case_no}", headers=tb.h(user)).json()
    if sorted(c["allowed_events"]) != may_now(user, state):
        wrong.append(f"{state} GET as {user}: allowed_events {c['allowed_events']}, expected {may_now(user, state)}")
    for event in events:
        want = expected(user, state, event)
        if want == 200:
            continue
        r = tb.client.post(f"/api/v1/cases/{case_no}/events", headers=tb.h(user),
                           json={"event": event, "version": c["version"], **payload_for_refusal(event)})
        body = r.json()
        if r.status_code != want:
            wrong.append(f"{state} {event} as {user}: {r.status_code} {body}, expected {want}")
        elif want == 409 and (body.get("state") != state or sorted(body.get("allowed", [])) != may_now(user, state)
                              or state not in body.get("message", "")):
            wrong.append(f"{state} {event} as {user}: 409 body {body} should name {state} and {may_now(user, state)}")
        elif want == 403 and body.get("error") != "forbidden":
            wrong.append(f"{state} {event} as {user}: 403 body {body}")
    return wrong


def payload_for_refusal(event: str) -> dict[str, Any]:
    """A plausible payload, so a refusal is about the state or the sender, never about a missing field."""
    return {"reason": "测试", "carrier": "EMS", "tracking_no": "RR473124829GB", "result_file_id": 1,
            "materials": [{"material_id": 1, "problem": "missing"}]}


def run_matrix(tb: Tongban, states: tuple[str, ...], users: tuple[str, ...], *, succeed: bool = True) -> None:
    """Probe every refusal in each state; with ``succeed`` also send each allowed event once."""
    pool: dict[str, list[str]] = {s: list(v) for s, v in cases_in(tb, plan(states, succeed)).items()}
    wrong: list[str] = []
    for state in states:
        cases = pool.get(state, [])
        assert cases, f"no case was built or left behind in state {state}"
        for user in users:
            wrong += probe(tb, cases[0], state, user, EVENTS)
        if not succeed:
            continue
        for (event, user), case_no in zip(successes(state), cases, strict=False):
            version = case(tb, case_no, user)["version"]
            r = tb.event(user, case_no, event, version, **payload_for(tb, user, case_no, event))
            if r.status_code != 200 or r.json()["state"] != NEXT[state][event]:
                wrong.append(f"{state} {event} as {user}: {r.status_code} {r.text}, expected → {NEXT[state][event]}")
                continue
            assert r.json()["version"] > version
            pool.setdefault(NEXT[state][event], []).append(case_no)
        assert len(cases) >= len(successes(state)), f"not enough cases in {state}"
    assert not wrong, "\n".join(wrong)


def test_every_event_from_every_state_by_every_role_of_both_zones(tb_sqlite_fs: Tongban) -> None:
    run_matrix(tb_sqlite_fs, ORDER, USERS)


def test_representative_refusals_on_postgres_and_s3(tb_pg_s3: Tongban) -> None:
    """Before the forward step, at the handling zone, and after the decision; successes: see test_api_branches."""
    run_matrix(tb_pg_s3, ("received", "forwarded", "approved"), USERS, succeed=False)


def test_unknown_event_names_the_state_and_what_may_be_sent(tb: Tongban) -> None:
    case_no = cases_in(tb, {"received": 1})["received"][0]
    r = tb.event("bj_clerk", case_no, "teleport")
    assert r.status_code == 409
    body = r.json()
    assert body["error"] == "event_not_allowed" and body["state"] == "received"
    assert sorted(body["allowed"]) == may_now("bj_clerk", "received")
    assert "received" in body["message"] and "precheck_pass" in body["message"]


def test_the_forward_step_is_the_systems_not_a_users(tb: Tongban) -> None:
    """Nobody may forward by hand: the packet must be built and verified first (403 for every user of
    the receiving zone; the handling zone is not party before the forward, so 404 for its users)."""
    case_no = cases_in(tb, {"prechecked": 1})["prechecked"][0]
    version = case(tb, case_no)["version"]
    for user in USERS:
        r = tb.event(user, case_no, "forward", version)
        want = (403, "forbidden") if user.startswith("bj_") else (404, "not_found")
        assert (r.status_code, r.json()["error"]) == want, (user, r.text)
    c = case(tb, case_no)
    assert c["state"] == "prechecked" and not any(f["purpose"] == "packet" for f in c["files"])
    # (the flow doing it: test_api_lifecycle's happy path, and every forwarded case built in drive.cases_in)
