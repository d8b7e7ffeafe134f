"""What arrives from a peer: every check first, then the transition service, then a signed receipt.

Checks, in order (each refusal is a reason code of :class:`federation.enums.Refusal`, logged, counted
and changing nothing): the shape; the sender is a registered peer; we are the recipient; the key is
one of the sender's and valid (an unknown key is looked up in the sender's identity document, which
must be signed by a key we already trust: rotation); the signature over the envelope; the body's
hash; the age (older than the replay window, or further ahead than the clock-skew tolerance); the
message id (the same id again answers the same receipt; with another body it is refused); every blob
the message names is here, complete, with its hash; the sequence number of the case (an early one is
held until the gap fills). Only then is the message applied, in one transaction with its receipt.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from federation import keys
from federation import service as peers
from federation.enums import Direction, InStatus, MessageType, Refusal
from federation.envelope import Message, Refused, body_ok, parse_message, parse_token, sign_part, signature_ok
from federation.envelope import now_text as _now_text
from federation.models import CaseLink, FederationMessage, Peer
from federation.transfer import BLOB_PREFIX, fetch_identity, identity
from states.intake import service as intake
from states.intake.schemas import ReceiveForm
from states.intake.uploads import StagedFile
from states.runtime import Runtime
from states.transition import service as transitions
from states.transition.errors import TransitionError
from states.transition.rules import Actor
from storage.audit import service as audit
from storage.case.models import Case, StoredFile
from storage.db import transaction
from storage.user import service as users
from storage.zone.models import Zone

log = logging.getLogger("tongban.federation")

ROLES = ("clerk", "reviewer", "system")


@dataclass
class Answer:
    status: int
    body: dict[str, Any]


# --- checks ------------------------------------------------------------------------------------------

def _trusted_peer(db_session: Session, runtime: Runtime, sender: str, recipient: str, key_id: str,
                  at: datetime) -> tuple[Peer, str]:
    """The sender's registered record and the public key that must have signed (or a refusal)."""
    ident = identity(runtime.settings)
    peer = peers.get_peer(db_session=db_session, peer_id=sender)
    if peer is None:
        raise Refused(Refusal.unknown_sender, f"{sender!r} is not a registered peer of {ident.deployment_id}",
                      status=401)
    if recipient != ident.deployment_id:
        raise Refused(Refusal.wrong_recipient, f"addressed to {recipient!r}; this is {ident.deployment_id}")
    try:
        key = peers.peer_key(peer, key_id, at)
    except Refused as exc:
        if exc.code is not Refusal.unknown_key:
            raise
        try:  # rotation: the sender's identity document, vouched for by a key we already trust
            learned = peers.learn_keys(db_session=db_session, peer=peer, document=fetch_identity(peer.base_url))
        except Exception:  # noqa: BLE001 - the peer's identity unreachable: the key stays unknown
            learned = []
        if key_id not in learned:
            raise
        key = peers.peer_key(peer, key_id, at)
    return peer, key.public_key


def _check_age(created: datetime, now: datetime, runtime: Runtime) -> None:
    st = runtime.settings
    if now - created > timedelta(seconds=st.federation_max_age_seconds):
        raise Refused(Refusal.too_old, f"signed {created.isoformat()}, more than {st.federation_max_age_seconds:.0f} s "
                      f"before {now.isoformat()} (replay window)")
    if created - now > timedelta(seconds=st.federation_max_skew_seconds):
        raise Refused(Refusal.from_the_future, f"signed {created.isoformat()}, more than "
                      f"{st.federation_max_skew_seconds:.0f} s after {now.isoformat()} (clock skew)")


def verify_message(db_session: Session, runtime: Runtime, msg: Message, now: datetime) -> Peer:
    env = msg.envelope
    created = keys.parse_time(str(env["created_at"]))
    peer, public = _trusted_peer(db_session, runtime, str(env["sender"]), str(env["recipient"]), str(env["key_id"]),
                                 created)
    if not signature_ok(public, env, msg.signature):
        raise Refused(Refusal.bad_signature, "the signature does not verify over the canonical envelope", status=401)
    if not body_ok(msg):
        raise Refused(Refusal.body_hash_mismatch, "the body's SHA-256 is not the envelope's body_sha256")
    _check_age(created, now, runtime)
    peers.touch(peer, now)
    return peer


def verify_token(db_session: Session, runtime: Runtime, text: str | None, purpose: str, now: datetime,
                 **expected: Any) -> Peer:
    """A signed request token (blob upload, chain-head query): same key, recipient and age rules."""
    if not text:
        raise Refused(Refusal.malformed, "the X-Tongban-Token header is required", status=401)
    claims, data, sig = parse_token(text)
    created = keys.parse_time(str(claims.get("created_at", "1970-01-01T00:00:00Z")))
    peer, public = _trusted_peer(db_session, runtime, str(claims.get("sender")), str(claims.get("recipient")),
                                 str(claims.get("key_id")), created)
    if not keys.verify(public, sig, data):
        raise Refused(Refusal.bad_signature, "the token's signature does not verify", status=401)
    _check_age(created, now, runtime)
    if claims.get("purpose") != purpose or any(claims.get(k) != v for k, v in expected.items()):
        raise Refused(Refusal.malformed, f"the token is not for this request ({purpose})", status=401)
    peers.touch(peer, now)
    return peer


# --- blobs ---------------------------------------------------------------------------------------------

def _part(runtime: Runtime, sha256: str) -> Path:
    d = runtime.spool_dir / "federation-blobs"
    d.mkdir(parents=True, exist_ok=True)
    return d / f"{sha256}.part"


def blob_status(runtime: Runtime, sha256: str, size: int | None) -> dict[str, Any]:
    if runtime.store.exists(BLOB_PREFIX + sha256):
        return {"sha256": sha256, "received": runtime.store.size(BLOB_PREFIX + sha256), "complete": True}
    return {"sha256": sha256, "received": verified_length(runtime, sha256), "complete": False, "size": size}


def verified_length(runtime: Runtime, sha256: str) -> int:
    """Bytes of the part file whose chunks passed their hash (a sidecar file: a crash mid-chunk leaves an
    unverified tail, which the next chunk at this offset cuts off)."""
    ok = _part(runtime, sha256).with_suffix(".ok")
    try:
        return int(ok.read_text().strip() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def _set_verified(runtime: Runtime, sha256: str, n: int) -> None:
    ok = _part(runtime, sha256).with_suffix(".ok")
    tmp = ok.with_suffix(".ok.tmp")
    tmp.write_text(str(n))
    tmp.replace(ok)


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


#: sha256 → (bytes hashed so far, running hash) of the blobs this process is receiving: the whole blob
#: is not read again when its last chunk arrives. After a restart the part file is hashed once instead.
_RUNNING: dict[str, tuple[int, Any]] = {}
_RUNNING_LOCK = threading.Lock()


def running_hash(sha256: str, offset: int) -> Any:
    """A copy of the blob's running hash if it covers exactly the bytes before ``offset`` (else None)."""
    with _RUNNING_LOCK:
        if offset == 0:
            return hashlib.sha256()
        entry = _RUNNING.get(sha256)
        return entry[1].copy() if entry is not None and entry[0] == offset else None


def part_path(runtime: Runtime, sha256: str) -> Path:
    return _part(runtime, sha256)


def truncate(runtime: Runtime, sha256: str, offset: int) -> None:
    """A refused chunk is taken back: the part file ends where it ended before."""
    part = _part(runtime, sha256)
    if part.exists():
        with part.open("r+b") as fh:
            fh.truncate(offset)


def chunk_appended(runtime: Runtime, sha256: str, size: int, received: int, running: Any) -> dict[str, Any]:
    """After a chunk was appended in place (its own hash checked): done, or the whole blob checked and stored."""
    with _RUNNING_LOCK:
        if running is not None:
            _RUNNING[sha256] = (received, running)
        else:
            _RUNNING.pop(sha256, None)
    _set_verified(runtime, sha256, received)
    if received < size:
        return {"sha256": sha256, "received": received, "complete": False}
    with _RUNNING_LOCK:
        _RUNNING.pop(sha256, None)
    part = _part(runtime, sha256)
    whole = running.hexdigest() if running is not None else _file_sha256(part)
    if whole != sha256:
        part.unlink(missing_ok=True)
        part.with_suffix(".ok").unlink(missing_ok=True)
        raise Refused(Refusal.blob_hash_mismatch, "the whole blob does not match its SHA-256; send it again")
    with part.open("rb") as fh:
        runtime.store.put_stream(BLOB_PREFIX + sha256, fh, expected_sha256=sha256)
    part.unlink(missing_ok=True)
    part.with_suffix(".ok").unlink(missing_ok=True)
    return {"sha256": sha256, "received": size, "complete": True}


def _check_blobs(runtime: Runtime, body: dict[str, Any]) -> list[dict[str, Any]]:
    verified = []
    for b in body.get("blobs", []):
        sha, size = str(b.get("sha256", "")), int(b.get("size", -1))
        key = BLOB_PREFIX + sha
        if not runtime.store.exists(key):
            raise Refused(Refusal.blob_missing, f"blob {sha[:12]}… is not (completely) uploaded")
        if runtime.store.size(key) != size:
            raise Refused(Refusal.blob_hash_mismatch, f"blob {sha[:12]}… has another size than the message says")
        verified.append({"sha256": sha, "size": size})
    return verified


def _place(runtime: Runtime, sha: str, key: str) -> None:
    """The blob under the case's own key, verified at the destination (the store re-hashes it)."""
    runtime.store.copy(BLOB_PREFIX + sha, key, expected_sha256=sha)


# --- applying ------------------------------------------------------------------------------------------

def _zone(db_session: Session, code: str, name: str = "") -> Zone:
    zone = db_session.scalars(select(Zone).where(Zone.code == code)).first()
    if zone is None:
        zone = Zone(code=code, name=name or code)
        db_session.add(zone)
        db_session.flush()
    return zone


def _peer_user(db_session: Session, peer: Peer, zone: Zone) -> int:
    """The user row that stands for the peer's counter (a case names who received it); it cannot sign in."""
    name = f"peer.{peer.peer_id}.{zone.code}".lower()[:60]
    user = users.get_by_username(db_session=db_session, username=name)
    if user is None:
        user, _ = users.add(db_session=db_session, username=name, display_name=f"{peer.display_name}（对端）",
                            role="clerk", zone_code=zone.code)
        user.token_sha256 = "!" * 64  # no token hashes to this: the account cannot be used
    return user.id


def _hosts(peer: Peer, zone_code: str) -> None:
    if zone_code not in peer.zone_codes:
        raise Refused(Refusal.zone_not_hosted, f"{peer.peer_id} does not host zone {zone_code}")


def _apply_transfer(s: Session, runtime: Runtime, peer: Peer, msg: Message, now: datetime) -> Case:
    body, c = msg.body, msg.body.get("case", {})
    receiving_code, handling_code = str(c["receiving_zone"]["code"]), str(c["handling_zone"])
    _hosts(peer, receiving_code)
    if peers.peer_for_zone(db_session=s, zone_code=handling_code) is not None \
            or s.scalars(select(Zone).where(Zone.code == handling_code)).first() is None:
        raise Refused(Refusal.zone_not_hosted, f"zone {handling_code} is not hosted by this deployment")
    try:
        item = intake.find_item(db_session=s, code=str(c["item"]["code"]), handling_zone=handling_code)
    except TransitionError as exc:
        raise Refused(Refusal.unknown_item, f"item {c['item']['code']} of {handling_code}: {exc}") from exc
    receiving = _zone(s, receiving_code, str(c["receiving_zone"].get("name", "")))
    actor = Actor(username=f"peer:{peer.peer_id}", role="clerk", zone_id=receiving.id,
                  user_id=_peer_user(s, peer, receiving))
    by_position = {m.position: m for m in item.materials}
    form = ReceiveForm(item_code=item.code, handling_zone=handling_code, applicant=c["applicant"],
                       checklist=[{"item_material_id": by_position[m["position"]].id}  # type: ignore[misc]
                                  for m in c.get("materials", [])
                                  if m.get("paper_received") and m["position"] in by_position],
                       delivery_method=c.get("delivery_method", "mail"), delivery_address=c.get("delivery_address", ""))
    handling = item.zone
    mirror_no = intake.next_case_no(db_session=s, zone=handling, now=now, tz=runtime.clock.tz)
    base = f"{handling_code}/cases/{mirror_no}"
    staged = []
    for i, f in enumerate(body.get("files", [])):
        key = f"{base}/files/{i + 1}{Path(str(f['filename'])).suffix.lower()}"
        _place(runtime, f["sha256"], key)
        mat = by_position.get(f.get("material_position"))  # type: ignore[arg-type]
        staged.append(StagedFile(filename=f["filename"], kind=f["kind"], size=f["size"], sha256=f["sha256"],
                                 page_count=f.get("pages", 0), object_key=key,
                                 item_material_id=mat.id if mat else None))
    received_at = keys.parse_time(c["received_at"]) if c.get("received_at") else now
    try:
        case = intake.record_receipt(db_session=s, form=form, actor=actor, staged=staged, now=received_at,
                                     clock=runtime.clock, case_no=mirror_no)
    except TransitionError as exc:
        raise Refused(Refusal.not_applicable, f"the case summary was refused: {exc}") from exc
    if c.get("due_at"):  # one clock: the origin's promised deadline (承诺时限) holds here too
        case.due_at = keys.parse_time(c["due_at"])
    for purpose, part, kind in (("packet", body["packet"], "pdf"), ("manifest", body["manifest"], "json")):
        key = f"{base}/{purpose}-{part['sha256'][:16]}.{kind}"
        _place(runtime, part["sha256"], key)
        case.files.append(StoredFile(purpose=purpose, zone_code=handling_code, filename=part["filename"], kind=kind,
                                     size=part["size"], sha256=part["sha256"], page_count=part.get("pages", 0),
                                     object_key=key, created_by=actor.username))
    s.flush()
    s.add(CaseLink(case_id=case.id, peer_id=peer.peer_id, role="mirror", case_ref=str(msg.envelope["case_ref"]),
                   remote_case_no=str(c["case_no"]), in_seq=0))
    s.flush()
    audit.append(db_session=s, case_id=case.id, case_no=case.case_no, at=now, actor=actor.username,
                 actor_role="system", event="federation_transfer", from_state=case.state, to_state=case.state,
                 version=case.version, payload={"message_id": msg.message_id, "origin_case_no": c["case_no"],
                                                "origin_chain_head": body.get("chain_head", {}),
                                                "packet_sha256": body["packet"]["sha256"]})
    try:
        transitions.apply_event(db_session=s, case_no=case.case_no, actor=actor, event="precheck_pass", version=None,
                                payload={"note": f"{peer.display_name} 已预审"}, now=now, clock=runtime.clock)
        transitions.apply_event(db_session=s, case_no=case.case_no, actor=Actor(f"peer:{peer.peer_id}", "system"),
                                event="forward", version=None,
                                payload={"note": f"收到 {peer.peer_id} 的跨系统转递 {c['case_no']}"}, now=now,
                                clock=runtime.clock)
    except TransitionError as exc:
        raise Refused(Refusal.not_applicable, f"the mirrored case could not be forwarded: {exc}") from exc
    return case


def _apply_retransfer(s: Session, runtime: Runtime, peer: Peer, link: CaseLink, msg: Message, now: datetime) -> Case:
    """The case comes again after a return (退回 → 补正 at the origin → pre-checked → sent again): the mirror
    takes the supplement, the new files, the new packet, and is forwarded again — through the transition service."""
    body = msg.body
    case = s.get(Case, link.case_id)
    if case is None or link.role != "mirror":
        raise Refused(Refusal.not_applicable, f"case {link.case_ref} cannot be transferred here again")
    receiving = case.receiving_zone
    _hosts(peer, receiving.code)
    actor = Actor(username=f"peer:{peer.peer_id}", role="clerk", zone_id=receiving.id,
                  user_id=_peer_user(s, peer, receiving))
    try:
        if case.state == "awaiting_supplement":
            transitions.apply_event(db_session=s, case_no=case.case_no, actor=actor, event="supplement", version=None,
                                    payload={"note": f"{peer.display_name} 补正后重新转递"}, now=now,
                                    clock=runtime.clock)
        case = s.get(Case, link.case_id)
        assert case is not None
        have = {f.sha256 for f in case.files}
        by_position = {m.position: m for m in case.materials}
        base = f"{case.handling_zone.code}/cases/{case.case_no}"
        for f in body.get("files", []):
            if f["sha256"] in have:
                continue
            key = f"{base}/files/s{f['sha256'][:16]}{Path(str(f['filename'])).suffix.lower()}"
            _place(runtime, f["sha256"], key)
            mat = by_position.get(f.get("material_position"))  # type: ignore[arg-type]
            case.files.append(StoredFile(material_id=mat.id if mat else None, purpose="supplement",
                                         zone_code=receiving.code, filename=f["filename"], kind=f["kind"],
                                         size=f["size"], sha256=f["sha256"], page_count=f.get("pages", 0),
                                         object_key=key, created_by=actor.username))
        for purpose, part, kind in (("packet", body["packet"], "pdf"), ("manifest", body["manifest"], "json")):
            key = f"{base}/{purpose}-{part['sha256'][:16]}.{kind}"
            if any(f.object_key == key for f in case.files):
                continue
            _place(runtime, part["sha256"], key)
            case.files.append(StoredFile(purpose=purpose, zone_code=case.handling_zone.code, filename=part["filename"],
                                         kind=kind, size=part["size"], sha256=part["sha256"],
                                         page_count=part.get("pages", 0), object_key=key, created_by=actor.username))
        s.flush()
        transitions.apply_event(db_session=s, case_no=case.case_no, actor=actor, event="precheck_pass", version=None,
                                payload={"note": f"{peer.display_name} 已预审"}, now=now, clock=runtime.clock)
        transitions.apply_event(db_session=s, case_no=case.case_no, actor=Actor(f"peer:{peer.peer_id}", "system"),
                                event="forward", version=None,
                                payload={"note": f"收到 {peer.peer_id} 的重新转递 {link.case_ref}"}, now=now,
                                clock=runtime.clock)
    except TransitionError as exc:
        raise Refused(Refusal.not_applicable, f"the case could not be forwarded again: {exc}") from exc
    return case


def _apply_event(s: Session, runtime: Runtime, peer: Peer, link: CaseLink, msg: Message, now: datetime) -> Case:
    body = msg.body
    case = s.get(Case, link.case_id)
    if case is None:
        raise Refused(Refusal.unknown_case, f"case {link.case_ref} is gone here")
    # The sender acts for its side of the case: the deciding zone when we are the origin, else ours.
    zone = case.handling_zone if link.role == "origin" else case.receiving_zone
    _hosts(peer, zone.code)
    role = str(body.get("actor_role", ""))
    event = str(body.get("event", ""))
    if role not in ROLES or not event:
        raise Refused(Refusal.malformed, "an event message names event and actor_role (clerk, reviewer, system)")
    actor = Actor(username=f"peer:{peer.peer_id}:{body.get('actor', '')}"[:100], role=role, zone_id=zone.id)
    payload: dict[str, Any] = dict(body.get("payload", {}))
    if event in ("approve", "deny") and body.get("result"):
        r = body["result"]
        key = f"{zone.code}/cases/{case.case_no}/result-{r['sha256'][:16]}{Path(str(r['filename'])).suffix.lower()}"
        _place(runtime, r["sha256"], key)
        doc = StoredFile(purpose="result", zone_code=zone.code, filename=r["filename"], kind=r.get("kind", "pdf"),
                         size=r["size"], sha256=r["sha256"], page_count=r.get("pages", 0), object_key=key,
                         created_by=actor.username)
        case.files.append(doc)
        s.flush()
        payload["result_file_id"] = doc.id
    try:
        transitions.apply_event(db_session=s, case_no=case.case_no, actor=actor, event=event, version=None,
                                payload=payload, now=now, clock=runtime.clock)
    except TransitionError as exc:
        raise Refused(Refusal.not_applicable, f"{event} on {case.case_no}: {exc}") from exc
    return case


def _receipt(s: Session, runtime: Runtime, peer: Peer, msg: Message, status: str, case: Case | None,
             verified: list[dict[str, Any]]) -> dict[str, Any]:
    ident = identity(runtime.settings)
    head: dict[str, Any] = {}
    if case is not None:
        seq, h = audit.head(db_session=s, case_id=case.id)
        head = {"seq": seq, "hash": h}
    return sign_part(ident, {
        "protocol": "tongban-federation/1", "type": "receipt", "message_id": msg.message_id,
        "sender": ident.deployment_id, "recipient": peer.peer_id, "case_ref": msg.envelope["case_ref"],
        "seq": msg.envelope["seq"], "status": status, "body_sha256": msg.envelope["body_sha256"],
        "verified": verified, "case_no": case.case_no if case is not None else "", "chain_head": head,
        "created_at": _now_text(),
    })


def _apply(s: Session, runtime: Runtime, peer: Peer, msg: Message, row: FederationMessage, now: datetime) -> None:
    """Apply a verified message whose turn it is; its row gets the signed receipt."""
    link = peers.link_by_ref(db_session=s, peer_id=peer.peer_id, case_ref=str(msg.envelope["case_ref"]))
    if msg.envelope["type"] == MessageType.transfer and link is None:
        case = _apply_transfer(s, runtime, peer, msg, now)
        link = peers.link_of_case(db_session=s, case_id=case.id)
        assert link is not None
    elif link is not None and msg.envelope["type"] == MessageType.event:
        case = _apply_event(s, runtime, peer, link, msg, now)
    elif link is not None and msg.envelope["type"] == MessageType.transfer:
        case = _apply_retransfer(s, runtime, peer, link, msg, now)
    else:
        raise Refused(Refusal.unknown_case if link is None else Refusal.not_applicable,
                      f"{msg.envelope['type']} for case {msg.envelope['case_ref']} cannot be applied here")
    link.in_seq = int(msg.envelope["seq"])
    row.case_id = case.id
    row.status = InStatus.applied
    row.receipt = _receipt(s, runtime, peer, msg, "applied", case, [
        {"sha256": b["sha256"], "size": b["size"]} for b in msg.body.get("blobs", [])])


def receive(runtime: Runtime, raw: Any) -> Answer:
    """``POST /federation/v1/messages``: an :class:`Answer` (200 applied, 202 held, 4xx refused)."""
    now = runtime.now()
    sender, message_id = "", ""
    try:
        msg = parse_message(raw)
        sender, message_id = str(msg.envelope["sender"]), msg.message_id
        with transaction(runtime.session_factory) as s:
            peer = verify_message(s, runtime, msg, now)
            known = s.scalars(select(FederationMessage).where(FederationMessage.direction == Direction.incoming,
                                                              FederationMessage.message_id == msg.message_id)).first()
            if known is not None:
                if known.envelope.get("body_sha256") != msg.envelope["body_sha256"] or known.peer_id != peer.peer_id:
                    raise Refused(Refusal.message_id_conflict,
                                  f"message {msg.message_id} was received with another body")
                return Answer(200 if known.status == InStatus.applied else 202, {"receipt": known.receipt,
                                                                                 "duplicate": True})
            verified = _check_blobs(runtime, msg.body)
            link = peers.link_by_ref(db_session=s, peer_id=peer.peer_id, case_ref=str(msg.envelope["case_ref"]))
            expected = (link.in_seq if link is not None else 0) + 1
            seq = int(msg.envelope["seq"])
            if seq < expected:
                raise Refused(Refusal.stale_sequence, f"sequence {seq} of case {msg.envelope['case_ref']} was "
                              f"already applied (next is {expected})")
            row = FederationMessage(direction=Direction.incoming, message_id=msg.message_id, peer_id=peer.peer_id,
                                    case_ref=str(msg.envelope["case_ref"]), type=str(msg.envelope["type"]), seq=seq,
                                    event=str(msg.body.get("event", msg.envelope["type"])), body=msg.body,
                                    envelope=msg.envelope, signature=msg.signature, status=InStatus.held,
                                    created_at=now)
            s.add(row)
            if seq > expected:
                row.receipt = _receipt(s, runtime, peer, msg, "held", None, verified)
                s.flush()
                log.info("message %s (seq %d of %s) held until %d arrives", msg.message_id, seq,
                         msg.envelope["case_ref"], expected)
                return Answer(202, {"receipt": row.receipt})
            _apply(s, runtime, peer, msg, row, now)
            s.flush()
            _apply_held(s, runtime, peer, str(msg.envelope["case_ref"]), now)
            runtime.wake_dispatcher()
            return Answer(200, {"receipt": row.receipt})
    except Refused as exc:
        with transaction(runtime.session_factory) as s:
            peers.record_refusal(db_session=s, peer_id=sender, refused=exc, message_id=message_id, now=now)
        return Answer(exc.status, exc.as_json())


def _apply_held(s: Session, runtime: Runtime, peer: Peer, case_ref: str, now: datetime) -> None:
    """The messages that waited for this one, in order, as long as there is no gap."""
    while True:
        link = peers.link_by_ref(db_session=s, peer_id=peer.peer_id, case_ref=case_ref)
        if link is None:
            return
        nxt = s.scalars(select(FederationMessage).where(
            FederationMessage.direction == Direction.incoming, FederationMessage.peer_id == peer.peer_id,
            FederationMessage.case_ref == case_ref, FederationMessage.status == InStatus.held,
            FederationMessage.seq == link.in_seq + 1)).first()
        if nxt is None:
            return
        msg = Message(nxt.envelope, nxt.body, nxt.signature)
        _apply(s, runtime, peer, msg, nxt, now)
        s.flush()


def chain_head(runtime: Runtime, peer: Peer, s: Session, case_ref: str) -> dict[str, Any]:
    """What ``federation verify`` asks for: our side of a shared case, signed."""
    link = peers.link_by_ref(db_session=s, peer_id=peer.peer_id, case_ref=case_ref)
    if link is None:
        raise Refused(Refusal.unknown_case, f"no case {case_ref} shared with {peer.peer_id}", status=404)
    case = s.get(Case, link.case_id)
    assert case is not None
    seq, h = audit.head(db_session=s, case_id=case.id)
    msgs = peers.messages_of_case(db_session=s, case_id=case.id)
    ident = identity(runtime.settings)
    return sign_part(ident, {
        "protocol": "tongban-federation/1", "type": "chain_head", "sender": ident.deployment_id,
        "recipient": peer.peer_id, "case_ref": case_ref, "case_no": case.case_no, "state": case.state,
        "chain_head": {"seq": seq, "hash": h}, "created_at": _now_text(),
        "messages": [{"message_id": m.message_id, "direction": m.direction, "seq": m.seq, "type": m.type,
                      "event": m.event, "status": m.status,
                      "body_sha256": (m.envelope or {}).get("body_sha256", "")} for m in msgs],
    })
