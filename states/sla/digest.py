"""The daily digest (时限日报) per zone for supervisors: open work on each side, what is overdue,
the alerts of the last day and the messages that could not be delivered."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from notifications import ledger
from notifications.links import overdue_list_link
from notifications.recipients import Recipients
from notifications.routes import Routes, load_routes
from notifications.templates import render_digest
from states.runtime import Runtime
from states.sla.overdue import overdue_clause
from states.transition.rules import party_clause
from storage.case.models import Case
from storage.db import transaction
from storage.sla.models import LEVELS, OVERALL, Alert, CaseDeadline, Delivery
from storage.zone.models import Zone


@dataclass
class ZoneDigest:
    zone_code: str
    zone_name: str
    day: str
    #: (中文, English, value) rows.
    lines: list[tuple[str, str, object]] = field(default_factory=list)

    def text(self, lang: str = "zh-CN", base_url: str = "") -> str:
        return render_digest(lang, zone_name=self.zone_name, day=self.day, lines=self.lines,
                             link=overdue_list_link(base_url))[1]


def build_digest(*, db_session: Session, zone: Zone, now: datetime, tz: str) -> ZoneDigest:
    """Figures of one zone at ``now``; each is an indexed count over that zone's open cases."""
    def count(stmt: object) -> int:
        return int(db_session.scalar(stmt) or 0)  # type: ignore[call-overload]

    open_cases = select(func.count()).select_from(Case).where(Case.closed.is_(False))
    receiving = count(open_cases.where(party_clause(zone.id, "receiving")))
    handling = count(open_cases.where(party_clause(zone.id, "handling")))  # only what was forwarded to it
    steps_overdue = count(open_cases.where(party_clause(zone.id), overdue_clause(now)))
    overall_overdue = count(
        select(func.count()).select_from(CaseDeadline).join(Case, CaseDeadline.case_id == Case.id)
        .where(CaseDeadline.step == OVERALL, CaseDeadline.active.is_(True), CaseDeadline.due_at < now,
               Case.paused_since.is_(None), party_clause(zone.id)))
    since = now - timedelta(days=1)
    by_level = dict(db_session.execute(
        select(Alert.level, func.count()).where(Alert.zone_id == zone.id, Alert.raised_at >= since)
        .group_by(Alert.level)).all())
    by_status = dict(db_session.execute(
        select(Delivery.status, func.count()).where(Delivery.zone_id == zone.id, Delivery.status != "sent")
        .group_by(Delivery.status)).all())
    labels = {"warning": ("临期预警", "warnings"), "overdue": ("超期提醒", "overdue alerts"),
              "escalation": ("超期督办", "escalations")}
    lines: list[tuple[str, str, object]] = [
        ("在办件（本区收件）", "open cases received here", receiving),
        ("在办件（本区办理）", "open cases handled here", handling),
        ("环节超期", "cases past their step deadline", steps_overdue),
        ("承诺时限超期", "cases past the promised time limit", overall_overdue),
    ]
    lines += [(f"近24小时{labels[lvl][0]}", f"{labels[lvl][1]} in the last 24 h", by_level.get(lvl, 0))
              for lvl in LEVELS]
    lines += [("发送失败的通知", "notifications that failed", by_status.get("failed", 0)),
              ("待重试的通知", "notifications waiting to retry", by_status.get("pending", 0))]
    day = now.astimezone(ZoneInfo(tz)).date().isoformat()
    return ZoneDigest(zone_code=zone.code, zone_name=zone.name, day=day, lines=lines)


def queue_digests(*, db_session: Session, routes: Routes, now: datetime, tz: str, base_url: str,
                  zone_codes: list[str] | None = None) -> tuple[list[ZoneDigest], int]:
    """Write today's digest for each zone's digest recipients; once per zone, local day and recipient."""
    stmt = select(Zone).order_by(Zone.code)
    if zone_codes:
        stmt = stmt.where(Zone.code.in_(zone_codes))
    people = Recipients(db_session, routes)
    digests, queued = [], 0
    for zone in db_session.scalars(stmt):
        d = build_digest(db_session=db_session, zone=zone, now=now, tz=tz)
        digests.append(d)
        for recipient in people.of(zone.id, zone.code, routes.digest):
            lang = routes.lang_of(recipient)
            subject, body = render_digest(lang, zone_name=d.zone_name, day=d.day, lines=d.lines,
                                          link=overdue_list_link(base_url))
            if ledger.enqueue(db_session=db_session, dedupe_key=f"digest:{zone.code}:{d.day}:{recipient}",
                              kind="digest", zone_id=zone.id, recipient=recipient, lang=lang, subject=subject,
                              body=body, now=now):
                queued += 1
    return digests, queued


def digest(*, runtime: Runtime, now: datetime | None = None, zone_codes: list[str] | None = None,
           deliver: bool = True) -> tuple[list[ZoneDigest], ledger.DeliveryReport]:
    """Queue today's digests and (by default) send what the ledger has due."""
    now = now or runtime.now()
    routes = load_routes(runtime.settings.notification_routes)
    with transaction(runtime.session_factory) as s:
        digests, _ = queue_digests(db_session=s, routes=routes, now=now, tz=runtime.settings.timezone,
                                   base_url=runtime.settings.base_url, zone_codes=zone_codes)
    report = ledger.DeliveryReport()
    if deliver:
        report = ledger.deliver_due(session_factory=runtime.session_factory, routes=routes, now=now,
                                    max_attempts=runtime.settings.notify_max_attempts)
    return digests, report
