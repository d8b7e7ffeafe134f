"""A year the State Council has not yet published is counted by the statutory rules (暂定), never
refused: 《全国年节及纪念日放假办法》 (2024 revision) and its article 6 补假, with the lunar dates from the
``holidays`` package — held here against sources that are independent of it."""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar
import holidays
import pytest
from typer.testing import CliRunner

from bench.sample_calendar import AFTER_NEW_YEAR_2027
from states.calendar import WorkCalendar
from states.calendar.cli import calendar_app
from states.calendar.schedule import ScheduleInvalid, parse_schedule
from states.calendar.statutory import FESTIVALS, makeup_days, provisional_days, statutory_days

D = date.fromisoformat


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar()


# --- 2027 from the rules, against hard facts ---------------------------------------------------

#: Independent facts about 2027: the lunar dates (2027 春节 is Sat 6 February; 除夕 is Fri 5 February;
#: 端午 五月初五 is Wed 9 June; 中秋 八月十五 is Wed 15 September) and the weekdays of the fixed dates.
STATUTORY_2027 = {
    D("2027-01-01"): "元旦",
    D("2027-02-05"): "春节", D("2027-02-06"): "春节", D("2027-02-07"): "春节", D("2027-02-08"): "春节",
    D("2027-04-05"): "清明节",
    D("2027-05-01"): "劳动节", D("2027-05-02"): "劳动节",
    D("2027-06-09"): "端午节",
    D("2027-09-15"): "中秋节",
    D("2027-10-01"): "国庆节", D("2027-10-02"): "国庆节", D("2027-10-03"): "国庆节",
}
#: Article 6: Sat 02-06 and Sun 02-07 → Tue 02-09 and Wed 02-10 (Mon 02-08 is 初三, already off);
#: Sat 05-01, Sun 05-02 → Mon 05-03, Tue 05-04; Sat 10-02, Sun 10-03 → Mon 10-04, Tue 10-05.
MAKEUP_2027 = {D("2027-02-09"), D("2027-02-10"), D("2027-05-03"), D("2027-05-04"), D("2027-10-04"),
               D("2027-10-05")}


def test_2027_statutory_holidays_follow_the_2024_rules() -> None:
    assert statutory_days(2027) == STATUTORY_2027
    assert len(statutory_days(2027)) == sum(n for _, n in FESTIVALS.values()) == 13


def test_2027_spring_festival_is_chuxi_to_chusan_by_the_lunar_calendar() -> None:
    # 除夕 is the day before 正月初一; chinesecalendar's solar terms put 立春 (Feb 4) just before it.
    spring = [d for d, name in statutory_days(2027).items() if name == "春节"]
    assert spring == [D("2027-02-05"), D("2027-02-06"), D("2027-02-07"), D("2027-02-08")]
    assert D("2027-02-05").weekday() == 4  # Friday


def test_qingming_is_the_solar_term_as_chinesecalendar_computes_it() -> None:
    # An independent source: chinesecalendar's own solar-term formula (寿星公式), for 2025–2035.
    for year in range(2025, 2036):
        terms = dict((name, day) for day, name in chinese_calendar.get_solar_terms(D(f"{year}-04-01"),
                                                                                    D(f"{year}-04-10")))
        qingming = next(d for d, n in statutory_days(year).items() if n == "清明节")
        assert terms["清明"] == qingming, year


def test_2027_makeup_days_are_the_next_working_days_after_weekend_holidays() -> None:
    assert set(makeup_days(2027)) == MAKEUP_2027
    # The holidays package applies the same article on its own: the two agree.
    observed = {d for d, n in holidays.China(years=2027).items() if "observed" in n}
    assert observed == MAKEUP_2027


def test_a_provisional_2027_has_no_adjusted_working_days(cal: WorkCalendar) -> None:
    for i in range(365):
        day = D("2027-01-01") + timedelta(days=i)
        info = cal.info(day)
        assert info.provisional
        expected_rest = day in STATUTORY_2027 or day in MAKEUP_2027 or day.weekday() >= 5
        assert info.workday is not expected_rest, day


# --- the published years: the rules give a subset of what was published -------------------------

@pytest.mark.parametrize("year", [2025, 2026])
def test_the_rules_give_a_subset_of_the_published_holidays(year: int) -> None:
    """The notice only adds bridge days and 调休; every day the rules give off was off."""
    published = {d for d in chinese_calendar.holidays if d.year == year}
    rules = set(provisional_days(year))
    assert rules <= published, sorted(rules - published)
    assert len(published - rules) > 0  # the notice adds days the rules cannot know


@pytest.mark.parametrize("year", range(2004, 2027))
def test_the_holidays_package_dates_agree_with_chinesecalendar(year: int) -> None:
    """Every festival the lunar source names for a year chinesecalendar covers is a day off there,
    and under the same festival: the lunar and solar-term dates agree for 2004–2026."""
    names = {"New Year's Day": "New Year's Day", "Chinese New Year's Eve": "Spring Festival",
             "Chinese New Year (Spring Festival)": "Spring Festival", "Tomb-Sweeping Day": "Tomb-sweeping Day",
             "Labor Day": "Labour Day", "Dragon Boat Festival": "Dragon Boat Festival",
             "Mid-Autumn Festival": "Mid-autumn Festival", "National Day": "National Day"}
    for day, label in holidays.China(years=year, observed=False).items():
        for english in str(label).split("; "):
            if english not in names:
                continue
            on_holiday, name = chinese_calendar.get_holiday_detail(day)
            assert on_holiday, (day, english)
            if name is None:  # a weekend day chinesecalendar does not list by name (2012-06-23 端午)
                assert day.weekday() >= 5, (day, english)
                continue
            # 中秋 inside the National Day block (2020, 2023, 2025) is published under either name.
            allowed = {names[english]} | ({"National Day", "Mid-autumn Festival"}
                                         if english in ("Mid-Autumn Festival", "National Day") else set())
            assert name in allowed, (day, english, name)


def test_years_before_the_2024_rules_are_not_provisional(cal: WorkCalendar) -> None:
    with pytest.raises(LookupError):
        statutory_days(2024)
    assert not cal.is_provisional(D("2024-05-01"))


# --- the command line says provisional ---------------------------------------------------------

runner = CliRunner()


@pytest.fixture
def packaged_only(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("TONGBAN_CALENDAR_OVERRIDE", raising=False)
    monkeypatch.delenv("TONGBAN_DATABASE_URL", raising=False)
    monkeypatch.setenv("TONGBAN_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)


@pytest.mark.usefixtures("packaged_only")
def test_cli_deadline_says_provisional_for_a_2027_date() -> None:
    result = runner.invoke(calendar_app, ["deadline", "2026-12-21", "20"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("2027-01-19 provisional (暂定")
    assert "以国务院办公厅公布的节假日安排为准" in result.stdout
    # A published date says nothing more than the date.
    assert runner.invoke(calendar_app, ["deadline", "2026-12-01", "5"]).stdout == "2026-12-08\n"


@pytest.mark.usefixtures("packaged_only")
def test_cli_check_says_provisional_and_why() -> None:
    result = runner.invoke(calendar_app, ["check", "2027-02-09"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("2027-02-09 rest — 春节 补假（暂定 provisional）")
    assert "[provisional: 2027 is not published yet" in result.stdout


# --- an admin's schedule: what is refused ------------------------------------------------------

#: Test data (bench/sample_calendar.py) with 元旦 ending on Sun 01-03.
GOOD_HOLIDAYS = "2027-01-01 2027-01-03 元旦\n" + AFTER_NEW_YEAR_2027
GOOD_WORKDAYS = "2027-02-20 春节\n2027-10-09 国庆节"


def _parse(cal: WorkCalendar, holidays_text: str = GOOD_HOLIDAYS, workdays_text: str = GOOD_WORKDAYS,
           year: str = "2027"):  # type: ignore[no-untyped-def]
    return parse_schedule(year_text=year, source="test", holidays_text=holidays_text,
                          workdays_text=workdays_text, calendar=cal)


def test_a_good_schedule_is_taken(cal: WorkCalendar) -> None:
    schedule = _parse(cal)
    official = schedule.official()
    assert len(official.holidays) == 3 + 8 + 3 + 5 + 1 + 1 + 7
    assert set(official.workdays) == {D("2027-02-20"), D("2027-10-09")}


@pytest.mark.parametrize(("holidays_text", "workdays_text", "message"), [
    (GOOD_HOLIDAYS, "2027-02-18 春节", "2027-02-18 是星期四，调休上班日只能是周六或周日"),
    (GOOD_HOLIDAYS + "\n2027-10-05 2027-10-08 国庆节补", "", "放假日期段重叠"),
    (GOOD_HOLIDAYS.replace("2027-06-09 端午节", "2027-06-10 端午节"), "",
     "法定节假日 2027-06-09（端午节）不在任何放假日期段内"),
    (GOOD_HOLIDAYS, "2027-02-06 春节", "2027-02-06 在放假日期段内"),
    (GOOD_HOLIDAYS + "\n2028-01-01 元旦", "", "2028-01-01 不在 2027 年内"),
    (GOOD_HOLIDAYS + "\n2027-13-01 元旦", "", "“2027-13-01”不是日期"),
    ("", "", "请至少填写一个放假日期段"),
])
def test_bad_schedules_are_refused_with_a_clear_message(cal: WorkCalendar, holidays_text: str,
                                                        workdays_text: str, message: str) -> None:
    with pytest.raises(ScheduleInvalid) as refused:
        _parse(cal, holidays_text, workdays_text)
    assert any(message in p for p in refused.value.problems), refused.value.problems


def test_a_year_with_an_official_schedule_is_refused(cal: WorkCalendar) -> None:
    with pytest.raises(ScheduleInvalid, match="2026 年已有正式的节假日安排（来源：chinesecalendar）"):
        _parse(cal, GOOD_HOLIDAYS.replace("2027", "2026"), "", year="2026")
    with pytest.raises(ScheduleInvalid, match="四位数字"):
        _parse(cal, year="27")
