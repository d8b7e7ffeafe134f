"""Helpers of the surface tests: a browser-like client signed in as a demo user."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from storage.demo.seed import DEMO_PASSWORD
from tests.app_harness import Tongban


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html) or re.search(
        r'name="csrf-token" content="([^"]+)"', html)
    assert found, "every page carries the CSRF token"
    return found.group(1)


def browser(tb: Tongban, username: str | None = None) -> TestClient:
    """A client of its own (its own cookie jar), signed in through the login form when ``username`` is given."""
    client = TestClient(tb.client.app)
    if username is not None:
        token = csrf_of(client.get("/ui/login").text)
        r = client.post("/ui/login", data={"username": username, "password": DEMO_PASSWORD, "csrf_token": token},
                        follow_redirects=False)
        assert r.status_code == 303, r.text
    return client
