"""The case lifecycle (办件生命周期) as one python-statemachine class bound to the case row.

Only the transition service drives it; the machine itself knows states and events, nothing of
roles, zones or the database.
"""

from __future__ import annotations

from typing import Any

from statemachine import Event, State, StateMachine

#: Stored value → Chinese label, in lifecycle order.
STATE_LABELS: dict[str, str] = {
    "received": "已收件",
    "awaiting_supplement": "待补正",
    "rejected": "不予收件",
    "prechecked": "预审通过",
    "forwarded": "已转递",
    "returned": "已退回",
    "accepted": "已受理",
    "under_review": "审核中",
    "approved": "准予许可",
    "denied": "不予许可",
    "mailed": "已寄出",
    "awaiting_pickup": "待领取",
    "closed": "办结",
    "withdrawn": "已撤回",
}

EVENT_LABELS: dict[str, str] = {
    "receive": "收件",
    "request_supplement": "一次性告知补正",
    "supplement": "补正材料",
    "reject": "不予收件",
    "precheck_pass": "预审通过",
    "forward": "转递",
    "return": "退回",
    "reopen_for_supplement": "转待补正",
    "accept": "受理",
    "claim": "认领审核",
    "approve": "准予许可",
    "deny": "不予许可",
    "mail_result": "寄出结果",
    "ready_for_pickup": "通知领取",
    "deliver": "送达办结",
    "withdraw": "撤回",
}

TERMINAL_STATES = frozenset({"rejected", "closed", "withdrawn"})


class CaseLifecycle(StateMachine):
    """DESIGN §2. ``return`` is a Python keyword, hence the explicit event ids."""

    received = State("已收件", value="received", initial=True)
    awaiting_supplement = State("待补正", value="awaiting_supplement")
    rejected = State("不予收件", value="rejected", final=True)
    prechecked = State("预审通过", value="prechecked")
    forwarded = State("已转递", value="forwarded")
    returned = State("已退回", value="returned")
    accepted = State("已受理", value="accepted")
    under_review = State("审核中", value="under_review")
    approved = State("准予许可", value="approved")
    denied = State("不予许可", value="denied")
    mailed = State("已寄出", value="mailed")
    awaiting_pickup = State("待领取", value="awaiting_pickup")
    closed = State("办结", value="closed", final=True)
    withdrawn = State("已撤回", value="withdrawn", final=True)

    request_supplement = Event(received.to(awaiting_supplement), id="request_supplement")
    supplement = Event(awaiting_supplement.to(received), id="supplement")
    reject = Event(received.to(rejected), id="reject")
    precheck_pass = Event(received.to(prechecked), id="precheck_pass")
    forward = Event(prechecked.to(forwarded), id="forward")
    return_ = Event(forwarded.to(returned), id="return")
    #: Sent by the system in the same transaction as ``return``: a returned case awaits a supplement.
    reopen_for_supplement = Event(returned.to(awaiting_supplement), id="reopen_for_supplement")
    accept = Event(forwarded.to(accepted), id="accept")
    claim = Event(accepted.to(under_review), id="claim")
    approve = Event(under_review.to(approved), id="approve")
    deny = Event(under_review.to(denied), id="deny")
    mail_result = Event(approved.to(mailed) | denied.to(mailed), id="mail_result")
    ready_for_pickup = Event(approved.to(awaiting_pickup) | denied.to(awaiting_pickup), id="ready_for_pickup")
    deliver = Event(mailed.to(closed) | awaiting_pickup.to(closed), id="deliver")
    withdraw = Event(
        received.to(withdrawn)
        | awaiting_supplement.to(withdrawn)
        | prechecked.to(withdrawn)
        | forwarded.to(withdrawn)
        | returned.to(withdrawn)
        | accepted.to(withdrawn)
        | under_review.to(withdrawn),
        id="withdraw",
    )


def bind(case: Any) -> CaseLifecycle:
    """A machine over ``case.state``; sending an event writes the new value back to the row."""
    return CaseLifecycle(model=case, state_field="state")


def allowed_events(state: str) -> list[str]:
    """Events the lifecycle allows from ``state`` (before role and zone are considered)."""
    found = _STATE_BY_VALUE.get(state)
    return sorted({t.event for t in found.transitions}) if found is not None else []


_STATE_BY_VALUE = {s.value: s for s in CaseLifecycle.states}
