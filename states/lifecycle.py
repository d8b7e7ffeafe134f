"""The case lifecycle (办件生命周期): the one table of truth about states and events.

The machine (:class:`CaseLifecycle`, python-statemachine) says which event leads from which state
to which. Next to it, every other fact about a state or an event is declared once:

- :data:`STATES` — labels (zh/en), the step clock that runs in it, whether the overall clock stands
  still, whether the case is decided; terminal = the machine's final states (:data:`TERMINAL`);
- :data:`EVENTS` — labels (zh/en), who may send it (roles, side of the case), how the case page
  offers it (one click, a reason, a panel of its own), the outbox jobs it causes and the event the
  system sends right after it;
- :data:`JOBS` — for each outbox job kind, the Prefect deployment that does it (prefect.yaml) and
  the states in which a case waits for it (derived: the states the job's events lead to);
- the payload model of each event: ``states/transition/payloads.py``.

Everything else is derived from these (``rules.EVENT_RULES``, the SLA clock's ``STEP_OF_STATE``,
the page's ``ONE_CLICK``, the reconciler's ``STEP_JOBS``, the labels of ``web/ui/i18n.py``); what
cannot be (an effect is code, a panel is HTML, a flow is a function) is checked by :func:`gaps`,
and ``tests/states/test_lifecycle.py`` fails while any table misses a state or an event.

The service drives the machine through :data:`TRANSITIONS`, a lookup table derived from the
machine once (binding the machine per call costs more than the rest of the rule checks); the test
proves both agree for every state and event.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from statemachine import Event, State, StateMachine

from states.enums import CaseEvent, CaseState, Form, JobKind, Side, Step

S, E = CaseState, CaseEvent


class CaseLifecycle(StateMachine):
    """The lifecycle of the product design. ``return`` is a Python keyword, hence the explicit ids."""

    received = State("已收件", value=S.received, initial=True)
    awaiting_supplement = State("待补正", value=S.awaiting_supplement)
    rejected = State("不予收件", value=S.rejected, final=True)
    prechecked = State("预审通过", value=S.prechecked)
    forwarded = State("已转递", value=S.forwarded)
    returned = State("已退回", value=S.returned)
    accepted = State("已受理", value=S.accepted)
    under_review = State("审核中", value=S.under_review)
    approved = State("准予许可", value=S.approved)
    denied = State("不予许可", value=S.denied)
    mailed = State("已寄出", value=S.mailed)
    awaiting_pickup = State("待领取", value=S.awaiting_pickup)
    closed = State("办结", value=S.closed, final=True)
    withdrawn = State("已撤回", value=S.withdrawn, final=True)

    request_supplement = Event(received.to(awaiting_supplement), id=E.request_supplement)
    supplement = Event(awaiting_supplement.to(received), id=E.supplement)
    reject = Event(received.to(rejected), id=E.reject)
    precheck_pass = Event(received.to(prechecked), id=E.precheck_pass)
    forward = Event(prechecked.to(forwarded), id=E.forward)
    return_ = Event(forwarded.to(returned), id=E.return_)
    #: Sent by the system in the same transaction as ``return``: a returned case awaits a supplement.
    reopen_for_supplement = Event(returned.to(awaiting_supplement), id=E.reopen_for_supplement)
    accept = Event(forwarded.to(accepted), id=E.accept)
    claim = Event(accepted.to(under_review), id=E.claim)
    approve = Event(under_review.to(approved), id=E.approve)
    deny = Event(under_review.to(denied), id=E.deny)
    mail_result = Event(approved.to(mailed) | denied.to(mailed), id=E.mail_result)
    ready_for_pickup = Event(approved.to(awaiting_pickup) | denied.to(awaiting_pickup), id=E.ready_for_pickup)
    deliver = Event(mailed.to(closed) | awaiting_pickup.to(closed), id=E.deliver)
    withdraw = Event(
        received.to(withdrawn)
        | awaiting_supplement.to(withdrawn)
        | prechecked.to(withdrawn)
        | forwarded.to(withdrawn)
        | returned.to(withdrawn)
        | accepted.to(withdrawn)
        | under_review.to(withdrawn),
        id=E.withdraw,
    )


# --- per-state facts ------------------------------------------------------------------------------

@dataclass(frozen=True)
class StateFacts:
    zh: str
    en: str
    #: The step clock running while a case is in this state (None: none runs).
    step: Step | None
    #: The overall clock stands still (waiting for the applicant).
    paused: bool = False
    #: The decision is made: the overall clock stops here.
    decided: bool = False
    #: The handling zone has the paper originals (or the case ended): their parcel pause ends.
    originals_arrived: bool = False


STATES: dict[CaseState, StateFacts] = {
    S.received: StateFacts("已收件", "received", Step.precheck),
    S.awaiting_supplement: StateFacts("待补正", "awaiting supplement", None, paused=True),
    S.rejected: StateFacts("不予收件", "rejected at intake", None, originals_arrived=True),
    S.prechecked: StateFacts("预审通过", "pre-checked", Step.forward),
    S.forwarded: StateFacts("已转递", "forwarded", Step.accept),
    S.returned: StateFacts("已退回", "returned", None, paused=True, originals_arrived=True),
    S.accepted: StateFacts("已受理", "accepted", Step.decide, originals_arrived=True),
    S.under_review: StateFacts("审核中", "under review", Step.decide),
    S.approved: StateFacts("准予许可", "approved", Step.mailback, decided=True),
    S.denied: StateFacts("不予许可", "denied", Step.mailback, decided=True),
    S.mailed: StateFacts("已寄出", "result mailed", Step.delivery),
    S.awaiting_pickup: StateFacts("待领取", "awaiting pickup", Step.delivery),
    S.closed: StateFacts("办结", "closed", None, originals_arrived=True),
    S.withdrawn: StateFacts("已撤回", "withdrawn", None, originals_arrived=True),
}


# --- per-event facts ------------------------------------------------------------------------------

@dataclass(frozen=True)
class EventFacts:
    zh: str
    en: str
    #: Roles that may send it (``system``: flows and sweeps; ``peer:<ZONE>`` actors act as ``system``).
    roles: frozenset[str]
    side: Side
    form: Form
    #: For ``Form.panel``: the panel of web/ui/templates/_case_actions.html that offers it.
    panel: str | None = None
    #: Outbox jobs it causes (the flows of :data:`JOBS` do them).
    jobs: tuple[JobKind, ...] = ()
    #: The event the system sends right after it, in the same transaction.
    then: CaseEvent | None = None


def _ev(zh: str, en: str, roles: str, side: Side, form: Form, panel: str | None = None,
        jobs: Iterable[JobKind] = (), then: CaseEvent | None = None) -> EventFacts:
    return EventFacts(zh, en, frozenset(roles.split()), side, form, panel, tuple(jobs), then)


R, H, MS, ANY = Side.receiving, Side.handling, Side.mail_side, Side.any
EVENTS: dict[CaseEvent, EventFacts] = {
    E.receive: _ev("收件", "receive", "clerk", R, Form.intake),
    E.request_supplement: _ev("一次性告知补正", "request supplement (one-time notice)", "clerk", R, Form.panel,
                              "precheck"),
    E.supplement: _ev("补正材料", "supplement", "clerk", R, Form.panel, "supplement"),
    E.reject: _ev("不予收件", "reject at intake", "clerk", R, Form.panel, "precheck"),
    E.precheck_pass: _ev("预审通过", "pass pre-check", "clerk", R, Form.panel, "precheck", jobs=[JobKind.forward]),
    E.forward: _ev("转递", "forward", "system", ANY, Form.system),
    E.return_: _ev("退回", "return", "reviewer", H, Form.panel, "accept", then=E.reopen_for_supplement),
    E.reopen_for_supplement: _ev("转待补正", "reopen for supplement", "system", ANY, Form.system),
    E.accept: _ev("受理", "accept", "reviewer", H, Form.panel, "accept"),
    E.claim: _ev("认领审核", "claim for review", "reviewer", H, Form.one_click),
    E.approve: _ev("准予许可", "approve", "reviewer", H, Form.panel, "decide", jobs=[JobKind.mailback]),
    E.deny: _ev("不予许可", "deny", "reviewer", H, Form.panel, "decide", jobs=[JobKind.mailback]),
    E.mail_result: _ev("寄出结果", "mail the result", "clerk reviewer system", MS, Form.panel, "mail",
                       jobs=[JobKind.mailback]),
    E.ready_for_pickup: _ev("通知领取", "ready for pickup", "clerk", R, Form.one_click, jobs=[JobKind.mailback]),
    E.deliver: _ev("送达办结", "delivered (close)", "clerk system", MS, Form.panel, "deliver"),
    E.withdraw: _ev("撤回", "withdraw", "clerk", R, Form.reason),
}


# --- outbox jobs ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class JobFacts:
    #: ``flow-name/deployment-name`` of prefect.yaml that runs it in distributed mode.
    deployment: str
    #: States in which a case waits for this job's work (the reconciler redoes it when stuck there).
    waiting_in: tuple[CaseState, ...] = field(default=())


def _waiting_in(kind: JobKind) -> tuple[CaseState, ...]:
    """The states the events causing ``kind`` lead to, in lifecycle order."""
    targets = {TRANSITIONS[(s, e)] for (s, e) in TRANSITIONS if kind in EVENTS[e].jobs}
    return tuple(s for s in CaseState if s in targets)


# --- the machine as a lookup table -----------------------------------------------------------------

def _transitions(machine: type[StateMachine]) -> dict[tuple[str, str], str]:
    return {(s.value, t.event): t.target.value for s in machine.states for t in s.transitions}


#: (state, event) → next state, derived from the machine once.
TRANSITIONS: dict[tuple[CaseState, CaseEvent], CaseState] = {
    (CaseState(s), CaseEvent(e)): CaseState(t) for (s, e), t in _transitions(CaseLifecycle).items()
}
_ALLOWED: dict[str, list[str]] = {s: sorted(e for (st, e) in TRANSITIONS if st == s) for s in CaseState}

#: States a case never leaves: the machine's final states.
TERMINAL: frozenset[CaseState] = frozenset(CaseState(s.value) for s in CaseLifecycle.final_states)
TERMINAL_STATES = TERMINAL  # the older name

JOBS: dict[JobKind, JobFacts] = {
    JobKind.forward: JobFacts("forward-case/forward-case", _waiting_in(JobKind.forward)),
    JobKind.mailback: JobFacts("mailback/mailback", _waiting_in(JobKind.mailback)),
}

#: Events a case can receive after it exists (``receive`` creates it: see states/intake).
LIFECYCLE_EVENTS: frozenset[CaseEvent] = frozenset(e for e in CaseEvent if EVENTS[e].form is not Form.intake)

#: Stored value → Chinese label, in lifecycle order (kept for the many readers of the old name).
STATE_LABELS: dict[str, str] = {s.value: f.zh for s, f in STATES.items()}
EVENT_LABELS: dict[str, str] = {e.value: f.zh for e, f in EVENTS.items()}


def next_state(state: str, event: str) -> CaseState | None:
    """Where ``event`` leads from ``state``, or None when the lifecycle does not allow it."""
    try:
        return TRANSITIONS.get((CaseState(state), CaseEvent(event)))
    except ValueError:
        return None


def allowed_events(state: str) -> list[str]:
    """Events the lifecycle allows from ``state`` (before role and zone are considered)."""
    return list(_ALLOWED.get(state, ()))


def bind(case: Any) -> CaseLifecycle:
    """A machine over ``case.state``; sending an event writes the new value back to the row."""
    return CaseLifecycle(model=case, state_field="state")


# --- completeness -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Table:
    """A table elsewhere keyed by states, events or job kinds, which must cover every one of them."""

    #: Where it lives, as a newcomer would look for it (``flows/dispatch.py HANDLERS``).
    name: str
    #: ``states``, ``events`` (of an existing case: ``receive`` excluded), ``all_events`` or ``jobs``.
    covers: str
    keys: Collection[str]


def own_tables() -> list[Table]:
    from states.transition.payloads import MODELS

    return [
        Table("states/lifecycle.py STATES", "states", [s.value for s in STATES]),
        Table("states/lifecycle.py EVENTS", "all_events", [e.value for e in EVENTS]),
        Table("states/lifecycle.py JOBS", "jobs", [k.value for k in JOBS]),
        Table("states/transition/payloads.py MODELS", "events", [e.value for e in MODELS]),
    ]


def gaps(tables: Iterable[Table], *, machine: type[StateMachine] = CaseLifecycle,
         jobs: Iterable[str] | None = None) -> list[str]:
    """``"<table>: missing <kind> '<name>'"`` for every state, event or job kind a table lacks.

    The states and events are the machine's (pass a subclass with one more event to see where it
    must be added); job kinds are those :data:`EVENTS` names, plus ``jobs``.
    """
    states = {s.value for s in machine.states}
    events = {e.id for e in machine.events}  # type: ignore[attr-defined]
    kinds = {k.value for f in EVENTS.values() for k in f.jobs} | set(jobs or ())
    wanted = {"states": states, "events": events, "all_events": events | {E.receive.value}, "jobs": kinds}
    out = []
    for table in tables:
        have = {str(k) for k in table.keys}
        kind = "event" if "events" in table.covers else table.covers.rstrip("s")
        out += [f"{table.name}: missing {kind} '{name}'" for name in sorted(wanted[table.covers] - have)]
    return out
