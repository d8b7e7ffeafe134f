"""Bring cases into any lifecycle state through the HTTP API, many at once, with one forward dispatch.

The forward step is a real Prefect flow run (≈1 s each), so tests that need cases after ``forward``
ask for all of them in one call: every case is received and pre-checked first, then one
``tb.dispatch()`` forwards them all, then each walks on to its state.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, text

from storage.audit.models import AuditEvent
from storage.case.models import Applicant, Case, Shipment, StoredFile
from storage.db import transaction
from storage.outbox.models import OutboxJob
from tests.app_harness import TRACKING, Tongban, make_pdf

#: The users of the two demo zones, by role. Cases are received in BJ-ETOWN and handled by TJ-TEDA.
ROLES = ("clerk", "reviewer", "supervisor", "admin")
USERS = tuple(f"{zone}_{role}" for zone in ("bj", "tj") for role in ROLES)

#: The path from ``received`` to each resting state: (user, event) steps; ``forward`` is the system's.
PATHS: dict[str, tuple[tuple[str, str], ...]] = {
    "received": (),
    "awaiting_supplement": (("bj_clerk", "request_supplement"),),
    "rejected": (("bj_clerk", "reject"),),
    "withdrawn": (("bj_clerk", "withdraw"),),
    "prechecked": (("bj_clerk", "precheck_pass"),),
    "forwarded": (("bj_clerk", "precheck_pass"), ("system", "forward")),
    "accepted": (("bj_clerk", "precheck_pass"), ("system", "forward"), ("tj_reviewer", "accept")),
    "under_review": (("bj_clerk", "precheck_pass"), ("system", "forward"), ("tj_reviewer", "accept"),
                     ("tj_reviewer", "claim")),
}
PATHS["approved"] = (*PATHS["under_review"], ("tj_reviewer", "approve"))
PATHS["denied"] = (*PATHS["under_review"], ("tj_reviewer", "deny"))
PATHS["mailed"] = (*PATHS["approved"], ("tj_reviewer", "mail_result"))
PATHS["awaiting_pickup"] = (*PATHS["denied"], ("bj_clerk", "ready_for_pickup"))
PATHS["closed"] = (*PATHS["mailed"], ("tj_clerk", "deliver"))


def ok(r: Any, status: int = 200) -> Any:
    """The JSON body of an answer that must have ``status``."""
    assert r.status_code == status, f"{r.status_code}: {r.text}"
    return r.json()


def receive(tb: Tongban, **kw: Any) -> str:
    return str(ok(tb.receive(**kw), 201)["case_no"])


def case(tb: Tongban, case_no: str, user: str = "bj_clerk") -> dict[str, Any]:
    return ok(tb.client.get(f"/api/v1/cases/{case_no}", headers=tb.h(user)))


def payload_for(tb: Tongban, user: str, case_no: str, event: str) -> dict[str, Any]:
    """A valid payload for ``event`` (uploading a result document first when one is needed)."""
    if event in ("reject", "withdraw", "return"):
        return {"reason": f"{event} — 测试原因"}
    if event == "request_supplement":
        mats = case(tb, case_no, user)["materials"]
        return {"materials": [{"material_id": mats[0]["id"], "problem": "defective", "note": "复印件不清晰"}]}
    if event in ("approve", "deny"):
        up = ok(tb.upload(user, case_no, "result", f"{event}决定书.pdf", make_pdf("决定书")), 201)
        extra = {"reason": "不符合法定条件"} if event == "deny" else {}
        return {"result_file_id": up[0]["id"], **extra}
    if event == "mail_result":
        return {"carrier": "EMS", "tracking_no": TRACKING}
    return {}


def send(tb: Tongban, user: str, case_no: str, event: str) -> dict[str, Any]:
    """Send ``event`` as ``user`` with a valid payload; it must succeed."""
    return ok(tb.event(user, case_no, event, **payload_for(tb, user, case_no, event)))


def cases_in(tb: Tongban, wanted: dict[str, int]) -> dict[str, list[str]]:
    """``{state: n}`` → ``{state: [case_no, ...]}``, each case driven there through the API."""
    plan = [(state, receive(tb)) for state, n in wanted.items() for _ in range(n)]
    forward = ("system", "forward")
    for state, case_no in plan:  # up to (not including) the forward step
        if forward in PATHS[state]:
            for user, event in PATHS[state][:PATHS[state].index(forward)]:
                send(tb, user, case_no, event)
    if any(forward in PATHS[state] for state, _ in plan):
        tb.dispatch()
    out: dict[str, list[str]] = {state: [] for state in wanted}
    for state, case_no in plan:  # the rest (all of it for cases that never go to the handling zone)
        steps = PATHS[state]
        for user, event in steps[steps.index(forward) + 1:] if forward in steps else steps:
            send(tb, user, case_no, event)
        got = case(tb, case_no)["state"]
        assert got == state, f"{case_no} is {got}, wanted {state}"
        out[state].append(case_no)
    return out


# --- what is in the database and the store, for "nothing left behind" ----------------------------

COUNTED = {"cases": Case, "applicants": Applicant, "stored_files": StoredFile, "audit_events": AuditEvent,
           "outbox_jobs": OutboxJob, "shipments": Shipment}


def row_counts(tb: Tongban) -> dict[str, int]:
    with transaction(tb.runtime.session_factory) as s:
        return {name: int(s.scalar(select(func.count()).select_from(model)) or 0) for name, model in COUNTED.items()}


def objects(tb: Tongban) -> list[str]:
    return tb.runtime.store.list("")


def sql(tb: Tongban, statement: str, **params: Any) -> None:
    """Go behind the system's back (tampering, provoking a clash): raw SQL in its own transaction."""
    with transaction(tb.runtime.session_factory) as s:
        s.execute(text(statement), params)
