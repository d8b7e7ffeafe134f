"""The link in the result notice (结果通知) opens the case page — it answered 404 before (issue 10.18)."""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy import select

from notifications.templates import render_result_notice
from storage.case.models import Case
from storage.db import transaction
from tests.app_harness import Tongban
from tests.security.support import browser
from tests.web.drive import receive


def test_the_result_notice_links_to_the_case_page_that_opens(tb: Tongban) -> None:
    case_no = receive(tb)
    base = tb.runtime.settings.base_url
    with transaction(tb.runtime.session_factory) as s:
        case = s.scalars(select(Case).where(Case.case_no == case_no)).one()
        bodies = [render_result_notice(case, "result_ready_for_pickup", lang=lang, base_url=base)[1]
                  for lang in ("zh-CN", "en")]
    for body in bodies:
        link = next(word for word in body.split() if word.startswith(base.rstrip("/")))
        path = urlsplit(link).path
        assert path == f"/ui/cases/{case_no}"
        page = browser(tb, "bj_clerk").get(path)
        assert page.status_code == 200 and case_no in page.text
