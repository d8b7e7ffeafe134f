"""Issue 10.20 — the API documentation is public in embedded/demo mode, behind login in
distributed mode, and configurable (``TONGBAN_API_DOCS=public|login|off``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from config import Settings
from config.settings import refusal
from states.runtime import Runtime
from tests.app_harness import Tongban
from tests.security.support import browser
from web.app import create_app

PAGES = ("/docs", "/redoc", "/openapi.json")


def _app(tb: Tongban, **changes: str) -> TestClient:
    settings = tb.runtime.settings.model_copy(update=changes)
    return TestClient(create_app(runtime=Runtime(settings, now_fn=tb.clock), run_dispatcher=False))


def test_embedded_mode_serves_the_docs_to_anyone(tb_sqlite_fs: Tongban) -> None:
    for path in PAGES:
        assert tb_sqlite_fs.client.get(path).status_code == 200, path
    assert "/api/v1/cases" in tb_sqlite_fs.client.get("/openapi.json").json()["paths"]


@pytest.mark.parametrize("changes", [{"mode": "distributed", "api_docs": ""}, {"api_docs": "login"}])
def test_behind_login_only_signed_in_users_and_token_holders_see_them(tb_sqlite_fs: Tongban,
                                                                     changes: dict[str, str]) -> None:
    tb = tb_sqlite_fs
    anonymous = _app(tb, **changes)
    r = anonymous.get("/openapi.json")
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    for path in ("/docs", "/redoc"):
        r = anonymous.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/ui/login"), path
    assert "/api/v1/cases" in anonymous.get("/openapi.json", headers=tb.h("tj_reviewer")).json()["paths"]
    person = browser(tb, "bj_clerk")
    person.app = anonymous.app  # the same cookie jar against the app with docs behind login
    for path in PAGES:
        assert person.get(path).status_code == 200, path


def test_off_means_not_served_at_all(tb_sqlite_fs: Tongban) -> None:
    client = _app(tb_sqlite_fs, api_docs="off")
    for path in PAGES:
        r = client.get(path, headers=tb_sqlite_fs.h("bj_admin"))
        assert r.status_code == 404, path


def test_a_misspelt_setting_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(home=tmp_path, api_docs="publik", _env_file=None)  # type: ignore[call-arg, arg-type]
    assert refusal(refused.value) == "TONGBAN_API_DOCS='publik': must be one of public, login, off"
