"""超期 (overdue): THE rule, in Python and as SQL, side by side — an open case whose current step's
target time has passed. A closed case, or one in a step without a target, is never overdue. The API's
``overdue`` flag, the queue's filter, the reports' list and the digest's count all read it here."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy import ColumnElement, and_, or_

from storage.case.models import Case


class _Timed(Protocol):
    closed: bool
    step_due_at: datetime | None


def is_overdue(case: _Timed, now: datetime) -> bool:
    """The case is open and its current step target is before ``now``."""
    return bool(not case.closed and case.step_due_at is not None and case.step_due_at < now)


def overdue_clause(now: datetime) -> ColumnElement[bool]:
    """SQL form of :func:`is_overdue`."""
    return and_(Case.closed.is_(False), Case.step_due_at < now)


def not_overdue_clause(now: datetime) -> ColumnElement[bool]:
    """SQL form of ``not is_overdue`` (spelt out: SQL's NOT of a NULL comparison is NULL, not true)."""
    return or_(Case.closed.is_(True), Case.step_due_at.is_(None), Case.step_due_at >= now)
