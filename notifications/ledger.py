"""The delivery ledger (通知台账): write messages once, send them through apprise, retry with backoff.

Deliveries are outbox-like jobs: written (already rendered and masked) in the transaction that
raised the alert, claimed with a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the write lock
on SQLite), sent outside any transaction, and recorded as ``sent`` — or put back with a doubling
backoff, and marked ``failed`` after ``max_attempts`` so supervisors see it (``GET
/api/v1/alerts/deliveries``, the daily digest).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import apprise
from sqlalchemy import or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from notifications.routes import Routes
from privacy import mask_text
from storage.db import transaction
from storage.sla.models import Delivery
from storage.user.models import User

log = logging.getLogger("tongban.notify")

LEASE = timedelta(minutes=10)


def backoff(attempt: int) -> timedelta:
    """1, 2, 4, 8 … minutes, at most an hour."""
    return timedelta(minutes=min(60, 2 ** max(attempt - 1, 0)))


def enqueue(*, db_session: Session, dedupe_key: str, kind: str, zone_id: int, recipient: str, lang: str,
            subject: str, body: str, now: datetime, alert_id: int | None = None) -> bool:
    """Write one message unless its key exists; True when this call wrote it. The body is masked again."""
    insert = pg_insert if db_session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(Delivery).values(
        dedupe_key=dedupe_key, kind=kind, alert_id=alert_id, zone_id=zone_id, recipient=recipient, lang=lang,
        subject=mask_text(subject)[:300], body=mask_text(body), status="pending", attempts=0,
        next_attempt_at=now, created_at=now,
    ).on_conflict_do_nothing().returning(Delivery.id)
    return db_session.execute(stmt).first() is not None


@dataclass(frozen=True)
class Claimed:
    id: int
    recipient: str
    subject: str
    body: str
    attempts: int
    url: str | None
    problem: str | None = None


def claim(*, db_session: Session, routes: Routes, now: datetime, limit: int = 50) -> list[Claimed]:
    """Take due deliveries (and ones whose sender died mid-way) and resolve their URLs from the routes."""
    due = (Delivery.status == "pending") & (Delivery.next_attempt_at <= now)
    stale = (Delivery.status == "sending") & (Delivery.claimed_at <= now - LEASE)
    stmt = select(Delivery).where(or_(due, stale)).order_by(Delivery.next_attempt_at, Delivery.id).limit(limit)
    if db_session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    rows = list(db_session.scalars(stmt))
    emails = _emails(db_session, [r.recipient.removeprefix("user:") for r in rows if r.recipient.startswith("user:")])
    out = []
    for r in rows:
        r.status, r.claimed_at, r.attempts = "sending", now, r.attempts + 1
        url, problem = _resolve(routes, r.recipient, emails)
        out.append(Claimed(r.id, r.recipient, r.subject, r.body, r.attempts, url, problem))
    db_session.flush()
    return out


def _emails(db_session: Session, usernames: list[str]) -> dict[str, str]:
    if not usernames:
        return {}
    rows = db_session.execute(select(User.username, User.email).where(User.username.in_(set(usernames))))
    return {u: e for u, e in rows}


def _resolve(routes: Routes, recipient: str, emails: dict[str, str]) -> tuple[str | None, str | None]:
    if recipient.startswith("channel:"):
        ch = routes.channels.get(recipient.removeprefix("channel:"))
        if ch is None:
            return None, f"channel {recipient.removeprefix('channel:')!r} is no longer in the routes file"
        return ch.url, None
    if recipient.startswith("user:"):
        name = recipient.removeprefix("user:")
        url = routes.person_url(emails.get(name, ""))
        if url is None:
            return None, f"user {name!r} has no e-mail address, or the routes file has no 'people' URL"
        return url, None
    return None, f"unknown recipient {recipient!r}"


Sender = Callable[[str, str, str], str | None]


def send_apprise(url: str, subject: str, body: str) -> str | None:
    """Send one message; ``None`` on success, else what went wrong (from apprise's own log)."""
    ap = apprise.Apprise()
    if not ap.add(url):
        return "the channel URL is not a valid apprise URL"
    try:
        with apprise.LogCapture(level=logging.WARNING) as logs:
            ok = ap.notify(title=subject, body=body)
            captured = logs.getvalue()  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001 - any failure of a channel is recorded, not raised
        return f"{type(exc).__name__}: {exc}"
    if ok:
        return None
    lines = [ln.split(" - ", 2)[-1] for ln in captured.strip().splitlines() if ln.strip()]
    return mask_text("; ".join(lines)[-500:] or "the channel refused the message")


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def deliver_due(*, session_factory: sessionmaker[Session], routes: Routes, now: datetime, max_attempts: int = 5,
                limit: int = 50, send: Sender = send_apprise) -> DeliveryReport:
    """Send what is due, batch by batch, until nothing is due (each batch its own short transactions)."""
    report = DeliveryReport()
    while True:
        with transaction(session_factory) as s:
            batch = claim(db_session=s, routes=routes, now=now, limit=limit)
        if not batch:
            return report
        results = []
        for c in batch:
            error = c.problem if c.url is None else send(c.url, c.subject, c.body)
            results.append((c, error))
        with transaction(session_factory) as s:
            for c, error in results:
                row = s.get(Delivery, c.id)
                if row is None or row.status != "sending" or row.attempts != c.attempts:
                    continue  # taken over by another sender after a lease ran out
                if error is None:
                    row.status, row.sent_at, row.last_error = "sent", now, None
                    report.sent += 1
                elif c.url is None or c.attempts >= max_attempts:
                    # No URL will appear by waiting; a channel that kept failing is given up on.
                    row.status, row.last_error = "failed", error[:2000]
                    report.failed += 1
                    report.errors.append(f"{c.recipient}: {error}")
                    log.error("notification %s to %s failed for good: %s", c.id, c.recipient, error)
                else:
                    row.status, row.last_error = "pending", error[:2000]
                    row.next_attempt_at = now + backoff(c.attempts)
                    report.retried += 1
                    log.warning("notification %s to %s failed (attempt %s), will retry: %s", c.id, c.recipient,
                                c.attempts, error)
        if len(batch) < limit:
            return report
