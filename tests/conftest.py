"""Shared pytest fixtures and hooks for the whole test suite.

Real servers (S3 via moto_server, PostgreSQL) are started or found once per session; the machinery
lives in ``tests/servers.py``. A server that is missing skips its tests with a reason (or fails
them when ``CI=true``), and the end of the run lists what was used and what was skipped.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any, NoReturn

import pytest
from hypothesis import settings as hypothesis_settings

from tests import servers
from tests.app_harness import Tongban, start
from tests.federation.pairing import pair  # noqa: F401 - two federated deployments, started on first use

# Shared, noisy 2-core machines: property tests judge results, never per-example time.
hypothesis_settings.register_profile("tongban", deadline=None)
hypothesis_settings.load_profile("tongban")

# Prefect in tests: no telemetry (the network is closed) and no stray settings from the developer's home.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

# -- real servers ---------------------------------------------------------------------------------

#: Fixture name → marker, so ``-m "not s3"`` / ``-m "not postgres"`` deselect tests that need them.
_SERVER_MARKERS = {"s3_server": "s3", "pg_server_url": "postgres"}


def _server_unavailable(name: str, reason: str) -> NoReturn:
    """Skip (on a developer machine) or fail (in CI) every test that needs the server."""
    if servers.in_ci():
        servers.REGISTRY.record_failed(name, reason)
        pytest.fail(f"{name} is required in CI (CI=true): {reason}", pytrace=False)
    servers.REGISTRY.record_skipped(name, reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Endpoint URL of a real S3 server (moto_server) shared by the whole session."""
    with contextlib.ExitStack() as stack:
        try:
            endpoint = stack.enter_context(servers.run_moto_server(tmp_path_factory.mktemp("moto")))
        except servers.ServerUnavailable as error:
            _server_unavailable("S3", str(error))
        yield endpoint


@pytest.fixture
def s3_store_url(s3_server: str) -> str:
    """``s3://<fresh bucket>?endpoint_url=...`` with the test credentials; one new bucket per test."""
    return servers.s3_store_url(s3_server)


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    """SQLAlchemy URL of a reachable PostgreSQL server (``TONGBAN_TEST_PG_URL`` or the local default)."""
    try:
        url, version = servers.find_postgres()
    except servers.ServerUnavailable as error:
        _server_unavailable("PostgreSQL", str(error))
    servers.REGISTRY.record_used("PostgreSQL", f"{version} at {servers.safe_url(url)}")
    return url


@pytest.fixture(scope="session")
def pg_database_url(pg_server_url: str) -> Iterator[str]:
    """URL of a fresh database created for this session on that server, dropped at the end."""
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(servers.temporary_database(pg_server_url))
        except servers.ServerUnavailable as error:
            _server_unavailable("PostgreSQL database", str(error))
        yield url


# -- Prefect ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect server for the whole session (flows are real Prefect flow runs)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


# -- hooks ----------------------------------------------------------------------------------------


# -- the app on each real backend pair, started once per session -----------------------------------
# Here, at the root, so that every directory (tests/web, tests/security, …) shares the ONE instance
# per session: a second definition of a session fixture is a second tongban on the same database.


@pytest.fixture(scope="session")
def tb_sqlite_fs(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> Iterator[Tongban]:
    home = tmp_path_factory.mktemp("tongban-sqlite")
    yield from start(home, f"sqlite:///{home / 'tongban.db'}", f"file://{home / 'objects'}")


@pytest.fixture(scope="session")
def tb_pg_s3(tmp_path_factory: pytest.TempPathFactory, pg_database_url: str, s3_server: str,
             prefect_harness: None) -> Iterator[Tongban]:
    home = tmp_path_factory.mktemp("tongban-pg")
    yield from start(home, pg_database_url, servers.s3_store_url(s3_server))


@pytest.fixture(params=["sqlite+fs", "postgres+s3"])
def tb(request: pytest.FixtureRequest) -> Tongban:
    """Every story runs on both backend pairs."""
    name = "tb_sqlite_fs" if request.param == "sqlite+fs" else "tb_pg_s3"
    return request.getfixturevalue(name)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture, marker in _SERVER_MARKERS.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(marker)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say plainly which real servers the run used and which it skipped, and why."""
    terminalreporter.write_sep("-", "real servers")
    for line in servers.REGISTRY.summary_lines():
        terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def licence_issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """电子证照: the demo issuing authority (``python -m licences.issuer``) on loopback, once per session."""
    from tests.licences.support import start_issuer

    yield from start_issuer(tmp_path_factory.mktemp("licence-issuer"))
