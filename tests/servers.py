"""Real servers for the test session: an S3 endpoint (moto_server) and PostgreSQL.

Started once per session by the fixtures in ``tests/conftest.py``. Everything used or skipped is
written to ``REGISTRY`` so the end of the run says plainly which real servers the tests talked to.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Dummy credentials for moto; real S3 never sees them.
S3_TEST_ACCESS_KEY = "test"
S3_TEST_SECRET_KEY = "test"
S3_TEST_REGION = "us-east-1"

#: Where PostgreSQL is looked for when ``TONGBAN_TEST_PG_URL`` is not set (trust auth on the project's machines).
DEFAULT_PG_URLS = (
    "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "postgresql+psycopg://root@127.0.0.1:5432/test",
)


class ServerUnavailable(Exception):
    """A real server the tests need could not be started or reached."""


@dataclass
class ServerRegistry:
    """What the session used and what it had to skip, for ``pytest_terminal_summary``."""

    used: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    def record_used(self, name: str, detail: str) -> None:
        self.used[name] = detail

    def record_skipped(self, name: str, reason: str) -> None:
        self.skipped[name] = reason

    def record_failed(self, name: str, reason: str) -> None:
        self.failed[name] = reason

    def summary_lines(self) -> list[str]:
        lines = [f"used     {name}: {detail}" for name, detail in self.used.items()]
        lines += [f"SKIPPED  {name}: {reason}" for name, reason in self.skipped.items()]
        lines += [f"FAILED   {name} (required because CI=true): {reason}" for name, reason in self.failed.items()]
        return lines or ["no real servers were needed by the selected tests"]


REGISTRY = ServerRegistry()


def in_ci() -> bool:
    """In CI a missing server is a failure, not a skip: CI must prove everything."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- S3 (moto) ------------------------------------------------------------------------------------


def s3_credentials_env() -> dict[str, str]:
    """Environment for the moto subprocess and for boto3 clients the tests make themselves."""
    return {
        "AWS_ACCESS_KEY_ID": S3_TEST_ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": S3_TEST_SECRET_KEY,
        "AWS_DEFAULT_REGION": S3_TEST_REGION,
    }


@contextlib.contextmanager
def run_moto_server(log_dir: Path, *, start_timeout: float = 30.0) -> Iterator[str]:
    """Start ``moto_server`` on a free port, wait until it answers, yield its endpoint URL, stop it."""
    try:
        import moto
    except ImportError as error:
        raise ServerUnavailable(f"moto[server] is not installed ({error})") from error
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log_path = log_dir / f"moto-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **s3_credentials_env()},
        )
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            if process.poll() is not None:
                raise ServerUnavailable(f"moto_server exited with code {process.returncode}: {_tail(log_path)}")
            if _answers(endpoint):
                break
            if time.monotonic() > deadline:
                raise ServerUnavailable(
                    f"moto_server did not answer at {endpoint} within {start_timeout:.0f} s: {_tail(log_path)}"
                )
            time.sleep(0.1)
        REGISTRY.record_used("S3", f"moto_server {moto.__version__} at {endpoint} (log {log_path})")
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def s3_store_url(endpoint: str, bucket: str | None = None, **params: Any) -> str:
    """A storage URL for a fresh bucket on the test S3 server (the store creates the bucket)."""
    bucket = bucket or f"tongban-test-{uuid.uuid4().hex[:12]}"
    query = {
        "endpoint_url": endpoint,
        "region": S3_TEST_REGION,
        "access_key": S3_TEST_ACCESS_KEY,
        "secret_key": S3_TEST_SECRET_KEY,
        **{name: str(value) for name, value in params.items()},
    }
    return f"s3://{bucket}?" + "&".join(f"{name}={value}" for name, value in query.items())


def raw_s3_client(endpoint: str) -> Any:
    """A plain boto3 client on the test server, for going behind the store's back."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=S3_TEST_REGION,
        aws_access_key_id=S3_TEST_ACCESS_KEY,
        aws_secret_access_key=S3_TEST_SECRET_KEY,
        config=Config(
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )


def _answers(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(endpoint + "/", timeout=1) as response:
            return bool(response.status < 500)
    except urllib.error.HTTPError as error:
        return error.code < 500
    except OSError:
        return False


def _tail(path: Path, limit: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:].strip() or "(no output)"
    except OSError:
        return "(no log)"


# -- PostgreSQL -----------------------------------------------------------------------------------


def candidate_pg_urls() -> list[str]:
    """``TONGBAN_TEST_PG_URL`` if set (and then only it), else the project machines' defaults."""
    configured = os.environ.get("TONGBAN_TEST_PG_URL", "").strip()
    return [configured] if configured else list(DEFAULT_PG_URLS)


def find_postgres(urls: list[str] | None = None) -> tuple[str, str]:
    """The first reachable server URL and its version string; ``ServerUnavailable`` naming every try."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    failures: list[str] = []
    for url in urls or candidate_pg_urls():
        engine = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 3})
        try:
            with engine.connect() as connection:
                version = str(connection.execute(text("SHOW server_version")).scalar_one())
            return url, version
        except Exception as error:
            failures.append(f"{safe_url(url)}: {_first_line(error)}")
        finally:
            engine.dispose()
    raise ServerUnavailable("PostgreSQL not reachable at " + "; ".join(failures))


@contextlib.contextmanager
def temporary_database(server_url: str) -> Iterator[str]:
    """Create a uniquely named database on the server, yield its URL, drop it afterwards."""
    from sqlalchemy import create_engine, make_url, text
    from sqlalchemy.pool import NullPool

    name = f"tongban_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:
        admin.dispose()
        raise ServerUnavailable(
            f"cannot create a test database on {safe_url(server_url)}: {_first_line(error)}"
        ) from error
    REGISTRY.record_used("PostgreSQL database", f"{name} (dropped at the end)")
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            # FORCE (PostgreSQL 13+) ends connections a test forgot to close.
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def safe_url(url: str) -> str:
    from sqlalchemy import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable URL>"


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"
