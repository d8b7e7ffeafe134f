"""Who may send which event (DESIGN §2): role and side of the case, as data."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, false, or_, true

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


def _r(roles: str, side: str) -> Rule:
    return Rule(frozenset(roles.split()), side)


EVENT_RULES: dict[str, Rule] = {
    "request_supplement": _r("clerk", "receiving"),
    "supplement": _r("clerk", "receiving"),
    "reject": _r("clerk", "receiving"),
    "precheck_pass": _r("clerk", "receiving"),
    "forward": _r("system", "any"),
    "return": _r("reviewer", "handling"),
    "reopen_for_supplement": _r("system", "any"),
    "accept": _r("reviewer", "handling"),
    "claim": _r("reviewer", "handling"),
    "approve": _r("reviewer", "handling"),
    "deny": _r("reviewer", "handling"),
    "mail_result": _r("clerk reviewer system", "mail_side"),
    "ready_for_pickup": _r("clerk", "receiving"),
    "deliver": _r("clerk system", "mail_side"),
    "withdraw": _r("clerk", "receiving"),
}


# --- who is party to a case (DESIGN §5.5): THE rule, in Python and as SQL, side by side -------------
#
# The receiving zone is party from the receipt on. The handling zone becomes party when the case is
# forwarded to it (``Case.forwarded_at``, set by the first ``forward`` and never cleared): before that
# — received, awaiting supplement, rejected or withdrawn at the counter — it sees nothing of the case.
# Once forwarded it stays party, also after a return (→ awaiting_supplement) and a withdrawal: it has
# seen the packet, and it is waiting for the case to come back. Everything that shows, lists, counts,
# exports or alerts about a case goes through these functions, so the rule is written once.


def zone_is_party(zone_id: int | None, case: Case) -> bool:
    if zone_id is None:
        return False
    if zone_id == case.receiving_zone_id:
        return True
    return zone_id == case.handling_zone_id and case.forwarded_at is not None


def is_party(actor: Actor, case: Case) -> bool:
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


def may_send(actor: Actor, case: Case, event: str) -> bool:
    rule = EVENT_RULES.get(event)
    if rule is None or actor.role not in rule.roles:
        return False
    if actor.is_system or rule.side == "any":
        return True
    if rule.side == "receiving":
        return actor.zone_id == case.receiving_zone_id
    if rule.side == "handling":
        return actor.zone_id == case.handling_zone_id
    if event == "deliver" and case.state == "awaiting_pickup":
        # 领取: the applicant collects the result at the receiving window, from its clerk (DESIGN §2:
        # deliver is the clerk's or the courier's confirmation; no reviewer stands at the counter).
        return actor.role == "clerk" and actor.zone_id == case.receiving_zone_id
    # mail_side: the item names which side mails the result and confirms its delivery.
    mailing_zone = case.handling_zone_id if case.item.mail_side == "handling" else case.receiving_zone_id
    return actor.zone_id == mailing_zone
