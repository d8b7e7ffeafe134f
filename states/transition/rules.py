"""Who may send which event (DESIGN §2): role and side of the case, as data."""

from __future__ import annotations

from dataclasses import dataclass

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


def is_party(actor: Actor, case: Case) -> bool:
    """May this actor see the case at all? System yes; people only of the two zones."""
    return actor.is_system or actor.zone_id in (case.receiving_zone_id, case.handling_zone_id)


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
