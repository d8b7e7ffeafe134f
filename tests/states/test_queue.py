"""The work queue reads lane by lane off the queue indexes, yet gives the order a reviewer expects:
most urgent step deadline first, cases without a step deadline last, each case once, pages that
follow on from each other."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import select

from bench.data import add_open_cases, prepare_world
from bench.runner import BenchDB, bench_db
from states.queue.service import queue
from states.transition.rules import Actor
from states.transition.service import events_for
from storage.case.models import Case
from storage.db import transaction


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def busy_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BenchDB]:
    """Two zones with 3,000 open cases spread over every open state (bulk-loaded as the benchmark does)."""
    server = request.getfixturevalue("pg_server_url") if request.param == "postgresql" else None
    with bench_db(request.param, tmp_path_factory.mktemp("queue"), pg_server_url=server, label="queue") as db:
        add_open_cases(db, prepare_world(db, applicants=20), 3_000, show=False)
        yield db


def must_act(actor: Actor, case: Case) -> bool:
    """Whoever must act: an event of the lifecycle the caller may send now, withdrawal aside (always
    possible, never work), mail-back only for a mailed result and pickup only for a collected one."""
    events = set(events_for(actor, case)) - {"withdraw"}
    if case.delivery_method == "pickup":
        events.discard("mail_result")
    else:
        events.discard("ready_for_pickup")
    return bool(events)


def expected_order(db: BenchDB, actor: Actor) -> list[int]:
    """The definition, the slow way: every case the caller must act on, sorted in Python (a supervisor
    oversees what the zone's clerks and reviewers must do)."""
    roles = ("clerk", "reviewer") if actor.role == "supervisor" else (actor.role,)
    as_role = [replace(actor, role=r) for r in roles]
    with transaction(db.runtime.session_factory) as s:
        cases = list(s.scalars(select(Case)).unique())
        mine = [c for c in cases if any(must_act(a, c) for a in as_role)]
    return [c.id for c in sorted(mine, key=lambda c: (c.step_due_at is None, c.step_due_at or 0, c.id))]


@pytest.mark.parametrize("user", ["tj_reviewer", "bj_clerk", "tj_supervisor"])
def test_each_page_of_the_queue_follows_the_deadline_order(busy_db: BenchDB, user: str) -> None:
    actor = busy_db.users[user]
    want = expected_order(busy_db, actor)
    assert len(want) > 200, "the data must fill several pages, with and without deadlines"
    pages: list[int] = []
    with transaction(busy_db.runtime.session_factory) as s:
        for page in range(len(want) // 100 + 2):
            pages += [c.id for c in queue(db_session=s, actor=actor, limit=100, offset=page * 100)]
    assert pages == want


def test_a_case_without_a_step_deadline_comes_after_every_case_with_one(busy_db: BenchDB) -> None:
    actor = busy_db.users["bj_clerk"]
    with transaction(busy_db.runtime.session_factory) as s:
        whole = queue(db_session=s, actor=actor, limit=10_000)
        dated = [c for c in whole if c.step_due_at is not None]
        first_undated = next(i for i, c in enumerate(whole) if c.step_due_at is None)
    assert first_undated == len(dated), "undated cases (mailed, awaiting pickup …) belong at the end"


def test_an_admin_has_no_queue(busy_db: BenchDB) -> None:
    with transaction(busy_db.runtime.session_factory) as s:
        assert queue(db_session=s, actor=busy_db.users["bj_admin"]) == []
