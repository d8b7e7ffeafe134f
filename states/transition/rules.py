"""Who may send which event: role and side of the case, as declared in states/lifecycle.py EVENTS."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from states.enums import CaseEvent, CaseState, Side
from states.lifecycle import EVENTS


@dataclass(frozen=True)
class Actor:
    """Whoever sends an event: a user of a zone, or the system (flows, sweeps)."""

    username: str
    role: str
    zone_id: int | None = None
    user_id: int | None = None

    @property
    def is_system(self) -> bool:
        return self.role == "system"


SYSTEM = Actor(username="system", role="system")


@dataclass(frozen=True)
class Rule:
    roles: frozenset[str]
    #: ``receiving``, ``handling``, ``mail_side`` (the item says which side mails) or ``any``.
    side: str


#: event → who may send it, derived from the lifecycle's table (states/lifecycle.py EVENTS).
EVENT_RULES: dict[str, Rule] = {e.value: Rule(f.roles, f.side.value) for e, f in EVENTS.items()
                                if e is not CaseEvent.receive}


class _ItemLike(Protocol):
    @property
    def mail_side(self) -> str: ...


class CaseLike(Protocol):
    """What the rules read of a case: the ORM row, or the transition's one-SELECT view of it."""

    @property
    def state(self) -> str: ...
    @property
    def receiving_zone_id(self) -> int: ...
    @property
    def handling_zone_id(self) -> int: ...
    @property
    def item(self) -> _ItemLike: ...


def is_party(actor: Actor, case: CaseLike) -> bool:
    """May this actor see the case at all? System yes; people only of the two zones."""
    return actor.is_system or actor.zone_id in (case.receiving_zone_id, case.handling_zone_id)


def may_send(actor: Actor, case: CaseLike, event: str) -> bool:
    rule = EVENT_RULES.get(event)
    if rule is None or actor.role not in rule.roles:
        return False
    if actor.is_system or rule.side == Side.any:
        return True
    if rule.side == Side.receiving:
        return actor.zone_id == case.receiving_zone_id
    if rule.side == Side.handling:
        return actor.zone_id == case.handling_zone_id
    if event == CaseEvent.deliver and case.state == CaseState.awaiting_pickup:
        # 领取: the applicant collects the result at the receiving window, from its clerk (DESIGN §2:
        # deliver is the clerk's or the courier's confirmation; no reviewer stands at the counter).
        return actor.role == "clerk" and actor.zone_id == case.receiving_zone_id
    # mail_side: the item names which side mails the result and confirms its delivery.
    mailing_zone = case.handling_zone_id if case.item.mail_side == "handling" else case.receiving_zone_id
    return actor.zone_id == mailing_zone
