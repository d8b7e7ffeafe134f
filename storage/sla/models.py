"""Deadlines (时限), pauses (暂停计时), alerts (预警) and the notification ledger (通知台账).

The tables are shaped so that the SLA sweep reads only what is due: every watched deadline keeps
the moment its next alert is due in ``case_deadlines.next_alert_at`` (indexed, NULL once nothing
more is to be raised), so "what is due now" is an index range whose size is the alerts due, not
the open cases. "Exactly once" is the database's job, not the sweep's: alerts are unique per
(case, step, visit, level, zone) and deliveries per (alert, recipient).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, backref, mapped_column, relationship

from storage.case.models import Case
from storage.db import Base, utcnow

#: Why the overall clock stood still: 待补正, or 原件寄递中 (originals on their way to the handling zone).
PAUSE_REASONS = ("awaiting_supplement", "originals_in_post")
#: Alert levels in the order they are raised (预警 → 超期 → 督办升级).
LEVELS = ("warning", "overdue", "escalation")
#: The pseudo-step of the overall deadline (承诺时限) in ``case_deadlines.step``.
OVERALL = "overall"


class CasePause(Base):
    """One stretch of time in which the overall clock stood still, kept as the case's history."""

    __tablename__ = "case_pauses"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(24))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    #: Working days the deadline moved by when the pause ended (NULL while it lasts).
    workdays: Mapped[int | None]

    case: Mapped[Case] = relationship(
        backref=backref("pauses", order_by="CasePause.id", cascade="all, delete-orphan", lazy="select"))


class CaseDeadline(Base):
    """A deadline being watched: the overall one (``step='overall'``) or one visit of a step.

    ``visit`` counts entries of the case into the step, so a case that is returned and comes back
    into a step is watched (and alerted) again there.
    """

    __tablename__ = "case_deadlines"
    __table_args__ = (
        UniqueConstraint("case_id", "step", "visit", name="uq_case_deadlines_case_step_visit"),
        Index("ix_case_deadlines_next_alert_at", "next_alert_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    step: Mapped[str] = mapped_column(String(20))
    visit: Mapped[int] = mapped_column(default=1)
    started_at: Mapped[datetime]
    due_at: Mapped[datetime]
    #: False once the step was left (or the case decided/closed); it then raises nothing more.
    active: Mapped[bool] = mapped_column(default=True)
    ended_at: Mapped[datetime | None]
    #: The level the sweep raises next (``warning``/``overdue``/``escalation``) and when; NULL = none.
    next_level: Mapped[str | None] = mapped_column(String(12))
    next_alert_at: Mapped[datetime | None]
    #: ``due_at`` / ``next_alert_at`` were counted with a provisional (unpublished) year: 暂定.
    provisional: Mapped[bool] = mapped_column(default=False)

    case: Mapped[Case] = relationship(
        backref=backref("deadlines", order_by="CaseDeadline.id", cascade="all, delete-orphan", lazy="select"))


class Alert(Base):
    """One alert as one zone sees it (``GET /api/v1/alerts``); its deliveries go to that zone's routes."""

    __tablename__ = "sla_alerts"
    __table_args__ = (
        UniqueConstraint("case_id", "step", "visit", "level", "zone_id", name="uq_sla_alerts_once"),
        Index("ix_sla_alerts_zone_raised", "zone_id", "raised_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    deadline_id: Mapped[int] = mapped_column(ForeignKey("case_deadlines.id", ondelete="CASCADE"))
    case_no: Mapped[str] = mapped_column(String(40))
    step: Mapped[str] = mapped_column(String(20))
    visit: Mapped[int]
    level: Mapped[str] = mapped_column(String(12))
    zone_id: Mapped[int] = mapped_column(ForeignKey("zones.id"))
    #: ``receiving``, ``handling`` or ``both`` (a zone handling its own item).
    side: Mapped[str] = mapped_column(String(10))
    due_at: Mapped[datetime]
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)


class Delivery(Base):
    """通知台账: one message to one recipient, with its attempts; failures are shown to supervisors.

    ``recipient`` names a channel of the routes file (``channel:bj-window``) or a person
    (``user:bj_supervisor``), never the URL itself: URLs may carry secrets and stay in the file.
    """

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        UniqueConstraint("alert_id", "recipient", name="uq_notification_deliveries_alert_recipient"),
        Index("ix_notification_deliveries_due", "status", "next_attempt_at"),
        Index("ix_notification_deliveries_zone_status", "zone_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: ``alert:<id>:<recipient>`` or ``digest:<zone>:<day>:<recipient>``: one message, ever.
    dedupe_key: Mapped[str] = mapped_column(String(240), unique=True)
    kind: Mapped[str] = mapped_column(String(10))
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("sla_alerts.id", ondelete="CASCADE"))
    zone_id: Mapped[int] = mapped_column(ForeignKey("zones.id"))
    recipient: Mapped[str] = mapped_column(String(160))
    lang: Mapped[str] = mapped_column(String(8), default="zh-CN")
    subject: Mapped[str] = mapped_column(String(300))
    #: Already masked (身份证号/手机号) when written: the ledger holds no more PII than the message.
    body: Mapped[str] = mapped_column(Text)
    #: ``pending`` → ``sending`` → ``sent``; back to ``pending`` with a backoff, or ``failed`` for good.
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def pauses_of(case: Case) -> list[CasePause]:
    """The case's pause history: the ``Case.pauses`` backref, typed for callers."""
    return case.pauses  # type: ignore[attr-defined,no-any-return]


def deadlines_of(case: Case) -> list[CaseDeadline]:
    """The case's watched deadlines: the ``Case.deadlines`` backref, typed for callers."""
    return case.deadlines  # type: ignore[attr-defined,no-any-return]
