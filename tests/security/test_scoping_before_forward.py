"""Issue 10.2 — least privilege for the applicant's data (docs/architecture.md#party): the handling zone sees
NOTHING of a case until it is forwarded to it.

A Beijing window receives cases that Tianjin will handle. While such a case is still at the counter
— received, awaiting a supplement, rejected (不予收件) or withdrawn before forwarding — every
Tianjin user, whatever their role, gets exactly the answer a never-issued case number gets, on every
route of the app that takes a case number; and every other page and endpoint (lists, 办件查询, the
queue, the dashboard, reports, exports, alerts …) shows Tianjin the same thing before and after
those cases exist. The routes are read from the app itself, so a route added later is covered (or
makes this test fail until it says how to call it).
"""

from __future__ import annotations

import io
import re
import uuid
import zipfile
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from pypdf import PdfReader

from tests.app_harness import USCC, Tongban, make_pdf
from tests.security.support import browser, csrf_of, routes
from tests.web.drive import PATHS, case, ok, receive, send

PRE_FORWARD = ("received", "awaiting_supplement", "rejected", "withdrawn")
HANDLING_USERS = ("tj_clerk", "tj_reviewer", "tj_supervisor", "tj_admin")
#: Routes that are about no case and change things of the caller's own zone only (admin forms,
#: sign-in/out, receiving a new case): nothing of another zone's case can come back from them.
NOT_ABOUT_CASES = {
    ("POST", "/ui/admin/users"), ("POST", "/ui/admin/users/{user_id:int}/password"),
    ("POST", "/ui/admin/users/{user_id:int}/active"), ("POST", "/ui/admin/users/{user_id:int}/signout"),
    ("POST", "/ui/admin/zones/{code}"), ("POST", "/ui/admin/items/{item_id:int}"),
    ("POST", "/ui/admin/items/import"), ("POST", "/ui/admin/routes"), ("POST", "/ui/login"),
    ("POST", "/ui/logout"), ("POST", "/ui/receive"), ("POST", "/api/v1/cases"),
    # a holiday schedule: the preview lists only cases the admin's zone is party to (rules.visible_clause)
    ("POST", "/ui/admin/calendar/preview"), ("POST", "/ui/admin/calendar/apply"),
    # peer deployments only (federation/): believed only when signed by a registered peer's key
    ("POST", "/federation/v1/messages"), ("PUT", "/federation/v1/blobs/{sha256}"),
    # 一事一议 requests (not cases): shown to the asking and the deciding zone only (states/adhoc)
    ("POST", "/ui/adhoc"), ("POST", "/ui/adhoc/{request_id}/decision"), ("POST", "/ui/adhoc/{request_id}/receive"),
    ("POST", "/ui/adhoc/{request_id}/promote"), ("POST", "/api/v1/adhoc-requests"),
    ("POST", "/api/v1/adhoc-requests/{request_id}/decision"), ("POST", "/api/v1/adhoc-requests/{request_id}/promote"),
    # 电子证照 issuers and kiosk terminals: the admin's own registers
    ("POST", "/ui/admin/licences/issuers"), ("POST", "/ui/admin/kiosks"),
    ("POST", "/ui/admin/kiosks/{terminal_pk}/active"), ("POST", "/ui/admin/kiosks/{terminal_pk}/secret"),
    # a kiosk starts a receipt at its own zone and forgets it at 完成; a clerk opens a slot of the own zone's locker
    ("POST", "/ui/kiosk/signin"), ("POST", "/ui/kiosk/apply/{item_id}"), ("POST", "/ui/kiosk/finish"),
    ("POST", "/api/v1/kiosk/receipts"), ("POST", "/ui/locker/confirm"),
    # 办件查询 by the full 证件号码 (a form post): compared before and after like every list (_everything_else)
    ("POST", "/ui/cases"),
}


def _probe(tb: Tongban, state: str, name: str | None = None) -> tuple[str, str]:
    """A case of BJ-ETOWN for TJ-TEDA in ``state`` (before forward), with a name found nowhere else."""
    name = name or f"探针{uuid.uuid4().hex[:10]}有限公司"
    case_no = receive(tb, applicant={"kind": "enterprise", "name": name, "id_number": USCC,
                                     "phone": "13812345678", "address": "天津市滨海新区第三大街1号"})
    for user, event in PATHS[state]:
        send(tb, user, case_no, event)
    assert case(tb, case_no)["state"] == state
    return case_no, name


def _path_values(tb: Tongban, case_no: str) -> dict[str, str]:
    item = tb.item("QY-001", "TJ-TEDA")
    return {"case_no": case_no, "file_id": str(case(tb, case_no)["files"][0]["id"]), "user_id": "1",
            "user_id:int": "1", "item_id": str(item["id"]), "item_id:int": str(item["id"]), "code": "TJ-TEDA",
            "lang": "zh", "tracking_no": "RR473124829GB", "sha256": "0" * 64, "case_ref": case_no, "request_id": "1",
            "terminal_pk": "1"}


def _fill(path: str, values: dict[str, str]) -> str:
    def one(m: re.Match[str]) -> str:
        key = m.group(1)
        assert key in values, f"a new route parameter {{{key}}} in {path}: say here how to call it"
        return values[key]
    return re.sub(r"\{([^}]+)\}", one, path)


def _call(client: TestClient, tb: Tongban, user: str, method: str, path: str) -> Response:
    """One request as ``user``: bearer token for the API, the signed-in browser for everything else."""
    headers = tb.h(user) if path.startswith("/api/") else {}
    if method == "GET":
        return client.get(path, headers=headers, follow_redirects=False)
    token = csrf_of(client.get("/ui/login").text)
    data = {"csrf_token": token, "version": "1", "event": "accept", "reason": "x", "purpose": "supplement",
            "material_id": "1", "case_no": path.rsplit("/", 2)[-2] if "/cases/" in path else ""}
    if path.startswith("/api/") and path.endswith("/events"):
        return client.post(path, headers=headers, json={"event": "accept", "version": 1})
    if path.startswith("/api/") and path.endswith("/locker-confirmation"):  # a well-formed body: the case decides
        return client.post(path, headers=headers, json={"slot": "A01", "pickup_code": "000000"})
    files = [("files", ("补正.pdf", io.BytesIO(make_pdf("x")), "application/pdf"))] if path.endswith("/files") else None
    return client.post(path, headers=headers, data=data, files=files, follow_redirects=False)


def _same_as_never_issued(got: Response, never: Response, case_no: str, fake: str, name: str) -> None:
    assert got.status_code == 404, got.text[:300]
    assert never.status_code == 404
    assert name not in got.text
    assert got.text.replace(case_no, "N") == never.text.replace(fake, "N")


def test_the_handling_zone_gets_not_found_for_every_case_route_before_forward(tb: Tongban) -> None:
    probes = {state: _probe(tb, state) for state in PRE_FORWARD}
    case_routes = [(m, p) for m, p in routes(tb.client.app) if "{case_no}" in p]
    assert len(case_routes) >= 12, case_routes  # API detail, files, packet, receipt, notice, audit, verify, UI …
    before = {no: ok(tb.client.get(f"/api/v1/cases/{no}/audit", headers=tb.h("bj_clerk")))
              for no, _ in probes.values()}
    for user in HANDLING_USERS:
        client = browser(tb, user)
        for state, (case_no, name) in probes.items():
            fake = case_no[:-5] + "99999"
            values = _path_values(tb, case_no)
            for method, template in case_routes:
                path = _fill(template, values)
                got = _call(client, tb, user, method, path)
                never = _call(client, tb, user, method, path.replace(case_no, fake))
                try:
                    _same_as_never_issued(got, never, case_no, fake, name)
                except AssertionError as exc:
                    raise AssertionError(f"{user} {method} {template} on a {state} case: {exc}") from exc
    for no, trail in before.items():  # and nothing was changed by any of it
        assert ok(tb.client.get(f"/api/v1/cases/{no}/audit", headers=tb.h("bj_clerk"))) == trail


def _comparable(r: Response) -> Any:
    """What a response shows, without what differs from one rendering to the next (file timestamps)."""
    kind = r.headers.get("content-type", "")
    if "pdf" in kind:
        return [p.extract_text() for p in PdfReader(io.BytesIO(r.content)).pages]
    if "spreadsheet" in kind:
        with zipfile.ZipFile(io.BytesIO(r.content)) as z:
            return {n: z.read(n) for n in z.namelist() if not n.startswith("docProps/")}
    return r.status_code, r.headers.get("location"), r.text


def _everything_else(tb: Tongban, clients: dict[str, TestClient], query: str,
                     fill: str) -> dict[tuple[str, str], Any]:
    """Every GET route that takes no case number, as every handling-zone user sees it, searching ``query``."""
    values = _path_values(tb, fill)
    shots: dict[tuple[str, str], Any] = {}
    params = {"q": query, "per_page": "500", "year": "2026"}
    for method, template in routes(tb.client.app):
        if method != "GET" or "{case_no}" in template:
            continue
        path = _fill(template, values)
        for user, client in clients.items():
            headers = tb.h(user) if path.startswith("/api/") else {}
            r = client.get(path, params=params, headers=headers, follow_redirects=False)
            assert r.status_code < 500, (user, path, r.text[:300])
            shots[(user, template)] = _comparable(r)
    for user, client in clients.items():  # 办件查询 by the full 证件号码 is a form post (never in a URL)
        r = client.post("/ui/cases", data={"csrf_token": csrf_of(client.get("/ui/login").text), "q": USCC},
                        follow_redirects=False)
        assert r.status_code == 200, (user, r.status_code)
        shots[(user, "POST /ui/cases")] = _comparable(r)
    return shots


def test_lists_search_queue_reports_exports_and_alerts_show_the_handling_zone_nothing_before_forward(
        tb: Tongban) -> None:
    clients = {user: browser(tb, user) for user in HANDLING_USERS}
    fill = receive(tb)  # a case number of its own to fill {file_id}, created before the first look
    tag = f"探针{uuid.uuid4().hex[:8]}"  # the applicants' names all start with it: 办件查询 by name finds them
    views_before = _everything_else(tb, clients, tag, fill)
    probes = [_probe(tb, state, name=f"{tag}{state}有限公司") for state in PRE_FORWARD]
    views_after = _everything_else(tb, clients, tag, fill)
    changed = sorted({route for (user, route), view in views_before.items() if views_after[(user, route)] != view})
    assert not changed, f"the handling zone's view changed when cases were received for it: {changed}"
    case_no = probes[0][0]  # searched by case number: the same as a number never issued
    fake = case_no[:-5] + "99999"
    by_no = _everything_else(tb, clients, case_no, fill)
    by_fake = _everything_else(tb, clients, fake, fill)
    differ = sorted({route for (user, route), view in by_no.items()
                     if repr(view).replace(case_no, "N") != repr(by_fake[(user, route)]).replace(fake, "N")})
    assert not differ, f"searching {case_no} tells the handling zone it exists: {differ}"
    # The receiving zone does see them (so the looks above were real ones).
    bj = browser(tb, "bj_supervisor")
    for case_no, name in probes:
        assert name in bj.get("/ui/cases", params={"q": case_no}).text
        assert case_no in bj.get("/ui/dashboard/cases.csv").text


def test_the_post_forms_that_name_a_case_in_their_body_learn_nothing_either(tb: Tongban) -> None:
    case_no, name = _probe(tb, "received")
    fake = case_no[:-5] + "99999"
    client = browser(tb, "tj_supervisor")
    answers = []
    for no in (case_no, fake):
        r = client.post("/ui/dashboard/reassign", data={"csrf_token": csrf_of(client.get("/ui/login").text),
                                                        "case_no": no, "assignee": "tj_reviewer", "version": "1"})
        answers.append(r.text.replace(no, "N"))
        assert name not in r.text
    assert answers[0] == answers[1]
    covered = {(m, p) for m, p in routes(tb.client.app) if m != "GET" and "{case_no}" not in p}
    assert covered - NOT_ABOUT_CASES <= {("POST", "/ui/dashboard/reassign"),
                                        ("POST", "/api/v1/shipments/{tracking_no}/delivered")}, \
        "a new POST route: decide here whether it can reveal a case"


def test_once_forwarded_the_handling_zone_is_party_and_stays_so_after_returning_it(tb: Tongban) -> None:
    case_no, name = _probe(tb, "prechecked")
    assert tb.client.get(f"/api/v1/cases/{case_no}", headers=tb.h("tj_reviewer")).status_code == 404
    tb.dispatch()  # the forward flow: packet, copies, the forward transition
    forwarded = case(tb, case_no, "tj_reviewer")
    assert forwarded["state"] == "forwarded"
    send(tb, "tj_reviewer", case_no, "return")  # → returned → awaiting_supplement, back at the counter
    assert case(tb, case_no, "tj_reviewer")["state"] == "awaiting_supplement"
    assert name in browser(tb, "tj_reviewer").get(f"/ui/cases/{case_no}").text
    page = ok(tb.client.get("/api/v1/cases", headers=tb.h("tj_supervisor"), params={"q": case_no}))
    assert [c["case_no"] for c in page["items"]] == [case_no]


@pytest.mark.parametrize("state", PRE_FORWARD)
def test_deadline_alerts_of_a_case_still_at_the_counter_go_to_the_receiving_zone_only(tb: Tongban,
                                                                                      state: str) -> None:
    from states.sla.sweep import _sides
    from states.transition.service import get_case
    from storage.db import transaction

    case_no, _ = _probe(tb, state)
    with transaction(tb.runtime.session_factory) as s:
        sides = [side for _, side in _sides(get_case(db_session=s, case_no=case_no))]
    assert sides == ["receiving"]
