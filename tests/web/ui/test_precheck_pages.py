"""Pre-check at the window through the pages: verdicts per material, the one-time notice, the
supplement, and a contradiction the page refuses — over HTTP with the session cookie."""

from __future__ import annotations

import io
import re

from fastapi.testclient import TestClient

from documents import pdf_text
from tests.app_harness import Tongban, make_pdf


def _clerk(tb: Tongban) -> tuple[TestClient, str]:
    client = TestClient(tb.client.app)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/ui/login").text).group(1)  # type: ignore[union-attr]
    r = client.post("/ui/login", data={"username": "bj_clerk", "password": "tongban-demo", "csrf_token": token})
    assert r.status_code == 200
    # signing in starts a new session with a new token (no fixation): take it from the signed-in page
    return client, re.search(r'name="csrf-token" content="([^"]+)"', r.text).group(1)  # type: ignore[union-attr]


def _state(page: str) -> str:
    return re.search(r'<h1>.*?<span class="state state-(\w+)"', page, re.S).group(1)  # type: ignore[union-attr]


def _flashes(page: str) -> list[str]:
    return re.findall(r'class="flash flash-\w+">([^<]+)<', page)


def _field_errors(page: str) -> dict[str, str]:
    return dict(re.findall(r'class="field-error" data-error-for="([\w-]+)"[^>]*>([^<]+)<', page))


def test_clerk_sends_the_one_time_notice_then_takes_the_supplement(tb_sqlite_fs: Tongban) -> None:
    tb = tb_sqlite_fs
    r = tb.receive(files=[("申请表.pdf", make_pdf("申请表")), ("执照.pdf", make_pdf("执照"))])
    assert r.status_code == 201, r.text
    case_no, version = r.json()["case_no"], r.json()["version"]
    client, token = _clerk(tb)
    page = client.get(f"/ui/cases/{case_no}").text
    verdicts = re.findall(r'name="verdict_(\d+)"', page)
    names = {m["id"]: m["name"] for m in r.json()["materials"]}
    assert len(verdicts) == len(names) == 4
    first, second = int(verdicts[0]), int(verdicts[1])
    base = {"csrf_token": token, "version": str(version)} | {f"verdict_{v}": "ok" for v in verdicts}

    # passing while a material is marked defective is a contradiction: refused next to the verdicts,
    # nothing changes, and the verdicts come back as they were chosen
    r = client.post(f"/ui/cases/{case_no}/events",
                    data=base | {f"verdict_{second}": "defective", "event": "precheck_pass"})
    assert r.status_code == 422 and "不能预审通过" in _field_errors(r.text)["materials"]
    assert _state(r.text) == "received"
    assert re.search(rf'name="verdict_{second}".*?<option value="defective" selected>', r.text, re.S)

    r = client.post(f"/ui/cases/{case_no}/events", data=base | {
        f"verdict_{second}": "defective", f"note_{second}": "复印件不清晰", "event": "request_supplement"})
    assert _state(r.text) == "awaiting_supplement", _flashes(r.text)
    assert "一次性告知书" in r.text and "复印件不清晰" in r.text
    notice = client.get(f"/api/v1/cases/{case_no}/notice.pdf")
    assert notice.status_code == 200 and names[second] in pdf_text(notice.content)

    # the applicant brings a clear copy: attach it to that material, then record the supplement
    item_material = re.search(rf'<option value="(\d+)" selected>{re.escape(names[second])}</option>', r.text)
    assert item_material, "the defective material is preselected for the upload"
    r = client.post(f"/ui/cases/{case_no}/files", data={"csrf_token": token, "material_id": item_material.group(1)},
                    files=[("files", ("执照清晰版.pdf", io.BytesIO(make_pdf("执照")), "application/pdf"))])
    assert "已上传 1 个补正文件" in " ".join(_flashes(r.text))
    version_now = re.search(r'name="version" value="(\d+)"', r.text).group(1)  # type: ignore[union-attr]
    r = client.post(f"/ui/cases/{case_no}/events",
                    data={"csrf_token": token, "version": version_now, "event": "supplement"})
    assert _state(r.text) == "received"
    assert "执照清晰版.pdf" in r.text and first in {int(v) for v in re.findall(r'name="verdict_(\d+)"', r.text)}

    # a stale version (another tab, a colleague) is a clear conflict, not a silent overwrite
    r = client.post(f"/ui/cases/{case_no}/events", data=base | {"event": "precheck_pass"})
    assert "刚被他人更新" in " ".join(_flashes(r.text)) and _state(r.text) == "received"

    # the same page in English
    client.cookies.set("lang", "en")
    page = client.get(f"/ui/cases/{case_no}").text
    assert "Pre-check" in page and "received" in page and "Audit trail" in page
