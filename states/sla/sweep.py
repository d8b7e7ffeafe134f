"""The SLA sweep (时限巡检): raise the alerts that are due, then send what the ledger holds.

What is due is an index range — ``case_deadlines.next_alert_at <= now`` — so a sweep with nothing
due costs one index probe however many cases are open, and a sweep with k alerts due reads k rows.
Each alert goes to the receiving zone AND the handling zone; the unique keys of ``sla_alerts``
(case, step, visit, level, zone) and ``notification_deliveries`` (alert, recipient) make "exactly
once" hold with any number of sweeps running at once: PostgreSQL sweeps skip each other's locked
rows, SQLite sweeps queue on the write lock, and a late duplicate insert simply does nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, joinedload

from notifications import ledger
from notifications.links import case_link
from notifications.recipients import Recipients
from notifications.routes import Routes, load_routes
from notifications.templates import AlertFacts, render_alert
from states.calendar import UnknownYearError
from states.lifecycle import STATE_LABELS
from states.runtime import Runtime
from states.sla.clock import Clock
from states.transition.rules import zone_is_party
from storage.case.models import Case
from storage.db import transaction
from storage.sla.models import Alert, CaseDeadline
from storage.zone.models import Zone

log = logging.getLogger("tongban.sla")


@dataclass
class SweepReport:
    #: Deadlines whose due alert levels were processed.
    deadlines: int = 0
    #: Alert rows written (one per zone and level).
    alerts: int = 0
    #: Messages written to the ledger.
    queued: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def _insert(db_session: Session):  # type: ignore[no-untyped-def]
    return pg_insert if db_session.get_bind().dialect.name == "postgresql" else sqlite_insert


def raise_due_alerts(*, db_session: Session, clock: Clock, routes: Routes, now: datetime, base_url: str,
                     limit: int = 500, report: SweepReport | None = None) -> SweepReport:
    """One batch in the caller's transaction: every level that is due on up to ``limit`` deadlines."""
    report = report or SweepReport()
    stmt = (select(CaseDeadline).where(CaseDeadline.next_alert_at <= now)
            .order_by(CaseDeadline.next_alert_at, CaseDeadline.id).limit(limit))
    if db_session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True, of=CaseDeadline)
    due = list(db_session.scalars(stmt))
    if not due:
        return report
    cases = {c.id: c for c in db_session.scalars(
        select(Case).where(Case.id.in_({d.case_id for d in due})).options(joinedload(Case.item))).unique()}
    people = Recipients(db_session, routes)
    insert = _insert(db_session)
    for d in due:
        report.deadlines += 1
        case = cases[d.case_id]
        own = clock.for_case(case)  # the handling zone's calendar counts for both sides
        while d.next_level is not None and d.next_alert_at is not None and d.next_alert_at <= now:
            level = d.next_level
            try:
                at = own.alert_at(d.due_at, level)
            except UnknownYearError as exc:
                _unknown_year(report, case, d, exc, now)
                break
            if at > now:  # put off after an unknown year was added to the calendar
                d.next_alert_at = at
                break
            for zone, side in _sides(case):
                alert_id = db_session.execute(
                    insert(Alert).values(case_id=case.id, deadline_id=d.id, case_no=case.case_no, step=d.step,
                                         visit=d.visit, level=level, zone_id=zone.id, side=side, due_at=d.due_at,
                                         raised_at=now)
                    .on_conflict_do_nothing().returning(Alert.id)).scalar()
                if alert_id is None:
                    continue  # raised before (another sweep, or this level before a pause)
                report.alerts += 1
                facts = AlertFacts(
                    level=level, step=d.step, visit=d.visit, case_no=case.case_no, item_code=case.item.code,
                    item_name=case.item.name, applicant_name=case.applicant.name,
                    applicant_id=case.applicant.id_number, state_label=STATE_LABELS.get(case.state, case.state),
                    due_at=d.due_at, zone_name=zone.name, side=side, receiving_zone=case.receiving_zone.name,
                    handling_zone=case.handling_zone.name, link=case_link(base_url, case.case_no))
                rendered: dict[str, tuple[str, str]] = {}
                for recipient in people.of(zone.id, zone.code, routes.levels.get(level, ())):
                    lang = routes.lang_of(recipient)
                    if lang not in rendered:
                        rendered[lang] = render_alert(facts, lang=lang, tz=clock.tz)
                    subject, body = rendered[lang]
                    if ledger.enqueue(db_session=db_session, dedupe_key=f"alert:{alert_id}:{recipient}",
                                      kind="alert", alert_id=alert_id, zone_id=zone.id, recipient=recipient,
                                      lang=lang, subject=subject, body=body, now=now):
                        report.queued += 1
            try:
                own.advance(d)
            except UnknownYearError as exc:
                d.next_level = LEVEL_AFTER.get(level)
                _unknown_year(report, case, d, exc, now)
                break
    db_session.flush()
    return report


LEVEL_AFTER = {"warning": "overdue", "overdue": "escalation"}


def _unknown_year(report: SweepReport, case: Case, d: CaseDeadline, exc: UnknownYearError, now: datetime) -> None:
    """The next level falls in a year the calendar does not know: say so, and look again in a day."""
    report.errors.append(f"{case.case_no} {d.step}: {exc}")
    log.error("cannot schedule the next alert of %s %s: %s", case.case_no, d.step, exc)
    d.next_alert_at = now + timedelta(days=1) if d.next_level else None


def _sides(case: Case) -> list[tuple[Zone, str]]:
    """The zones an alert goes to: the case's parties (``rules.zone_is_party``) — the handling zone
    only once the case has been forwarded to it; before that it must not learn of the case at all."""
    if case.receiving_zone_id == case.handling_zone_id:
        return [(case.receiving_zone, "both")]
    if not zone_is_party(case.handling_zone_id, case):
        return [(case.receiving_zone, "receiving")]
    return [(case.receiving_zone, "receiving"), (case.handling_zone, "handling")]


def sweep(*, runtime: Runtime, now: datetime | None = None, deliver: bool = True, limit: int = 500,
          routes: Routes | None = None) -> SweepReport:
    """Raise every alert that is due (batch after batch), then send what the ledger has due."""
    now = now or runtime.now()
    routes = routes if routes is not None else load_routes(runtime.settings.notification_routes)
    report = SweepReport()
    while True:
        before = report.deadlines
        with transaction(runtime.session_factory) as s:
            raise_due_alerts(db_session=s, clock=runtime.clock, routes=routes, now=now,
                             base_url=runtime.settings.base_url, limit=limit, report=report)
        if report.deadlines - before < limit:
            break
    from states.adhoc.sla import raise_due_request_alerts  # 一事一议 requests waiting for an answer

    while True:
        with transaction(runtime.session_factory) as s:
            n = raise_due_request_alerts(db_session=s, clock=runtime.clock, routes=routes, now=now,
                                         base_url=runtime.settings.base_url, report=report, limit=limit)
        if n < limit:
            break
    if deliver:
        sent = ledger.deliver_due(session_factory=runtime.session_factory, routes=routes, now=now,
                                  max_attempts=runtime.settings.notify_max_attempts)
        report.sent, report.retried, report.failed = sent.sent, sent.retried, sent.failed
        report.errors += sent.errors
    return report
