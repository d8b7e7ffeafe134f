"""Everything a request, a flow or a command needs, built once from ``Settings``.

The edges (web app, CLI, flow entry points) build one ``Runtime`` and pass it down; nothing deeper
reads configuration on its own.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, time
from functools import cached_property
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from documents.intake import ImageLimits, image_limits
from states.calendar import WorkCalendar
from states.sla.clock import Clock
from storage.case import idhash
from storage.db import make_engine, make_session_factory, utcnow
from storage.objects import ObjectStore, open_store


@dataclass
class Runtime:
    settings: Settings
    #: The clock tests control; production uses the wall clock.
    now_fn: object = field(default=utcnow)
    #: Set after a transition commits, so an in-process dispatcher picks outbox jobs up at once.
    dispatcher_wakeup: threading.Event = field(default_factory=threading.Event)

    @cached_property
    def engine(self) -> Engine:
        url = self.settings.resolved_database_url()
        if url.startswith("sqlite"):
            self.settings.home.mkdir(parents=True, exist_ok=True)
        return make_engine(url)

    @cached_property
    def session_factory(self) -> sessionmaker[Session]:
        factory = make_session_factory(self.engine)
        # the key of the applicant-ID search hash (storage/case/idhash.py), for every session
        factory.configure(info={idhash.INFO_KEY: idhash.derive_key(self.settings.secret_key)})
        return factory

    @cached_property
    def store(self) -> ObjectStore:
        return open_store(self.settings.resolved_storage_url())

    @cached_property
    def calendar(self) -> WorkCalendar:
        """Packaged years + the override file + the years an admin entered (``calendar_years``)."""
        from states.calendar.recompute import official_years

        try:
            with self.session_factory() as s:
                official = official_years(db_session=s)
        except DBAPIError:
            official = []  # a database not migrated yet: nothing entered there
        return WorkCalendar(self.settings.calendar_override, official=official)

    def make_clock(self, calendar: WorkCalendar) -> Clock:
        return Clock(calendar, tz=self.settings.timezone,
                     close=time.fromisoformat(self.settings.close_of_business),
                     warning_workdays=self.settings.sla_warning_workdays,
                     escalation_workdays=self.settings.sla_escalation_workdays)

    @cached_property
    def clock(self) -> Clock:
        return self.make_clock(self.calendar)

    def reload_calendar(self) -> None:
        """Count with the calendar as it now stands (after a year was published)."""
        self.__dict__.pop("calendar", None)
        self.__dict__.pop("clock", None)

    @cached_property
    def image_limits(self) -> ImageLimits:
        """Scan size limits and the conversion memory budget, shared by every runtime of the process."""
        st = self.settings
        return image_limits(st.image_max_pixels, st.image_max_decoded_bytes, st.image_memory_budget)

    @cached_property
    def spool_dir(self) -> Path:
        """Staging area for uploads being checked and packets being built (made on first use)."""
        path = self.settings.spool_dir()
        path.mkdir(parents=True, exist_ok=True)
        return path

    def now(self) -> datetime:
        return self.now_fn()  # type: ignore[operator]

    def wake_dispatcher(self) -> None:
        self.dispatcher_wakeup.set()

    def dispose(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()
