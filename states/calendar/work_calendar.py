"""Mainland China working days (工作日): weekends off, public holidays off, 调休 days worked.

Promised time limits (承诺时限) are counted in working days (DESIGN §3). The data comes from the
``chinesecalendar`` package (the State Council schedules it ships, 2004–2026 in 1.11.0) plus an
override file an admin edits when the State Council publishes a new year's schedule (usually in
November). A day in a year that neither covers is an :class:`UnknownYearError` — never a guess,
because a guessed deadline is a wrong promise to an applicant.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar

__all__ = [
    "CalendarOverrideError",
    "DayInfo",
    "UnknownYearError",
    "WorkCalendar",
]


class UnknownYearError(LookupError):
    """The calendar has no data for the year of a requested day."""

    def __init__(self, year: int) -> None:
        self.year = year
        super().__init__(
            f"the working-day calendar has no data for {year}; add that year's State Council schedule "
            "to the override file (TONGBAN_CALENDAR_OVERRIDE) — see README"
        )


class CalendarOverrideError(ValueError):
    """The override file is missing or malformed; the message names the file and the entry."""


@dataclass(frozen=True)
class DayInfo:
    """One day: whether it is worked, and why (``weekday``, ``weekend``, a holiday, a 调休 day)."""

    day: date
    workday: bool
    reason: str


def _package_days() -> tuple[set[int], dict[date, DayInfo]]:
    """The years and the non-ordinary days (holidays, adjusted working days) of ``chinesecalendar``."""
    names = {h.value: h.chinese for h in chinese_calendar.Holiday}
    special: dict[date, DayInfo] = {}
    for day, english in chinese_calendar.holidays.items():
        special[day] = DayInfo(day, False, f"{names.get(english, english)} {english}")
    for day, english in chinese_calendar.workdays.items():
        special[day] = DayInfo(day, True, f"调休 adjusted working day ({names.get(english, english)})")
    first = min(chinese_calendar.holidays).year
    last = max(chinese_calendar.holidays).year
    return set(range(first, last + 1)), special


def _load_override(path: Path) -> tuple[set[int], dict[date, DayInfo]]:
    """Read an override file; every problem is a :class:`CalendarOverrideError` naming file and entry."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CalendarOverrideError(f"calendar override file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CalendarOverrideError(f"calendar override file {path} cannot be read: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("years"), dict):
        shape = '{"years": {"2027": {"holidays": {...}, "workdays": {...}}}}'
        raise CalendarOverrideError(f"calendar override file {path}: expected {shape}")

    years: set[int] = set()
    special: dict[date, DayInfo] = {}
    for year_key, entry in raw["years"].items():
        where = f"calendar override file {path}, year {year_key}"
        if not (isinstance(year_key, str) and year_key.isdigit() and len(year_key) == 4):
            raise CalendarOverrideError(f'{where}: a year is four digits, e.g. "2027"')
        year = int(year_key)
        if not isinstance(entry, dict) or set(entry) - {"holidays", "workdays", "source", "note"}:
            raise CalendarOverrideError(f'{where}: expected {{"holidays": {{...}}, "workdays": {{...}}}}')
        holidays, workdays = entry.get("holidays"), entry.get("workdays", {})
        if not isinstance(holidays, dict) or not holidays:
            # Every year has at least 元旦; an empty list is an unfinished entry, not a schedule.
            raise CalendarOverrideError(f'{where}: "holidays" must list that year\'s public holidays')
        if not isinstance(workdays, dict):
            raise CalendarOverrideError(f'{where}: "workdays" must map dates to names')
        for kind, table, worked in (("holidays", holidays, False), ("workdays", workdays, True)):
            for day_key, name in table.items():
                try:
                    day = date.fromisoformat(day_key)
                except (TypeError, ValueError):
                    problem = f"{kind} key {day_key!r} is not a YYYY-MM-DD date"
                    raise CalendarOverrideError(f"{where}: {problem}") from None
                if day.year != year:
                    raise CalendarOverrideError(f"{where}: {kind} date {day_key} is not in {year}")
                if not isinstance(name, str) or not name.strip():
                    raise CalendarOverrideError(f"{where}: {kind} date {day_key} needs a name")
                if day in special:
                    problem = f"{day_key} is listed both as a holiday and a workday"
                    raise CalendarOverrideError(f"{where}: {problem}")
                special[day] = DayInfo(day, worked, name.strip())
        years.add(year)
    return years, special


class WorkCalendar:
    """Working days from the packaged schedules plus an optional override file (override wins)."""

    def __init__(self, override_path: Path | None = None) -> None:
        self._years, self._special = _package_days()
        self.override_path = override_path
        if override_path is not None:
            years, special = _load_override(Path(override_path))
            self._years |= years
            self._special.update(special)

    def covered_years(self) -> set[int]:
        """The years for which every day's status is known."""
        return set(self._years)

    def info(self, day: date) -> DayInfo:
        """Whether ``day`` is worked and why; :class:`UnknownYearError` for a year with no data."""
        if isinstance(day, datetime):
            raise TypeError("WorkCalendar takes a date; convert a datetime with .date() in its time zone")
        if day.year not in self._years:
            raise UnknownYearError(day.year)
        known = self._special.get(day)
        if known is not None:
            return known
        if day.weekday() >= 5:
            return DayInfo(day, False, "weekend")
        return DayInfo(day, True, "weekday")

    def is_workday(self, day: date) -> bool:
        return self.info(day).workday

    def add_workdays(self, start: date, n: int) -> date:
        """The ``n``-th working day after ``start``; ``start`` itself never counts, ``n == 0`` → ``start``."""
        if n < 0:
            raise ValueError(f"n must be 0 or more, got {n}")
        day = start
        while n:
            day += timedelta(days=1)
            if self.is_workday(day):
                n -= 1
        return day

    def workdays_between(self, start: date, end: date) -> int:
        """Working days in ``(start, end]``; negative (−days in ``(end, start]``) when ``end`` is earlier.

        ``workdays_between(today, deadline)`` is therefore the working days left, below zero once overdue.
        """
        if end < start:
            return -self.workdays_between(end, start)
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            if self.is_workday(day):
                count += 1
        return count

    def deadline_at(
        self, received_at: datetime, n: int, *, close: time = time(17, 30), tz: str = "Asia/Shanghai"
    ) -> datetime:
        """Close of business (local ``close`` in ``tz``) on the ``n``-th working day after the local
        receipt date, as an aware UTC datetime."""
        if received_at.tzinfo is None or received_at.utcoffset() is None:
            raise ValueError("received_at must be timezone-aware (times are stored in UTC)")
        zone = ZoneInfo(tz)
        local_day = received_at.astimezone(zone).date()
        end_day = self.add_workdays(local_day, n)
        return datetime.combine(end_day, close, tzinfo=zone).astimezone(UTC)
