"""The names of the lifecycle (as Netflix Dispatch's ``case/enums.py``): states, events, steps, jobs.

``StrEnum`` members are ``str``: they compare equal to the stored values (``CaseState.prechecked ==
"prechecked"``), so the database, the JSON and the templates keep plain strings. Every fact about
a state or an event is in ``states/lifecycle.py``, next to the machine.
"""

from __future__ import annotations

from enum import StrEnum


class CaseState(StrEnum):
    received = "received"
    awaiting_supplement = "awaiting_supplement"
    rejected = "rejected"
    prechecked = "prechecked"
    forwarded = "forwarded"
    returned = "returned"
    accepted = "accepted"
    under_review = "under_review"
    approved = "approved"
    denied = "denied"
    mailed = "mailed"
    awaiting_pickup = "awaiting_pickup"
    closed = "closed"
    withdrawn = "withdrawn"


class CaseEvent(StrEnum):
    receive = "receive"
    request_supplement = "request_supplement"
    supplement = "supplement"
    reject = "reject"
    precheck_pass = "precheck_pass"
    forward = "forward"
    return_ = "return"
    reopen_for_supplement = "reopen_for_supplement"
    accept = "accept"
    claim = "claim"
    approve = "approve"
    deny = "deny"
    mail_result = "mail_result"
    ready_for_pickup = "ready_for_pickup"
    deliver = "deliver"
    withdraw = "withdraw"


class Step(StrEnum):
    """The step clock that runs while a case is in a state (each step has its own target)."""

    precheck = "precheck"
    forward = "forward"
    accept = "accept"
    decide = "decide"
    mailback = "mailback"
    delivery = "delivery"


class JobKind(StrEnum):
    """Outbox job kinds: the slow work an event causes, done by a Prefect flow."""

    forward = "forward"
    mailback = "mailback"


class Side(StrEnum):
    """Which zone of a case may send an event."""

    receiving = "receiving"
    handling = "handling"
    #: the item names which side mails the result and confirms its delivery
    mail_side = "mail_side"
    any = "any"


class Form(StrEnum):
    """How the case page offers an event."""

    #: one button, nothing to fill in
    one_click = "one_click"
    #: a button with a required reason
    reason = "reason"
    #: a panel of its own in web/ui/templates/_case_actions.html (``EventFacts.panel`` names it)
    panel = "panel"
    #: never offered to a person (the system sends it)
    system = "system"
    #: not an event of an existing case (收件 has its own page)
    intake = "intake"
