"""The operator's commands: `tongban dispatch --once` and `tongban reconcile` against a running tongban's data."""

from __future__ import annotations

from typer.testing import CliRunner

from tests.app_harness import Tongban
from tests.flows.story import assert_consistent, prechecked_case
from web.cli import app as cli


def _run(tb: Tongban, *args: str) -> tuple[int, str]:
    s = tb.runtime.settings
    env = {"TONGBAN_DATABASE_URL": s.resolved_database_url(), "TONGBAN_STORAGE_URL": s.resolved_storage_url(),
           "TONGBAN_HOME": str(s.home), "TONGBAN_MODE": "embedded"}
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.output


def test_dispatch_once_forwards_what_is_waiting_and_reconcile_finds_nothing_left(tb_fs: Tongban) -> None:
    case_no = prechecked_case(tb_fs)
    code, out = _run(tb_fs, "dispatch", "--once")
    assert code == 0, out
    assert "outbox jobs finished (mode: embedded)" in out and not out.startswith("0 ")
    assert_consistent(tb_fs, case_no, "forwarded")
    code, out = _run(tb_fs, "reconcile")
    assert code == 0, out
    assert f"forward:{case_no}" not in out
    assert out.strip().splitlines()[-1].endswith("orphans removed")
