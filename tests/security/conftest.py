"""Fixtures of the security stories: the app on both backend pairs (``tests/conftest.py``), one more
SQLite + filesystem tongban for the surface stories, and, for the stories that measure the server
itself, a real ``tongban serve`` process. Each is started once per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.app_harness import Tongban, start
from tests.security.files_support import ServedTongban, serve_tongban


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedTongban]:
    """``tongban serve`` in its own process (embedded mode), with a 256 MiB cap on a request."""
    yield from serve_tongban(tmp_path_factory.mktemp("tongban-served"), max_request_bytes=256 * 1024 * 1024)


@pytest.fixture(scope="session")
def surface_tb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tongban]:
    home = tmp_path_factory.mktemp("tongban-surfaces")
    yield from start(home, f"sqlite:///{home / 'tongban.db'}", f"file://{home / 'objects'}")
