"""Issue 10.21 — the server refuses the usernames the form forbids, on every path that creates one.

The admin form allows 1–60 letters, digits, ``_ . -``; the server used to accept anything (spaces,
markup, 5,000 characters). The rule is now the server's (``storage.user.service.check_username``),
used by the admin UI, the CLI and the service itself.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from storage.db import transaction
from storage.user import service as users
from storage.user.models import User
from tests.app_harness import Tongban
from tests.security.support import browser, csrf
from web.cli import app as cli

BAD = ["with space", "<script>alert(1)</script>", "x" * 61, "a" * 5000, "", "tab\there", "名字", "semi;colon",
       "new\nline", "quote'd"]


def _users(tb: Tongban) -> int:
    with transaction(tb.runtime.session_factory) as s:
        return int(s.scalar(select(func.count()).select_from(User)) or 0)


@pytest.mark.parametrize("name", BAD)
def test_the_service_refuses_a_name_the_form_forbids(tb_sqlite_fs: Tongban, name: str) -> None:
    with pytest.raises(users.UserError) as refused, transaction(tb_sqlite_fs.runtime.session_factory) as s:
        users.add(db_session=s, username=name, display_name="x", role="clerk", zone_code="BJ-ETOWN")
    assert refused.value.field == "username" and "letters" in refused.value.message


def test_the_admin_form_refuses_them_with_a_clear_message_and_adds_nobody(tb_sqlite_fs: Tongban) -> None:
    tb = tb_sqlite_fs
    admin = browser(tb, "bj_admin")
    before = _users(tb)
    for name in BAD:
        r = admin.post("/ui/admin/users", data={"csrf_token": csrf(admin), "username": name, "display_name": "x",
                                                "role": "clerk", "password": "long enough password"})
        assert r.status_code == 200 and "用户名只能由字母、数字和" in r.text and "<script>alert" not in r.text, name
    assert _users(tb) == before
    ok = admin.post("/ui/admin/users", data={"csrf_token": csrf(admin), "username": "ok.name-2_x", "display_name": "x",
                                             "role": "clerk", "password": "long enough password"})
    assert ok.status_code == 200 and _users(tb) == before + 1


def test_the_cli_refuses_them_in_one_line(tb_sqlite_fs: Tongban) -> None:
    settings = tb_sqlite_fs.runtime.settings
    env = {"TONGBAN_HOME": str(settings.home), "TONGBAN_DATABASE_URL": settings.database_url,
           "TONGBAN_SECRET_KEY": ""}
    before = _users(tb_sqlite_fs)
    for name in ("with space", "<b>x</b>", "y" * 100):
        result = CliRunner().invoke(cli, ["user", "add", name, "--role", "clerk", "--zone", "BJ-ETOWN"], env=env)
        assert result.exit_code == 1 and result.output.startswith("error: username:"), result.output
        assert len(result.output.strip().splitlines()) == 1
    assert _users(tb_sqlite_fs) == before
