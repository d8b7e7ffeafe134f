"""协作机制 (一事一议) in a real browser: a window asks for an item not on the list, the deciding zone's
supervisor accepts it with a one-off checklist and limit, the clerk receives the one case and it runs to
delivery; wrong people, wrong zones, missing fields and a declined request are each refused with a
Chinese sentence on the page and nothing written."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.app_harness import TRACKING, USCC, make_pdf
from tests.web.ui.conftest import UiServer, api, login, wait_for_state, write_pdf

pytestmark = pytest.mark.browser

#: print() would open a dialog nobody closes in a headless browser: count it instead.
RECORD_PRINT = "window.print = function () { window.top.__printed = (window.top.__printed || 0) + 1; };"


def _signed_in(new_page: Any, user: str) -> Any:
    page = new_page()
    page.add_init_script(RECORD_PRINT)
    login(page, user)
    return page


def _post(page: Any, action: str, fields: dict[str, str]) -> None:
    """What a hand-made form (or a stale page) would send: the server must refuse it on its own."""
    with page.expect_navigation():
        page.evaluate("""([action, fields]) => {
            const f = document.createElement('form'); f.method = 'post'; f.action = action;
            const add = (k, v) => { const i = document.createElement('input'); i.type = 'hidden'; i.name = k;
                                     i.value = v; f.appendChild(i); };
            add('csrf_token', document.querySelector('meta[name=csrf-token]').content);
            for (const [k, v] of Object.entries(fields)) add(k, v);
            document.body.appendChild(f); f.submit(); }""", [action, fields])


def _start(page: Any, need: str) -> str:
    page.goto("/ui/adhoc")
    page.locator("[name=need]").fill(need)
    page.locator("[name=handling_zone]").select_option("TJ-TEDA")
    page.locator("[name=urgency]").fill("企业明日须向海关提交，等不及事项入目录")
    page.get_by_role("button", name="发起申请").click()
    page.wait_for_url(re.compile(r"/ui/adhoc/\d+$"))
    expect(page.locator("#adhoc-state")).to_have_text("待答复")
    return str(page.url.rsplit("/", 1)[1])


def _request_count(ui: UiServer) -> int:
    from sqlalchemy import func, select

    from storage.adhoc.models import AdhocRequest
    from storage.db import transaction

    with transaction(ui.runtime.session_factory) as s:
        return int(s.scalar(select(func.count()).select_from(AdhocRequest)) or 0)


def test_adhoc_request_asked_accepted_received_and_delivered(new_page: Any, ui_server: UiServer,
                                                             tmp_path: Path) -> None:
    clerk = _signed_in(new_page, "bj_clerk")
    clerk.goto("/ui/adhoc")
    before = _request_count(ui_server)
    clerk.get_by_role("button", name="发起申请").click()  # nothing filled in
    expect(clerk.locator("[data-error-for=need]")).to_have_text("请填写申请事项（申请人要办什么）")
    assert _request_count(ui_server) == before
    clerk.locator("[name=need]").fill("出口货物原产地证明加急")
    clerk.get_by_role("button", name="发起申请").click()
    expect(clerk.locator("[data-error-for=handling_zone]")).to_have_text("请选择由哪个开发区办理（作出决定）")
    expect(clerk.locator("[name=need]")).to_have_value("出口货物原产地证明加急")  # kept
    assert _request_count(ui_server) == before

    need = f"出口货物原产地证明加急{uuid.uuid4().hex[:4]}"
    rid = _start(clerk, need)
    url = f"/ui/adhoc/{rid}"
    clerk.goto("/ui/adhoc?state=pending")
    expect(clerk.locator(f"#adhoc-table tr[data-state=pending] >> text={need}")).to_be_visible()

    # a reviewer of the deciding zone, and the asking zone's supervisor: no form, and a forced post is refused
    for user, words in (("tj_reviewer", "只有办理地的主管或管理员可以答复一事一议申请"),
                        ("bj_supervisor", "本区不能代为决定")):
        other = _signed_in(new_page, user)
        other.goto(url)
        expect(other.locator("#adhoc-why-not")).to_contain_text(words)
        expect(other.locator("#adhoc-decide")).to_have_count(0)
        _post(other, f"{url}/decision", {"decision": "accept", "promised_days": "2", "materials": "情况说明"})
        expect(other.locator("[data-error-for=_form]")).to_contain_text(words)
        expect(other.locator("#adhoc-state")).to_have_text("待答复")

    sup = _signed_in(new_page, "tj_supervisor")
    sup.goto(url)
    sup.get_by_role("button", name="同意受理").click()
    expect(sup.locator("[data-error-for=promised_days]")).to_have_text("请填写承诺时限（工作日）")
    sup.locator("[name=promised_days]").fill("2")
    sup.get_by_role("button", name="同意受理").click()
    expect(sup.locator("[data-error-for=materials]")).to_have_text("请列出至少一项申请材料")
    expect(sup.locator("#adhoc-state")).to_have_text("待答复")
    sup.locator("[name=materials]").fill("加急情况说明\n报关单｜复印件\n委托书｜原件｜选交")
    sup.get_by_role("button", name="同意受理").click()
    expect(sup.locator("#adhoc-state")).to_have_text("已同意")
    expect(sup.locator("#adhoc-materials li")).to_have_text(["加急情况说明（原件）", "报关单（复印件）",
                                                             "委托书（原件，选交）"])
    expect(sup.locator("#adhoc-trail li[data-event=accept]")).to_contain_text("tj_supervisor")

    clerk.goto(url)
    expect(clerk.locator("#adhoc-state")).to_have_text("已同意")
    expect(clerk.locator("#adhoc-days")).to_contain_text("2 个工作日")
    form = clerk.locator("#adhoc-receive")
    form.locator("[name=applicant_name]").fill("北京示例外贸有限公司")
    form.locator("[name=applicant_id_number]").fill(USCC[:-1] + ("0" if USCC[-1] != "0" else "1"))
    form.locator("[name=applicant_address]").fill("北京市亦庄经济技术开发区2号")
    form.get_by_role("button", name="确认收件").click()
    expect(clerk.locator("[data-error-for=applicant_id_number]")).not_to_be_empty()
    expect(clerk.locator("[name=applicant_name]")).to_have_value("北京示例外贸有限公司")
    form = clerk.locator("#adhoc-receive")
    form.locator("[name=applicant_id_number]").fill(USCC)
    form.get_by_label("纸质件：加急情况说明").check()
    form.get_by_label("纸质件：报关单").check()
    form.get_by_label("扫描件：加急情况说明").set_input_files(str(write_pdf(tmp_path / "情况说明.pdf", "情况说明")))
    form.get_by_role("button", name="确认收件").click()
    clerk.wait_for_url(re.compile(r"/ui/cases/BJETOWN-"))
    case_no = clerk.url.split("/ui/cases/")[1].split("?")[0]
    expect(clerk.locator("body")).to_contain_text("已据一事一议申请收件")
    expect(clerk.locator("body")).to_contain_text("加急情况说明")
    clerk.goto(url)
    expect(clerk.locator("#adhoc-case")).to_have_text(case_no)
    expect(clerk.locator("#adhoc-receive")).to_have_count(0)  # one case per request

    # the normal lifecycle, to delivery (the API stands in for the other desks)
    with api(ui_server, "bj_clerk") as c:
        version = c.get(f"/api/v1/cases/{case_no}").json()["version"]
        assert c.post(f"/api/v1/cases/{case_no}/events",
                      json={"event": "precheck_pass", "version": version}).status_code == 200
    wait_for_state(ui_server, case_no, "forwarded")

    def send(user: str, event: str, **payload: Any) -> None:
        with api(ui_server, user) as c:
            version = c.get(f"/api/v1/cases/{case_no}").json()["version"]
            r = c.post(f"/api/v1/cases/{case_no}/events", json={"event": event, "version": version, **payload})
            assert r.status_code == 200, r.text

    send("tj_reviewer", "accept")
    send("tj_reviewer", "claim")
    with api(ui_server, "tj_reviewer") as c:
        up = c.post(f"/api/v1/cases/{case_no}/files", data={"purpose": "result"},
                    files=[("files", ("决定书.pdf", make_pdf("决定书"), "application/pdf"))])
        assert up.status_code == 201, up.text
    send("tj_reviewer", "approve", result_file_id=up.json()[0]["id"])
    send("tj_reviewer", "mail_result", carrier="EMS", tracking_no=TRACKING)
    send("tj_clerk", "deliver")
    clerk.goto(f"/ui/cases/{case_no}")
    expect(clerk.locator("body")).to_contain_text("办结")

    # counted apart: the deciding zone's dashboard, the window's evaluation (page, PDF, Excel)
    sup.goto("/ui/dashboard")
    expect(sup.locator("#adhoc-summary")).to_be_visible()
    assert int(sup.locator("#adhoc-counts tr[data-side=handling] td").nth(1).inner_text()) >= 1
    assert int(sup.locator("#adhoc-figures [data-n=cases]").inner_text()) >= 1
    bj_sup = _signed_in(new_page, "bj_supervisor")
    bj_sup.goto("/ui/evaluation?year=2026")
    expect(bj_sup.locator("tr[data-split=adhoc]")).to_contain_text("一事一议（协作机制）")
    expect(bj_sup.locator("tr[data-adhoc='1']").first).to_contain_text("【一事一议】")
    for suffix, kind in (("pdf", "application/pdf"), ("xlsx", "spreadsheetml")):
        r = bj_sup.request.get(f"/ui/evaluation/report.{suffix}?year=2026")
        assert r.status == 200 and kind in r.headers["content-type"]

    # 转入目录 in one step, by the deciding zone's admin
    admin = _signed_in(new_page, "tj_admin")
    admin.goto(url)
    admin.get_by_role("button", name="转入目录").click()
    expect(admin.locator("[data-error-for=code]")).to_have_text("请填写事项编码")
    code = f"YD-{uuid.uuid4().hex[:4].upper()}"
    admin.locator("[name=code]").fill(code)
    admin.get_by_role("button", name="转入目录").click()
    expect(admin.locator("#adhoc-promoted")).to_have_text(code)
    expect(admin.locator(".flash-ok")).to_contain_text("已转入事项目录")
    clerk.goto("/ui/receive")
    expect(clerk.locator(f"#item-options option[value^='{code} ']")).to_have_count(1)


def test_declined_request_shows_its_reason_and_cannot_be_received(new_page: Any, ui_server: UiServer) -> None:
    clerk = _signed_in(new_page, "bj_clerk")
    rid = _start(clerk, f"境外学历认证加急{uuid.uuid4().hex[:4]}")
    url = f"/ui/adhoc/{rid}"
    sup = _signed_in(new_page, "tj_supervisor")
    sup.goto(url)
    sup.get_by_role("button", name="拒绝").click()
    expect(sup.locator("[data-error-for=reason]")).to_have_text("请填写拒绝理由")
    expect(sup.locator("#adhoc-state")).to_have_text("待答复")
    sup.locator("[name=reason]").fill("须由申请人本人到办理地现场核验原件")
    sup.get_by_role("button", name="拒绝").click()
    expect(sup.locator("#adhoc-state")).to_have_text("已拒绝")
    # answered once: a second answer (a stale page) is refused
    _post(sup, f"{url}/decision", {"decision": "accept", "promised_days": "3", "materials": "申请书"})
    expect(sup.locator("[data-error-for=_form]")).to_contain_text("此申请已答复（已拒绝），不能再次答复")

    clerk.goto("/ui/adhoc?state=declined")
    row = clerk.locator(f"#adhoc-table tr[data-ref=YSYY-{int(rid):05d}]")
    expect(row).to_contain_text("已拒绝")
    expect(row).to_contain_text("拒绝理由：须由申请人本人到办理地现场核验原件")
    clerk.goto(url)
    expect(clerk.locator("#decline-reason")).to_have_text("须由申请人本人到办理地现场核验原件")
    expect(clerk.locator("#adhoc-receive")).to_have_count(0)
    with api(ui_server, "bj_clerk") as c:
        cases_before = c.get("/api/v1/cases").json()
    _post(clerk, f"{url}/receive", {"applicant_kind": "enterprise", "applicant_name": "北京示例有限公司",
                                     "applicant_id_number": USCC, "applicant_address": "北京市亦庄",
                                     "delivery_method": "mail"})
    expect(clerk.locator("[data-error-for=_form]")).to_contain_text("已被办理地拒绝，不能收件")
    expect(clerk.locator("[data-error-for=_form]")).to_contain_text("现场核验原件")
    with api(ui_server, "bj_clerk") as c:
        assert c.get("/api/v1/cases").json() == cases_before  # nothing half-written
