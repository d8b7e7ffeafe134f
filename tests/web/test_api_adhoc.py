"""协作机制 (一事一议) through the HTTP API: a clerk asks, the deciding zone answers, the one case runs the
normal lifecycle to delivery; every bad input is refused with nothing written. Both backend pairs."""

from __future__ import annotations

import io
import json
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from notifications.routes import parse_routes
from states.adhoc import reports as adhoc_reports
from states.adhoc.sla import raise_due_request_alerts
from states.reports import exports
from states.reports import service as reports
from states.sla.sweep import SweepReport
from storage.adhoc.models import AdhocAlert, AdhocRequest
from storage.case.models import Case
from storage.db import transaction
from storage.sla.models import Delivery
from storage.zone.models import Zone
from tests.app_harness import TRACKING, USCC, Tongban, make_pdf

MATERIALS = [{"name": "紧急情况说明", "form": "原件"}, {"name": "营业执照", "form": "复印件", "required": False}]


def _start(tb: Tongban, user: str = "bj_clerk", **fields: Any) -> Any:
    body = {"need": f"临时占道施工许可（{uuid.uuid4().hex[:6]}）", "handling_zone": "TJ-TEDA",
            "urgency": "抢修供水管道，明日必须开工", "applicant_name": "北京示例建设有限公司", **fields}
    return tb.client.post("/api/v1/adhoc-requests", json=body, headers=tb.h(user))


def _decide(tb: Tongban, request_id: int, user: str = "tj_supervisor", **body: Any) -> Any:
    return tb.client.post(f"/api/v1/adhoc-requests/{request_id}/decision", json=body, headers=tb.h(user))


def _accept(tb: Tongban, request_id: int, days: int = 3) -> dict[str, Any]:
    r = _decide(tb, request_id, decision="accept", promised_days=days, materials=MATERIALS)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def _receive(tb: Tongban, req: dict[str, Any], user: str = "bj_clerk") -> Any:
    form = {"item_code": req["ref"], "adhoc_request_id": req["id"],
            "applicant": {"kind": "enterprise", "name": "北京示例建设有限公司", "id_number": USCC,
                          "address": "北京市亦庄经济技术开发区1号"},
            "checklist": [{"item_material_id": m["item_material_id"]} for m in req["materials"]]}
    parts = [("case", ("case.json", json.dumps(form), "application/json")),
             (f"material_{req['materials'][0]['item_material_id']}",
              ("情况说明.pdf", io.BytesIO(make_pdf("情况说明")), "application/pdf"))]
    return tb.client.post("/api/v1/cases", files=parts, headers=tb.h(user))


def _count(tb: Tongban, model: Any) -> int:
    with transaction(tb.runtime.session_factory) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_adhoc_item_accepted_for_one_case_runs_to_delivery(tb: Tongban) -> None:
    r = _start(tb)
    assert r.status_code == 201, r.text
    req = r.json()
    assert req["state"] == "pending" and req["state_label"] == "待答复"
    assert req["requesting_zone"] == "BJ-ETOWN" and req["handling_zone"] == "TJ-TEDA"
    # the answer is due at the close of the next working day (Tue 10:00 → Wed 17:30 Shanghai)
    assert req["answer_due_at"].startswith("2026-11-25T09:30")
    # both sides see it waiting
    for user in ("bj_clerk", "tj_supervisor"):
        seen = tb.client.get(f"/api/v1/adhoc-requests/{req['id']}", headers=tb.h(user)).json()
        assert seen["state"] == "pending"
    assert tb.client.get(f"/api/v1/adhoc-requests/{req['id']}", headers=tb.h("bj_reviewer")).status_code == 200

    req = _accept(tb, req["id"], days=3)
    assert req["state"] == "accepted" and req["promised_days"] == 3 and req["decided_by"] == "tj_supervisor"
    assert [m["name"] for m in req["materials"]] == ["紧急情况说明", "营业执照"]
    assert [e["event"] for e in req["events"]] == ["request", "accept"]
    assert req["events"][1]["payload"]["promised_days"] == 3

    r = _receive(tb, req)
    assert r.status_code == 201, r.text
    case = r.json()
    case_no = case["case_no"]
    assert case["item_code"] == req["ref"] and case["handling_zone"] == "TJ-TEDA"
    assert [m["name"] for m in case["materials"]] == ["紧急情况说明", "营业执照"]
    assert case["due_at"].startswith("2026-11-27T09:30")  # three working days after Tue: Fri 17:30
    req = tb.client.get(f"/api/v1/adhoc-requests/{req['id']}", headers=tb.h("bj_clerk")).json()
    assert req["case_no"] == case_no and [e["event"] for e in req["events"]] == ["request", "accept", "receive"]

    # the one case is the normal lifecycle, through the transition service
    assert tb.event("bj_clerk", case_no, "precheck_pass").status_code == 200
    assert tb.dispatch() >= 1
    assert tb.event("tj_reviewer", case_no, "accept").status_code == 200
    assert tb.event("tj_reviewer", case_no, "claim").status_code == 200
    up = tb.upload("tj_reviewer", case_no, "result", "准予许可决定书.pdf", make_pdf("决定书"))
    assert up.status_code == 201, up.text
    assert tb.event("tj_reviewer", case_no, "approve", result_file_id=up.json()[0]["id"]).status_code == 200
    assert tb.event("tj_reviewer", case_no, "mail_result", carrier="EMS", tracking_no=TRACKING).status_code == 200
    r = tb.event("tj_clerk", case_no, "deliver")  # the side that mails confirms the delivery
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "closed"
    trail = [e["event"] for e in tb.client.get(f"/api/v1/cases/{case_no}/audit", headers=tb.h("bj_clerk")).json()]
    assert trail[:2] == ["receive", "adhoc_terms"] and trail[-1] == "deliver"
    v = tb.client.get(f"/api/v1/cases/{case_no}/verify", headers=tb.h("bj_supervisor")).json()
    assert v["ok"] is True, v

    # one case per request: a second receipt is refused and leaves nothing
    cases_before = _count(tb, Case)
    again = _receive(tb, req)
    assert again.status_code == 422 and again.json()["field"] == "adhoc_request_id"
    assert "仅限一件" in again.json()["message_zh"]
    assert _count(tb, Case) == cases_before


def test_bad_requests_are_refused_and_nothing_is_written(tb: Tongban) -> None:
    before = _count(tb, AdhocRequest)
    cases = [({"need": "  "}, "need", "申请事项"), ({"handling_zone": ""}, "handling_zone", "由哪个开发区办理"),
             ({"handling_zone": "XX-NOWHERE"}, "handling_zone", "XX-NOWHERE"),
             ({"handling_zone": "BJ-ETOWN"}, "handling_zone", "其他开发区"),
             ({"urgency": ""}, "urgency", "紧急事由"), ({"need": "办" * 201}, "need", "最多 200")]
    for fields, field, words in cases:
        r = _start(tb, **fields)
        assert r.status_code == 422, (fields, r.text)
        assert r.json()["field"] == field and words in r.json()["message_zh"], r.json()
    r = _start(tb, user="bj_reviewer")
    assert r.status_code == 403 and "窗口人员" in r.json()["message_zh"]
    assert _count(tb, AdhocRequest) == before


def test_only_the_deciding_zones_supervisor_or_admin_may_answer(tb: Tongban) -> None:
    req = _start(tb).json()
    for user in ("bj_supervisor", "bj_admin"):  # the asking zone cannot decide for the other
        r = _decide(tb, req["id"], user=user, decision="accept", promised_days=2, materials=MATERIALS)
        assert r.status_code == 403 and "不能代为决定" in r.json()["message_zh"], r.text
    for user in ("tj_reviewer", "tj_clerk"):
        r = _decide(tb, req["id"], user=user, decision="decline", reason="不办")
        assert r.status_code == 403 and "主管或管理员" in r.json()["message_zh"], r.text
    assert _decide(tb, req["id"], user="bj_clerk", decision="decline", reason="x").status_code == 403
    for body, field in (({"promised_days": 2, "materials": []}, "materials"),
                        ({"promised_days": 2, "materials": [{"name": " "}]}, "materials"),
                        ({"materials": MATERIALS}, "promised_days"),
                        ({"promised_days": 0, "materials": MATERIALS}, "promised_days"),
                        ({"promised_days": 2, "materials": [{"name": "表"}, {"name": "表"}]}, "materials[1].name")):
        r = _decide(tb, req["id"], decision="accept", **body)
        assert r.status_code == 422 and r.json()["field"] == field, (body, r.text)
    r = _decide(tb, req["id"], decision="decline", reason="  ")
    assert r.status_code == 422 and r.json()["field"] == "reason" and "拒绝理由" in r.json()["message_zh"]
    seen = tb.client.get(f"/api/v1/adhoc-requests/{req['id']}", headers=tb.h("bj_clerk")).json()
    assert seen["state"] == "pending" and [e["event"] for e in seen["events"]] == ["request"]
    # an unknown request and one of other zones look the same: not found
    assert tb.client.get("/api/v1/adhoc-requests/999999", headers=tb.h("bj_clerk")).status_code == 404


def test_declined_request_cannot_proceed_to_a_case(tb: Tongban) -> None:
    req = _start(tb).json()
    r = _decide(tb, req["id"], decision="decline", reason="该事项须申请人本人到场核验")
    assert r.status_code == 200 and r.json()["state"] == "declined"
    assert r.json()["decline_reason"] == "该事项须申请人本人到场核验"
    assert [e["event"] for e in r.json()["events"]] == ["request", "decline"]
    seen = tb.client.get(f"/api/v1/adhoc-requests/{req['id']}", headers=tb.h("bj_clerk")).json()
    assert seen["state_label"] == "已拒绝" and seen["decline_reason"] == "该事项须申请人本人到场核验"
    before = _count(tb, Case)
    r = _receive(tb, {**seen, "materials": [{"item_material_id": 1}]})
    assert r.status_code == 422 and "已被办理地拒绝" in r.json()["message_zh"], r.text
    assert "本人到场核验" in r.json()["message_zh"]
    assert _count(tb, Case) == before
    again = _decide(tb, req["id"], decision="accept", promised_days=2, materials=MATERIALS)
    assert again.status_code == 409 and "已答复" in again.json()["message_zh"]
    # a pending one cannot be received either
    pending = _start(tb).json()
    r = _receive(tb, {**pending, "materials": [{"item_material_id": 1}]})
    assert r.status_code == 422 and "尚未答复" in r.json()["message_zh"]


def test_request_waiting_too_long_alerts_both_sides_once(tb: Tongban) -> None:
    req = _start(tb).json()
    routes = parse_routes({"people": "mailto://tongban:x@127.0.0.1:2525?from=tongban@example.test",
                           "zones": {"*": {"supervisor": ["users"], "clerk": ["users"]}}})
    due = tb.client.get(f"/api/v1/adhoc-requests/{req['id']}", headers=tb.h("bj_clerk")).json()
    with transaction(tb.runtime.session_factory) as s:
        row = s.get(AdhocRequest, req["id"])
        assert row is not None and row.next_level == "warning"  # the evening before the answer is due
        assert row.next_alert_at == tb.runtime.clock.alert_at(row.due_at, "warning")
        at = row.due_at + timedelta(minutes=1)
    for _ in range(2):  # a second sweep raises nothing new
        with transaction(tb.runtime.session_factory) as s:
            raise_due_request_alerts(db_session=s, clock=tb.runtime.clock, routes=routes, now=at,
                                     base_url="http://tongban.test", report=SweepReport())
    with transaction(tb.runtime.session_factory) as s:
        alerts = s.execute(select(AdhocAlert.level, Zone.code).join(Zone, AdhocAlert.zone_id == Zone.id)
                           .where(AdhocAlert.request_id == req["id"])).all()
        assert sorted(alerts) == [("overdue", "BJ-ETOWN"), ("overdue", "TJ-TEDA"),
                                  ("warning", "BJ-ETOWN"), ("warning", "TJ-TEDA")]
        sent = list(s.scalars(select(Delivery).where(Delivery.dedupe_key.like("adhoc:%"))))
        mine = [d for d in sent if req["ref"] in d.subject]
        assert {d.recipient for d in mine} >= {"user:tj_supervisor", "user:bj_clerk"}
        assert len(mine) == len({d.dedupe_key for d in mine})
        assert any("已超过答复时限" in d.subject for d in mine)
        row = s.get(AdhocRequest, req["id"])
        assert row is not None and row.next_level == "escalation"
    assert due["answer_overdue"] is False
    seen = tb.client.get(f"/api/v1/adhoc-requests/{req['id']}", headers=tb.h("tj_supervisor")).json()
    assert seen["state"] == "pending"
    # answered: nothing more is raised, even long after
    _decide(tb, req["id"], decision="decline", reason="材料无法代收")
    with transaction(tb.runtime.session_factory) as s:
        raise_due_request_alerts(db_session=s, clock=tb.runtime.clock, routes=routes, now=at + timedelta(days=30),
                                 base_url="http://tongban.test", report=SweepReport())
        levels = list(s.scalars(select(AdhocAlert.level).where(AdhocAlert.request_id == req["id"])))
        assert sorted(levels) == ["overdue", "overdue", "warning", "warning"]  # no escalation


def test_answer_target_is_configurable(tb: Tongban) -> None:
    from states.adhoc import service
    from states.adhoc.schemas import RequestIn
    from states.transition.rules import Actor
    from storage.user.models import User

    now = tb.runtime.now()
    with transaction(tb.runtime.session_factory) as s:
        clerk = s.scalars(select(User).where(User.username == "bj_clerk")).one()
        actor = Actor(username=clerk.username, role=clerk.role, zone_id=clerk.zone_id, user_id=clerk.id)
        form = RequestIn(need="特殊设备临时备案", handling_zone="TJ-TEDA", urgency="展会明日开幕")
        req = service.start_request(db_session=s, actor=actor, now=now, clock=tb.runtime.clock, answer_workdays=3,
                                    form=form)
        assert req.due_at == tb.runtime.clock.due(now, 3) and req.due_at > tb.runtime.clock.due(now, 1)
        s.rollback()
    assert tb.runtime.settings.adhoc_answer_workdays == 1


def test_adhoc_cases_are_counted_apart_and_an_admin_promotes_the_item(tb: Tongban) -> None:
    tj, bj = _zone_id(tb, "TJ-TEDA"), _zone_id(tb, "BJ-ETOWN")
    with transaction(tb.runtime.session_factory) as s:
        before = adhoc_reports.summary(db_session=s, zone_id=tj, now=tb.runtime.now())
    need = f"外籍人员临时就业备案{uuid.uuid4().hex[:4]}"
    first = _accept(tb, _start(tb, need=need).json()["id"])
    assert _receive(tb, first).status_code == 201
    second = _accept(tb, _start(tb, need=need).json()["id"])
    with transaction(tb.runtime.session_factory) as s:
        after = adhoc_reports.summary(db_session=s, zone_id=tj, now=tb.runtime.now())
        ev = reports.annual_evaluation(db_session=s, year=2026, clock=tb.runtime.clock, now=tb.runtime.now(),
                                       zone_id=bj)
    assert after.as_handling.get("accepted", 0) == before.as_handling.get("accepted", 0) + 2
    # the handling zone is party to the case only once it is forwarded; the window sees it at once
    assert [r.item_name for r in ev.split_totals] == ["其中：目录事项", "其中：一事一议（协作机制）"]
    adhoc_rows = [r for r in ev.rows if r.adhoc]
    assert first["ref"] in {r.item_code for r in adhoc_rows}
    assert ev.split_totals[1].received == sum(r.received for r in adhoc_rows)
    assert ev.split_totals[0].received + ev.split_totals[1].received == ev.totals.received
    assert any(r.item_name.startswith("【一事一议】") for r in adhoc_rows)
    from documents import pdf_text
    text = "".join(pdf_text(exports.evaluation_pdf(ev, tz="Asia/Shanghai")).split())  # cells wrap lines
    assert "其中：一事一议（协作机制）" in text and f"【一事一议】{need}" in text
    from openpyxl import load_workbook
    wb = load_workbook(io.BytesIO(exports.evaluation_xlsx(ev, tz="Asia/Shanghai")))
    names = [row[1] for row in wb.worksheets[0].iter_rows(values_only=True)]
    assert "其中：一事一议（协作机制）" in names

    # 转入目录: only the deciding zone's admin, a fresh code, one step
    code = f"XZ-{uuid.uuid4().hex[:5].upper()}"
    url = f"/api/v1/adhoc-requests/{second['id']}/promote"
    for user in ("tj_supervisor", "bj_admin"):
        r = tb.client.post(url, json={"code": code}, headers=tb.h(user))
        assert r.status_code == 403, r.text
    assert tb.client.post(url, json={"code": ""}, headers=tb.h("tj_admin")).status_code == 422
    assert tb.client.post(url, json={"code": "QY-001"}, headers=tb.h("tj_admin")).json()["field"] == "code"
    r = tb.client.post(url, json={"code": code}, headers=tb.h("tj_admin"))
    assert r.status_code == 201, r.text
    assert r.json()["materials"] == ["紧急情况说明", "营业执照"] and r.json()["promised_days"] == 3
    assert tb.client.post(url, json={"code": code + "X"}, headers=tb.h("tj_admin")).status_code == 409
    catalog = tb.client.get("/api/v1/items", headers=tb.h("bj_clerk"))
    assert catalog.status_code == 200, catalog.text
    assert code in {i["code"] for i in catalog.json()}
    assert not any(i["code"].startswith("YSYY-") for i in catalog.json())  # one-off items are never offered
    normal = tb.receive(item_code=code, handling_zone="TJ-TEDA")
    assert normal.status_code == 201, normal.text


def _zone_id(tb: Tongban, code: str) -> int:
    with transaction(tb.runtime.session_factory) as s:
        return int(s.scalars(select(Zone.id).where(Zone.code == code)).one())


def test_garbage_never_answers_5xx(tb: Tongban) -> None:
    huge = "9" * 25
    h = tb.h("tj_admin")
    for method, url, body in (("GET", f"/api/v1/adhoc-requests/{huge}", None),
                              ("POST", f"/api/v1/adhoc-requests/{huge}/decision",
                               {"decision": "decline", "reason": "x"}),
                              ("POST", f"/api/v1/adhoc-requests/{huge}/promote", {"code": "A"}),
                              ("POST", "/api/v1/adhoc-requests/1/decision", {"decision": "maybe"}),
                              ("POST", "/api/v1/adhoc-requests/1/decision",
                               {"decision": "accept", "promised_days": 10**20}),
                              ("POST", "/api/v1/adhoc-requests", {"need": ["x"]}),
                              ("GET", "/api/v1/adhoc-requests?state=nonsense", None)):
        r = tb.client.request(method, url, json=body, headers=h)
        assert 400 <= r.status_code < 500, (method, url, r.status_code, r.text)
    for path in (f"/ui/adhoc/{huge}", "/ui/adhoc/abc"):
        assert tb.client.get(path, headers=h).status_code < 500
