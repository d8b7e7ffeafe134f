"""The mainland China working-day calendar (工作日历) that promised time limits are counted in."""

from states.calendar.work_calendar import CalendarOverrideError, DayInfo, UnknownYearError, WorkCalendar

__all__ = ["CalendarOverrideError", "DayInfo", "UnknownYearError", "WorkCalendar"]
