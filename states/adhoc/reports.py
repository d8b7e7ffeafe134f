"""一事一议 counted apart: the zone's requests by state and side, and its ad-hoc cases' timeliness.

Same definitions as ``states.reports.service`` (on time, late, party to a case): an ad-hoc case is a
case whose item is a one-off item (``items.adhoc``); it is also in the ordinary figures, and shown
here on its own so that the catalog's performance and the 协作机制's can be read apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from states.adhoc.enums import RequestState
from states.reports.service import _on_time_sums
from states.transition.rules import party_clause
from storage.adhoc.models import AdhocRequest
from storage.case.models import Case
from storage.catalog.models import Item


@dataclass
class AdhocSummary:
    #: requests this zone's window started, per state (pending / accepted / declined)
    as_requesting: dict[str, int] = field(default_factory=dict)
    #: requests this zone was asked to decide, per state
    as_handling: dict[str, int] = field(default_factory=dict)
    #: requests still waiting for an answer past their answer deadline (either side)
    answer_overdue: int = 0
    cases: int = 0
    decided: int = 0
    on_time: int = 0
    late: int = 0

    @property
    def rate(self) -> float | None:
        counted = self.on_time + self.late
        return self.on_time / counted if counted else None


def summary(*, db_session: Session, zone_id: int, now: datetime) -> AdhocSummary:
    out = AdhocSummary()
    for col, target in ((AdhocRequest.requesting_zone_id, out.as_requesting),
                        (AdhocRequest.handling_zone_id, out.as_handling)):
        for state, n in db_session.execute(select(AdhocRequest.state, func.count()).where(col == zone_id)
                                           .group_by(AdhocRequest.state)):
            target[state] = int(n)
    out.answer_overdue = int(db_session.scalar(
        select(func.count()).select_from(AdhocRequest)
        .where((AdhocRequest.requesting_zone_id == zone_id) | (AdhocRequest.handling_zone_id == zone_id),
               AdhocRequest.state == RequestState.pending, AdhocRequest.due_at < now)) or 0)
    on_time, late = _on_time_sums(now)
    n, decided, ok, bad = db_session.execute(
        select(func.count(), func.count(Case.decided_at), on_time, late).select_from(Case)
        .join(Item, Case.item_id == Item.id).where(Item.adhoc.is_(True), party_clause(zone_id))).one()
    out.cases, out.decided, out.on_time, out.late = int(n), int(decided), int(ok), int(bad)
    return out
