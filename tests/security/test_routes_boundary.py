"""Issue 10.9 — each zone's notification routes are its own admins' to read and change (channel URLs
included); the alliance-wide part (mail account, levels, digest, "*", other zones) needs the platform role."""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from notifications.routes import load_routes
from storage.db import transaction
from storage.user.models import User
from tests.app_harness import Tongban
from tests.security.surfaces import browser, csrf_of
from web.cli import app as cli

FILE: dict[str, Any] = {
    "people": "mailtos://tongban:SMTPSECRET@smtp.example.gov.cn?from=tongban@example.gov.cn",
    "channels": {
        "bj-dingtalk": {"url": "dingtalk://BJSECRET/", "zone": "BJ-ETOWN"},
        "tj-webhook": {"url": "json://10.0.0.5:8080/TJSECRET", "zone": "TJ-TEDA", "lang": "en"},
        "ops": "json://10.9.9.9/PLATFORMSECRET",
    },
    "levels": {"escalation": ["supervisor"]},
    "zones": {"BJ-ETOWN": {"clerk": ["bj-dingtalk"]}, "TJ-TEDA": {"reviewer": ["tj-webhook"]},
              "*": {"supervisor": ["ops"]}},
}


@pytest.fixture
def routes(surface_tb: Tongban, tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "routes.json"
    path.write_text(json.dumps(FILE), encoding="utf-8")
    surface_tb.runtime.settings.notification_routes = path
    try:
        yield path
    finally:
        surface_tb.runtime.settings.notification_routes = None


def _save(client: Any, text: str) -> Any:
    token = csrf_of(client.get("/ui/admin/routes").text)
    return client.post("/ui/admin/routes", data={"csrf_token": token, "routes": text}, follow_redirects=False)


def test_a_zone_admin_sees_only_their_zones_channels_and_routes(surface_tb: Tongban, routes: Path) -> None:
    page = browser(surface_tb, "bj_admin").get("/ui/admin/routes").text
    assert "BJSECRET" in page and "bj-dingtalk" in page
    for secret in ("TJSECRET", "PLATFORMSECRET", "SMTPSECRET", "tj-webhook", "TJ-TEDA"):
        assert secret not in page, secret
    assert "ops" in page  # a platform channel they may name, without its URL
    tj = browser(surface_tb, "tj_admin").get("/ui/admin/routes").text
    assert "TJSECRET" in tj and "BJSECRET" not in tj and "SMTPSECRET" not in tj


@pytest.mark.parametrize(("submitted", "named"), [
    ({"channels": {"tj-webhook": "json://evil.example/steal"}}, "belongs to zone TJ-TEDA"),
    ({"channels": {"ops": "json://evil.example/steal"}}, "belongs to the platform"),
    ({"zones": {"TJ-TEDA": {"reviewer": []}}}, "zones.TJ-TEDA is not your zone"),
    ({"zones": {"*": {"clerk": ["bj-dingtalk"]}}}, "is not your zone"),
    ({"people": "mailtos://me:x@evil.example"}, "unknown key(s) people"),
    ({"levels": {"warning": []}}, "unknown key(s) levels"),
    ({"zones": {"BJ-ETOWN": {"clerk": ["tj-webhook"]}}}, "another zone's channel"),
    ({"zones": {"BJ-ETOWN": {"clerk": ["user:tj_clerk"]}}}, "is not a user of BJ-ETOWN"),
    ({"channels": {"mine": {"url": "json://x.example/", "zone": "TJ-TEDA"}}}, "belongs to BJ-ETOWN"),
    ({"zones": {"BJ-ETOWN": {"clerk": ["nowhere"]}}}, "is not a channel"),
])
def test_reaching_outside_the_zone_is_refused_and_changes_nothing(surface_tb: Tongban, routes: Path,
                                                                  submitted: dict[str, Any], named: str) -> None:
    before = routes.read_bytes()
    r = _save(browser(surface_tb, "bj_admin"), json.dumps(submitted))
    assert r.status_code == 422 and named in html.unescape(r.text), r.text[-800:]
    assert routes.read_bytes() == before
    assert "TJSECRET" not in r.text and "SMTPSECRET" not in r.text  # the refusal shows none either


def test_a_zone_admin_rewrites_their_own_part_and_nothing_else(surface_tb: Tongban, routes: Path) -> None:
    mine: dict[str, Any] = {
        "channels": {"bj-dingtalk": "dingtalk://BJNEW/", "bj-ops": {"url": "json://10.1.1.1/bj", "lang": "en"}},
        "zones": {"BJ-ETOWN": {"clerk": ["bj-dingtalk"],
                               "supervisor": ["bj-ops", "ops", "user:bj_supervisor", "users"]}}}
    r = _save(browser(surface_tb, "bj_admin"), json.dumps(mine))
    assert r.status_code == 303, r.text[-800:]
    saved = json.loads(routes.read_text())
    assert saved["channels"]["bj-dingtalk"] == {"url": "dingtalk://BJNEW/", "zone": "BJ-ETOWN"}
    assert saved["channels"]["bj-ops"] == {"url": "json://10.1.1.1/bj", "lang": "en", "zone": "BJ-ETOWN"}
    assert saved["zones"]["BJ-ETOWN"] == mine["zones"]["BJ-ETOWN"]
    for key in ("people", "levels"):
        assert saved[key] == FILE[key]
    assert saved["zones"]["TJ-TEDA"] == FILE["zones"]["TJ-TEDA"] and saved["zones"]["*"] == FILE["zones"]["*"]
    assert saved["channels"]["tj-webhook"] == FILE["channels"]["tj-webhook"]
    assert saved["channels"]["ops"] == FILE["channels"]["ops"]
    loaded = load_routes(routes)  # what the notifications engine reads
    assert loaded.channels["bj-ops"].zone == "BJ-ETOWN" and loaded.channels["ops"].zone is None
    assert browser(surface_tb, "tj_admin").get("/ui/admin/routes").text.count("BJNEW") == 0


def test_the_platform_role_is_granted_on_the_command_line_only(surface_tb: Tongban, routes: Path) -> None:
    env = {"TONGBAN_DATABASE_URL": surface_tb.runtime.settings.resolved_database_url(),
           "TONGBAN_HOME": str(surface_tb.runtime.settings.home)}
    runner = CliRunner()
    refused = runner.invoke(cli, ["user", "platform-admin", "tj_clerk"], env=env)
    assert refused.exit_code == 1 and "for admins" in refused.output
    granted = runner.invoke(cli, ["user", "platform-admin", "tj_admin"], env=env)
    assert granted.exit_code == 0, granted.output
    try:
        admin = browser(surface_tb, "tj_admin")
        page = admin.get("/ui/admin/routes").text
        assert "SMTPSECRET" in page and "BJSECRET" in page and "PLATFORMSECRET" in page  # the whole file
        whole = {**FILE, "levels": {"warning": ["clerk"]}}
        assert _save(admin, json.dumps(whole)).status_code == 303
        assert json.loads(routes.read_text()) == whole
        # and a zone admin still cannot, though the platform admin just saved
        assert _save(browser(surface_tb, "bj_admin"), json.dumps({"levels": {}})).status_code == 422
    finally:
        assert runner.invoke(cli, ["user", "platform-admin", "tj_admin", "--revoke"], env=env).exit_code == 0
    with transaction(surface_tb.runtime.session_factory) as s:
        assert s.scalars(select(User.platform_admin).where(User.username == "tj_admin")).one() is False
