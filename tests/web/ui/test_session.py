"""Signing in and out, lock-out, the session cookie, CSRF for cookie-authenticated API calls, and
the language switch — over HTTP, without a browser."""

from __future__ import annotations

import re
import uuid

from fastapi.testclient import TestClient
from httpx import Response

from storage.db import transaction
from storage.user import service as users
from tests.app_harness import Tongban

PASSWORD = "correct horse battery"


def _new_clerk(tb: Tongban) -> str:
    """Each test its own account: lock-outs must not touch the demo users other tests share."""
    name = f"clerk_{uuid.uuid4().hex[:8]}"
    with transaction(tb.runtime.session_factory) as s:
        users.add(db_session=s, username=name, display_name="测试窗口", role="clerk", zone_code="BJ-ETOWN",
                  password=PASSWORD)
    return name


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "every form carries the CSRF token"
    return found.group(1)


def _sign_in(client: TestClient, username: str, password: str = PASSWORD, next_: str = "") -> Response:
    token = _csrf(client.get("/ui/login").text)
    return client.post("/ui/login", data={"username": username, "password": password, "csrf_token": token,
                                          "next": next_}, follow_redirects=False)


def test_sign_in_sets_a_signed_http_only_cookie_and_lands_on_the_role_home(tb_sqlite_fs: Tongban) -> None:
    client = TestClient(tb_sqlite_fs.client.app)
    r = _sign_in(client, _new_clerk(tb_sqlite_fs))
    assert r.status_code == 303 and r.headers["location"] == "/ui/"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie  # plain http here
    home = client.get("/ui/", follow_redirects=False)
    assert home.headers["location"] == "/ui/receive"
    page = client.get("/ui/receive")
    assert page.status_code == 200 and "收件登记" in page.text and "测试窗口" in page.text
    # a tampered cookie is no session at all
    client.cookies.set("tongban_session", cookie.split(";")[0].split("=", 1)[1][:-2] + "xx")
    assert client.get("/ui/receive", follow_redirects=False).headers["location"].startswith("/ui/login")


def test_five_wrong_passwords_lock_the_account_even_for_the_right_one(tb_sqlite_fs: Tongban) -> None:
    client = TestClient(tb_sqlite_fs.client.app)
    name = _new_clerk(tb_sqlite_fs)
    for _ in range(4):
        r = _sign_in(client, name, "wrong")
        assert r.status_code == 401 and "用户名或密码错误" in r.text
    r = _sign_in(client, name, "wrong")
    assert r.status_code == 401 and "锁定" in r.text
    r = _sign_in(client, name)
    assert r.status_code == 401 and "锁定" in r.text


def test_login_refuses_a_post_without_csrf_and_never_redirects_off_site(tb_sqlite_fs: Tongban) -> None:
    client = TestClient(tb_sqlite_fs.client.app)
    name = _new_clerk(tb_sqlite_fs)
    client.get("/ui/login")
    r = client.post("/ui/login", data={"username": name, "password": PASSWORD})
    assert r.status_code == 403 and "CSRF" in r.text
    r = _sign_in(client, name, next_="//evil.example/steal")
    assert r.headers["location"] == "/ui/"


def test_cookie_api_writes_need_the_csrf_header_and_bearer_clients_are_unaffected(tb_sqlite_fs: Tongban) -> None:
    client = TestClient(tb_sqlite_fs.client.app)
    _sign_in(client, _new_clerk(tb_sqlite_fs))
    assert client.get("/api/v1/queue").status_code == 200  # reads work with the cookie
    body = {"event": "withdraw", "version": 1, "reason": "x"}
    r = client.post("/api/v1/cases/NOPE-1/events", json=body)
    assert r.status_code == 403 and r.json()["error"] == "csrf"
    token = _csrf(client.get("/ui/receive").text)
    r = client.post("/api/v1/cases/NOPE-1/events", json=body, headers={"X-CSRF-Token": token})
    assert r.status_code == 404  # past the CSRF check, the route itself answers
    bearer = TestClient(tb_sqlite_fs.client.app)
    r = bearer.post("/api/v1/cases/NOPE-1/events", json=body, headers=tb_sqlite_fs.h("bj_clerk"))
    assert r.status_code == 404 and "set-cookie" not in r.headers


def test_sign_out_ends_the_session(tb_sqlite_fs: Tongban) -> None:
    client = TestClient(tb_sqlite_fs.client.app)
    _sign_in(client, _new_clerk(tb_sqlite_fs))
    token = _csrf(client.get("/ui/receive").text)
    r = client.post("/ui/logout", data={"csrf_token": token}, follow_redirects=True)
    assert "已安全退出" in r.text
    assert client.get("/ui/receive", follow_redirects=False).headers["location"].startswith("/ui/login")
    assert client.get("/api/v1/queue").status_code == 401


def test_english_switch_and_back(tb_sqlite_fs: Tongban) -> None:
    client = TestClient(tb_sqlite_fs.client.app)
    r = client.get("/ui/lang/en?next=/ui/login")
    assert r.url.path == "/ui/login" and "Sign in" in r.text and 'lang="en"' in r.text
    r = client.get("/ui/lang/zh?next=/ui/login")
    assert "登录" in r.text and 'lang="zh-CN"' in r.text
