"""Issue 10.1 — nobody can forge a login cookie: the server never runs with a known secret.

The old default ``dev-insecure-change-me`` signed cookies that made a forger admin of either zone.
Now a configured secret must be long and unpublished; embedded mode makes its own random one on
first start (``<home>/secret_key``, 0600, reused next start); distributed mode refuses to start
without one. And even a cookie signed with the right key signs nobody in unless it names a live
server-side session.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from itsdangerous import URLSafeTimedSerializer
from pydantic import ValidationError
from typer.testing import CliRunner

from config import Settings
from tests.app_harness import Tongban
from tests.security.support import browser, user_id
from web.cli import app as cli
from web.ui.session import COOKIE


def _settings(**kw: object) -> Settings:
    return Settings(_env_file=None, **kw)  # type: ignore[arg-type,call-arg]


def _forged(key: str, **content: object) -> str:
    return URLSafeTimedSerializer(key, salt="tongban.session").dumps({"csrf": "forged", **content})


@pytest.mark.parametrize("key", ["dev-insecure-change-me", "random-key-the-attacker-made-up-0123456789abcdef"])
def test_a_cookie_forged_with_the_old_default_or_any_other_key_is_no_login(tb_sqlite_fs: Tongban, key: str) -> None:
    admin = user_id(tb_sqlite_fs, "bj_admin")
    client = TestClient(tb_sqlite_fs.client.app)
    for content in ({"uid": admin}, {"sid": "x" * 43}):
        client.cookies.set(COOKIE, _forged(key, **content))
        r = client.get("/ui/admin", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/ui/login"), r.text[:200]
        assert client.get("/api/v1/cases").status_code == 401
    assert tb_sqlite_fs.runtime.settings.secret_key != "dev-insecure-change-me"


def test_even_the_servers_own_key_signs_nobody_in_without_a_live_session(tb_sqlite_fs: Tongban) -> None:
    """A leaked key (or the old, user-id cookie) is not enough: the cookie must name a session the
    server opened at a real sign-in."""
    key = tb_sqlite_fs.runtime.settings.secret_key
    client = TestClient(tb_sqlite_fs.client.app)
    for content in ({"uid": user_id(tb_sqlite_fs, "bj_admin")}, {"sid": "made-up-session-id"}):
        client.cookies.set(COOKIE, _forged(key, **content))
        assert client.get("/ui/admin", follow_redirects=False).headers["location"].startswith("/ui/login")
    real = browser(tb_sqlite_fs, "bj_admin")  # and the real sign-in does work
    assert real.get("/ui/admin").status_code == 200


@pytest.mark.parametrize("secret", ["dev-insecure-change-me", " dev-insecure-change-me ", "short",
                                    "change-me-to-64-random-characters-the-same-on-every-replica"])
def test_a_known_or_short_secret_is_refused_everywhere(tmp_path: Path, secret: str) -> None:
    for mode in ("embedded", "distributed"):
        with pytest.raises(ValidationError, match="TONGBAN_SECRET_KEY"):
            _settings(home=tmp_path, mode=mode, secret_key=secret)


def test_embedded_mode_makes_its_own_secret_once_and_keeps_it_private(tmp_path: Path) -> None:
    first = _settings(home=tmp_path / "data")
    path = tmp_path / "data" / "secret_key"
    assert len(first.secret_key) >= 32 and path.read_text().strip() == first.secret_key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert _settings(home=tmp_path / "data").secret_key == first.secret_key  # the next start reuses it
    assert _settings(home=tmp_path / "other").secret_key != first.secret_key  # another install: its own
    assert first.secret_key not in repr(first)
    path.chmod(0o644)  # someone loosened it: refused, not silently used
    with pytest.raises(ValidationError, match="chmod 600"):
        _settings(home=tmp_path / "data")


def test_distributed_mode_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="distributed mode needs TONGBAN_SECRET_KEY"):
        _settings(home=tmp_path, mode="distributed")
    assert not (tmp_path / "secret_key").exists()  # and does not make one up per replica
    ok = _settings(home=tmp_path, mode="distributed", secret_key="s" * 8 + "-a-long-random-secret-from-the-vault")
    assert ok.secret_key.endswith("vault")


@pytest.mark.parametrize("env", [{"TONGBAN_SECRET_KEY": "dev-insecure-change-me"}, {"TONGBAN_MODE": "distributed"}])
def test_the_cli_refuses_in_one_clear_line(tmp_path: Path, env: dict[str, str]) -> None:
    for args in (["serve"], ["db", "upgrade"], ["sla", "sweep"]):
        result = CliRunner().invoke(cli, args, env={"TONGBAN_HOME": str(tmp_path), "TONGBAN_DATABASE_URL": "",
                                                    "TONGBAN_SECRET_KEY": "", "TONGBAN_MODE": "embedded", **env})
        assert result.exit_code == 1, (args, result.output)
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: ") and "TONGBAN_SECRET_KEY" in lines[0], result.output
