"""The app on each real backend pair, started once per test session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.app_harness import Tongban, start


@pytest.fixture(scope="session")
def tb_sqlite_fs(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> Iterator[Tongban]:
    home = tmp_path_factory.mktemp("tongban-sqlite")
    yield from start(home, f"sqlite:///{home / 'tongban.db'}", f"file://{home / 'objects'}")


@pytest.fixture(scope="session")
def tb_pg_s3(tmp_path_factory: pytest.TempPathFactory, pg_database_url: str, s3_server: str,
             prefect_harness: None) -> Iterator[Tongban]:
    from tests.servers import s3_store_url

    home = tmp_path_factory.mktemp("tongban-pg")
    yield from start(home, pg_database_url, s3_store_url(s3_server))


@pytest.fixture(params=["sqlite+fs", "postgres+s3"])
def tb(request: pytest.FixtureRequest) -> Tongban:
    """Every story runs on both backend pairs."""
    name = "tb_sqlite_fs" if request.param == "sqlite+fs" else "tb_pg_s3"
    return request.getfixturevalue(name)
