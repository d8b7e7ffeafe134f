"""Zone scoping (docs/architecture.md#party): a zone that is not party to a case cannot see it, change it, list it
or even learn that it exists — every endpoint answers as for a case number that was never issued.

The demo has two zones; a third one (廊坊, HB-LANGFANG) with one user of each role joins here.
Roles of the two party zones against every event are in test_api_events_matrix.py.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from sqlalchemy import select

from storage.db import transaction
from storage.user import service as users
from storage.zone.models import Zone
from tests.app_harness import Tongban, make_pdf
from tests.web.drive import ROLES, USERS, case, cases_in, ok

THIRD = "HB-LANGFANG"


def third_zone_users(tb: Tongban) -> list[str]:
    """Create the third zone and its users once per backend (the database lives for the session)."""
    names = [f"hb_{role}" for role in ROLES]
    if names[0] in tb.tokens:
        return names
    with transaction(tb.runtime.session_factory) as s:
        if s.scalars(select(Zone).where(Zone.code == THIRD)).first() is None:
            s.add(Zone(code=THIRD, name="廊坊经济技术开发区", name_en="Langfang ETDZ"))
            s.flush()
        for name, role in zip(names, ROLES, strict=True):
            if users.get_by_username(db_session=s, username=name) is None:
                _, tb.tokens[name] = users.add(db_session=s, username=name, display_name=name, role=role,
                                               zone_code=THIRD)
    return names


def requests_on(case_no: str, file_id: int) -> list[tuple[str, str, dict[str, Any]]]:
    """Every endpoint about one case: (method, path, request kwargs)."""
    base = f"/api/v1/cases/{case_no}"
    upload = {"data": {"purpose": "supplement"},
              "files": [("files", ("补正.pdf", io.BytesIO(make_pdf("x")), "application/pdf"))]}
    return [
        ("GET", base, {}), ("GET", f"{base}/files/{file_id}", {}), ("GET", f"{base}/packet", {}),
        ("GET", f"{base}/receipt.pdf", {}), ("GET", f"{base}/notice.pdf", {}), ("GET", f"{base}/audit", {}),
        ("GET", f"{base}/verify", {}),
        ("POST", f"{base}/events", {"json": {"event": "withdraw", "version": 1, "reason": "x"}}),
        ("POST", f"{base}/events", {"json": {"event": "accept", "version": 1}}),
        ("POST", f"{base}/files", upload),
    ]


def test_a_third_zone_cannot_see_or_touch_the_case(tb: Tongban) -> None:
    outsiders = third_zone_users(tb)
    case_no = cases_in(tb, {"awaiting_supplement": 1})["awaiting_supplement"][0]  # it has a notice, too
    file_id = case(tb, case_no)["files"][0]["id"]
    never_issued = case_no[:-5] + "99999"
    rows_before = ok(tb.client.get(f"/api/v1/cases/{case_no}/audit", headers=tb.h("bj_clerk")))
    for user in outsiders:
        for method, path, kw in requests_on(case_no, file_id):
            r = tb.client.request(method, path, headers=tb.h(user), **kw)
            assert r.status_code == 404, (user, method, path, r.status_code, r.text)
            # Same answer as for a number that does not exist: nothing to learn from it.
            other = tb.client.request(method, path.replace(case_no, never_issued), headers=tb.h(user), **kw)
            assert other.status_code == 404
            assert r.json()["error"] == other.json()["error"] == "not_found", (path, r.text)
            assert r.json()["message"].replace(case_no, "N") == other.json()["message"].replace(never_issued, "N")
    assert ok(tb.client.get(f"/api/v1/cases/{case_no}/audit", headers=tb.h("bj_clerk"))) == rows_before
    assert case(tb, case_no, "bj_clerk")["state"] == "awaiting_supplement"


def test_lists_and_queues_show_only_the_zones_own_cases(tb: Tongban) -> None:
    outsiders = third_zone_users(tb)
    case_no = cases_in(tb, {"forwarded": 1})["forwarded"][0]  # forwarded: both zones are party

    def listed(user: str, **params: Any) -> bool:
        page = ok(tb.client.get("/api/v1/cases", headers=tb.h(user), params={"q": case_no, **params}))
        return case_no in [c["case_no"] for c in page["items"]]

    def queued(user: str) -> bool:
        return case_no in [c["case_no"] for c in ok(tb.client.get("/api/v1/queue", headers=tb.h(user),
                                                                  params={"per_page": 500}))]

    for user in USERS:  # both zones are party: the receiving and the handling one
        assert listed(user), user
    assert listed("bj_clerk", side="receiving") and not listed("tj_clerk", side="receiving")
    assert listed("tj_reviewer", side="handling") and not listed("bj_reviewer", side="handling")
    for user in outsiders:
        assert not listed(user) and not listed(user, state="forwarded") and not queued(user), user
        everything = ok(tb.client.get("/api/v1/cases", headers=tb.h(user), params={"per_page": 500}))
        assert all(THIRD in (c["receiving_zone"], c["handling_zone"]) for c in everything["items"])
    assert queued("tj_reviewer")  # the handling zone's work now (before forward: tests/security)


@pytest.mark.parametrize("token", [None, "tb_not-a-real-token"])
def test_no_or_a_wrong_token_gets_401(tb: Tongban, token: str | None) -> None:
    case_no = cases_in(tb, {"received": 1})["received"][0]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    for path in (f"/api/v1/cases/{case_no}", "/api/v1/cases", "/api/v1/queue"):
        assert tb.client.get(path, headers=headers).status_code == 401
