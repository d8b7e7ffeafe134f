"""A year's published schedule (国务院办公厅关于 YYYY 年部分节假日安排的通知) as an admin entered it.

The override file is the other way to add a year; both feed ``WorkCalendar`` (states/calendar).
Entered once: a year already official (package, override file or here) is refused, so a published
year never changes under open cases.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from storage.db import Base, utcnow


class CalendarYear(Base):
    __tablename__ = "calendar_years"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    #: The notice number (国办发明电〔YYYY〕N号) or other source named by the admin.
    source: Mapped[str] = mapped_column(String(200), default="")
    #: ``[[first, last, name], …]``: the holiday ranges as entered (ISO dates, both ends off).
    ranges: Mapped[list[Any]] = mapped_column(default=list)
    #: ``{"YYYY-MM-DD": name}``: the 调休 working days (weekend days that are worked).
    workdays: Mapped[dict[str, Any]] = mapped_column(default=dict)
    added_by: Mapped[str] = mapped_column(String(60), default="")
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
