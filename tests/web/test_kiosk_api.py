"""自助机 through the API, on both backends: a registered terminal receives a case, its paper waits in a
locker slot, the pre-check is refused until a clerk confirms slot and pickup code, and the case runs
to delivery. Bad inputs: an unregistered, disabled or wrongly keyed terminal, a blank signature, a
full locker, a wrong pickup code or slot — each refused with the field named, nothing left behind."""

from __future__ import annotations

import hashlib
import io
import itertools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from PIL import Image, ImageDraw
from sqlalchemy import func, select

from states.kiosk import service as kiosk
from states.transition.rules import Actor
from storage.audit.models import AuditEvent
from storage.case.models import Case, StoredFile
from storage.db import transaction
from storage.kiosk.models import KioskReceipt
from storage.user import service as users
from storage.user.models import User
from storage.zone.models import Zone
from tests.app_harness import RESIDENT_ID, Tongban, make_pdf
from tests.web.drive import case, objects, ok, payload_for, row_counts

_numbers = itertools.count(1)


def signature_png(blank: bool = False) -> bytes:
    img = Image.new("RGBA", (900, 300), (0, 0, 0, 0))
    if not blank:
        ImageDraw.Draw(img).line([(80, 200), (250, 90), (420, 220), (640, 80), (820, 190)], fill="black", width=6)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def register(tb: Tongban, slots: int = 12) -> tuple[str, str]:
    """An admin of BJ-ETOWN registers a terminal (the registry's own service); its id and secret."""
    with transaction(tb.runtime.session_factory) as s:
        admin = s.scalars(select(User).where(User.username == "bj_admin")).one()
        terminal, secret = kiosk.register_terminal(
            db_session=s, admin=Actor(admin.username, admin.role, admin.zone_id, admin.id),
            terminal_id=f"BJ-ZZJ-{next(_numbers):02d}-{tb.runtime.settings.database_url[:5]}".replace(":", ""),
            location="亦庄政务服务中心一层24小时自助区", locker_slots=slots, reader_url="", now=tb.runtime.now())
        return terminal.terminal_id, secret


def kiosk_receipt(tb: Tongban, terminal: str, secret: str, *, signature: bytes | None = None,
                  scans: bool = True) -> Any:
    item = tb.item("QY-001", "TJ-TEDA")
    form = {"item_code": "QY-001", "handling_zone": "TJ-TEDA",
            "applicant": {"kind": "person", "name": "张自助", "id_number": RESIDENT_ID, "phone": "13812345678",
                          "address": "北京市大兴区亦庄"},
            "delivery_method": "pickup"}
    parts: list[tuple[str, tuple[str, Any, str]]] = [("case", ("case.json", json.dumps(form), "application/json"))]
    if scans:
        for m in item["materials"]:
            if m["required"]:
                parts.append((f"material_{m['id']}", (f"{m['name']}.pdf", make_pdf(m["name"]), "application/pdf")))
    parts.append(("signature", ("signature.png", signature if signature is not None else signature_png(),
                                "image/png")))
    return tb.client.post("/api/v1/kiosk/receipts", files=parts,
                          headers={"X-Kiosk-Terminal": terminal, "X-Kiosk-Secret": secret})


@contextmanager
def leaves_nothing(tb: Tongban) -> Iterator[None]:
    def kiosk_rows() -> int:
        with transaction(tb.runtime.session_factory) as s:
            return int(s.scalar(select(func.count()).select_from(KioskReceipt)) or 0)

    rows, keys, receipts = row_counts(tb), objects(tb), kiosk_rows()
    yield
    assert (row_counts(tb), objects(tb), kiosk_rows()) == (rows, keys, receipts)


def send(tb: Tongban, user: str, case_no: str, event: str) -> Any:
    return tb.event(user, case_no, event, **payload_for(tb, user, case_no, event))


def confirm(tb: Tongban, case_no: str, slot: str, code: str, user: str = "bj_clerk") -> Any:
    return tb.client.post(f"/api/v1/cases/{case_no}/locker-confirmation", headers=tb.h(user),
                          json={"slot": slot, "pickup_code": code})


def test_kiosk_case_waits_for_the_locker_paper_then_runs_to_delivery(tb: Tongban) -> None:
    terminal, secret = register(tb)
    received_at = tb.runtime.now()
    out = ok(kiosk_receipt(tb, terminal, secret), 201)
    case_no, slot, code = out["case_no"], out["slot"], out["pickup_code"]
    assert slot.startswith("A") and len(code) == 6 and code.isdigit()
    got = case(tb, case_no)
    assert got["state"] == "received"
    with transaction(tb.runtime.session_factory) as s:
        row = s.scalars(select(Case).where(Case.case_no == case_no)).one()
        assert row.received_at == received_at  # the clock starts at the kiosk's receipt
        assert row.received_by_id == s.scalars(select(User.id).where(User.role == "kiosk",
                                                                      User.username.like("kiosk-%"))).all()[-1]
        sig = s.scalars(select(StoredFile).where(StoredFile.case_id == row.id,
                                                 StoredFile.purpose == "signature")).one()
        stored = b"".join(tb.runtime.store.iter_bytes(sig.object_key))
        assert stored.startswith(b"\x89PNG") and hashlib.sha256(stored).hexdigest() == sig.sha256
        assert sig.kind == "png"

    # The paper is still in the locker: no pre-check, with the slot named (in Chinese on the case page).
    r = send(tb, "bj_clerk", case_no, "precheck_pass")
    assert r.status_code == 422 and r.json()["field"] == "locker", r.text
    assert slot in r.json()["message"]
    # A clerk of another zone sees no such case; a wrong code and a wrong slot are refused.
    assert confirm(tb, case_no, slot, code, user="tj_clerk").status_code == 404
    wrong = "000000" if code != "000000" else "111111"
    r = confirm(tb, case_no, slot, wrong)
    assert r.status_code == 422 and r.json()["field"] == "pickup_code", r.text
    r = confirm(tb, case_no, "A99", code)
    assert r.status_code == 422 and r.json()["field"] == "slot", r.text
    assert ok(confirm(tb, case_no, slot, code)) == {"case_no": case_no, "slot": slot, "confirmed": True}
    r = confirm(tb, case_no, slot, code)
    assert r.status_code == 422 and r.json()["field"] == "case_no"  # confirmed once, not twice

    # From here on the ordinary lifecycle, through to delivery at the window.
    ok(send(tb, "bj_clerk", case_no, "precheck_pass"))
    tb.dispatch()
    assert case(tb, case_no)["state"] == "forwarded"
    for event in ("accept", "claim", "approve"):
        ok(send(tb, "tj_reviewer", case_no, event))
    ok(send(tb, "bj_clerk", case_no, "ready_for_pickup"))
    ok(send(tb, "bj_clerk", case_no, "deliver"))
    assert case(tb, case_no)["state"] == "closed"
    with transaction(tb.runtime.session_factory) as s:
        row = s.scalars(select(Case).where(Case.case_no == case_no)).one()
        trail = s.scalars(select(AuditEvent.event).where(AuditEvent.case_id == row.id).order_by(AuditEvent.seq)).all()
        assert trail[:4] == ["receive", "kiosk_locker", "locker_confirm", "precheck_pass"]
        assert trail[-1] == "deliver"
        assert all(m.paper_received for m in row.materials if m.required)  # the locker's paper is at the window


def test_an_unregistered_disabled_or_wrongly_keyed_terminal_is_refused_and_nothing_is_written(tb: Tongban) -> None:
    terminal, secret = register(tb)
    with leaves_nothing(tb):
        for name, key in (("NO-SUCH-TERMINAL", secret), (terminal, "kt_wrong"), ("", "")):
            r = kiosk_receipt(tb, name, key)
            assert r.status_code == 403, r.text
            assert r.json()["error"] == "terminal_refused" and "未登记" in r.json()["message_zh"]
        with transaction(tb.runtime.session_factory) as s:
            admin = s.scalars(select(User).where(User.username == "bj_admin")).one()
            pk = s.scalars(select(kiosk.KioskTerminal.id).where(kiosk.KioskTerminal.terminal_id == terminal)).one()
            kiosk.set_terminal_active(db_session=s, admin=Actor(admin.username, admin.role, admin.zone_id, admin.id),
                                      terminal_pk=pk, active=False)
        r = kiosk_receipt(tb, terminal, secret)
        assert r.status_code == 403 and r.json()["error"] == "terminal_refused"


def test_a_blank_signature_missing_scans_or_a_full_locker_are_refused_with_the_field(tb: Tongban) -> None:
    terminal, secret = register(tb, slots=1)
    with leaves_nothing(tb):
        r = kiosk_receipt(tb, terminal, secret, signature=signature_png(blank=True))
        assert r.status_code == 422 and r.json()["field"] == "signature", r.text
        r = kiosk_receipt(tb, terminal, secret, signature=b"GIF89a not a png")
        assert r.status_code == 422 and r.json()["field"] == "signature", r.text
    first = ok(kiosk_receipt(tb, terminal, secret), 201)
    assert first["slot"] == "A01"
    with leaves_nothing(tb):  # its one slot holds paper nobody collected yet
        r = kiosk_receipt(tb, terminal, secret)
        assert r.status_code == 422 and r.json()["field"] == "locker", r.text
    ok(confirm(tb, first["case_no"], "a01", first["pickup_code"]))  # slot typed in lower case: the same slot
    assert ok(kiosk_receipt(tb, terminal, secret), 201)["slot"] == "A01"  # emptied, so free again


def test_the_kiosk_device_account_cannot_sign_in_with_a_password_nor_act_on_cases(tb: Tongban) -> None:
    terminal, _ = register(tb)
    with transaction(tb.runtime.session_factory) as s:
        device = s.scalars(select(User).join(kiosk.KioskTerminal, kiosk.KioskTerminal.user_id == User.id)
                           .where(kiosk.KioskTerminal.terminal_id == terminal)).one()
        assert device.role == "kiosk" and device.token_sha256 is None
        users.set_password(user=device, password="an-admin-set-this-1")
        username = device.username
        zone = s.get(Zone, device.zone_id)
        assert zone is not None and zone.code == "BJ-ETOWN"
    with transaction(tb.runtime.session_factory) as s:  # even with a password, it is no person's account
        outcome = users.authenticate(db_session=s, username=username, password="an-admin-set-this-1",
                                     now=tb.runtime.now())
        assert outcome.user is None
    # and it holds no bearer token: the case API does not know it
    assert tb.client.get("/api/v1/cases", headers={"Authorization": "Bearer kt_guess"}).status_code == 401


def test_too_many_wrong_pickup_codes_lock_the_slot(tb: Tongban) -> None:
    terminal, secret = register(tb)
    out = ok(kiosk_receipt(tb, terminal, secret), 201)
    wrong = "123456" if out["pickup_code"] != "123456" else "654321"
    for _ in range(kiosk.MAX_FAILED_CODES):
        assert confirm(tb, out["case_no"], out["slot"], wrong).json()["field"] == "pickup_code"
    r = confirm(tb, out["case_no"], out["slot"], out["pickup_code"])  # even the right one, now
    assert r.status_code == 422 and "too many" in r.json()["message"]
