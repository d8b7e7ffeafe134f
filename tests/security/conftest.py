"""The security suite runs against the same real app harness as tests/web (SQLite + filesystem and
PostgreSQL + S3, each started once per session)."""

from tests.web.conftest import tb, tb_pg_s3, tb_sqlite_fs  # noqa: F401 - the fixtures, shared
