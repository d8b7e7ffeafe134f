"""Promised time limits run in mainland China working days; these tests hold the calendar to the
State Council's published schedules (国务院办公厅关于 2025/2026 年部分节假日安排的通知)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from states.calendar import CalendarOverrideError, DayInfo, UnknownYearError, WorkCalendar
from states.calendar.cli import calendar_app

EXAMPLE_OVERRIDE = (
    Path(__file__).resolve().parents[2] / "states" / "calendar" / "data" / "override.example.json"
)


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar()


def _days(first: str, last: str) -> list[date]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def _year(year: int) -> list[date]:
    return _days(f"{year}-01-01", f"{year}-12-31")


# --- the published schedules -------------------------------------------------------------------

# 国办发明电〔2024〕12号 (2025): every day off that falls Monday–Friday, and every weekend day worked.
REST_ON_WEEKDAYS_2025 = {
    "2025-01-01",  # 元旦
    *("2025-01-28", "2025-01-29", "2025-01-30", "2025-01-31", "2025-02-03", "2025-02-04"),  # 春节 1-28..2-4
    "2025-04-04",  # 清明 4-4..4-6
    *("2025-05-01", "2025-05-02", "2025-05-05"),  # 劳动节 5-1..5-5
    "2025-06-02",  # 端午 5-31..6-2
    *(
        "2025-10-01",
        "2025-10-02",
        "2025-10-03",
        "2025-10-06",
        "2025-10-07",
        "2025-10-08",
    ),  # 国庆+中秋 10-1..10-8
}
WORKED_WEEKENDS_2025 = {"2025-01-26", "2025-02-08", "2025-04-27", "2025-09-28", "2025-10-11"}

# 国办发明电〔2025〕7号 (2026).
REST_ON_WEEKDAYS_2026 = {
    *("2026-01-01", "2026-01-02"),  # 元旦 1-1..1-3
    *("2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19", "2026-02-20", "2026-02-23"),  # 春节 2-15..2-23
    "2026-04-06",  # 清明 4-4..4-6
    *("2026-05-01", "2026-05-04", "2026-05-05"),  # 劳动节 5-1..5-5
    "2026-06-19",  # 端午 6-19..6-21
    "2026-09-25",  # 中秋 9-25..9-27
    *("2026-10-01", "2026-10-02", "2026-10-05", "2026-10-06", "2026-10-07"),  # 国庆 10-1..10-7
}
WORKED_WEEKENDS_2026 = {"2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"}


@pytest.mark.parametrize(
    ("year", "rest_on_weekdays", "worked_weekends"),
    [
        (2025, REST_ON_WEEKDAYS_2025, WORKED_WEEKENDS_2025),
        (2026, REST_ON_WEEKDAYS_2026, WORKED_WEEKENDS_2026),
    ],
)
def test_every_day_of_the_year_follows_the_state_council_notice(
    cal: WorkCalendar, year: int, rest_on_weekdays: set[str], worked_weekends: set[str]
) -> None:
    for day in _year(year):
        weekend = day.weekday() >= 5
        expected = (
            (day.isoformat() in worked_weekends) if weekend else (day.isoformat() not in rest_on_weekdays)
        )
        assert cal.is_workday(day) is expected, day


@pytest.mark.parametrize(
    ("first", "last", "name"),
    [
        ("2025-01-28", "2025-02-04", "春节 Spring Festival"),
        ("2025-10-01", "2025-10-05", "国庆节 National Day"),
        ("2025-10-07", "2025-10-08", "国庆节 National Day"),
        ("2026-01-01", "2026-01-03", "元旦 New Year's Day"),
        ("2026-02-15", "2026-02-23", "春节 Spring Festival"),
        ("2026-10-01", "2026-10-07", "国庆节 National Day"),
    ],
)
def test_holiday_blocks_are_off_and_named(cal: WorkCalendar, first: str, last: str, name: str) -> None:
    for day in _days(first, last):
        assert cal.info(day) == DayInfo(day, False, name)


def test_mid_autumn_inside_the_2025_national_day_block_keeps_its_own_name(cal: WorkCalendar) -> None:
    # In 2025 中秋 fell on 10-6, inside the combined 10-1..10-8 break.
    assert cal.info(date(2025, 10, 6)).reason == "中秋 Mid-autumn Festival"


@pytest.mark.parametrize(
    ("day", "weekday", "festival"),
    [
        ("2025-01-26", 6, "春节"),
        ("2025-02-08", 5, "春节"),
        ("2025-09-28", 6, "国庆节"),
        ("2025-10-11", 5, "国庆节"),
        ("2026-01-04", 6, "元旦"),
        ("2026-02-14", 5, "春节"),
        ("2026-02-28", 5, "春节"),
        ("2026-09-20", 6, "国庆节"),
        ("2026-10-10", 5, "国庆节"),
    ],
)
def test_adjusted_working_days_are_worked_weekend_days(
    cal: WorkCalendar, day: str, weekday: int, festival: str
) -> None:
    when = date.fromisoformat(day)
    assert when.weekday() == weekday  # the notice's 周六/周日
    assert cal.info(when) == DayInfo(when, True, f"调休 adjusted working day ({festival})")


def test_ordinary_days_say_weekday_or_weekend(cal: WorkCalendar) -> None:
    assert cal.info(date(2026, 3, 10)) == DayInfo(date(2026, 3, 10), True, "weekday")
    assert cal.info(date(2026, 3, 14)) == DayInfo(date(2026, 3, 14), False, "weekend")


def test_agrees_with_the_package_on_every_covered_day(cal: WorkCalendar) -> None:
    # chinese_calendar.is_workday is an independent reading of the same tables.
    for day in _days("2004-01-01", "2026-12-31"):
        assert cal.is_workday(day) is chinese_calendar.is_workday(day), day


def test_covered_years_are_the_packaged_ones_and_no_more(cal: WorkCalendar) -> None:
    assert cal.covered_years() == set(range(2004, 2027))


# --- deadlines ---------------------------------------------------------------------------------


def test_a_deadline_across_the_2026_spring_festival(cal: WorkCalendar) -> None:
    # Received Thu 2026-02-12, 5 working days: 2-13 Fri (1), 2-14 Sat 调休 (2),
    # 2-15..2-23 off, 2-24 Tue (3), 2-25 Wed (4), 2-26 Thu (5).
    assert cal.add_workdays(date(2026, 2, 12), 5) == date(2026, 2, 26)
    assert cal.workdays_between(date(2026, 2, 12), date(2026, 2, 26)) == 5


def test_a_deadline_across_the_2025_spring_festival(cal: WorkCalendar) -> None:
    # Received Fri 2025-01-24, 3 working days: 1-25 Sat off, 1-26 Sun 调休 (1), 1-27 Mon (2),
    # 1-28..2-4 off, 2-5 Wed (3).
    assert cal.add_workdays(date(2025, 1, 24), 3) == date(2025, 2, 5)


def test_a_deadline_across_the_2025_national_day(cal: WorkCalendar) -> None:
    # Received Fri 2025-09-26, 5 working days: 9-27 Sat off, 9-28 Sun 调休 (1), 9-29 Mon (2),
    # 9-30 Tue (3), 10-1..10-8 off, 10-9 Thu (4), 10-10 Fri (5).
    assert cal.add_workdays(date(2025, 9, 26), 5) == date(2025, 10, 10)


def test_a_deadline_across_the_2026_national_day_ends_on_the_adjusted_saturday(cal: WorkCalendar) -> None:
    # Received Wed 2026-09-30, 3 working days: 10-1..10-7 off, 10-8 Thu (1), 10-9 Fri (2),
    # 10-10 Sat 调休 (3).
    assert cal.add_workdays(date(2026, 9, 30), 3) == date(2026, 10, 10)


def test_receipt_day_never_counts_even_when_it_is_a_holiday(cal: WorkCalendar) -> None:
    # Received on 2026-02-15 (春节, a window open for emergencies): 1 working day → 2-24.
    assert cal.add_workdays(date(2026, 2, 15), 1) == date(2026, 2, 24)
    assert cal.add_workdays(date(2026, 2, 15), 0) == date(2026, 2, 15)


def test_negative_n_is_refused(cal: WorkCalendar) -> None:
    with pytest.raises(ValueError, match="0 or more"):
        cal.add_workdays(date(2026, 3, 2), -1)


def test_workdays_between_counts_the_half_open_interval(cal: WorkCalendar) -> None:
    # (Mon 3-2, Mon 3-9] holds Tue..Fri and Mon 3-9: 5 working days; the start day is excluded.
    assert cal.workdays_between(date(2026, 3, 2), date(2026, 3, 9)) == 5
    assert cal.workdays_between(date(2026, 3, 2), date(2026, 3, 2)) == 0
    # Overdue: counting back gives the working days past the deadline, negative.
    assert cal.workdays_between(date(2026, 3, 9), date(2026, 3, 2)) == -5


def test_deadline_at_is_close_of_business_in_shanghai_as_utc(cal: WorkCalendar) -> None:
    received = datetime(2026, 2, 12, 2, 15, tzinfo=UTC)  # 10:15 in Shanghai on Thu 2-12
    due = cal.deadline_at(received, 5)
    # 5 working days → Thu 2026-02-26 17:30 Asia/Shanghai (UTC+8) = 09:30 UTC.
    assert due == datetime(2026, 2, 26, 9, 30, tzinfo=UTC)
    assert due.utcoffset() == timedelta(0)


def test_deadline_at_counts_from_the_local_date_not_the_utc_date(cal: WorkCalendar) -> None:
    # 2026-02-13 16:30 UTC is already 00:30 on Sat 2-14 in Shanghai (a 调休 working day). One working
    # day after 2-14 is 2-24 (2-15..2-23 off); counting from the UTC date 2-13 would give 2-14.
    received = datetime(2026, 2, 13, 16, 30, tzinfo=UTC)
    assert cal.deadline_at(received, 1) == datetime(2026, 2, 24, 9, 30, tzinfo=UTC)


def test_deadline_at_takes_a_closing_time_and_zone(cal: WorkCalendar) -> None:
    received = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    assert cal.deadline_at(received, 0, close=time(18, 0)) == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    assert cal.deadline_at(received, 1, close=time(17, 0), tz="UTC") == datetime(
        2026, 3, 3, 17, 0, tzinfo=UTC
    )


def test_deadline_at_refuses_a_naive_datetime(cal: WorkCalendar) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.deadline_at(datetime(2026, 3, 2, 9, 0), 1)


# --- a year nobody has published: provisional, never a refusal (tests/states/test_calendar_provisional.py)


def test_2027_is_provisional_not_a_refusal(cal: WorkCalendar) -> None:
    info = cal.info(date(2027, 1, 4))
    assert info.workday is True and info.provisional is True
    assert cal.is_provisional(date(2027, 1, 4)) and not cal.is_provisional(date(2026, 12, 31))
    assert 2027 not in cal.covered_years() and cal.source_of(2027) == "provisional"


def test_a_december_case_with_a_long_limit_gets_a_provisional_2027_date(cal: WorkCalendar) -> None:
    # Sun 2026-12-20 + 10 working days: 12-21..12-31 give 9, 2027-01-01 (Fri, 元旦) is off, Mon 01-04.
    assert cal.add_workdays(date(2026, 12, 20), 10) == date(2027, 1, 4)
    assert cal.add_workdays(date(2026, 12, 20), 9) == date(2026, 12, 31)


UNKNOWN_2003 = (
    "the working-day calendar has no data for 2003; add that year's State Council schedule "
    "to the override file (TONGBAN_CALENDAR_OVERRIDE) — see README"
)


def test_years_before_the_package_are_unknown_too(cal: WorkCalendar) -> None:
    with pytest.raises(UnknownYearError, match="2003"):
        cal.info(date(2003, 12, 31))


def _write_override(path: Path, years: dict[str, object]) -> Path:
    path.write_text(json.dumps({"years": years}, ensure_ascii=False), encoding="utf-8")
    return path


# Test data in the override format, NOT the real 2027 schedule (not published when this was written).
TEST_2027 = {
    "holidays": {
        "2027-01-01": "元旦 New Year's Day (test data)",
        "2027-02-05": "春节 Spring Festival (test data)",
        "2027-02-08": "春节 Spring Festival (test data)",
    },
    "workdays": {"2027-01-09": "调休 adjusted working day (test data)"},
}


def test_an_override_file_makes_2027_work(tmp_path: Path) -> None:
    cal = WorkCalendar(_write_override(tmp_path / "override.json", {"2027": TEST_2027}))
    assert 2027 in cal.covered_years()
    assert cal.info(date(2027, 1, 1)) == DayInfo(date(2027, 1, 1), False, "元旦 New Year's Day (test data)")
    assert cal.info(date(2027, 1, 9)).workday is True  # a Saturday listed as worked
    assert cal.info(date(2027, 1, 4)) == DayInfo(date(2027, 1, 4), True, "weekday")  # not listed: Monday
    assert cal.info(date(2027, 1, 10)) == DayInfo(date(2027, 1, 10), False, "weekend")
    # Sun 2026-12-20 + 10: 12-21..12-31 give 9, 2027-01-01 (Fri) is off in the file, Sat/Sun off,
    # Mon 2027-01-04 is the 10th.
    assert cal.add_workdays(date(2026, 12, 20), 10) == date(2027, 1, 4)
    assert cal.info(date(2028, 1, 3)).provisional  # the year after stays provisional


def test_the_override_wins_over_the_package_for_the_dates_it_lists(tmp_path: Path) -> None:
    path = _write_override(
        tmp_path / "override.json",
        {
            "2026": {
                "holidays": {"2026-02-14": "春节 Spring Festival (corrected)", "2026-03-02": "test closure"},
                "workdays": {"2026-02-23": "调休 adjusted working day (corrected)"},
            }
        },
    )
    cal = WorkCalendar(path)
    assert cal.info(date(2026, 2, 14)) == DayInfo(
        date(2026, 2, 14), False, "春节 Spring Festival (corrected)"
    )
    assert cal.info(date(2026, 2, 23)).workday is True
    assert cal.info(date(2026, 3, 2)).workday is False
    # Dates the file does not list keep the package's answer.
    assert cal.info(date(2026, 2, 28)) == DayInfo(date(2026, 2, 28), True, "调休 adjusted working day (春节)")
    assert cal.info(date(2026, 2, 16)).workday is False


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "cannot be read"),
        ('{"2027": {}}', 'expected {"years"'),
        ('{"years": {"27": {"holidays": {"2027-01-01": "元旦"}}}}', "a year is four digits"),
        ('{"years": {"2027": {}}}', "must list that year's public holidays"),
        ('{"years": {"2027": {"holidays": {}}}}', "must list that year's public holidays"),
        ('{"years": {"2027": {"holidays": {"2027-1-1": "元旦"}}}}', "is not a YYYY-MM-DD date"),
        ('{"years": {"2027": {"holidays": {"2027-02-30": "春节"}}}}', "is not a YYYY-MM-DD date"),
        ('{"years": {"2027": {"holidays": {"2028-01-01": "元旦"}}}}', "is not in 2027"),
        ('{"years": {"2027": {"holidays": {"2027-01-01": ""}}}}', "needs a name"),
        (
            '{"years": {"2027": {"holidays": {"2027-01-01": "元旦"}, "workdays": {"2027-01-01": "调休"}}}}',
            "listed both as a holiday and a workday",
        ),
        ('{"years": {"2027": {"holidays": {"2027-01-01": "元旦"}, "holidayz": {}}}}', "expected"),
    ],
)
def test_a_broken_override_file_is_refused_with_file_and_entry(
    tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "override.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CalendarOverrideError) as caught:
        WorkCalendar(path)
    assert problem in str(caught.value)
    assert str(path) in str(caught.value)


def test_a_missing_override_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CalendarOverrideError, match="does not exist"):
        WorkCalendar(tmp_path / "nowhere.json")


def test_the_shipped_example_is_a_valid_format_sample_and_not_loaded_by_default() -> None:
    raw = json.loads(EXAMPLE_OVERRIDE.read_text(encoding="utf-8"))
    assert "FORMAT SAMPLE ONLY" in raw["_comment"]
    # Its dates are in a far-off year, so it can never pass for a real schedule.
    assert all(int(year) > 2090 for year in raw["years"])
    sample = WorkCalendar(EXAMPLE_OVERRIDE)
    assert sample.covered_years() == set(range(2004, 2027)) | {2099}
    assert "示例 example" in sample.info(date(2099, 1, 1)).reason
    assert 2099 not in WorkCalendar().covered_years()


# --- properties --------------------------------------------------------------------------------

# Starts and limits chosen so that every result stays inside 2004..2026.
_starts = st.dates(min_value=date(2004, 1, 1), max_value=date(2026, 9, 30))
_limits = st.integers(min_value=0, max_value=40)


@settings(max_examples=300)
@given(_starts, st.integers(min_value=1, max_value=40))
def test_the_nth_working_day_is_a_working_day_strictly_after_the_start(start: date, n: int) -> None:
    cal = _shared_calendar()
    end = cal.add_workdays(start, n)
    assert end > start
    assert cal.is_workday(end)
    assert cal.workdays_between(start, end) == n
    # No earlier day already had n working days.
    assert cal.workdays_between(start, end - timedelta(days=1)) == n - 1


@settings(max_examples=200)
@given(_starts, _limits)
def test_more_working_days_end_strictly_later(start: date, n: int) -> None:
    cal = _shared_calendar()
    assert cal.add_workdays(start, n) < cal.add_workdays(start, n + 1)


@settings(max_examples=200)
@given(_starts, st.integers(0, 20), st.integers(0, 20))
def test_limits_compose(start: date, n: int, m: int) -> None:
    cal = _shared_calendar()
    assert cal.add_workdays(start, n + m) == cal.add_workdays(cal.add_workdays(start, n), m)


@given(_starts, _starts)
def test_workdays_between_is_antisymmetric(a: date, b: date) -> None:
    cal = _shared_calendar()
    assert cal.workdays_between(a, b) == -cal.workdays_between(b, a)


_SHARED: list[WorkCalendar] = []


def _shared_calendar() -> WorkCalendar:
    """One calendar for all hypothesis examples (fixtures are not reset between examples)."""
    if not _SHARED:
        _SHARED.append(WorkCalendar())
    return _SHARED[0]


# --- the command line --------------------------------------------------------------------------

runner = CliRunner()


@pytest.fixture
def no_settings_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Run the CLI with the packaged calendar only, whatever the machine's environment says."""
    monkeypatch.delenv("TONGBAN_CALENDAR_OVERRIDE", raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


@pytest.mark.usefixtures("no_settings_override")
@pytest.mark.parametrize(
    ("day", "line"),
    [
        ("2026-02-14", "2026-02-14 workday — 调休 adjusted working day (春节)"),
        ("2026-02-16", "2026-02-16 rest — 春节 Spring Festival"),
        ("2026-03-10", "2026-03-10 workday — weekday"),
        ("2026-03-14", "2026-03-14 rest — weekend"),
    ],
)
def test_cli_check_prints_workday_or_rest_and_why(day: str, line: str) -> None:
    result = runner.invoke(calendar_app, ["check", day])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == line + "\n"


@pytest.mark.usefixtures("no_settings_override")
def test_cli_deadline_prints_the_iso_date() -> None:
    result = runner.invoke(calendar_app, ["deadline", "2026-02-12", "5"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "2026-02-26\n"


@pytest.mark.usefixtures("no_settings_override")
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check", "2003-01-06"], "error: " + UNKNOWN_2003),
        (["check", "2026-02-30"], "error: '2026-02-30' is not a date; write it as YYYY-MM-DD"),
        (["deadline", "tomorrow", "3"], "error: 'tomorrow' is not a date; write it as YYYY-MM-DD"),
    ],
)
def test_cli_errors_are_one_line_on_stderr_with_exit_code_1(args: list[str], message: str) -> None:
    result = runner.invoke(calendar_app, args)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == message + "\n"


def test_cli_uses_the_override_option(tmp_path: Path) -> None:
    path = _write_override(tmp_path / "override.json", {"2027": TEST_2027})
    result = runner.invoke(calendar_app, ["deadline", "2026-12-20", "10", "--override", str(path)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "2027-01-04\n"


def test_cli_takes_the_override_from_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = _write_override(tmp_path / "override.json", {"2027": TEST_2027})
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TONGBAN_CALENDAR_OVERRIDE", str(path))
    result = runner.invoke(calendar_app, ["check", "2027-01-01"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "2027-01-01 rest — 元旦 New Year's Day (test data)\n"


def test_cli_reports_a_broken_override_file(tmp_path: Path) -> None:
    path = tmp_path / "override.json"
    path.write_text('{"years": {"2027": {"holidays": {"2027-13-01": "x"}}}}', encoding="utf-8")
    result = runner.invoke(calendar_app, ["check", "2026-03-10", "--override", str(path)])
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: calendar override file") and "2027-13-01" in lines[0]
