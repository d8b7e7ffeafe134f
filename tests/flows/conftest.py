"""Running tongbans for the flow tests: real databases and object stores, real Prefect flow runs.

- ``tb_fs``: SQLite + filesystem (the embedded mode), one per session;
- ``tb_pg``: PostgreSQL + S3 (moto) reached through a :class:`TcpProxy` the fault tests switch off;
  its store does not retry on its own (``max_attempts=1``), so an outage reaches the flow's task
  retries at once;
- ``fresh_tb``: a factory for a tongban on a database of its own, for tests that count every job;
- ``prefect_server``: a real ``prefect server start`` shared by the session (the e2e tests), with
  the work pool created and prefect.yaml deployed — started in the background at collection time.

The clocks are the wall clock (which a test may still move forward), because other processes — a
Prefect worker, a killed forward, the CLI — share the data and use the wall clock.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests import servers
from tests.app_harness import FakeClock, Tongban, start
from tests.flows.faults import TcpProxy
from tests.flows.prefect_server import EarlyPrefect, PrefectServer


class MovingClock(FakeClock):
    """The wall clock, which a test can still move forward (``clock.now = later``) to let time pass."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    @property  # type: ignore[override]
    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    @now.setter
    def now(self, value: datetime) -> None:
        self.offset = value - datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@contextlib.contextmanager
def _start(home: Path, database_url: str, storage_url: str) -> Iterator[Tongban]:
    """``tests.app_harness.start`` on the moving wall clock."""
    for tb in start(home, database_url, storage_url, now=datetime.now(UTC)):
        clock = MovingClock()
        tb.runtime.now_fn = clock
        tb.clock = clock
        yield tb


@pytest.fixture(scope="session")
def tb_fs(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> Iterator[Tongban]:
    home = tmp_path_factory.mktemp("flows-sqlite")
    with _start(home, f"sqlite:///{home / 'tongban.db'}", f"file://{home / 'objects'}") as tb:
        yield tb


@pytest.fixture(scope="session")
def s3_proxy(s3_server: str) -> Iterator[TcpProxy]:
    target = urlsplit(s3_server)
    proxy = TcpProxy(target.hostname or "127.0.0.1", int(target.port or 80)).start()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="session")
def flows_pg_url(pg_server_url: str) -> Iterator[str]:
    """A database of the flow tests' own (the web tests seed theirs; seeding twice keeps no tokens)."""
    with servers.temporary_database(pg_server_url) as url:
        yield url


@pytest.fixture(scope="session")
def tb_pg(tmp_path_factory: pytest.TempPathFactory, flows_pg_url: str, s3_proxy: TcpProxy,
          prefect_harness: None) -> Iterator[Tongban]:
    home = tmp_path_factory.mktemp("flows-pg")
    storage = servers.s3_store_url(s3_proxy.url, max_attempts=1, connect_timeout=2, read_timeout=10)
    with _start(home, flows_pg_url, storage) as tb:
        yield tb


@pytest.fixture
def s3_proxy_healthy(s3_proxy: TcpProxy) -> Iterator[TcpProxy]:
    """The proxy, guaranteed up again after the test whatever it switched off."""
    yield s3_proxy
    if s3_proxy._listener is None:
        s3_proxy.start()
    s3_proxy.fail_next(0)


FreshTb = Callable[[], Tongban]


@pytest.fixture
def fresh_tb(tmp_path: Path, pg_server_url: str, s3_server: str, prefect_harness: None) -> Iterator[FreshTb]:
    """Each call: a tongban on a new PostgreSQL database and a new S3 bucket (direct, no proxy)."""
    with contextlib.ExitStack() as stack:
        made: list[Tongban] = []

        def make() -> Tongban:
            url = stack.enter_context(servers.temporary_database(pg_server_url))
            home = tmp_path / f"tb-{len(made)}"
            made.append(stack.enter_context(_start(home, url, servers.s3_store_url(s3_server))))
            return made[-1]

        yield make


POOL = "tongban"
_early: EarlyPrefect | None = None


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the Prefect server (and deploy) now if a selected test will need it: it is slow to come up."""
    global _early
    if _early is None and any("prefect_server" in getattr(i, "fixturenames", ()) for i in session.items):
        _early = EarlyPrefect(POOL)
        _early.start()


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _early is not None:
        _early.stop()


@pytest.fixture(scope="session")
def prefect_server() -> PrefectServer:
    """One real ``prefect server start`` for the session, with the work pool and prefect.yaml deployed."""
    global _early
    if _early is None:  # collected some other way: start it now
        _early = EarlyPrefect(POOL)
        _early.start()
    try:
        server = _early.result()
    except Exception as error:
        if servers.in_ci():
            servers.REGISTRY.record_failed("Prefect server", str(error))
            pytest.fail(f"the Prefect server is required in CI: {error}", pytrace=False)
        servers.REGISTRY.record_skipped("Prefect server", str(error))
        pytest.skip(str(error))
    servers.REGISTRY.record_used("Prefect server", f"prefect server start at {server.api_url} (log {server.log})")
    return server
