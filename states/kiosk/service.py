"""自助机 services: the terminal registry, the device's sign-in, locker slots, pickup codes, the clerk's
confirmation of the paper, and the visit the kiosk screen shows. Plain functions over a session;
they never commit (the caller owns the transaction)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from states.transition.errors import Forbidden, PayloadInvalid
from states.transition.rules import Actor
from states.transition.service import visible_case
from storage.audit import service as audit
from storage.case.models import Case
from storage.kiosk.models import KioskReceipt, KioskTerminal, KioskVisit
from storage.user.models import User
from storage.zone.models import Zone

KIOSK_ROLE = "kiosk"
TERMINAL_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-]{1,39}")
PICKUP_CODE_RE = re.compile(r"\d{6}")
SLOT_RE = re.compile(r"[A-Z]\d{2}")
#: Wrong pickup codes a slot tolerates before only an admin can release it.
MAX_FAILED_CODES = 5
MAX_SLOTS = 99


class TerminalRefused(Forbidden):
    """Sign-in or a request from a terminal that is not registered, is disabled, or sent a wrong secret."""

    code = "terminal_refused"
    MESSAGE_ZH = "该终端未登记、已停用或终端密钥不正确，不能作为自助机使用。请联系管理员登记终端。"

    def __init__(self) -> None:
        super().__init__("this terminal is not registered, is disabled, or sent a wrong device secret",
                         message_zh=self.MESSAGE_ZH)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_device_secret() -> str:
    return "kt_" + secrets.token_urlsafe(32)


def slot_label(n: int) -> str:
    return f"A{n:02d}"


# --- the registry (admin) ------------------------------------------------------------------------

def register_terminal(*, db_session: Session, admin: Actor, terminal_id: str, location: str, locker_slots: int,
                      reader_url: str, now: datetime) -> tuple[KioskTerminal, str]:
    """A new terminal of the admin's zone and its device account; returns it and its secret (shown once)."""
    if admin.role != "admin" or admin.zone_id is None:
        raise Forbidden("only an admin may register a terminal")
    terminal_id = terminal_id.strip()
    if not TERMINAL_ID_RE.fullmatch(terminal_id):
        raise PayloadInvalid("terminal_id", "2–40 letters, digits or '-'",
                             reason_zh="终端编号须为 2–40 位字母、数字或“-”")
    location = " ".join(location.split())
    if not location or len(location) > 200:
        raise PayloadInvalid("location", "say where the terminal stands (at most 200 characters)",
                             reason_zh="请填写终端摆放位置（不超过 200 字）")
    if not 1 <= locker_slots <= MAX_SLOTS:
        raise PayloadInvalid("locker_slots", f"between 1 and {MAX_SLOTS}",
                             reason_zh=f"柜格数须在 1 到 {MAX_SLOTS} 之间")
    reader_url = reader_url.strip()
    if reader_url:
        parts = urlsplit(reader_url)
        if parts.scheme not in ("http", "https") or parts.hostname not in ("127.0.0.1", "localhost", "[::1]", "::1"):
            raise PayloadInvalid("reader_url", "the ID-card reader is the terminal's own local interface "
                                 "(http://127.0.0.1:PORT/…)",
                                 reason_zh="读卡器地址须为终端本机接口，例如 http://127.0.0.1:17380/card")
    if db_session.scalar(select(KioskTerminal.id).where(KioskTerminal.terminal_id == terminal_id)) is not None:
        raise PayloadInvalid("terminal_id", f"terminal {terminal_id} is already registered",
                             reason_zh=f"终端 {terminal_id} 已登记")
    zone = db_session.get(Zone, admin.zone_id)
    assert zone is not None
    username = f"kiosk-{terminal_id.lower()}"
    if db_session.scalar(select(User.id).where(User.username == username)) is not None:
        raise PayloadInvalid("terminal_id", f"the account {username} already exists",
                             reason_zh=f"账号 {username} 已存在")
    # The device account: no password and no bearer token — it signs in only as its terminal.
    device = User(username=username, display_name=f"自助机 {terminal_id}", role=KIOSK_ROLE, zone_id=zone.id,
                  password_hash="", token_sha256=None)
    db_session.add(device)
    db_session.flush()
    secret = new_device_secret()
    terminal = KioskTerminal(terminal_id=terminal_id, zone_id=zone.id, location=location, user_id=device.id,
                             token_sha256=_digest(secret), locker_slots=locker_slots, reader_url=reader_url,
                             active=True, created_at=now, created_by=admin.username)
    db_session.add(terminal)
    db_session.flush()
    return terminal, secret


def _own_terminal(db_session: Session, admin: Actor, terminal_pk: int) -> KioskTerminal:
    terminal = db_session.get(KioskTerminal, terminal_pk)
    if admin.role != "admin" or terminal is None or terminal.zone_id != admin.zone_id:
        raise Forbidden("only an admin of the terminal's zone may change it")
    return terminal


def set_terminal_active(*, db_session: Session, admin: Actor, terminal_pk: int, active: bool) -> KioskTerminal:
    """停用 / 启用: a disabled terminal's next request is refused (its device account too)."""
    terminal = _own_terminal(db_session, admin, terminal_pk)
    terminal.active = active
    db_session.execute(update(User).where(User.id == terminal.user_id).values(active=active))
    if not active:
        db_session.execute(delete(KioskVisit).where(KioskVisit.terminal_pk == terminal.id))
    return terminal


def rotate_secret(*, db_session: Session, admin: Actor, terminal_pk: int) -> str:
    terminal = _own_terminal(db_session, admin, terminal_pk)
    secret = new_device_secret()
    terminal.token_sha256 = _digest(secret)
    return secret


def list_terminals(*, db_session: Session, zone_id: int) -> list[KioskTerminal]:
    return list(db_session.scalars(select(KioskTerminal).where(KioskTerminal.zone_id == zone_id)
                                   .order_by(KioskTerminal.terminal_id)))


# --- the device ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Device:
    """A signed-in terminal, as requests see it."""

    pk: int
    terminal_id: str
    zone_id: int
    zone_code: str
    zone_name: str
    location: str
    reader_url: str
    user_id: int
    username: str

    @property
    def actor(self) -> Actor:
        """The kiosk receives as its device account; role ``kiosk`` may start receipts and nothing else."""
        return Actor(username=self.username, role=KIOSK_ROLE, zone_id=self.zone_id, user_id=self.user_id)


def authenticate(*, db_session: Session, terminal_id: str, secret: str) -> Device:
    """The registered, active terminal whose secret this is; otherwise :class:`TerminalRefused`."""
    terminal = db_session.scalars(select(KioskTerminal).where(KioskTerminal.terminal_id == terminal_id.strip())
                                  ).first()
    if terminal is None or not terminal.active or not hmac.compare_digest(terminal.token_sha256,
                                                                          _digest(secret.strip())):
        raise TerminalRefused()
    device = db_session.get(User, terminal.user_id)
    if device is None or not device.active or device.role != KIOSK_ROLE:
        raise TerminalRefused()
    return Device(pk=terminal.id, terminal_id=terminal.terminal_id, zone_id=terminal.zone_id,
                  zone_code=terminal.zone.code, zone_name=terminal.zone.name, location=terminal.location,
                  reader_url=terminal.reader_url, user_id=device.id, username=device.username)


# --- the receipt at the kiosk --------------------------------------------------------------------

def pickup_digest(case_no: str, code: str) -> str:
    return _digest(f"{case_no}:{code}")


def new_pickup_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def free_slot(*, db_session: Session, terminal_pk: int) -> str:
    """The first locker slot holding no unconfirmed paper; refused when the locker is full."""
    terminal = db_session.get(KioskTerminal, terminal_pk)
    assert terminal is not None
    taken = set(db_session.scalars(select(KioskReceipt.slot).where(KioskReceipt.terminal_pk == terminal_pk,
                                                                   KioskReceipt.confirmed_at.is_(None))))
    for n in range(1, terminal.locker_slots + 1):
        if slot_label(n) not in taken:
            return slot_label(n)
    raise PayloadInvalid("locker", "every locker slot of this terminal holds paper nobody has collected yet",
                         reason_zh="智能流转柜已满，暂不能自助收件，请到人工窗口办理。")


def record_kiosk_receipt(*, db_session: Session, case: Case, device: Device, slot: str, pickup_code: str,
                         signature_file_id: int | None, now: datetime) -> KioskReceipt:
    receipt = KioskReceipt(case_id=case.id, terminal_pk=device.pk, slot=slot,
                           pickup_code_sha256=pickup_digest(case.case_no, pickup_code),
                           signature_file_id=signature_file_id, received_at=now)
    db_session.add(receipt)
    db_session.flush()
    audit.append(db_session=db_session, case_id=case.id, case_no=case.case_no, at=now, actor=device.username,
                 actor_role=KIOSK_ROLE, event="kiosk_locker", from_state=case.state, to_state=case.state,
                 version=case.version, payload={"terminal": device.terminal_id, "location": device.location,
                                                "slot": slot})
    return receipt


# --- the clerk takes the paper out of the locker -------------------------------------------------

def pending_for_zone(*, db_session: Session, zone_id: int) -> list[tuple[KioskReceipt, Case]]:
    """Kiosk receipts of this zone whose paper still waits in the locker (oldest first)."""
    rows = db_session.execute(
        select(KioskReceipt, Case).join(Case, Case.id == KioskReceipt.case_id)
        .where(Case.receiving_zone_id == zone_id, KioskReceipt.confirmed_at.is_(None))
        .order_by(KioskReceipt.received_at)).unique().all()
    return [(r, c) for r, c in rows]


def receipt_of(*, db_session: Session, case_id: int) -> KioskReceipt | None:
    return db_session.scalars(select(KioskReceipt).where(KioskReceipt.case_id == case_id)).first()


def confirm_locker(*, db_session: Session, actor: Actor, case_no: str, slot: str, pickup_code: str,
                   now: datetime) -> KioskReceipt:
    """The receiving zone's clerk took the paper from ``slot`` and read its pickup code: the paper is in.

    A wrong code raises :class:`WrongPickupCode`; the caller counts it in a transaction of its own
    (:func:`count_wrong_code`), since this one is rolled back.
    """
    # the party rule first: a case the caller may not see does not exist, whatever their role
    case = visible_case(db_session=db_session, actor=actor, case_no=case_no, for_update=True)
    if actor.role != "clerk" or actor.zone_id is None:
        raise Forbidden("only a window clerk (窗口人员) may confirm paper from the locker")
    if case.receiving_zone_id != actor.zone_id:
        raise Forbidden("only the receiving zone's clerk may confirm paper from its locker")
    receipt = receipt_of(db_session=db_session, case_id=case.id)
    if receipt is None:
        raise PayloadInvalid("case_no", f"case {case_no} was not received at a kiosk",
                             reason_zh=f"{case_no} 不是自助机收件，无需从智能流转柜确认")
    if receipt.confirmed_at is not None:
        raise PayloadInvalid("case_no", f"the paper of case {case_no} was confirmed already",
                             reason_zh=f"{case_no} 的纸质材料已于此前确认")
    if receipt.failed_attempts >= MAX_FAILED_CODES:
        raise PayloadInvalid("pickup_code", "too many wrong pickup codes: an admin must release this slot",
                             reason_zh="取件码错误次数过多，该柜格已锁定，请联系管理员。")
    slot = slot.strip().upper()
    if slot != receipt.slot:
        raise PayloadInvalid("slot", f"case {case_no} is in slot {receipt.slot}, not {slot or '(empty)'}",
                             reason_zh=f"柜格号不符：本件的材料应在 {receipt.slot} 号柜格，不是“{slot}”")
    code = pickup_code.strip()
    if not PICKUP_CODE_RE.fullmatch(code) or not hmac.compare_digest(
            receipt.pickup_code_sha256, pickup_digest(case.case_no, code)):
        raise WrongPickupCode(receipt.id, MAX_FAILED_CODES - receipt.failed_attempts - 1)
    receipt.confirmed_at, receipt.confirmed_by = now, actor.username
    with_files = {f.material_id for f in case.files if f.material_id is not None and f.purpose == "material"}
    paper = []
    for m in case.materials:  # the paper of every line the applicant scanned is now at the window
        if m.id in with_files and not m.paper_received:
            m.paper_received, m.paper_received_at = True, now
            paper.append(m.name)
    db_session.flush()
    audit.append(db_session=db_session, case_id=case.id, case_no=case.case_no, at=now, actor=actor.username,
                 actor_role=actor.role, event="locker_confirm", from_state=case.state, to_state=case.state,
                 version=case.version, payload={"slot": receipt.slot, "terminal": receipt.terminal.terminal_id,
                                                "paper": paper})
    return receipt


class WrongPickupCode(PayloadInvalid):
    """A wrong pickup code; the caller counts the attempt (:func:`count_wrong_code`)."""

    def __init__(self, receipt_id: int, left: int) -> None:
        super().__init__("pickup_code", "the pickup code does not match this case's receipt",
                         reason_zh=f"取件码不正确（还可再试 {max(left, 0)} 次），请核对回执上的取件码。")
        self.receipt_id = receipt_id


def count_wrong_code(*, db_session: Session, receipt_id: int) -> None:
    db_session.execute(update(KioskReceipt).where(KioskReceipt.id == receipt_id)
                       .values(failed_attempts=KioskReceipt.failed_attempts + 1))


# --- the visit: what the screen shows after 提交, until 完成 or the timeout -------------------------

def open_visit(*, db_session: Session, device: Device, case_no: str, pickup_code: str, slot: str,
               now: datetime) -> str:
    """Returns the visit's token (for the kiosk's cookie); only one visit per terminal at a time."""
    db_session.execute(delete(KioskVisit).where(KioskVisit.terminal_pk == device.pk))
    token = secrets.token_urlsafe(24)
    db_session.add(KioskVisit(token_sha256=_digest(token), terminal_pk=device.pk, case_no=case_no,
                              pickup_code=pickup_code, slot=slot, created_at=now, last_seen_at=now))
    db_session.flush()
    return token


def current_visit(*, db_session: Session, device: Device, token: str | None, now: datetime,
                  idle: timedelta) -> KioskVisit | None:
    """The terminal's live visit named by ``token``; an idle one is forgotten here (server-side timeout)."""
    if not token:
        return None
    visit = db_session.get(KioskVisit, _digest(token))
    if visit is None or visit.terminal_pk != device.pk:
        return None
    if now - visit.last_seen_at > idle:
        db_session.delete(visit)
        return None
    visit.last_seen_at = now
    return visit


def end_visits(*, db_session: Session, device: Device) -> None:
    """完成 or timeout: the server forgets everything it showed of this applicant."""
    db_session.execute(delete(KioskVisit).where(KioskVisit.terminal_pk == device.pk))
