"""Steps of a case the flow tests share, and the one consistency check every fault test ends with."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from sqlalchemy import select

from states.identifiers import s10_check_digit
from states.transition.service import get_case
from states.verify import verify_case
from storage.audit.models import AuditEvent
from storage.db import transaction
from storage.outbox.models import OutboxJob
from tests.app_harness import Tongban, make_pdf


def tracking_no() -> str:
    """A fresh, valid UPU S10 number (EMS domestic style), so cases never share one by accident."""
    serial = f"{random.randrange(10**8):08d}"
    return f"EA{serial}{s10_check_digit(serial)}CN"


def received_case(tb: Tongban, *, pages: int = 2) -> str:
    r = tb.receive(files=[("申请表.pdf", make_pdf("申请表")), ("营业执照.pdf", make_pdf("执照", pages))])
    assert r.status_code == 201, r.text
    return str(r.json()["case_no"])


def prechecked_case(tb: Tongban) -> str:
    case_no = received_case(tb)
    r = tb.event("bj_clerk", case_no, "precheck_pass")
    assert r.status_code == 200, r.text
    return case_no


def decide(tb: Tongban, case_no: str, decision: str = "approve") -> None:
    """From forwarded to approved/denied, as the handling zone's reviewer does it."""
    for event in ("accept", "claim"):
        r = tb.event("tj_reviewer", case_no, event)
        assert r.status_code == 200, r.text
    up = tb.upload("tj_reviewer", case_no, "result", "决定书.pdf", make_pdf("决定书"))
    assert up.status_code == 201, up.text
    extra: dict[str, Any] = {"reason": "材料不符合法定条件"} if decision == "deny" else {}
    r = tb.event("tj_reviewer", case_no, decision, result_file_id=up.json()[0]["id"], **extra)
    assert r.status_code == 200, r.text


def case_json(tb: Tongban, case_no: str, user: str = "bj_supervisor") -> dict[str, Any]:
    r = tb.client.get(f"/api/v1/cases/{case_no}", headers=tb.h(user))
    assert r.status_code == 200, r.text
    return dict(r.json())


def jobs_of(tb: Tongban, case_no: str) -> list[OutboxJob]:
    with transaction(tb.runtime.session_factory) as s:
        case = get_case(db_session=s, case_no=case_no)
        rows = list(s.scalars(select(OutboxJob).where(OutboxJob.case_id == case.id).order_by(OutboxJob.id)))
        s.expunge_all()
        return rows


def audit_events(tb: Tongban, case_no: str) -> list[str]:
    with transaction(tb.runtime.session_factory) as s:
        case = get_case(db_session=s, case_no=case_no)
        return list(s.scalars(select(AuditEvent.event).where(AuditEvent.case_id == case.id)
                              .order_by(AuditEvent.seq)))


def assert_consistent(tb: Tongban, case_no: str, state: str) -> None:
    """The promise after any fault: right state, every file there and verified, nothing twice."""
    runtime = tb.runtime
    with transaction(runtime.session_factory) as s:
        case = get_case(db_session=s, case_no=case_no)
        assert case.state == state, f"{case_no} is {case.state}, expected {state}"
        report = verify_case(db_session=s, store=runtime.store, case_no=case_no)
        assert report.ok, report.problems
        keys = Counter(f.object_key for f in case.files)
        copies = Counter((f.zone_code, f.source_id) for f in case.files if f.purpose == "copy")
        packets = Counter(f.object_key for f in case.files if f.purpose in ("packet", "manifest"))
        zones = {case.receiving_zone.code, case.handling_zone.code}
        recorded = set(keys)
    assert max(keys.values()) == 1, f"a stored object is recorded twice: {keys.most_common(3)}"
    assert not copies or max(copies.values()) == 1, f"a file was copied twice to one zone: {copies}"
    assert not packets or max(packets.values()) == 1
    # Everything the flows wrote for this case is recorded, and nothing else lies there.
    for zone in zones:
        stored = set(runtime.store.list(f"{zone}/cases/{case_no}/"))
        assert stored == {k for k in recorded if k.startswith(f"{zone}/cases/{case_no}/")}, \
            f"objects without rows (or rows without objects) under {zone}/cases/{case_no}/"
    events = audit_events(tb, case_no)
    once = [e for e in events if e in ("forward", "copy_result", "deliver", "accept", "approve", "deny")]
    assert len(once) == len(set(once)), f"an event was recorded twice: {events}"
    for job in jobs_of(tb, case_no):
        if job.kind in ("forward", "mailback"):
            assert job.status == "done", f"job #{job.id} {job.kind} is {job.status}: {job.last_error}"
