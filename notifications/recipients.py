"""Who hears of what (通知对象): the routes file's entries for a zone's roles, as ledger recipients.

One place for every message kind — SLA alerts, digests, result notices, calendar notes — so the
sweep, the digest and the mail-back flow never build recipients themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from notifications.routes import Routes
from storage.user.models import User


@dataclass
class Recipients:
    """Who a zone's routes name for a level, with ``users`` expanded once per sweep batch."""

    db_session: Session
    routes: Routes
    _people: dict[tuple[int, str], list[str]] = field(default_factory=dict)

    def of(self, zone_id: int, zone_code: str, roles: tuple[str, ...]) -> list[str]:
        out: list[str] = []
        for role, entry in self.routes.entries(zone_code, roles):
            if entry == "users":
                out += [f"user:{u}" for u in self._users(zone_id, role)]
            elif entry.startswith("user:"):
                out.append(entry)
            else:
                out.append(f"channel:{entry}")
        return list(dict.fromkeys(out))

    def _users(self, zone_id: int, role: str) -> list[str]:
        key = (zone_id, role)
        if key not in self._people:
            self._people[key] = list(self.db_session.scalars(
                select(User.username).where(User.zone_id == zone_id, User.role == role, User.active.is_(True),
                                            User.email != "").order_by(User.username)))
        return self._people[key]
