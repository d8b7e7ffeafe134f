"""Who may send which event: role and side of the case, as declared in states/lifecycle.py EVENTS."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import ColumnElement, and_, false, or_, true

from states.enums import CaseEvent, CaseState, Side
from states.lifecycle import EVENTS
from storage.case.models import Case


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
    def forwarded_at(self) -> datetime | None: ...
    @property
    def item(self) -> _ItemLike: ...


# --- who is party to a case (docs/architecture.md#party): THE rule, in Python and as SQL, side by side -------------
#
# The receiving zone is party from the receipt on. The handling zone becomes party when the case is
# forwarded to it (``Case.forwarded_at``, set by the first ``forward`` and never cleared): before that
# — received, awaiting supplement, rejected or withdrawn at the counter — it sees nothing of the case.
# Once forwarded it stays party, also after a return (→ awaiting_supplement) and a withdrawal: it has
# seen the packet, and it is waiting for the case to come back. Everything that shows, lists, counts,
# exports or alerts about a case goes through these functions, so the rule is written once.


def zone_is_party(zone_id: int | None, case: CaseLike) -> bool:
    if zone_id is None:
        return False
    if zone_id == case.receiving_zone_id:
        return True
    return zone_id == case.handling_zone_id and case.forwarded_at is not None


def is_party(actor: Actor, case: CaseLike) -> bool:
    """May this actor see the case at all? System yes; people of the receiving zone, and of the
    handling zone once the case has been forwarded to it."""
    return actor.is_system or zone_is_party(actor.zone_id, case)


def handling_party_clause(zone_id: int | None) -> ColumnElement[bool]:
    """SQL: cases this zone handles AND that were forwarded to it."""
    return and_(Case.handling_zone_id == zone_id, Case.forwarded_at.is_not(None))


def party_clause(zone_id: int | None, side: str | None = None) -> ColumnElement[bool]:
    """SQL form of :func:`zone_is_party`, on one side (``receiving``/``handling``) or either."""
    if zone_id is None:
        return false()
    if side == "receiving":
        return Case.receiving_zone_id == zone_id
    if side == "handling":
        return handling_party_clause(zone_id)
    return or_(Case.receiving_zone_id == zone_id, handling_party_clause(zone_id))


def visible_clause(actor: Actor, side: str | None = None) -> ColumnElement[bool]:
    """SQL form of :func:`is_party`: every case for the system, otherwise :func:`party_clause`."""
    if actor.is_system and side is None:
        return true()
    return party_clause(actor.zone_id, side)


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
        # 领取: the applicant collects the result at the receiving window, from its clerk
        # (docs/architecture.md#lifecycle: deliver is the clerk's or the courier's confirmation; no reviewer
        # stands at the counter).
        return actor.role == "clerk" and actor.zone_id == case.receiving_zone_id
    # mail_side: the item names which side mails the result and confirms its delivery.
    mailing_zone = case.handling_zone_id if case.item.mail_side == "handling" else case.receiving_zone_id
    return actor.zone_id == mailing_zone
