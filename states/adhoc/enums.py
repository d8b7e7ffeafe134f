"""The names of the 协作机制 (一事一议) request: its states and the events of its trail."""

from __future__ import annotations

from enum import StrEnum


class RequestState(StrEnum):
    pending = "pending"
    accepted = "accepted"
    declined = "declined"


class RequestEvent(StrEnum):
    request = "request"
    accept = "accept"
    decline = "decline"
    #: the one case was received on the accepted request (through the normal intake)
    receive = "receive"
    #: an admin made the request's item a catalog entry (转入目录)
    promote = "promote"


STATE_LABELS: dict[str, str] = {"pending": "待答复", "accepted": "已同意", "declined": "已拒绝"}
EVENT_LABELS: dict[str, str] = {"request": "发起一事一议", "accept": "同意受理", "decline": "拒绝",
                                "receive": "据此收件", "promote": "转入事项目录"}
#: Who may answer a request (for the zone that would decide the item).
DECIDING_ROLES = frozenset({"supervisor", "admin"})
