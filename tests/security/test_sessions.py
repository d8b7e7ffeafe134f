"""Issue 10.3 — sessions end when they should, at once, on the server.

A cookie copied before logout used to work for twelve hours. Sessions now live on the server: logout,
a password change, a deactivation and an admin's "sign out everywhere" end them at once, and a
counter clerk's session ends after ``session_idle_minutes`` without a request (the counter is a
shared place: the next person at the desk must not act as the last one).
"""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.app_harness import Tongban
from tests.security.support import PASSWORD, browser, csrf, new_user, user_id
from web.cli import app as cli
from web.ui.session import COOKIE


def signed_in(client: TestClient) -> bool:
    r = client.get("/ui/", follow_redirects=False)
    return r.status_code == 303 and not r.headers["location"].startswith("/ui/login")


def replay(tb: Tongban, cookie: str) -> TestClient:
    """Another machine with a copy of the cookie."""
    thief = TestClient(tb.client.app)
    thief.cookies.set(COOKIE, cookie)
    return thief


def test_a_cookie_copied_before_logout_no_longer_works(tb_sqlite_fs: Tongban) -> None:
    tb = tb_sqlite_fs
    name = new_user(tb)
    clerk = browser(tb, name, PASSWORD)
    copied = clerk.cookies[COOKIE]
    assert signed_in(replay(tb, copied))  # (a copy works while the session lives: it is the session)
    r = clerk.post("/ui/logout", data={"csrf_token": csrf(clerk)}, follow_redirects=False)
    assert r.status_code == 303
    thief = replay(tb, copied)
    assert not signed_in(thief)
    assert thief.get("/api/v1/queue").status_code == 401  # nor for the API
    assert thief.get("/ui/receive", follow_redirects=True).url.path == "/ui/login"
    assert browser(tb, name, PASSWORD)  # signing in again opens a new session


def _admin_post(tb: Tongban, path: str, **data: str) -> None:
    admin = browser(tb, "bj_admin")
    r = admin.post(path, data={"csrf_token": csrf(admin), **data}, follow_redirects=False)
    assert r.status_code == 303, r.text


def test_a_password_change_ends_every_session_of_that_user(tb_sqlite_fs: Tongban) -> None:
    tb = tb_sqlite_fs
    name = new_user(tb)
    desk, phone = browser(tb, name, PASSWORD), browser(tb, name, PASSWORD)
    _admin_post(tb, f"/ui/admin/users/{user_id(tb, name)}/password", password="a new password 2026")
    assert not signed_in(desk) and not signed_in(phone)
    assert signed_in(browser(tb, name, "a new password 2026"))


def test_deactivating_a_user_ends_their_sessions_and_reactivating_does_not_revive_them(tb_sqlite_fs: Tongban) -> None:
    tb = tb_sqlite_fs
    name = new_user(tb)
    clerk = browser(tb, name, PASSWORD)
    copied = clerk.cookies[COOKIE]
    uid = user_id(tb, name)
    _admin_post(tb, f"/ui/admin/users/{uid}/active", active="0")
    assert not signed_in(clerk)
    _admin_post(tb, f"/ui/admin/users/{uid}/active", active="1")
    assert not signed_in(replay(tb, copied))


def test_an_admin_signs_a_user_out_everywhere_from_the_ui_and_from_the_cli(tb_sqlite_fs: Tongban) -> None:
    tb = tb_sqlite_fs
    name = new_user(tb, role="reviewer")
    one, two = browser(tb, name, PASSWORD), browser(tb, name, PASSWORD)
    other = browser(tb, "bj_reviewer")
    assert f'data-signout="{name}"' in browser(tb, "bj_admin").get("/ui/admin").text
    _admin_post(tb, f"/ui/admin/users/{user_id(tb, name)}/signout")
    assert not signed_in(one) and not signed_in(two)
    assert signed_in(other)  # only that user's sessions

    three = browser(tb, name, PASSWORD)
    settings = tb.runtime.settings
    result = CliRunner().invoke(cli, ["user", "signout", name], env={
        "TONGBAN_HOME": str(settings.home), "TONGBAN_DATABASE_URL": settings.database_url,
        "TONGBAN_STORAGE_URL": settings.storage_url, "TONGBAN_MODE": "embedded", "TONGBAN_SECRET_KEY": ""})
    assert result.exit_code == 0, result.output
    assert "1 session(s) ended" in result.output
    assert not signed_in(three)
    assert CliRunner().invoke(cli, ["user", "signout", "nobody_here"], env={
        "TONGBAN_HOME": str(settings.home), "TONGBAN_DATABASE_URL": settings.database_url,
        "TONGBAN_SECRET_KEY": ""}).exit_code == 1


def test_an_admin_cannot_sign_out_a_user_of_another_zone(tb_sqlite_fs: Tongban) -> None:
    tb = tb_sqlite_fs
    name = new_user(tb, zone="TJ-TEDA")
    victim = browser(tb, name, PASSWORD)
    admin = browser(tb, "bj_admin")
    r = admin.post(f"/ui/admin/users/{user_id(tb, name)}/signout", data={"csrf_token": csrf(admin)})
    assert r.status_code == 403
    assert signed_in(victim)


def test_a_counter_session_ends_after_idle_minutes_a_back_office_one_does_not(tb_sqlite_fs: Tongban) -> None:
    tb = tb_sqlite_fs
    idle = timedelta(minutes=tb.runtime.settings.session_idle_minutes)
    clerk, reviewer = browser(tb, new_user(tb), PASSWORD), browser(tb, new_user(tb, role="reviewer"), PASSWORD)
    start = tb.clock.now
    try:
        tb.clock.now = start + idle - timedelta(minutes=1)
        assert signed_in(clerk) and signed_in(reviewer)  # activity keeps it alive …
        tb.clock.now += idle - timedelta(minutes=1)
        assert signed_in(clerk)
        tb.clock.now += idle + timedelta(seconds=1)  # … idleness ends it
        assert not signed_in(clerk)
        page = clerk.get("/ui/login")
        assert "登录已失效" in page.text  # told why, in Chinese
        assert signed_in(reviewer)
        tb.clock.now = start + timedelta(hours=tb.runtime.settings.session_max_hours, minutes=1)
        assert not signed_in(reviewer)  # every session ends after session_max_hours
    finally:
        tb.clock.now = start
