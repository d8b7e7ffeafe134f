"""Issue 10.8 — every response (pages, API JSON, files, errors, static, even a crash) carries the
security headers; HSTS only over HTTPS, believed from a trusted proxy only; personal data is never cached."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response

from tests.app_harness import Tongban, make_pdf
from tests.security.surfaces import browser
from web import hardening

COMMON = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer"}


def assert_hardened(r: Response, *, framed_by_self: bool = False, cached: bool = False) -> None:
    for name, value in COMMON.items():
        assert r.headers.get(name) == value, (r.request.url, name, r.headers)
    csp = r.headers["content-security-policy"]
    if framed_by_self:
        assert "frame-ancestors 'self'" in csp and r.headers["x-frame-options"] == "SAMEORIGIN"
    else:
        assert "frame-ancestors 'none'" in csp and r.headers["x-frame-options"] == "DENY"
    if not cached:
        assert r.headers["cache-control"] == "no-store", (r.request.url, r.headers.get("cache-control"))
    assert "strict-transport-security" not in r.headers  # plain HTTP here


@pytest.fixture(scope="module")
def case_no(surface_tb: Tongban) -> str:
    r = surface_tb.receive(files=[("申请表.pdf", make_pdf("申请表"))])
    assert r.status_code == 201, r.text
    no = r.json()["case_no"]
    r = surface_tb.event("bj_clerk", no, "request_supplement",
                         materials=[{"material_id": r.json()["materials"][0]["id"], "problem": "missing"}])
    assert r.status_code == 200, r.text
    return str(no)


def test_pages_answer_with_a_strict_csp_and_no_store(surface_tb: Tongban, case_no: str) -> None:
    clerk = browser(surface_tb, "bj_clerk")
    for path in ("/ui/login", "/ui/", f"/ui/cases/{case_no}", "/ui/receive", "/ui/cases?q=x", "/ui/queue"):
        r = clerk.get(path)
        assert r.status_code == 200, path
        assert_hardened(r)
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp and "'unsafe-inline'" not in csp
        # what the CSP forbids is not in the page: no inline script, handler, style attribute or javascript: URL
        html = r.text
        assert "javascript:" not in html and " style=" not in html and " onclick=" not in html
        for chunk in html.split("<script")[1:]:
            tag = chunk.split(">", 1)[0]
            assert 'src="/static/' in tag or 'type="application/json"' in tag, tag


def test_api_json_files_and_pdfs_carry_the_headers(surface_tb: Tongban, case_no: str) -> None:
    h = surface_tb.h("bj_clerk")
    c = surface_tb.client
    assert_hardened(c.get(f"/api/v1/cases/{case_no}", headers=h))
    assert_hardened(c.get("/api/v1/cases", headers=h))
    file_id = c.get(f"/api/v1/cases/{case_no}", headers=h).json()["files"][0]["id"]
    for path in (f"/api/v1/cases/{case_no}/files/{file_id}", f"/api/v1/cases/{case_no}/receipt.pdf",
                 f"/api/v1/cases/{case_no}/notice.pdf"):
        r = c.get(path, headers=h)
        assert r.status_code == 200, path
        assert_hardened(r, framed_by_self=True)  # the case page embeds them
        assert "script-src" not in r.headers["content-security-policy"]  # default-src 'none': nothing runs


def test_errors_static_and_ops_carry_them_too(surface_tb: Tongban) -> None:
    c = surface_tb.client
    assert_hardened(c.get("/api/v1/cases"))  # 401
    assert_hardened(c.get("/api/v1/nowhere"))  # 404
    assert_hardened(c.get("/ui/nowhere"))  # HTML 404
    assert_hardened(c.get("/api/v1/cases/NOPE", headers=surface_tb.h("bj_clerk")))  # 404 JSON
    assert_hardened(c.get("/healthz"))
    static = c.get("/static/ui.js")
    assert static.status_code == 200
    assert_hardened(static, cached=True)
    assert static.headers.get("cache-control") != "no-store"  # no personal data: cacheable


def _tiny_app(trusted: str) -> FastAPI:
    app = FastAPI()

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    @app.get("/ok")
    def ok() -> dict[str, bool]:
        return {"ok": True}

    hardening.install(app, trusted_proxies=trusted)
    return app


def test_even_an_unhandled_500_is_hardened() -> None:
    with TestClient(_tiny_app(""), raise_server_exceptions=False) as c:
        r = c.get("/boom")
    assert r.status_code == 500
    assert_hardened(r)


def test_hsts_only_over_https() -> None:
    with TestClient(_tiny_app(""), base_url="https://tongban.example") as c:
        r = c.get("/ok")
    assert r.headers["strict-transport-security"].startswith("max-age=31536000")
    with TestClient(_tiny_app("")) as c:
        # a forwarded header from someone who is not a trusted proxy is not believed
        r = c.get("/ok", headers={"X-Forwarded-Proto": "https"})
    assert "strict-transport-security" not in r.headers
    with TestClient(_tiny_app("*")) as c:
        r = c.get("/ok", headers={"X-Forwarded-Proto": "https"})
    assert "strict-transport-security" in r.headers


def test_a_malformed_proxy_list_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="TONGBAN_TRUSTED_PROXIES"):
        _tiny_app("10.0.0.300")


def test_a_trusted_proxy_by_address() -> None:
    proxies = hardening.TrustedProxies("127.0.0.1, 10.0.0.0/8")
    assert proxies.trusts("10.1.2.3") and proxies.trusts("127.0.0.1")
    assert not proxies.trusts("192.168.1.1") and not proxies.trusts("testclient") and not proxies.trusts(None)
