"""A reviewer's first queue page (50 cases, most urgent step deadline first) with N open cases.

Measured through ``states.queue.service.queue`` in a fresh transaction each time, Case objects and
their joined item, applicant and zones loaded, as the API's ``GET /api/v1/queue`` does. The floor
next to it is loading the very same 50 cases by primary key through the same ORM path.
"""

from __future__ import annotations

from sqlalchemy import select

from bench.runner import BenchDB, median_time
from states.queue.service import queue
from storage.case.models import Case
from storage.db import transaction

NAME = "queue_page"
PAGE = 50


def measure(db: BenchDB, repeats: int, reviewer: str = "tj_reviewer") -> tuple[float, float]:
    """Median seconds of the first page, and of loading the same page by primary key."""
    rt = db.runtime
    actor = db.users[reviewer]
    with transaction(rt.session_factory) as s:
        ids = [c.id for c in queue(db_session=s, actor=actor, limit=PAGE)]
    if len(ids) < min(PAGE, 1):
        raise RuntimeError("the reviewer's queue is empty: nothing would be measured")

    def first_page() -> int:
        with transaction(rt.session_factory) as s:
            return len(queue(db_session=s, actor=actor, limit=PAGE))

    def by_primary_key() -> int:
        with transaction(rt.session_factory) as s:
            return len(list(s.scalars(select(Case).where(Case.id.in_(ids))).unique()))

    return median_time(first_page, repeats), median_time(by_primary_key, repeats)
