"""答复时限: a request that waits too long for an answer raises alerts like a late case step.

The request row carries its deadline in the shape of ``case_deadlines`` (``due_at``, ``next_level``,
``next_alert_at``), scheduled and advanced by the same ``Clock`` (``schedule``/``alert_at``/``advance``)
and read by the SLA sweep as an index range (``next_alert_at <= now``). Each level goes to the
window that waits and to the zone that owes the answer, once per (request, level, zone) — the
unique key of ``adhoc_alerts`` — and its messages go through the notification ledger with the
routes of ordinary alerts (``levels`` say which roles hear of each level).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from notifications import ledger
from notifications.routes import Routes
from states.adhoc.enums import RequestState
from states.sla.clock import Clock
from states.sla.sweep import Recipients, SweepReport
from storage.adhoc.models import AdhocAlert, AdhocRequest
from storage.zone.models import Zone

LEVEL_WORDS = {"warning": "即将超过答复时限", "overdue": "已超过答复时限", "escalation": "超过答复时限未答复，督办"}


def request_link(base_url: str, request_id: int) -> str:
    return f"{base_url.rstrip('/')}/ui/adhoc/{request_id}"


def _text(req: AdhocRequest, level: str, side: str, tz: str, link: str) -> tuple[str, str]:
    due = req.due_at.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")
    who = "本区发起、等待对方答复" if side == "requesting" else "本区须作出答复"
    subject = f"【一事一议】{req.ref} {LEVEL_WORDS.get(level, level)}：{req.need}"
    body = (f"一事一议申请 {req.ref}（{who}）\n申请事项：{req.need}\n"
            f"发起：{req.requesting_zone.name} · 办理地：{req.handling_zone.name}\n"
            f"答复时限：{due}\n紧急事由：{req.urgency}\n{link}")
    return subject, body


def raise_due_request_alerts(*, db_session: Session, clock: Clock, routes: Routes, now: datetime, base_url: str,
                             report: SweepReport, limit: int = 500) -> int:
    """One batch in the caller's transaction; returns the requests processed."""
    stmt = (select(AdhocRequest).where(AdhocRequest.next_alert_at <= now)
            .order_by(AdhocRequest.next_alert_at, AdhocRequest.id).limit(limit))
    postgres = db_session.get_bind().dialect.name == "postgresql"
    if postgres:
        stmt = stmt.with_for_update(skip_locked=True, of=AdhocRequest)
    due = list(db_session.scalars(stmt).unique())
    insert = pg_insert if postgres else sqlite_insert
    people = Recipients(db_session, routes)
    for req in due:
        if req.state != RequestState.pending:  # answered meanwhile: nothing more to say
            req.next_level = req.next_alert_at = None
            continue
        own = clock.for_zone(req.handling_zone.code)
        while req.next_level is not None and req.next_alert_at is not None and req.next_alert_at <= now:
            level = req.next_level
            sides: list[tuple[Zone, str]] = [(req.requesting_zone, "requesting"), (req.handling_zone, "handling")]
            for zone, side in sides:
                alert_id = db_session.execute(
                    insert(AdhocAlert).values(request_id=req.id, level=level, zone_id=zone.id, side=side,
                                              due_at=req.due_at, raised_at=now)
                    .on_conflict_do_nothing().returning(AdhocAlert.id)).scalar()
                if alert_id is None:
                    continue
                report.alerts += 1
                subject, body = _text(req, level, side, clock.tz, request_link(base_url, req.id))
                for recipient in people.of(zone.id, zone.code, routes.levels.get(level, ())):
                    if ledger.enqueue(db_session=db_session, dedupe_key=f"adhoc:{alert_id}:{recipient}",
                                      kind="alert", zone_id=zone.id, recipient=recipient,
                                      lang=routes.lang_of(recipient), subject=subject, body=body, now=now):
                        report.queued += 1
            own.advance(req)  # type: ignore[arg-type]  # shaped like a case deadline
    db_session.flush()
    return len(due)


def alerts_of(*, db_session: Session, zone_id: int, request_ids: list[int]) -> dict[int, str]:
    """The highest level each request raised for this zone (for the list's badge)."""
    order = {"warning": 1, "overdue": 2, "escalation": 3}
    found: dict[int, str] = {}
    if not request_ids:
        return found
    for rid, level in db_session.execute(select(AdhocAlert.request_id, AdhocAlert.level)
                                         .where(AdhocAlert.zone_id == zone_id,
                                                AdhocAlert.request_id.in_(request_ids))):
        if order.get(level, 0) > order.get(found.get(rid, ""), 0):
            found[rid] = level
    return found
