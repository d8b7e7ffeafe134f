"""The mainland China working-day calendar (工作日历) that promised time limits are counted in."""

from states.calendar.statutory import PROVISIONAL_NOTE
from states.calendar.work_calendar import (
    CalendarOverrideError,
    DayInfo,
    OfficialYear,
    UnknownYearError,
    WorkCalendar,
)

__all__ = ["PROVISIONAL_NOTE", "CalendarOverrideError", "DayInfo", "OfficialYear", "UnknownYearError", "WorkCalendar"]
