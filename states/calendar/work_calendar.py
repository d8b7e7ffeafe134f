"""Mainland China working days (工作日): weekends off, public holidays off, 调休 days worked.

Promised time limits (承诺时限) are counted in working days (docs/architecture.md#deadlines). The data comes from the
``chinesecalendar`` package (the State Council schedules it ships, 2004–2026 in 1.11.0) plus an
override file an admin edits (or the years an admin entered in the admin UI) when the State
Council publishes a new year's schedule (November or December).

A later year that none of those covers is **provisional** (暂定): its days off are the statutory
holidays and their 补假 (see :mod:`states.calendar.statutory`), weekends rest, no 调休; every
:class:`DayInfo` of it says ``provisional=True`` so the dates computed from it are marked, and they
are recomputed when the year is published. A year before the packaged ones is an
:class:`UnknownYearError`: the 2024 rules do not reach back.

A zone may have local days (a local adjusted day, rare but real): the override file's ``"zones"``
section, applied by :meth:`WorkCalendar.for_zone` on top of everything else.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar

from states.calendar.statutory import provisional_days

__all__ = [
    "CalendarOverrideError",
    "DayInfo",
    "OfficialYear",
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
    #: The day's year has no published schedule: this is the statutory rule, not the notice.
    provisional: bool = False


@dataclass(frozen=True)
class OfficialYear:
    """A year's published schedule entered by an admin (stored in ``calendar_years``)."""

    year: int
    holidays: dict[date, str]
    workdays: dict[date, str] = field(default_factory=dict)
    source: str = ""


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


def _load_override(path: Path) -> tuple[set[int], dict[date, DayInfo], dict[str, dict[date, DayInfo]]]:
    """Read an override file; every problem is a :class:`CalendarOverrideError` naming file and entry.

    Returns the years it covers, their special days, and each zone's local days."""
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
    zones: dict[str, dict[date, DayInfo]] = {}
    raw_zones = raw.get("zones", {})
    if not isinstance(raw_zones, dict):
        raise CalendarOverrideError(f'calendar override file {path}: "zones" must map zone codes to days')
    for code, entry in raw_zones.items():
        where = f"calendar override file {path}, zone {code}"
        if not isinstance(entry, dict) or set(entry) - {"holidays", "workdays", "note"}:
            raise CalendarOverrideError(f'{where}: expected {{"holidays": {{...}}, "workdays": {{...}}}}')
        local: dict[date, DayInfo] = {}
        for kind, worked in (("holidays", False), ("workdays", True)):
            table = entry.get(kind, {})
            if not isinstance(table, dict):
                raise CalendarOverrideError(f'{where}: "{kind}" must map dates to names')
            for day_key, name in table.items():
                try:
                    day = date.fromisoformat(day_key)
                except (TypeError, ValueError):
                    raise CalendarOverrideError(f"{where}: {kind} key {day_key!r} is not a YYYY-MM-DD date") from None
                if not isinstance(name, str) or not name.strip():
                    raise CalendarOverrideError(f"{where}: {kind} date {day_key} needs a name")
                if day in local:
                    raise CalendarOverrideError(f"{where}: {day_key} is listed both as a holiday and a workday")
                local[day] = DayInfo(day, worked, f"{name.strip()}（{code} 本地调整 local day）")
        zones[str(code)] = local
    return years, special, zones


class WorkCalendar:
    """Working days from the packaged schedules, the override file and the admin-entered years (later
    wins), provisional for a later year none of them covers, with a zone's local days on top."""

    def __init__(self, override_path: Path | None = None, *, official: Iterable[OfficialYear] = ()) -> None:
        self._years, self._special = _package_days()
        self._packaged = frozenset(self._years)
        self._first = min(self._years)
        self._sources: dict[int, str] = {y: "chinesecalendar" for y in self._years}
        self._zones: dict[str, dict[date, DayInfo]] = {}
        self.override_path = override_path
        self.zone: str | None = None
        self._local: dict[date, DayInfo] = {}
        self._provisional: dict[int, dict[date, DayInfo]] = {}
        if override_path is not None:
            years, special, zones = _load_override(Path(override_path))
            self._years |= years
            self._special.update(special)
            self._zones = zones
            self._sources.update({y: f"override file {override_path}" for y in years})
        for entry in official:
            self._years.add(entry.year)
            self._sources[entry.year] = f"admin: {entry.source}".strip()
            self._special.update({d: DayInfo(d, False, n) for d, n in entry.holidays.items()})
            self._special.update({d: DayInfo(d, True, n) for d, n in entry.workdays.items()})

    def for_zone(self, code: str | None) -> WorkCalendar:
        """This calendar as the zone ``code`` counts it: its local days (if any) on top."""
        if not code or code == self.zone or (code not in self._zones and self.zone is None):
            return self
        view = copy.copy(self)
        view.zone = code
        view._local = self._zones.get(code, {})
        return view

    def zones_with_local_days(self) -> set[str]:
        return {code for code, days in self._zones.items() if days}

    def differs_between(self, a: str | None, b: str | None) -> bool:
        """Whether zones ``a`` and ``b`` count some day differently (one of them has local days)."""
        return (self._zones.get(a or "") or {}) != (self._zones.get(b or "") or {})

    def covered_years(self) -> set[int]:
        """The years with a published schedule (every day's status is known, nothing provisional)."""
        return set(self._years)

    def is_official(self, year: int) -> bool:
        return year in self._years

    def source_of(self, year: int) -> str:
        """Where the year's schedule comes from (``chinesecalendar``, the override file, an admin), or
        ``provisional``."""
        return self._sources.get(year, "provisional")

    def is_provisional(self, day: date) -> bool:
        """Whether ``day`` lies in a year counted by the statutory rules only (暂定)."""
        return day.year not in self._years and day.year > self._first

    def provisional_holidays(self, year: int) -> dict[date, DayInfo]:
        """The days off (statutory holidays and 补假) of a year without a published schedule."""
        table = self._provisional.get(year)
        if table is None:
            if year < self._first:
                raise UnknownYearError(year)
            try:
                days = provisional_days(year)
            except LookupError:
                raise UnknownYearError(year) from None
            table = {d: DayInfo(d, False, f"{n}（暂定 provisional）", True)
                     for d, n in days.items()}
            self._provisional[year] = table
        return table

    def info(self, day: date) -> DayInfo:
        """Whether ``day`` is worked and why; :class:`UnknownYearError` for a year with no data."""
        if isinstance(day, datetime):
            raise TypeError("WorkCalendar takes a date; convert a datetime with .date() in its time zone")
        if self._local:
            local = self._local.get(day)
            if local is not None:
                return local
        if day.year not in self._years:
            if day.year < self._first:
                raise UnknownYearError(day.year)
            known = self.provisional_holidays(day.year).get(day)
            if known is not None:
                return known
            if day.weekday() >= 5:
                return DayInfo(day, False, "weekend（暂定 provisional）", True)
            return DayInfo(day, True, "weekday（暂定 provisional）", True)
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
