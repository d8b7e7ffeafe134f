"""A year's published schedule as an admin enters it (节假日安排通知), checked before it is used.

The notice gives holiday ranges (``2027-02-05 至 2027-02-12 春节``) and the 调休 working days (the
weekend days that are worked). What is refused, each with a message naming the line:

* a year that already has an official schedule (package, override file, or entered before);
* a date outside the year, a range that ends before it starts, a range without a name;
* overlapping ranges;
* a statutory holiday (states/calendar/statutory.py) outside every range — the law fixes it, so
  a notice without it is a typing error;
* a 调休 day that is not a Saturday or Sunday, or that lies inside a holiday range.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from states.calendar.statutory import statutory_days
from states.calendar.work_calendar import OfficialYear, WorkCalendar

__all__ = ["Schedule", "ScheduleInvalid", "parse_schedule"]

WEEKDAYS = "一二三四五六日"


class ScheduleInvalid(ValueError):
    """The schedule was refused; ``problems`` lists every reason (in Chinese, for the admin page)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("；".join(problems))


@dataclass(frozen=True)
class Schedule:
    year: int
    source: str
    ranges: list[tuple[date, date, str]]
    workdays: dict[date, str] = field(default_factory=dict)

    def official(self) -> OfficialYear:
        holidays: dict[date, str] = {}
        for first, last, name in self.ranges:
            day = first
            while day <= last:
                holidays[day] = name
                day += timedelta(days=1)
        return OfficialYear(self.year, holidays, dict(self.workdays), self.source)


def _date(text: str, year: int, where: str, problems: list[str]) -> date | None:
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        problems.append(f"{where}：“{text.strip()}”不是日期，请写作 YYYY-MM-DD")
        return None
    if day.year != year:
        problems.append(f"{where}：{day.isoformat()} 不在 {year} 年内")
        return None
    return day


def parse_schedule(*, year_text: str, source: str, holidays_text: str, workdays_text: str,
                   calendar: WorkCalendar) -> Schedule:
    """Parse the admin form. Holidays: one range per line, ``first last name`` or ``day name``;
    workdays: one per line, ``day name``. Raises :class:`ScheduleInvalid` with every problem found."""
    problems: list[str] = []
    text = year_text.strip()
    if not (text.isdigit() and len(text) == 4):
        raise ScheduleInvalid([f"年份“{text}”应为四位数字，例如 2027"])
    year = int(text)
    if calendar.is_official(year):
        raise ScheduleInvalid([f"{year} 年已有正式的节假日安排（来源：{calendar.source_of(year)}），不能重复添加"])
    try:
        statutory = statutory_days(year)
    except LookupError:
        raise ScheduleInvalid([f"{year} 年不适用现行《全国年节及纪念日放假办法》，不能在此添加"]) from None

    ranges: list[tuple[date, date, str]] = []
    for n, line in enumerate(holidays_text.splitlines(), start=1):
        parts = line.replace("至", " ").replace("~", " ").split()
        if not parts:
            continue
        where = f"放假第 {n} 行"
        if len(parts) >= 3 and parts[1][:1].isdigit():
            first, last, name = parts[0], parts[1], " ".join(parts[2:])
        elif len(parts) >= 2:
            first, last, name = parts[0], parts[0], " ".join(parts[1:])
        else:
            problems.append(f"{where}：请写明日期和节日名称，例如“2027-02-05 2027-02-12 春节”")
            continue
        a, b = _date(first, year, where, problems), _date(last, year, where, problems)
        if a is None or b is None:
            continue
        if b < a:
            problems.append(f"{where}：结束日 {b.isoformat()} 早于开始日 {a.isoformat()}")
            continue
        ranges.append((a, b, name.strip()))
    if not ranges and not problems:
        problems.append("请至少填写一个放假日期段（元旦、春节等）")
    ranges.sort()
    for (a1, b1, n1), (a2, b2, n2) in zip(ranges, ranges[1:], strict=False):
        if a2 <= b1:
            problems.append(f"放假日期段重叠：{n1}（{a1.isoformat()}–{b1.isoformat()}）与"
                            f"{n2}（{a2.isoformat()}–{b2.isoformat()}）")

    def inside(day: date) -> bool:
        return any(a <= day <= b for a, b, _ in ranges)

    if ranges:
        for day, name in sorted(statutory.items()):
            if not inside(day):
                problems.append(f"法定节假日 {day.isoformat()}（{name}）不在任何放假日期段内")

    workdays: dict[date, str] = {}
    for n, line in enumerate(workdays_text.splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        where = f"调休上班第 {n} 行"
        worked = _date(parts[0], year, where, problems)
        if worked is None:
            continue
        day = worked
        if day.weekday() < 5:
            problems.append(f"{where}：{day.isoformat()} 是星期{WEEKDAYS[day.weekday()]}，"
                            "调休上班日只能是周六或周日")
            continue
        if inside(day):
            problems.append(f"{where}：{day.isoformat()} 在放假日期段内，不能同时是调休上班日")
            continue
        if day in workdays:
            problems.append(f"{where}：{day.isoformat()} 重复填写")
            continue
        label = " ".join(parts[1:]).strip()
        workdays[day] = f"调休 adjusted working day ({label})" if label else "调休 adjusted working day"
    if problems:
        raise ScheduleInvalid(problems)
    return Schedule(year, source.strip()[:200], ranges, workdays)
