"""The supervisor and admin pages over HTTP (no browser): reassignment through the form, and the
role and zone rules of every admin action — an admin changes only their own zone."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from states.transition.rules import SYSTEM
from states.transition.service import apply_event, get_case
from storage.audit import service as audit
from storage.catalog.models import Item
from storage.db import transaction
from storage.user import service as users
from storage.user.models import User
from storage.zone.models import Zone
from tests.app_harness import Tongban, start


@pytest.fixture(scope="module")
def tb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tongban]:
    home = tmp_path_factory.mktemp("supervision-pages")
    yield from start(home, f"sqlite:///{home / 'tongban.db'}", f"file://{home / 'objects'}")


def sign_in(tb: Tongban, username: str, password: str = "tongban-demo") -> str:
    """Signs the test client in; returns the session's CSRF token."""
    tb.client.cookies.clear()
    page = tb.client.get("/ui/login")
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    assert token is not None
    r = tb.client.post("/ui/login", data={"username": username, "password": password, "csrf_token": token.group(1),
                                          "next": "/ui/"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    fresh = re.search(r'name="csrf-token" content="([^"]+)"', tb.client.get("/ui/login").text)
    assert fresh is not None
    return fresh.group(1)


def accepted_case_in_beijing(tb: Tongban) -> str:
    """Tianjin's window receives QY-004 for Beijing; forwarded by the system, accepted by Beijing."""
    r = tb.receive(user="tj_clerk", item_code="QY-004", handling_zone="BJ-ETOWN")
    assert r.status_code == 201, r.text
    case_no = r.json()["case_no"]
    assert tb.event("tj_clerk", case_no, "precheck_pass").status_code == 200
    with transaction(tb.runtime.session_factory) as s:
        apply_event(db_session=s, case_no=case_no, actor=SYSTEM, event="forward", version=None, payload={},
                    now=tb.clock.now, clock=tb.runtime.clock)
    assert tb.event("bj_reviewer", case_no, "accept").status_code == 200
    return case_no


def test_supervisor_reassigns_from_the_dashboard_and_the_trail_records_it(tb: Tongban) -> None:
    case_no = accepted_case_in_beijing(tb)
    with transaction(tb.runtime.session_factory) as s:
        users.add(db_session=s, username="bj_reviewer_b", display_name="北京审批乙", role="reviewer",
                  zone_code="BJ-ETOWN", password="tongban-demo")
        version = get_case(db_session=s, case_no=case_no).version
    csrf = sign_in(tb, "bj_supervisor")
    page = tb.client.get("/ui/dashboard", params={"q": case_no})
    assert page.status_code == 200 and "/ui/dashboard/reassign" in page.text
    form = {"case_no": case_no, "assignee": "bj_reviewer_b", "version": str(version), "reason": "均衡工作量"}
    refused = tb.client.post("/ui/dashboard/reassign", data=form, follow_redirects=False)
    assert refused.status_code == 403  # no CSRF token
    r = tb.client.post("/ui/dashboard/reassign", data={**form, "csrf_token": csrf}, follow_redirects=True)
    assert r.status_code == 200 and "已改派给 bj_reviewer_b" in r.text
    stale = tb.client.post("/ui/dashboard/reassign", data={**form, "assignee": "bj_reviewer", "csrf_token": csrf},
                           follow_redirects=True)
    assert "changed meanwhile" in stale.text  # the version the form carried is gone
    with transaction(tb.runtime.session_factory) as s:
        case = get_case(db_session=s, case_no=case_no)
        assert s.get(User, case.assignee_id).username == "bj_reviewer_b"  # type: ignore[union-attr]
        last = audit.list_events(db_session=s, case_id=case.id)[-1]
        assert (last.event, last.actor, last.payload["reason"]) == ("reassign", "bj_supervisor", "均衡工作量")
    trail = tb.client.get(f"/api/v1/cases/{case_no}/audit", headers=tb.h("bj_clerk"))
    assert trail.status_code == 200 and trail.json()[-1]["event"] == "reassign"  # both parties see it


def test_the_other_zones_supervisor_cannot_reassign(tb: Tongban) -> None:
    case_no = accepted_case_in_beijing(tb)
    csrf = sign_in(tb, "tj_supervisor")
    r = tb.client.post("/ui/dashboard/reassign", data={"case_no": case_no, "assignee": "bj_reviewer",
                                                       "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 403


def test_admin_acts_on_their_own_zone_only(tb: Tongban, tmp_path: Path) -> None:
    csrf = sign_in(tb, "bj_admin")
    assert tb.client.get("/ui/dashboard").status_code == 200  # admins see their zone's figures too
    with transaction(tb.runtime.session_factory) as s:
        tj_user = users.get_by_username(db_session=s, username="tj_clerk")
        assert tj_user is not None
        tj_item = s.scalars(select(Item).join(Zone, Item.zone_id == Zone.id)
                            .where(Item.code == "QY-001", Zone.code == "TJ-TEDA")).unique().one()
        bj_item = s.scalars(select(Item).join(Zone, Item.zone_id == Zone.id)
                            .where(Item.code == "QY-005", Zone.code == "BJ-ETOWN")).unique().one()
        tj_user_id, tj_item_id, bj_item_id = tj_user.id, tj_item.id, bj_item.id

    post = tb.client.post
    assert post(f"/ui/admin/users/{tj_user_id}/active", data={"active": "0", "csrf_token": csrf}).status_code == 403
    assert post(f"/ui/admin/users/{tj_user_id}/password",
                data={"password": "x" * 12, "csrf_token": csrf}).status_code == 403
    assert post("/ui/admin/zones/TJ-TEDA", data={"name": "改名", "csrf_token": csrf}).status_code == 403
    assert tb.client.get(f"/ui/admin/items/{tj_item_id}").status_code == 403

    # its own item: edited through the form, materials one per line
    r = post(f"/ui/admin/items/{bj_item_id}", follow_redirects=True, data={
        "csrf_token": csrf, "name": "营业执照遗失补领", "promised_days": "2", "same_standard": "1",
        "result_delivery": "either", "mail_side": "handling",
        "materials": "补领申请书 | 原件 | 1 | 必交\n遗失公告 | 复印件 | 1 | 选交"})
    assert r.status_code == 200 and "已保存事项 QY-005" in r.text
    with transaction(tb.runtime.session_factory) as s:
        item = s.get(Item, bj_item_id)
        assert item is not None and item.promised_days == 2
        assert [(m.name, m.form, m.required) for m in item.materials] == [("补领申请书", "原件", True),
                                                                         ("遗失公告", "复印件", False)]

    # an import that names another zone's item is refused as a whole
    other = [{"code": "QY-009", "name": "测试", "zone": "TJ-TEDA", "promised_days": 3,
              "materials": [{"name": "申请书"}]}]
    r = post("/ui/admin/items/import", data={"csrf_token": csrf}, follow_redirects=True,
             files={"file": ("catalog.json", json.dumps(other, ensure_ascii=False).encode(), "application/json")})
    assert "只能导入本区" in r.text
    mine = [{**other[0], "zone": "BJ-ETOWN"}]
    r = post("/ui/admin/items/import", data={"csrf_token": csrf}, follow_redirects=True,
             files={"file": ("catalog.json", json.dumps(mine, ensure_ascii=False).encode(), "application/json")})
    assert "已导入 1 个事项" in r.text
    again = [{**mine[0], "promised_days": 4, "materials": [{"name": "申请书"}, {"name": "营业执照副本"}]}]
    r = post("/ui/admin/items/import", data={"csrf_token": csrf}, follow_redirects=True,
             files={"file": ("catalog.json", json.dumps(again, ensure_ascii=False).encode(), "application/json")})
    assert "已导入 1 个事项" in r.text  # importing an item that exists updates it in place
    with transaction(tb.runtime.session_factory) as s:
        items = list(s.scalars(select(Item).where(Item.code == "QY-009")).unique())
        assert [(i.zone.code, i.promised_days, [m.name for m in i.materials]) for i in items] == [
            ("BJ-ETOWN", 4, ["申请书", "营业执照副本"])]


def test_admin_edits_notification_routes_only_when_they_validate(tb: Tongban, tmp_path: Path) -> None:
    routes = tmp_path / "routes.json"
    tb.runtime.settings.notification_routes = routes
    try:
        csrf = sign_in(tb, "bj_admin")
        assert "saving creates it" in tb.client.get("/ui/lang/en?next=/ui/admin/routes", follow_redirects=True).text
        bad = tb.client.post("/ui/admin/routes", data={"csrf_token": csrf, "routes": '{"zonez": {}}'})
        assert bad.status_code == 422 and "unknown key" in bad.text and not routes.exists()
        good = {"channels": {"bj-ops": "json://127.0.0.1:9/hook"}, "zones": {"BJ-ETOWN": {"supervisor": ["bj-ops"]}}}
        r = tb.client.post("/ui/admin/routes", data={"csrf_token": csrf, "routes": json.dumps(good)},
                           follow_redirects=True)
        # a zone admin's channel is recorded as that zone's (issue 10.9: routes are each zone's own)
        assert r.status_code == 200 and json.loads(routes.read_text()) == {
            "channels": {"bj-ops": {"url": "json://127.0.0.1:9/hook", "zone": "BJ-ETOWN"}}, "zones": good["zones"]}
    finally:
        tb.runtime.settings.notification_routes = None
        tb.client.cookies.clear()


def test_supervisors_and_reviewers_are_kept_out_of_admin(tb: Tongban) -> None:
    sign_in(tb, "bj_supervisor")
    assert tb.client.get("/ui/admin").status_code == 403
    sign_in(tb, "bj_reviewer")
    for path in ("/ui/dashboard", "/ui/evaluation", "/ui/evaluation/report.pdf", "/ui/admin/catalog-report"):
        assert tb.client.get(path).status_code == 403, path
