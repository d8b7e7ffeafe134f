"""One tongban (SQLite + filesystem, the real app) for the surface tests of tests/security, started once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.app_harness import Tongban, start


@pytest.fixture(scope="session")
def surface_tb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tongban]:
    home = tmp_path_factory.mktemp("tongban-surfaces")
    yield from start(home, f"sqlite:///{home / 'tongban.db'}", f"file://{home / 'objects'}")
