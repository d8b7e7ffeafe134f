"""The `tongban` command as an administrator uses it: every command has --help, the demo and users
can be set up, the catalog imported, the schema migrated, and every error is one clear line with a
non-zero exit. Each test has its own TONGBAN_HOME (SQLite + filesystem store under it).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from sqlalchemy import inspect, select
from typer.testing import CliRunner

from config import Settings
from states.runtime import Runtime
from storage.catalog.models import Item
from storage.db import transaction
from storage.user import service as users
from web.cli import app


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "tongban-home"


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`tongban seed demo` run once; tests that start from the demo get their own copy of it."""
    template = tmp_path_factory.mktemp("demo-template")
    assert run(template, "seed", "demo").exit_code == 0
    return template / "tongban.db"


@pytest.fixture
def seeded(home: Path, demo_db: Path) -> Path:
    home.mkdir(parents=True)
    with sqlite3.connect(demo_db) as src, sqlite3.connect(home / "tongban.db") as dst:
        src.backup(dst)
    return home


def run(home: Path, *args: str) -> Any:
    env = {"TONGBAN_HOME": str(home), "TONGBAN_DATABASE_URL": "", "TONGBAN_STORAGE_URL": "",
           "TONGBAN_MODE": "embedded"}
    return CliRunner().invoke(app, list(args), env=env)


def one_error_line(result: Any) -> str:
    """A refusal: exit code 1, exactly one line on stderr, nothing else, no traceback."""
    assert result.exit_code == 1, (result.exit_code, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.stdout == "", result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return str(lines[0])


def runtime(home: Path) -> Runtime:
    return Runtime(Settings(home=home, _env_file=None))  # type: ignore[call-arg]


def all_commands(group: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, cmd in group.commands.items():
        found.append((*path, name))
        if hasattr(cmd, "commands"):  # a group (typer vendors its own click classes)
            found += all_commands(cmd, (*path, name))
    return found


def test_help_lists_the_commands(home: Path) -> None:
    r = run(home, "--help")
    assert r.exit_code == 0
    for name in ("serve", "db", "seed", "user", "catalog", "verify"):
        assert name in r.output


def test_every_command_has_help(home: Path) -> None:
    commands = all_commands(typer.main.get_command(app))
    assert ("db", "upgrade") in commands and ("seed", "demo") in commands and ("user", "add") in commands
    for path in commands:
        r = run(home, *path, "--help")
        assert r.exit_code == 0 and "Usage:" in r.output, (path, r.output)
        assert len(r.output.strip().splitlines()) > 2, path
    assert not home.exists()  # asking for help touches nothing


def test_db_upgrade_creates_the_schema_and_is_repeatable(home: Path) -> None:
    r = run(home, "db", "upgrade")
    assert r.exit_code == 0 and "up to date" in r.output, r.output
    rt = runtime(home)
    try:
        tables = set(inspect(rt.engine).get_table_names())
        assert {"cases", "applicants", "stored_files", "audit_events", "outbox_jobs", "users", "zones"} <= tables
    finally:
        rt.dispose()
    assert run(home, "db", "upgrade").exit_code == 0


def test_seed_demo_json_prints_working_tokens(home: Path) -> None:
    r = run(home, "seed", "demo", "--json")
    assert r.exit_code == 0, r.output
    accounts = json.loads(r.stdout)
    assert {(a["username"], a["role"], a["zone"]) for a in accounts} == {
        (f"{p}_{role}", role, zone) for p, zone in (("bj", "BJ-ETOWN"), ("tj", "TJ-TEDA"))
        for role in ("clerk", "reviewer", "supervisor", "admin")}
    rt = runtime(home)
    try:
        with transaction(rt.session_factory) as s:
            for a in accounts:
                user = users.get_by_token(db_session=s, token=a["token"])
                assert user is not None and user.username == a["username"]
    finally:
        rt.dispose()


def test_seed_demo_twice_keeps_the_accounts(seeded: Path) -> None:
    """`tongban serve` seeds on every start, so seeding an existing database must be harmless."""
    again = run(seeded, "seed", "demo")
    assert again.exit_code == 0 and "already present" in again.output, again.output


def test_catalog_import_again_updates_the_items_in_place(seeded: Path, tmp_path: Path) -> None:
    home = seeded
    path = tmp_path / "items.json"
    for days in (5, 7):
        path.write_text(json.dumps([{"code": "ZZ-001", "name": "测试事项", "zone": "TJ-TEDA", "promised_days": days,
                                     "materials": [{"name": "申请书"}]}], ensure_ascii=False), encoding="utf-8")
        r = run(home, "catalog", "import", str(path))
        assert r.exit_code == 0, r.output
    rt = runtime(home)
    try:
        with transaction(rt.session_factory) as s:
            item = s.scalars(select(Item).where(Item.code == "ZZ-001")).unique().one()
            assert item.promised_days == 7 and [m.name for m in item.materials] == ["申请书"]
    finally:
        rt.dispose()


def test_user_add_prints_a_token_and_refuses_clearly(seeded: Path) -> None:
    home = seeded
    r = run(home, "user", "add", "bj_clerk2", "--role", "clerk", "--zone", "BJ-ETOWN", "--name", "王芳")
    assert r.exit_code == 0, r.output
    token = r.stdout.strip()
    rt = runtime(home)
    try:
        with transaction(rt.session_factory) as s:
            user = users.get_by_token(db_session=s, token=token)
            assert user is not None and (user.username, user.role, user.display_name) == ("bj_clerk2", "clerk", "王芳")
    finally:
        rt.dispose()
    assert "XX-NOWHERE" in one_error_line(run(home, "user", "add", "x", "--role", "clerk", "--zone", "XX-NOWHERE"))
    assert "bj_clerk2" in one_error_line(run(home, "user", "add", "bj_clerk2", "--role", "clerk",
                                             "--zone", "BJ-ETOWN"))
    assert "role" in one_error_line(run(home, "user", "add", "y", "--role", "boss", "--zone", "BJ-ETOWN"))


def test_commands_on_a_database_that_was_never_set_up_say_so(home: Path) -> None:
    for args in (("user", "add", "x", "--role", "clerk", "--zone", "BJ-ETOWN"), ("verify", "BJETOWN-20261124-00001")):
        assert "db upgrade" in one_error_line(run(home, *args)), args


def test_catalog_import_adds_items_and_refuses_a_bad_file_clearly(seeded: Path, tmp_path: Path) -> None:
    home = seeded
    good = tmp_path / "items.json"
    good.write_text(json.dumps({"items": [{
        "code": "ZZ-001", "name": "测试事项", "zone": "TJ-TEDA", "promised_days": 5,
        "materials": [{"name": "申请书"}, {"name": "身份证明", "form": "复印件", "required": False}]}]},
        ensure_ascii=False), encoding="utf-8")
    r = run(home, "catalog", "import", str(good))
    assert r.exit_code == 0 and "imported 1 items" in r.output, r.output
    rt = runtime(home)
    try:
        with transaction(rt.session_factory) as s:
            item = s.scalars(select(Item).where(Item.code == "ZZ-001")).unique().one()
            assert [m.name for m in item.materials] == ["申请书", "身份证明"] and item.promised_days == 5
    finally:
        rt.dispose()

    bad_json = tmp_path / "broken.json"
    bad_json.write_text('{"items": [', encoding="utf-8")
    assert "broken.json" in one_error_line(run(home, "catalog", "import", str(bad_json)))
    no_days = tmp_path / "no-days.json"
    no_days.write_text(json.dumps([{"code": "ZZ-002", "name": "x", "zone": "TJ-TEDA", "materials": [{"name": "a"}]}]))
    line = one_error_line(run(home, "catalog", "import", str(no_days)))
    assert "item #1" in line and "promised_days" in line
    other_zone = tmp_path / "zone.json"
    other_zone.write_text(json.dumps([{"code": "ZZ-003", "name": "x", "zone": "XX-NOWHERE", "promised_days": 1,
                                       "materials": [{"name": "a"}]}]))
    assert "XX-NOWHERE" in one_error_line(run(home, "catalog", "import", str(other_zone)))
    assert "no such file" in one_error_line(run(home, "catalog", "import", str(tmp_path / "missing.json")))


def test_verify_an_unknown_case_is_one_clear_line(home: Path) -> None:
    assert run(home, "db", "upgrade").exit_code == 0
    line = one_error_line(run(home, "verify", "BJETOWN-20261124-99999"))
    assert "BJETOWN-20261124-99999" in line and "does not exist" in line


def tongban_process(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The installed `tongban` in its own process, as an administrator starts it."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TONGBAN_")}
    environ.update({"TONGBAN_HOME": str(home), **env})
    return subprocess.run([str(Path(sys.executable).with_name("tongban")), *args], env=environ, text=True,
                          capture_output=True, timeout=120, check=False)


@pytest.mark.parametrize(("variable", "typo", "allowed"), [
    ("TONGBAN_MODE", "distribted", "embedded, distributed"),
    ("TONGBAN_CLOSE_OF_BUSINESS", "5pm", "HH:MM"),
    ("TONGBAN_SLA_DIGEST_AT", "8:30am", "HH:MM"),
    ("TONGBAN_NOTIFY_LANGUAGE", "zh", "zh-CN, en"),
    ("TONGBAN_API_DOCS", "publc", "public, login, off"),
])
def test_a_misspelt_setting_stops_serve_at_start_with_one_line(home: Path, variable: str, typo: str,
                                                                allowed: str) -> None:
    done = tongban_process(home, "serve", "--port", "0", **{variable: typo})
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith(f"error: {variable}=") and allowed in lines[0], lines[0]
    assert done.stdout == "" and not (home / "tongban.db").exists()  # nothing was started or written


def test_every_command_refuses_a_misspelt_setting_before_it_does_anything(home: Path) -> None:
    for args in (("db", "upgrade"), ("verify", "X-1"), ("sla", "sweep"), ("calendar", "check", "2026-01-05")):
        done = tongban_process(home, *args, TONGBAN_MODE="distribted")
        assert done.returncode == 1, (args, done.stderr)
        assert done.stderr.strip() == "error: TONGBAN_MODE='distribted': must be one of embedded, distributed"
    assert not home.exists()
    assert tongban_process(home, "db", "upgrade", "--help", TONGBAN_MODE="distribted").returncode == 0


def test_verify_all_on_a_database_without_cases_says_so_and_succeeds(home: Path) -> None:
    assert run(home, "db", "upgrade").exit_code == 0
    done = tongban_process(home, "verify", "--all")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0 cases verified: 0 OK, 0 TAMPERED — 0 audit events, 0 files checked"
    assert "name one case" in one_error_line(run(home, "verify"))
    assert "name one case" in one_error_line(run(home, "verify", "--all", "BJETOWN-20261124-00001"))
