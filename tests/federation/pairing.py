"""Two deployments for the whole session (the fixture ``pair``, registered in tests/conftest.py so that the
browser tests of tests/web/ui share it and the session's one Chromium): A (BJ-ETOWN: SQLite + filesystem
store) and B (TJ-TEDA: PostgreSQL + the S3 server), each a real ``tongban serve`` with its own key,
paired through the CLI.
A reaches B through a :class:`FlipProxy` (a byte can be flipped in transit); B reaches A directly.
Both use the session's one Prefect server (no temporary server per process)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import servers
from tests.federation.deployments import Deployment, FlipProxy, deployment_env


@dataclass
class Pair:
    a: Deployment
    b: Deployment
    proxy: FlipProxy


def _prefect_env() -> dict[str, str]:
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    return {"PREFECT_API_URL": str(url)} if url else {}


@pytest.fixture(scope="session")
def pair(tmp_path_factory: pytest.TempPathFactory, pg_server_url: str, s3_server: str,
         prefect_harness: None) -> Iterator[Pair]:
    root = tmp_path_factory.mktemp("federation")
    # B's own database (not the session's shared one, which tb_pg_s3 seeds with its own accounts).
    with servers.temporary_database(pg_server_url) as pg_database_url:
        yield from _pair(root, pg_database_url, s3_server)


def _pair(root: Path, pg_database_url: str, s3_server: str) -> Iterator[Pair]:
    extra = {**_prefect_env(), "TONGBAN_FEDERATION_CHUNK_BYTES": str(1024 * 1024)}
    a_home, b_home = root / "a-bj", root / "b-tj"
    a = Deployment("A", "BJ-ETOWN", a_home, deployment_env(
        a_home, federation_id="BJ", database_url=f"sqlite:///{a_home / 'tongban.db'}",
        storage_url=f"file://{a_home / 'objects'}", extra=extra))
    b = Deployment("B", "TJ-TEDA", b_home, deployment_env(
        b_home, federation_id="TJ", database_url=pg_database_url, storage_url=servers.s3_store_url(s3_server),
        extra={**extra, **servers.s3_credentials_env()}))
    proxy = FlipProxy(b.port)
    try:
        # Both deployments side by side (each CLI call is a process start on a loaded machine).
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(Deployment.prepare, (a, b)))
            # Pairing, as two zones' operators do it: each registers the other's public key.
            pairing = [
                pool.submit(a.cli, "peer", "add", "TJ", "--url", proxy.base, "--zones", "TJ-TEDA",
                            "--public-key", b.public_key, "--name", "天津经开区通办"),
                pool.submit(b.cli, "peer", "add", "BJ", "--url", a.base, "--zones", "BJ-ETOWN",
                            "--public-key", a.public_key, "--name", "北京经开区通办"),
            ]
            for f in pairing:
                f.result()
            list(pool.map(Deployment.start, (a, b)))
        yield Pair(a, b, proxy)
    finally:
        for d in (a, b):
            d.stop()
        proxy.close()
