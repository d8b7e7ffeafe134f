"""Alerts reach both windows through real receivers on loopback — an SMTP server and webhooks —
in their language, with the case, item, step, deadline and a link, and never with an unmasked ID
number; a receiver that keeps failing is retried with backoff and then shown to supervisors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from states.identifiers import mask_id
from tests.app_harness import RESIDENT_ID, Tongban
from tests.sla_support import (
    Mailbox,
    Webhook,
    deliveries,
    forwarded,
    local,
    received,
    sweep,
    tb_per_module,
    text_of,
    write_routes,
)

tb_fixture = tb_per_module()

#: A clerk typed the applicant's ID number into the name field: it must still never leave masked-less.
PERSON = {"kind": "person", "name": f"张三 {RESIDENT_ID}", "id_number": RESIDENT_ID, "phone": "13812345678",
          "address": "北京市大兴区荣华中路22号"}


@pytest.fixture
def hook() -> Iterator[Webhook]:
    w = Webhook()
    yield w
    w.close()


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    m = Mailbox()
    yield m
    m.close()


@pytest.fixture
def routes(tb: Tongban, hook: Webhook, mailbox: Mailbox, tmp_path: Path) -> Iterator[dict[str, Any]]:
    spec: dict[str, Any] = {
        "language": "zh-CN",
        "people": mailbox.url(),
        "channels": {
            "bj-window": hook.url("/bj-window"),
            "tj-office": {"url": hook.url("/tj-office"), "lang": "en"},
        },
        "zones": {
            "BJ-ETOWN": {"clerk": ["bj-window"], "supervisor": ["user:bj_supervisor"]},
            "TJ-TEDA": {"reviewer": ["tj-office"], "supervisor": ["users"]},
        },
    }
    tb.runtime.settings.notification_routes = write_routes(tmp_path / "routes.json", spec)
    yield spec
    tb.runtime.settings.notification_routes = None


def mentioning(posts: list[dict[str, Any]], case_no: str) -> list[dict[str, Any]]:
    return [p for p in posts if case_no in p.get("message", "")]


def test_a_warning_before_forward_reaches_only_the_receiving_zone(tb: Tongban, routes: dict[str, Any],
                                                                   hook: Webhook, mailbox: Mailbox) -> None:
    """Before the forward the handling zone is not party (docs/security.md): it hears nothing of the case."""
    case_no = received(tb, "2026-11-23 10:00", applicant=PERSON)
    sweep(tb, "2026-11-23 17:31")  # one working day before the pre-check deadline (Tue 24 Nov 17:30)
    (bj,) = mentioning(hook.received("/bj-window"), case_no)
    assert "临期预警" in bj["title"] and "预审" in bj["message"]
    assert mentioning(hook.received("/tj-office"), case_no) == []
    assert not [m for m in mailbox.to("tj_supervisor@example.test") if case_no in str(m["Subject"])]
    assert len([m for m in mailbox.to("bj_supervisor@example.test") if case_no in str(m["Subject"])]) == 1


def test_a_warning_reaches_both_zones_by_webhook_and_email_masked(tb: Tongban, routes: dict[str, Any],
                                                                   hook: Webhook, mailbox: Mailbox) -> None:
    case_no = received(tb, "2026-11-24 09:00", applicant=PERSON)
    forwarded(tb, case_no, "2026-11-24 10:00")  # both zones are party from here on
    sweep(tb, "2026-11-24 17:31")  # one working day before the acceptance deadline (Wed 25 Nov 17:30)

    (bj,) = mentioning(hook.received("/bj-window"), case_no)  # Beijing window: its clerk channel, Chinese
    assert "临期预警" in bj["title"] and case_no in bj["title"]
    for expected in ("企业档案查询", "受理", "2026-11-25 17:30", f"{tb.runtime.settings.base_url}/ui/cases/{case_no}",
                     "收件地"):
        assert expected in bj["message"]
    (tj,) = mentioning(hook.received("/tj-office"), case_no)  # Tianjin office: English, as its route asks
    assert "deadline approaching" in tj["title"]
    assert "acceptance" in tj["message"] and "handling zone" in tj["message"]

    # Supervisors by e-mail: Beijing's named in the route, Tianjin's as "every supervisor of the zone".
    for address in ("bj_supervisor@example.test", "tj_supervisor@example.test"):
        mails = [m for m in mailbox.to(address) if case_no in str(m["Subject"])]
        assert len(mails) == 1, address
        assert "2026-11-25 17:30" in text_of(mails[0])

    # No unmasked ID number anywhere: webhooks, mails, the ledger; the masked form is there instead.
    bodies = [json.dumps(p, ensure_ascii=False) for p in mentioning(
        hook.received("/bj-window") + hook.received("/tj-office"), case_no)]
    bodies += [text_of(m) + str(m["Subject"]) for m in mailbox.messages if case_no in str(m["Subject"])]
    bodies += [d.body + d.subject for d in deliveries(tb, case_no)]
    assert len(bodies) == 8  # 2 webhooks + 2 mails + 4 ledger rows
    assert all(RESIDENT_ID not in b and "13812345678" not in b for b in bodies)
    assert all(mask_id(RESIDENT_ID) in b for b in bodies if "申请人" in b or "Applicant" in b)
    assert {d.status for d in deliveries(tb, case_no)} == {"sent"}

    # Sweeping again sends nothing new.
    sweep(tb, "2026-11-24 18:00")
    assert len(mentioning(hook.received("/bj-window"), case_no)) == 1


def test_a_failing_receiver_is_retried_with_backoff_then_shown_to_supervisors(
        tb: Tongban, routes: dict[str, Any], hook: Webhook, tmp_path: Path) -> None:
    routes["channels"]["bj-window"] = hook.url("/fail-bj")  # answers HTTP 500
    write_routes(Path(str(tb.runtime.settings.notification_routes)), routes)
    tb.runtime.settings.notify_max_attempts = 3
    try:
        case_no = received(tb, "2026-11-24 11:00")
        report = sweep(tb, "2026-11-24 17:31")
        assert report.retried >= 1
        (failing,) = [d for d in deliveries(tb, case_no) if d.recipient == "channel:bj-window"]
        assert failing.status == "pending" and failing.attempts == 1 and "500" in (failing.last_error or "")
        first_retry = failing.next_attempt_at
        assert first_retry > tb.clock.now

        sweep(tb, "2026-11-24 17:31:30")  # too early: the backoff holds the retry back
        assert len(mentioning(hook.received("/fail-bj"), case_no)) == 1
        tb.clock.now = first_retry
        sweep(tb)
        (failing,) = [d for d in deliveries(tb, case_no) if d.recipient == "channel:bj-window"]
        assert failing.attempts == 2 and failing.next_attempt_at - tb.clock.now > first_retry - local(
            "2026-11-24 17:31")  # the wait doubled
        tb.clock.now = failing.next_attempt_at + timedelta(seconds=1)
        sweep(tb)
        assert len(mentioning(hook.received("/fail-bj"), case_no)) == 3
        (failing,) = [d for d in deliveries(tb, case_no) if d.recipient == "channel:bj-window"]
        assert failing.status == "failed"
        # The other recipients of the same alert were not held back by the broken channel.
        assert {d.status for d in deliveries(tb, case_no) if d.recipient != "channel:bj-window"} == {"sent"}

        r = tb.client.get("/api/v1/alerts/deliveries", headers=tb.h("bj_supervisor"))
        assert r.status_code == 200
        shown = [d for d in r.json() if d["id"] == failing.id]
        assert shown and shown[0]["status"] == "failed" and shown[0]["attempts"] == 3
        assert "500" in shown[0]["last_error"]
        # Tianjin's supervisors do not see Beijing's ledger, and a clerk does not see the ledger at all.
        tj = tb.client.get("/api/v1/alerts/deliveries", headers=tb.h("tj_supervisor")).json()
        assert failing.id not in {d["id"] for d in tj}
        assert tb.client.get("/api/v1/alerts/deliveries", headers=tb.h("bj_clerk")).status_code == 403
    finally:
        tb.runtime.settings.notify_max_attempts = 5


def test_the_alert_list_shows_each_zone_its_own_side(tb: Tongban, routes: dict[str, Any]) -> None:
    case_no = received(tb, "2026-11-24 11:00")
    forwarded(tb, case_no, "2026-11-24 12:00")
    sweep(tb, "2026-11-25 17:31")  # acceptance warned and overdue
    bj = tb.client.get("/api/v1/alerts", params={"case_no": case_no}, headers=tb.h("bj_clerk")).json()
    tj = tb.client.get("/api/v1/alerts", params={"case_no": case_no}, headers=tb.h("tj_reviewer")).json()
    assert sorted(a["level"] for a in bj) == sorted(a["level"] for a in tj) == ["overdue", "warning"]
    assert {a["side"] for a in bj} == {"receiving"} and {a["side"] for a in tj} == {"handling"}
    assert bj[0]["step_label"] == "受理" and bj[0]["item_name"] == "企业档案查询"
    assert all(a["deliveries"].get("sent", 0) >= 1 for a in bj + tj)
    assert {a["id"] for a in bj}.isdisjoint({a["id"] for a in tj})
    only = tb.client.get("/api/v1/alerts", params={"case_no": case_no, "level": "overdue"},
                         headers=tb.h("bj_supervisor")).json()
    assert [a["level"] for a in only] == ["overdue"]
