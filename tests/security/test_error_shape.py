"""Issue 10.19 — every refusal answers the app's ``{"error", "message"}`` JSON, never FastAPI's
``{"detail"}``: no token, a wrong token, an unknown path or method, a multipart body that cannot be
parsed, bytes that are not UTF-8 — and nothing is saved by any of them."""

from __future__ import annotations

from typing import Any

from tests.app_harness import Tongban
from tests.web.drive import row_counts


def _shape(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body = r.json()
    assert "detail" not in body and isinstance(body.get("error"), str) and isinstance(body.get("message"), str), body
    assert body["message"]
    return dict(body)


def test_every_kind_of_refusal_has_the_same_shape(tb: Tongban) -> None:
    c = tb.client
    h = tb.h("bj_clerk")
    before = row_counts(tb)
    assert _shape(c.get("/api/v1/cases"), 401)["error"] == "unauthorized"
    r = c.get("/api/v1/queue", headers={"Authorization": "Bearer tb_nope"})
    assert _shape(r, 401)["error"] == "unauthorized" and r.headers["www-authenticate"] == "Bearer"
    assert _shape(c.get("/api/v1/no-such-thing", headers=h), 404)["error"] == "not_found"
    assert _shape(c.delete("/api/v1/cases", headers=h), 405)["error"] == "method_not_allowed"
    # multipart that cannot be parsed: no boundary, a broken one
    _shape(c.post("/api/v1/cases", headers={**h, "content-type": "multipart/form-data"}, content=b"x"), 400)
    broken = b"--b\r\nContent-Disposition: form-data; name=\"case\"\r\n\r\n{}"  # never closed
    r = c.post("/api/v1/cases", headers={**h, "content-type": "multipart/form-data; boundary=b"}, content=broken)
    assert r.status_code in (400, 422) and _shape(r, r.status_code)
    # bytes that are not UTF-8: as a JSON body, and as the multipart 'case' part
    r = c.post("/api/v1/cases/X/events", headers={**h, "content-type": "application/json"},
               content=b'{"event": "\xff\xfe", "version": 1}')
    assert r.status_code in (400, 422) and _shape(r, r.status_code)
    part = ("case", ("case.json", b'{"item_code": "\xff"}', "application/json"))
    r = c.post("/api/v1/cases", headers=h, files=[part])
    assert r.status_code in (400, 422) and _shape(r, r.status_code)
    assert row_counts(tb) == before


def test_the_ui_answers_json_errors_when_its_own_script_asks_for_json(tb_sqlite_fs: Tongban) -> None:
    c = tb_sqlite_fs.client
    assert _shape(c.get("/ui/queue", headers={"accept": "application/json"}), 401)["error"] == "login_required"
    assert _shape(c.get("/ui/no-such-page", headers={"accept": "application/json"}), 404)["error"] == "not_found"
    page = c.get("/ui/no-such-page")  # a person gets a page, in Chinese
    assert page.status_code == 404 and "text/html" in page.headers["content-type"]
