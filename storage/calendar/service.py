"""Read and write the admin-entered schedules (``calendar_years``); the caller owns the transaction."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.calendar.models import CalendarYear


def days_of(row: CalendarYear) -> tuple[dict[date, str], dict[date, str]]:
    """(every holiday day → name, every 调休 working day → name) of a stored year."""
    holidays: dict[date, str] = {}
    for first, last, name in row.ranges:
        day, end = date.fromisoformat(first), date.fromisoformat(last)
        while day <= end:
            holidays[day] = str(name)
            day += timedelta(days=1)
    workdays = {date.fromisoformat(k): str(v) for k, v in row.workdays.items()}
    return holidays, workdays


def stored_years(*, db_session: Session) -> list[CalendarYear]:
    return list(db_session.scalars(select(CalendarYear).order_by(CalendarYear.year)))


def add_year(*, db_session: Session, year: int, source: str, ranges: list[tuple[date, date, str]],
             workdays: dict[date, str], added_by: str) -> CalendarYear:
    row = CalendarYear(year=year, source=source,
                       ranges=[[a.isoformat(), b.isoformat(), n] for a, b, n in ranges],
                       workdays={d.isoformat(): n for d, n in sorted(workdays.items())}, added_by=added_by)
    db_session.add(row)
    db_session.flush()
    return row
