"""Helpers of the security suite: browser sign-in over HTTP, every route of the app, new accounts."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

from storage.db import transaction
from storage.demo.seed import DEMO_PASSWORD
from storage.user import service as users
from tests.app_harness import Tongban

PASSWORD = "correct horse battery"


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "every form carries the CSRF token"
    return found.group(1)


def sign_in(client: TestClient, username: str, password: str = DEMO_PASSWORD) -> Response:
    token = csrf_of(client.get("/ui/login").text)
    return client.post("/ui/login", data={"username": username, "password": password, "csrf_token": token},
                       follow_redirects=False)


def browser(tb: Tongban, username: str, password: str = DEMO_PASSWORD) -> TestClient:
    """A signed-in browser of its own (cookie jar), like a second tab or a second person."""
    client = TestClient(tb.client.app)
    r = sign_in(client, username, password)
    assert r.status_code == 303, r.text
    return client


def csrf(client: TestClient) -> str:
    return csrf_of(client.get("/ui/login").text)


def new_user(tb: Tongban, role: str = "clerk", zone: str = "BJ-ETOWN") -> str:
    """Each test its own account, so lock-outs and revocations never touch the shared demo users."""
    name = f"{role}_{uuid.uuid4().hex[:8]}"
    with transaction(tb.runtime.session_factory) as s:
        users.add(db_session=s, username=name, display_name=f"测试{role}", role=role, zone_code=zone,
                  password=PASSWORD)
    return name


def user_id(tb: Tongban, username: str) -> int:
    with transaction(tb.runtime.session_factory) as s:
        user = users.get_by_username(db_session=s, username=username)
        assert user is not None
        return user.id


def routes(app: Any) -> Iterator[tuple[str, str]]:
    """(method, path) of every route of the app, whatever router it came from (HEAD left out)."""
    def walk(items: Iterable[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
        for r in items:
            if hasattr(r, "original_router"):  # an included router (FastAPI ≥ 0.13x keeps them nested)
                yield from walk(r.original_router.routes, prefix + r.include_context.prefix)
            elif hasattr(r, "include_router") and hasattr(r, "routes"):
                yield from walk(r.routes, prefix)
            elif getattr(r, "methods", None):
                for method in sorted(r.methods - {"HEAD"}):
                    yield method, prefix + r.path
    seen = set()
    for pair in walk(app.routes):
        if pair not in seen:
            seen.add(pair)
            yield pair
