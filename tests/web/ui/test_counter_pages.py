"""The counter through its pages (HTTP with the session cookie, no browser): every refusal a window
clerk or a reviewer can meet on a form is a plain Chinese sentence next to its field with what was
typed kept; the to-do list is whoever must act; delivery is confirmed with the date and the signatory;
the receipt is per material with copies, paper/scan, the clerk's name and the applicant's signature
line; search finds a case by the full ID number; the demo password is shown only in demo mode."""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from documents import pdf_text
from storage.case.models import Applicant, Case, Shipment
from storage.db import transaction
from tests.app_harness import TRACKING, USCC, Tongban, make_pdf
from tests.web.drive import case, cases_in, receive

#: Three English words in a row: a sentence of the service's, not a label like "PDF" or "EMS".
ENGLISH = re.compile(r"\b[A-Za-z]{2,}(?:[ ,:;'-]+[A-Za-z]{2,}){2,}\b")
#: A field name as the service spells it (``delivery_address``, ``applicant.id_number``, ``materials[0]``).
RAW_FIELD = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b|\b[a-z]+\.[a-z_]+\b|\b[a-z]+\[\d+\]")
OTHER_USCC = "91110108MA01C0N825"  # a valid code of another enterprise


@pytest.fixture(autouse=True)
def keep_flow_runtime() -> Iterator[None]:
    """``tb.dispatch()`` points the in-process flows at this test app; give them back to whoever had them
    (the browser tests' server shares the session and forwards through the same module)."""
    from flows import runtime as flow_runtime

    before = flow_runtime._current
    yield
    flow_runtime._current = before


def visible_text(page: str) -> str:
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    page = re.sub(r"<[^>]+>", " ", page)
    return html.unescape(" ".join(page.split()))


def field_errors(page: str) -> dict[str, str]:
    return {k: html.unescape(v.strip()) for k, v in
            re.findall(r'class="field-error" data-error-for="([\w-]+)"[^>]*>([^<]*)<', page) if v.strip()}


def assert_plain_chinese(page: str) -> None:
    """What a zh-CN page shows: no English sentence, no raw field name."""
    text = visible_text(page)
    assert not ENGLISH.search(text), f"English on a zh-CN page: {ENGLISH.search(text).group(0)!r}"  # type: ignore[union-attr]
    assert not RAW_FIELD.search(text), f"raw field name on a zh-CN page: {RAW_FIELD.search(text).group(0)!r}"  # type: ignore[union-attr]


def sign_in(tb: Tongban, username: str) -> tuple[TestClient, str]:
    client = TestClient(tb.client.app)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/ui/login").text).group(1)  # type: ignore[union-attr]
    r = client.post("/ui/login", data={"username": username, "password": "tongban-demo", "csrf_token": token})
    assert r.status_code == 200, r.text
    return client, re.search(r'name="csrf-token" content="([^"]+)"', r.text).group(1)  # type: ignore[union-attr]


def version_of(page: str) -> str:
    return re.search(r'name="version" value="(\d+)"', page).group(1)  # type: ignore[union-attr]


def refused(r: Any, field: str, *kept: str) -> str:
    """The form came back (422) with a Chinese reason at ``field`` and the typed values in it."""
    assert r.status_code == 422, r.status_code
    errors = field_errors(r.text)
    assert field in errors, f"no error next to {field}: {errors}"
    assert_plain_chinese(r.text)
    for value in kept:
        assert f'value="{value}"' in r.text or f">{value}<" in r.text, f"typed value {value!r} was lost"
    return errors[field]


# --- the receive form ---------------------------------------------------------------------------

def _receive_form(tb: Tongban, token: str, **override: str) -> dict[str, str]:
    item = tb.item("QY-001", "TJ-TEDA")
    base = {"csrf_token": token, "item": "qy-001", "item_id": "", "applicant_kind": "enterprise",
            "applicant_name": "天津测试科技有限公司", "applicant_id_number": USCC, "applicant_phone": "13812345678",
            "applicant_address": "天津市滨海新区第三大街1号", "delivery_method": "mail", "delivery_address": ""}
    base.update({f"tick_{m['id']}": "1" for m in item["materials"]})
    base.update(override)
    return base


def test_every_refusal_of_the_receive_form_is_plain_chinese_next_to_its_field(tb_sqlite_fs: Tongban) -> None:
    tb = tb_sqlite_fs
    client, token = sign_in(tb, "bj_clerk")
    post = lambda **kw: client.post("/ui/receive", data=_receive_form(tb, token, **kw))  # noqa: E731

    assert "从列表中选择" in refused(post(item=""), "item", "天津测试科技有限公司")
    assert "没有找到" in refused(post(item="不存在的事项"), "item", "13812345678")
    assert "请填写名称 / 姓名" in refused(post(applicant_name="  "), "applicant_name", USCC)
    bad_id = USCC[:-1] + ("4" if USCC[-1] != "4" else "5")
    assert f"应为 {USCC[-1]}" in refused(post(applicant_id_number=bad_id), "applicant_id_number", bad_id)
    assert "邮寄地址" in refused(post(applicant_address="", delivery_address=""), "delivery_address",
                                 "天津测试科技有限公司")
    person = refused(post(applicant_kind="person", applicant_id_number="11010519491231002"), "applicant_id_number")
    assert "18 位" in person

    # the page's script asks for JSON: the same sentences, per field
    r = client.post("/ui/receive", data=_receive_form(tb, token, applicant_address=""),
                    headers={"Accept": "application/json"})
    body = r.json()
    assert r.status_code == 422 and body["field"] == "delivery_address"
    assert not ENGLISH.search(body["message"]) and not RAW_FIELD.search(body["message"])

    # a file the store refuses is named next to its line, in Chinese
    item = tb.item("QY-001", "TJ-TEDA")
    r = client.post("/ui/receive", data=_receive_form(tb, token),
                    files=[(f"material_{item['materials'][0]['id']}", ("空.pdf", io.BytesIO(b""), "application/pdf"))])
    errors = field_errors(r.text)
    assert r.status_code == 422 and f"material_{item['materials'][0]['id']}" in errors
    assert_plain_chinese(r.text)


def test_the_item_picker_takes_a_code_in_any_case_or_a_unique_piece_of_the_name(tb_sqlite_fs: Tongban) -> None:
    client, _ = sign_in(tb_sqlite_fs, "bj_clerk")
    for typed in ("qy-001", "QY-001", " Qy-001 ", "企业档案查询"):
        found = client.get("/ui/items/match", params={"q": typed}).json()
        assert found["id"] and found["label"].startswith("QY-001 "), (typed, found)
    several = client.get("/ui/items/match", params={"q": "企业"}).json()
    assert several["id"] is None and len(several["candidates"]) > 1 and "请输入更完整" in several["message"]
    none = client.get("/ui/items/match", params={"q": "没有这个"}).json()
    assert none["id"] is None and "没有找到" in none["message"]


# --- the case page's forms ------------------------------------------------------------------------

def test_every_refusal_on_the_case_page_is_plain_chinese_next_to_its_field(tb_sqlite_fs: Tongban) -> None:
    tb = tb_sqlite_fs
    cases = cases_in(tb, {"received": 1, "under_review": 1, "approved": 1, "mailed": 1, "awaiting_pickup": 1})
    clerk, token = sign_in(tb, "bj_clerk")
    received = cases["received"][0]
    page = clerk.get(f"/ui/cases/{received}").text
    assert_plain_chinese(page)
    verdicts = re.findall(r'name="verdict_(\d+)"', page)
    base = {"csrf_token": token, "version": version_of(page)} | {f"verdict_{v}": "ok" for v in verdicts}
    url = f"/ui/cases/{received}/events"

    refused(clerk.post(url, data=base | {f"verdict_{verdicts[1]}": "defective", "event": "precheck_pass"}),
            "materials")
    assert "至少一项" in refused(clerk.post(url, data=base | {"event": "request_supplement"}), "materials")
    refused(clerk.post(url, data=base | {f"verdict_{verdicts[1]}": "defective", "event": "request_supplement",
                                         "reason": "请补齐"}), f"note_{verdicts[1]}", "请补齐")
    assert "理由" in refused(clerk.post(url, data=base | {"event": "reject", "reason": " "}), "reason")
    refused(clerk.post(url, data={**base, "event": "withdraw", "reason": ""}), "reason")
    # the originals parcel: a typo in the tracking number is named there, the number stays as typed
    assert "校验" in refused(clerk.post(url, data=base | {"event": "precheck_pass", "originals_carrier": "EMS",
                                                          "originals_tracking_no": "RR473124828GB"}),
                             "originals_tracking_no", "RR473124828GB")
    refused(clerk.post(url, data=base | {"event": "precheck_pass", "originals_carrier": "",
                                         "originals_tracking_no": TRACKING}), "originals_carrier", TRACKING)
    # a stale version: one plain sentence, no English appended
    r = clerk.post(url, data=base | {"version": "1000", "event": "precheck_pass"}, follow_redirects=True)
    assert "刚被他人更新" in r.text
    assert_plain_chinese(r.text)
    assert case(tb, received)["state"] == "received", "no refusal changed anything"

    reviewer, rtoken = sign_in(tb, "tj_reviewer")
    review = cases["under_review"][0]
    page = reviewer.get(f"/ui/cases/{review}").text
    rurl, rbase = f"/ui/cases/{review}/events", {"csrf_token": rtoken, "version": version_of(page)}
    assert "结果文书" in refused(reviewer.post(rurl, data=rbase | {"event": "approve", "reason": "符合条件"}),
                                "result", "符合条件")
    refused(reviewer.post(rurl, data=rbase | {"event": "deny", "reason": ""}), "reason")

    approved = cases["approved"][0]
    page = reviewer.get(f"/ui/cases/{approved}").text
    murl, mbase = f"/ui/cases/{approved}/events", {"csrf_token": rtoken, "version": version_of(page)}
    wrong = "RR473124828GB"
    assert "校验" in refused(reviewer.post(murl, data=mbase | {"event": "mail_result", "carrier": "EMS",
                                                              "tracking_no": wrong}), "tracking_no", wrong)
    refused(reviewer.post(murl, data=mbase | {"event": "mail_result", "carrier": "", "tracking_no": TRACKING}),
            "carrier", TRACKING)

    # 送达办结 needs the date signed, who signed, and a tick; each missing piece is said where it belongs
    tj_clerk, ttoken = sign_in(tb, "tj_clerk")
    mailed = cases["mailed"][0]
    page = tj_clerk.get(f"/ui/cases/{mailed}").text
    durl = f"/ui/cases/{mailed}/events"
    dbase = {"csrf_token": ttoken, "version": version_of(page), "event": "deliver"}
    refused(tj_clerk.post(durl, data=dbase | {"signed_on": "", "signatory": "王五", "sure": "1"}), "signed_on", "王五")
    refused(tj_clerk.post(durl, data=dbase | {"signed_on": "2026-13-40", "signatory": "王五", "sure": "1"}),
            "signed_on", "王五")
    assert "不能晚于" in refused(tj_clerk.post(durl, data=dbase | {"signed_on": "2027-01-30", "signatory": "王五",
                                                                     "sure": "1"}), "signed_on", "王五")
    refused(tj_clerk.post(durl, data=dbase | {"signed_on": "2026-11-24", "signatory": "", "sure": "1"}), "signatory")
    refused(tj_clerk.post(durl, data=dbase | {"signed_on": "2026-11-24", "signatory": "王五"}), "sure", "王五")
    assert case(tb, mailed, "tj_clerk")["state"] == "mailed"

    # the supplement upload without a file
    r = clerk.post(f"/ui/cases/{received}/files", data={"csrf_token": token, "material_id": ""})
    assert "请选择要上传的文件" in refused(r, "files")


def test_delivery_is_confirmed_with_the_date_and_the_signatory_by_whoever_must(tb_sqlite_fs: Tongban) -> None:
    tb = tb_sqlite_fs
    cases = cases_in(tb, {"mailed": 1, "awaiting_pickup": 1})
    mailed, pickup = cases["mailed"][0], cases["awaiting_pickup"][0]
    # the item mails from the handling zone: its clerk must confirm; the receiving clerk has nothing to do
    tj_clerk, ttoken = sign_in(tb, "tj_clerk")
    bj_clerk, btoken = sign_in(tb, "bj_clerk")
    # each state's lane on its own: the session's shared backend holds more open cases than a page shows
    assert mailed in tj_clerk.get("/ui/queue", params={"state": "mailed"}).text
    assert mailed not in bj_clerk.get("/ui/queue", params={"state": "mailed"}).text
    assert pickup in bj_clerk.get("/ui/queue", params={"state": "awaiting_pickup"}).text
    assert mailed in bj_clerk.get("/ui/cases", params={"q": mailed}).text, "still findable"
    assert "当前没有您可执行的操作" in bj_clerk.get(f"/ui/cases/{mailed}").text

    page = tj_clerk.get(f"/ui/cases/{mailed}").text
    assert 'id="deliver-form"' in page and "签收日期" in page and "签收人" in page
    r = tj_clerk.post(f"/ui/cases/{mailed}/events", follow_redirects=True,
                      data={"csrf_token": ttoken, "version": version_of(page), "event": "deliver",
                            "signed_on": "2026-11-24", "signatory": "张三（收发室代收）", "sure": "1"})
    assert r.status_code == 200 and case(tb, mailed, "tj_clerk")["state"] == "closed"
    assert "2026-11-24" in r.text and "张三（收发室代收）" in r.text, "the trail shows who signed and when"
    with transaction(tb.runtime.session_factory) as s:
        shipment = s.scalars(select(Shipment).join(Case, Shipment.case_id == Case.id)
                             .where(Case.case_no == mailed, Shipment.direction == "result")).one()
        assert shipment.delivered_at is not None
        assert shipment.extra == {"signed_on": "2026-11-24", "signatory": "张三（收发室代收）"}

    # pickup at the window: the applicant signs; the form proposes the applicant's name
    page = bj_clerk.get(f"/ui/cases/{pickup}").text
    assert 'name="signatory" value="天津测试科技有限公司"' in page
    r = bj_clerk.post(f"/ui/cases/{pickup}/events", follow_redirects=True,
                      data={"csrf_token": btoken, "version": version_of(page), "event": "deliver",
                            "signed_on": "2026-11-24", "signatory": "天津测试科技有限公司", "sure": "1"})
    assert case(tb, pickup)["state"] == "closed"


def test_the_case_page_shows_the_promise_the_step_target_and_paper_apart_from_scans(tb_sqlite_fs: Tongban) -> None:
    tb = tb_sqlite_fs
    item = tb.item("QY-001", "TJ-TEDA")
    # paper of the first two materials handed in; a scan only for the third
    client, token = sign_in(tb, "bj_clerk")
    form = _receive_form(tb, token, item="QY-001")
    for m in item["materials"][2:]:
        form.pop(f"tick_{m['id']}")
    r = client.post("/ui/receive", data=form, follow_redirects=False,
                    files=[(f"material_{item['materials'][2]['id']}", ("身份证.pdf", io.BytesIO(make_pdf("身份证")),
                                                                       "application/pdf"))])
    assert r.status_code == 303 and r.headers["location"].endswith("?print=receipt")
    case_no = r.headers["location"].split("/")[-1].split("?")[0]
    page = client.get(r.headers["location"]).text
    assert 'id="print-receipt"' in page, "the receipt opens for printing in the same step"
    promise = re.search(r'id="promise".*?</div>\s*</div>', page, re.S).group(0)  # type: ignore[union-attr]
    assert "承诺办结" in promise and "剩余" in promise and "个工作日" in promise
    assert "本环节（预审）时限" in page
    rows = re.findall(r"<tr>\s*<td>([^<]+) <span class=\"muted\">.*?</td>\s*<td class=\"paper-(yes|no)\">.*?</td>\s*"
                      r"<td>([^<]+)</td>", page, re.S)
    assert [(paper, scans) for _, paper, scans in rows[:3]] == [("yes", "无"), ("yes", "无"), ("no", "1 个文件")]

    # 补正齐全 records paper handed in with the supplement
    page = client.get(f"/ui/cases/{case_no}").text
    verdicts = re.findall(r'name="verdict_(\d+)"', page)
    r = client.post(f"/ui/cases/{case_no}/events", follow_redirects=True, data={
        "csrf_token": token, "version": version_of(page), "event": "request_supplement",
        **{f"verdict_{v}": "ok" for v in verdicts}, f"verdict_{verdicts[2]}": "defective",
        f"note_{verdicts[2]}": "请交原件"})
    assert "计时暂停（待补正）" in r.text and "补正齐全，恢复预审" in r.text
    notice = pdf_text(client.get(f"/api/v1/cases/{case_no}/notice.pdf").content)
    assert "补正期限" in notice and re.search(r"请于\s*\d{4}-\d{2}-\d{2}\s*前", notice), notice
    assert "北京窗口人员" in notice and "bj_clerk" not in notice and not ENGLISH.search(notice)
    r = client.post(f"/ui/cases/{case_no}/events", follow_redirects=True, data={
        "csrf_token": token, "version": version_of(r.text), "event": "supplement", f"paper_{verdicts[2]}": "1"})
    assert case(tb, case_no)["state"] == "received"
    assert r.text.count('class="paper-yes"') == 3


def test_the_receipt_is_per_material_with_copies_paper_scans_the_clerk_and_signature_lines(
        tb_sqlite_fs: Tongban) -> None:
    tb = tb_sqlite_fs
    case_no = receive(tb, files=[("申请表.pdf", make_pdf("申请表")), ("执照.pdf", make_pdf("执照", 2)),
                                 ("执照2.pdf", make_pdf("执照")), ("身份证.pdf", make_pdf("身份证"))])
    client, _ = sign_in(tb, "bj_clerk")
    view = client.get(f"/ui/cases/{case_no}/receipt?print=1").text
    assert "data-autoprint" in view and "申请人签字" in view and "收件人：北京窗口人员" in view
    rows = re.findall(r"<tr><td>\d+</td><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td>\s*<td>(.*?)</td><td>(.*?)</td></tr>",
                      view)
    assert len(rows) == len(tb.item("QY-001", "TJ-TEDA")["materials"]), "one row per material, not per file"
    assert all(copies.isdigit() for _, _, copies, _, _ in rows)
    assert_plain_chinese(view)
    text = pdf_text(client.get(f"/api/v1/cases/{case_no}/receipt.pdf").content)
    assert "申请人签字" in text and "北京窗口人员" in text and "份数" in text and "纸质件" in text
    assert not ENGLISH.search(text), "no English subtitle on a document the applicant keeps"


def test_search_finds_a_case_by_the_full_id_number_through_a_keyed_hash(tb_sqlite_fs: Tongban) -> None:
    tb = tb_sqlite_fs
    mine = receive(tb, applicant={"kind": "enterprise", "name": "按证件号查询有限公司", "id_number": OTHER_USCC,
                                  "address": "北京市亦庄"})
    client, csrf = sign_in(tb, "bj_clerk")
    search = client.get("/ui/cases").text
    assert re.search(r'<form method="post" action="/ui/cases"', search), "the search form posts"
    # the full number is posted and answered by the POST itself: no redirect carries it into a URL
    r = client.post("/ui/cases", data={"q": OTHER_USCC, "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    found = r.text
    assert mine in found and "按证件号查询有限公司" in found
    results = found[found.index("<table"):found.index("</table>")]
    assert mine in results and OTHER_USCC not in results, "the number itself stays masked in the list"
    assert OTHER_USCC not in "".join(re.findall(r'href="([^"]*)"', found)), "no link carries the number"
    assert mine not in client.post("/ui/cases", data={"q": USCC, "csrf_token": csrf}).text
    # spaces and lower case, as typed at a counter, find it too
    spaced = f"{OTHER_USCC[:6]} {OTHER_USCC[6:]}".lower()
    assert mine in client.post("/ui/cases", data={"q": spaced, "csrf_token": csrf}).text
    # any other search is sent on to the GET list (a URL that can be bookmarked and paged)
    r = client.post("/ui/cases", data={"q": "按证件号", "state": "", "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/ui/cases?q=")
    assert mine in client.get(r.headers["location"]).text
    # a full number arriving in a URL (an old bookmark) is not searched and not echoed back
    r = client.get("/ui/cases", params={"q": OTHER_USCC}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/ui/cases"
    landed = client.get("/ui/cases").text
    assert "按证件号码查询请在查询框中输入完整号码" in landed and OTHER_USCC not in landed
    # a posted search without the session's token is refused, in Chinese
    refused = client.post("/ui/cases", data={"q": OTHER_USCC})
    assert refused.status_code == 403 and OTHER_USCC not in refused.text
    assert_plain_chinese(refused.text)
    with transaction(tb.runtime.session_factory) as s:
        digest = s.scalars(select(Applicant.id_number_hash).where(Applicant.id_number == OTHER_USCC)).first()
    import hashlib

    assert digest and len(digest) == 64 and digest != hashlib.sha256(OTHER_USCC.encode()).hexdigest(), \
        "keyed (HMAC), not a bare hash anyone can recompute"


def test_the_dashboard_filter_does_not_search_a_full_id_number_from_its_url(tb_sqlite_fs: Tongban) -> None:
    tb = tb_sqlite_fs
    mine = receive(tb, applicant={"kind": "enterprise", "name": "看板证件号有限公司", "id_number": OTHER_USCC,
                                  "address": "北京市亦庄"})
    client, _ = sign_in(tb, "bj_supervisor")
    page = client.get("/ui/dashboard", params={"q": OTHER_USCC}).text
    listed = page[page.index('id="case-list"'):]
    assert "按证件号码查询请在查询框中输入完整号码" in page
    assert OTHER_USCC not in page and "q=" + OTHER_USCC not in page, "the number is not echoed into links"
    assert mine in listed, "the filter was dropped (the list is unfiltered), not applied"


def test_a_request_too_large_is_refused_in_chinese_on_a_page_and_as_json_to_the_api(tb_sqlite_fs: Tongban) -> None:
    """The cap on a whole request (TONGBAN_MAX_REQUEST_BYTES): the browser's own post of a UI form gets a
    Chinese page, the page's script (Accept: JSON) a Chinese ``message``, the API its usual shape."""
    from states.runtime import Runtime
    from web.app import create_app

    tb = tb_sqlite_fs
    runtime = Runtime(tb.runtime.settings.model_copy(update={"max_request_bytes": 64 * 1024}), now_fn=tb.clock)
    try:
        client = TestClient(create_app(runtime=runtime, run_dispatcher=False))
        scan = b"%PDF-1.4\n" + bytes(range(256)) * 400  # 100 KiB: over the cap whatever it holds
        big = [("material_1", ("营业执照.pdf", scan, "application/pdf"))]
        page = client.post("/ui/receive", data={"applicant_name": "超大有限公司"}, files=big)
        assert page.status_code == 413 and page.headers["content-type"].startswith("text/html")
        assert "提交的内容过大" in page.text and "64 KiB" in page.text and "未保存任何内容" in page.text
        assert '<html lang="zh-CN">' in page.text
        assert_plain_chinese(page.text)
        english = client.post("/ui/receive", files=big, cookies={"lang": "en"})
        assert english.status_code == 413 and "nothing was saved" in english.text, "English when English is chosen"
        scripted = client.post("/ui/receive", files=big, headers={"Accept": "application/json"})
        assert scripted.status_code == 413 and scripted.json()["error"] == "request_too_large"
        assert "未保存任何内容" in scripted.json()["message"], "the page's script shows this message as it is"
        api = client.post("/api/v1/cases", files=big, headers=tb.h("bj_clerk"))
        assert api.status_code == 413 and api.headers["content-type"] == "application/json"
        assert set(api.json()) >= {"error", "message", "message_zh", "limit"}
        assert "nothing was saved" in api.json()["message"], "the API's shape and language are unchanged"
    finally:
        runtime.dispose()


def test_the_demo_password_shows_on_the_sign_in_page_only_in_demo_mode(tb_sqlite_fs: Tongban) -> None:
    page = TestClient(tb_sqlite_fs.client.app).get("/ui/login").text
    assert "tongban-demo" not in page and 'id="demo-hint"' not in page


def test_a_clerk_sees_the_alerts_of_their_own_cases_and_opens_the_case_from_them(tb_sqlite_fs: Tongban) -> None:
    from datetime import timedelta

    from states.sla.sweep import sweep

    tb = tb_sqlite_fs
    case_no = receive(tb)  # pre-check due by the next working day's close; the sweep runs three days on
    sweep(runtime=tb.runtime, now=tb.clock.now + timedelta(days=3), deliver=False)
    clerk, _ = sign_in(tb, "bj_clerk")
    top = re.search(r'<a href="/ui/alerts" id="alert-count"[^>]*>.*?<b>(\d+)</b>', clerk.get("/ui/queue").text, re.S)
    assert top and int(top.group(1)) >= 1, "a count in the top bar"
    listed = clerk.get("/ui/alerts").text
    assert f'href="/ui/cases/{case_no}"' in listed and "已超时" in listed
    assert_plain_chinese(listed)
    assert 'id="case-alerts"' in clerk.get(f"/ui/cases/{case_no}").text
    # the handling zone's reviewer has no part in a case not yet forwarded: not in their alerts
    reviewer, _ = sign_in(tb, "tj_reviewer")
    assert case_no not in reviewer.get("/ui/alerts").text
