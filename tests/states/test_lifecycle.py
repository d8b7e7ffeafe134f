"""The lifecycle is the one table of truth: every fact about a state or an event is declared next to
the machine or derived from it, and adding an event fails here until every table has it.

The expectations about the lifecycle itself (which event leads where) are the product design's,
written down again here rather than imported from the code under test.
"""

from __future__ import annotations

import pytest
from statemachine import Event, State
from statemachine.exceptions import TransitionNotAllowed

from flows import dispatch, reconcile
from states import lifecycle
from states.enums import CaseEvent, CaseState, Form, JobKind, Step
from states.lifecycle import EVENTS, STATES, TERMINAL, TRANSITIONS, CaseLifecycle, bind, gaps
from states.sla import clock
from states.transition import payloads, rules
from web.completeness import lifecycle_tables
from web.ui import i18n
from web.ui.routes import cases as case_page

#: The product design's lifecycle: state → event → next state (``return`` passes through ``returned``).
EXPECTED_MACHINE: dict[str, dict[str, str]] = {
    "received": {"request_supplement": "awaiting_supplement", "reject": "rejected", "precheck_pass": "prechecked",
                 "withdraw": "withdrawn"},
    "awaiting_supplement": {"supplement": "received", "withdraw": "withdrawn"},
    "prechecked": {"forward": "forwarded", "withdraw": "withdrawn"},
    "forwarded": {"return": "returned", "accept": "accepted", "withdraw": "withdrawn"},
    "returned": {"reopen_for_supplement": "awaiting_supplement", "withdraw": "withdrawn"},
    "accepted": {"claim": "under_review", "withdraw": "withdrawn"},
    "under_review": {"approve": "approved", "deny": "denied", "withdraw": "withdrawn"},
    "approved": {"mail_result": "mailed", "ready_for_pickup": "awaiting_pickup"},
    "denied": {"mail_result": "mailed", "ready_for_pickup": "awaiting_pickup"},
    "mailed": {"deliver": "closed"},
    "awaiting_pickup": {"deliver": "closed"},
    "rejected": {}, "closed": {}, "withdrawn": {},
}


class _Row:
    def __init__(self, state: str) -> None:
        self.state = state


def test_every_table_covers_every_state_event_and_job_kind() -> None:
    assert gaps(lifecycle_tables()) == []


def test_a_new_event_fails_until_every_table_has_it() -> None:
    class WithStamp(CaseLifecycle):
        stamp = Event(CaseLifecycle.received.to(CaseLifecycle.received), id="stamp")

    missing = gaps(lifecycle_tables(), machine=WithStamp)
    assert missing == [
        "states/lifecycle.py EVENTS: missing event 'stamp'",
        "states/transition/payloads.py MODELS: missing event 'stamp'",
        "states/transition/service.py _EFFECTS: missing event 'stamp'",
        "web/ui/templates/_case_actions.html (a panel per event, states/lifecycle.py EVENTS.panel): "
        "missing event 'stamp'",
    ]


def test_a_new_state_and_a_new_job_kind_are_named_where_they_are_missing() -> None:
    class WithArchive(CaseLifecycle):
        archived = State("已归档", value="archived", final=True)
        archive = Event(CaseLifecycle.mailed.to(archived), id="archive")

    missing = gaps(lifecycle_tables(), machine=WithArchive, jobs=["archive_copy"])
    assert "states/lifecycle.py STATES: missing state 'archived'" in missing
    assert "states/lifecycle.py EVENTS: missing event 'archive'" in missing
    assert [m for m in missing if "archive_copy" in m] == [
        "states/lifecycle.py JOBS: missing job 'archive_copy'",
        "flows/dispatch.py HANDLERS: missing job 'archive_copy'",
        "prefect.yaml deployments: missing job 'archive_copy'",
    ]


def test_the_machine_is_the_design() -> None:
    assert {s.value for s in CaseLifecycle.states} == set(EXPECTED_MACHINE) == {s.value for s in CaseState}
    got: dict[str, dict[str, str]] = {s: {} for s in EXPECTED_MACHINE}
    for (state, event), target in TRANSITIONS.items():
        got[state][event] = target
    assert got == EXPECTED_MACHINE


@pytest.mark.parametrize("state", list(CaseState))
def test_the_lookup_table_agrees_with_the_bound_machine_for_every_state_and_event(state: CaseState) -> None:
    """The service looks transitions up in TRANSITIONS; python-statemachine stays the definition."""
    for event in CaseEvent:
        if event is CaseEvent.receive:
            continue
        row = _Row(state.value)
        try:
            bind(row).send(event.value)
        except TransitionNotAllowed:
            assert (state, event) not in TRANSITIONS
            assert lifecycle.next_state(state, event) is None
            assert event.value not in lifecycle.allowed_events(state)
        else:
            assert TRANSITIONS[(state, event)] == row.state
            assert lifecycle.next_state(state, event) == row.state
            assert event.value in lifecycle.allowed_events(state)


def test_terminal_is_the_machines_final_states_defined_once() -> None:
    assert {CaseState.rejected, CaseState.closed, CaseState.withdrawn} == TERMINAL
    assert clock.TERMINAL is TERMINAL
    assert lifecycle.TERMINAL_STATES is TERMINAL
    assert all(not lifecycle.allowed_events(s) for s in TERMINAL)


def test_the_sla_clock_knows_a_step_for_every_state_that_is_not_terminal() -> None:
    assert set(clock.STEP_OF_STATE) == set(CaseState) - TERMINAL
    assert clock.STEP_OF_STATE["received"] == Step.precheck
    assert clock.STEP_OF_STATE["under_review"] == Step.decide
    assert clock.STEP_OF_STATE["awaiting_supplement"] is None
    assert {"awaiting_supplement", "returned"} == clock.PAUSED_STATES
    assert {"approved", "denied"} == clock.DECIDED
    assert {"accepted", "returned"} | TERMINAL == clock.ORIGINALS_ARRIVED


def test_who_may_send_what_is_derived_from_the_table() -> None:
    assert set(rules.EVENT_RULES) == {e.value for e in lifecycle.LIFECYCLE_EVENTS}
    assert rules.EVENT_RULES["precheck_pass"] == rules.Rule(frozenset({"clerk"}), "receiving")
    assert rules.EVENT_RULES["mail_result"].roles == {"clerk", "reviewer", "system"}
    assert rules.EVENT_RULES["forward"].roles == {"system"}


def test_jobs_their_deployments_and_the_states_that_wait_for_them() -> None:
    assert {e.value: [k.value for k in f.jobs] for e, f in EVENTS.items() if f.jobs} == {
        "precheck_pass": ["forward"], "approve": ["mailback"], "deny": ["mailback"], "mail_result": ["mailback"],
        "ready_for_pickup": ["mailback"]}
    assert reconcile.STEP_JOBS == {"forward": ("prechecked",),
                                   "mailback": ("approved", "denied", "mailed", "awaiting_pickup")}
    # ``federation``: a message to a peer deployment (federation/), not a lifecycle job: no state waits for it.
    assert dispatch.DEPLOYMENTS == {"forward": "forward-case/forward-case", "mailback": "mailback/mailback",
                                    "federation": "federation-send/federation-send"}
    assert set(dispatch.HANDLERS) == set(JobKind) | {"federation"}


def test_labels_in_both_languages_come_from_the_table() -> None:
    for state, facts in STATES.items():
        assert i18n.state_label("zh", state) == facts.zh
        assert i18n.state_label("en", state) == facts.en
    for event, efacts in EVENTS.items():
        assert i18n.event_label("zh", event) == efacts.zh
        assert i18n.event_label("en", event) == efacts.en
    assert lifecycle.STATE_LABELS["prechecked"] == "预审通过"


def test_how_the_case_page_offers_each_event() -> None:
    assert case_page.ONE_CLICK == ("claim", "ready_for_pickup")  # 送达办结 is a panel: 签收日期 and 签收人
    assert case_page.panels(["deliver"]) == {"deliver"}
    assert case_page.REASON_NEEDED == ("reject", "return", "deny", "withdraw")
    assert case_page.REASON_ONLY == ("withdraw",)
    assert set(case_page.WITH_REASON) >= {"reject", "return", "withdraw", "deny", "request_supplement"}
    assert case_page.panels(["precheck_pass", "withdraw"]) == {"precheck"}
    assert all(EVENTS[e].form is Form.system for e in (CaseEvent.forward, CaseEvent.reopen_for_supplement))


def test_every_event_of_a_case_has_a_payload_model_discriminated_by_its_name() -> None:
    assert set(payloads.MODELS) == set(lifecycle.LIFECYCLE_EVENTS)
    for event, model in payloads.MODELS.items():
        assert model.model_fields["event"].default == event
    doc = payloads.openapi_schema()
    assert doc["discriminator"] == {"propertyName": "event"}
    assert "$ref" not in str(doc)  # stands alone inside the OpenAPI document
    assert len(doc["oneOf"]) == len(payloads.MODELS)


def test_states_and_events_are_plain_strings_where_they_are_stored() -> None:
    assert CaseState.prechecked == "prechecked" and f"{CaseEvent.return_}" == "return"
    assert {s.value for s in CaseState} == set(lifecycle.STATE_LABELS)
