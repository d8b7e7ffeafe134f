"""What leaves this deployment: blobs first (resumable chunks), then the signed message, then the receipt.

A message is written to ``federation_messages`` (status ``pending``) in the transaction of the
transition that causes it, with an outbox job; the job's flow calls :func:`deliver`, which sends every
earlier pending message of the same case first (the peer applies them in order anyway), uploads the
blobs the message names, posts it, checks the peer's signed receipt — its signature, its message id,
every hash it lists — and records it (message ``acknowledged``, an audit event on the case). Anything
short of a valid ``applied`` receipt leaves the message pending: the outbox retries with backoff.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from config import Settings
from federation import keys
from federation import service as peers
from federation.enums import PERMANENT, Direction, MessageType, OutStatus, Refusal
from federation.envelope import Refused, seal, signature_ok, token
from federation.models import CaseLink, FederationMessage, Peer
from storage.audit import service as audit
from storage.case.models import Case
from storage.db import transaction
from storage.objects import ObjectStore

log = logging.getLogger("tongban.federation")

#: Where a deployment keeps blobs it received, by hash, until a message names them.
BLOB_PREFIX = "federation/blobs/"
#: Namespace of the deterministic message ids (uuid5 of case, version and kind).
NAMESPACE = uuid.UUID("6f6e6762-616e-4665-8465-726174696f6e")


class PeerUnavailable(ConnectionError):
    """The peer did not answer, or answered 5xx: transient, the outbox tries again later."""


class PeerRefused(Exception):
    """The peer refused (a reason code). Transient unless the code is one a retry cannot change."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"[{code}] {detail}")
        self.code = code
        self.detail = detail

    @property
    def permanent(self) -> bool:
        return self.code in {c.value for c in PERMANENT}


class RefusedTransient(PeerRefused, ConnectionError):
    """A refusal worth retrying (a byte flipped in transit, a gap still open): counted as transient."""


def refused(code: str, detail: str) -> PeerRefused:
    err = PeerRefused(code, detail)
    return err if err.permanent else RefusedTransient(code, detail)


# --- this deployment's identity --------------------------------------------------------------------

_IDENTITIES: dict[Path, tuple[float, keys.Identity]] = {}


def identity(settings: Settings) -> keys.Identity:
    """The deployment's keys, re-read when ``identity.json`` changes (``rotate-key`` on a running server)."""
    directory = settings.federation_key_dir()
    path = directory / "identity.json"
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        mtime = -1.0
    cached = _IDENTITIES.get(directory)
    if cached is not None and cached[0] == mtime:
        return cached[1]
    ident, _ = keys.init(directory, settings.federation_id)
    _IDENTITIES[directory] = (path.stat().st_mtime, ident)
    return ident


def identity_document(ident: keys.Identity, zones: list[str] | None = None) -> dict[str, Any]:
    """What ``GET /federation/v1/identity`` answers: every key with its validity, signed by every valid key."""
    signed = {"deployment_id": ident.deployment_id, "keys": [k.public() for k in ident.keys],
              "protocol": "tongban-federation/1"}
    from federation.canonical import canonical

    now = datetime.now(UTC)
    data = canonical(signed)
    sigs = [{"key_id": k.key_id, "signature": keys.b64(ident.private(k).sign(data))} for k in ident.valid_keys(now)]
    return {"signed": signed, "signatures": sigs}


# --- HTTP ------------------------------------------------------------------------------------------

def _client(timeout: float = 60.0) -> httpx.Client:
    return httpx.Client(timeout=httpx.Timeout(timeout, connect=5.0))


def _answer(resp: httpx.Response) -> dict[str, Any]:
    if resp.status_code >= 500:
        raise PeerUnavailable(f"peer answered {resp.status_code}: {resp.text[:200]}")
    try:
        body = resp.json()
    except ValueError as exc:
        raise PeerUnavailable(f"peer answered {resp.status_code} with no JSON: {resp.text[:200]}") from exc
    if resp.status_code >= 400:
        raise refused(str(body.get("refused", "malformed")), str(body.get("detail", resp.text[:200])))
    return body  # type: ignore[no-any-return]


_SHARED: httpx.Client | None = None


def _shared() -> httpx.Client:
    """One client per process: its connections are reused (a new client per request costs an SSL context)."""
    global _SHARED
    if _SHARED is None:
        _SHARED = _client()
    return _SHARED


def _call(method: str, url: str, **kwargs: Any) -> dict[str, Any]:
    try:
        return _answer(_shared().request(method, url, **kwargs))
    except httpx.TransportError as exc:
        raise PeerUnavailable(f"{method} {url}: {type(exc).__name__}: {exc}") from exc


def fetch_identity(base_url: str) -> dict[str, Any]:
    return _call("GET", f"{base_url.rstrip('/')}/federation/v1/identity")


# --- blobs -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PeerAddress:
    """Who and where, detached from any session (uploads run outside a transaction)."""

    peer_id: str
    base_url: str


def upload_blob(*, store: ObjectStore, ident: keys.Identity, peer: Peer | PeerAddress, object_key: str,
                sha256: str, size: int,
                chunk_bytes: int) -> None:
    """Resumable: ask how much the peer has, send the rest in chunks, each with its own hash."""
    base = f"{peer.base_url}/federation/v1/blobs/{sha256}"
    auth = {"X-Tongban-Token": token(ident, recipient=peer.peer_id, purpose="blob", sha256=sha256)}
    status = _call("GET", base, headers=auth, params={"size": size})
    offset = int(status.get("received", 0))
    if status.get("complete"):
        return
    bad_chunks = 0
    # A file object positioned at the offset (the filesystem store's own file; S3 spools to disk): each
    # chunk is read as one buffer and sent; nothing accumulates however large the blob.
    with store.open_read(object_key) as fh:
        while offset < size:
            fh.seek(offset)
            chunk = fh.read(min(chunk_bytes, size - offset))
            if not chunk:
                raise PeerUnavailable(f"blob {sha256[:12]}… ended at {offset} of {size} bytes in the store")
            chunk_sha = hashlib.sha256(chunk).hexdigest()
            headers = {"X-Tongban-Token": token(ident, recipient=peer.peer_id, purpose="blob", sha256=sha256,
                                                offset=offset, size=size, chunk_sha256=chunk_sha),
                       "Content-Type": "application/octet-stream"}
            try:
                answer = _call("PUT", base, params={"offset": offset, "size": size}, headers=headers, content=chunk)
            except PeerRefused as exc:
                if exc.code in (Refusal.chunk_hash_mismatch, Refusal.blob_hash_mismatch, Refusal.bad_offset) \
                        and bad_chunks < 5:
                    bad_chunks += 1
                    log.warning("blob %s… chunk at %d refused (%s); sending it again", sha256[:12], offset, exc.code)
                    offset = int(_call("GET", base, headers=auth, params={"size": size}).get("received", 0))
                    continue
                raise
            del chunk
            offset = int(answer.get("received", offset))
            if answer.get("complete"):
                return


# --- messages ------------------------------------------------------------------------------------------

def message_id_for(case_no: str, version: int, kind: str) -> str:
    """Deterministic: a rerun of the step that makes the message makes the same one (never two)."""
    return str(uuid.uuid5(NAMESPACE, f"{case_no}:v{version}:{kind}"))


def enqueue(*, db_session: Session, link: CaseLink, type: MessageType, event: str, body: dict[str, Any],
            sources: dict[str, str], message_id: str, now: datetime, job: bool = True) -> FederationMessage:
    """Write an outgoing message (next sequence number of the case) and the outbox job that sends it."""
    from storage.outbox import service as outbox

    existing = db_session.scalars(select(FederationMessage).where(
        FederationMessage.direction == Direction.outgoing, FederationMessage.message_id == message_id)).first()
    if existing is not None:
        return existing
    link.out_seq += 1
    body = {**body, "blobs": body.get("blobs", [])}
    row = FederationMessage(direction=Direction.outgoing, message_id=message_id, peer_id=link.peer_id,
                            case_id=link.case_id, case_ref=link.case_ref, type=type.value, seq=link.out_seq,
                            event=event, body=body, envelope={"sources": sources}, status=OutStatus.pending,
                            created_at=now)
    db_session.add(row)
    db_session.flush()
    if job:  # a transfer is sent by the forward flow itself; events by a job of their own
        outbox.enqueue(db_session=db_session, kind="federation", case_id=link.case_id,
                       dedupe_key=f"federation:{message_id}", available_at=now,
                       payload={"case_no": link.case_ref, "message_id": message_id})
    return row


def check_receipt(*, peer: Peer, row: FederationMessage, receipt: dict[str, Any],
                  db_session: Session) -> dict[str, Any]:
    """The receipt's signature (a key of the peer), its message id, and every hash the message named."""
    signed, sig = receipt.get("signed"), receipt.get("signature")
    if not isinstance(signed, dict) or not isinstance(sig, str):
        raise RefusedTransient(Refusal.malformed, "the receipt is not {signed, signature}")
    try:
        key = peers.peer_key(peer, str(signed.get("key_id")), datetime.now(UTC))
    except Refused as exc:
        if exc.code is Refusal.unknown_key and peers.learn_keys(db_session=db_session, peer=peer,
                                                                 document=fetch_identity(peer.base_url)):
            key = peers.peer_key(peer, str(signed.get("key_id")), datetime.now(UTC))
        else:
            raise RefusedTransient(exc.code, f"receipt: {exc.detail}") from exc
    if not signature_ok(key.public_key, signed, sig):
        raise RefusedTransient(Refusal.bad_signature, "the receipt's signature does not verify")
    if signed.get("message_id") != row.message_id or signed.get("sender") != peer.peer_id:
        raise RefusedTransient(Refusal.malformed, "the receipt names another message or sender")
    named = {b["sha256"] for b in row.body.get("blobs", [])}
    verified = {v["sha256"] for v in signed.get("verified", [])}
    if signed.get("status") == "applied" and not named <= verified:
        raise RefusedTransient(Refusal.blob_missing, f"the receipt does not name {len(named - verified)} file(s)")
    return signed


def deliver(*, settings: Settings, session_factory: Any, store: ObjectStore, message_id: str,
            now: datetime) -> str:
    """Send one outgoing message (and the pending ones of its case before it). Returns its status."""
    with transaction(session_factory) as s:
        row = s.scalars(select(FederationMessage).where(FederationMessage.direction == Direction.outgoing,
                                                        FederationMessage.message_id == message_id)).first()
        if row is None:
            raise LookupError(f"no outgoing federation message {message_id}")
        if row.status in (OutStatus.acknowledged, OutStatus.failed):
            return row.status
        earlier = [m.message_id for m in s.scalars(select(FederationMessage).where(
            FederationMessage.direction == Direction.outgoing, FederationMessage.case_id == row.case_id,
            FederationMessage.seq < row.seq, FederationMessage.status.in_([OutStatus.pending, OutStatus.held]))
            .order_by(FederationMessage.seq))]
    for mid in earlier:
        _deliver_one(settings, session_factory, store, mid, now)
    return _deliver_one(settings, session_factory, store, message_id, now)


def _deliver_one(settings: Settings, session_factory: Any, store: ObjectStore, message_id: str,
                 now: datetime) -> str:
    ident = identity(settings)
    with transaction(session_factory) as s:
        row = s.scalars(select(FederationMessage).where(FederationMessage.direction == Direction.outgoing,
                                                        FederationMessage.message_id == message_id)).one()
        if row.status in (OutStatus.acknowledged, OutStatus.failed):
            return row.status
        peer = peers.get_peer(db_session=s, peer_id=row.peer_id)
        if peer is None:
            raise PeerRefused(Refusal.unknown_sender, f"peer {row.peer_id} is no longer registered")
        peer = PeerAddress(peer.peer_id, peer.base_url)  # type: ignore[assignment]
        body, sources, seq, case_ref, type_ = row.body, dict(row.envelope.get("sources", {})), row.seq, row.case_ref, \
            row.type
        row.attempts += 1
    try:
        for blob in body.get("blobs", []):
            upload_blob(store=store, ident=ident, peer=peer, object_key=sources[blob["sha256"]], sha256=blob["sha256"],
                        size=int(blob["size"]), chunk_bytes=settings.federation_chunk_bytes)
        msg = seal(ident, message_id=message_id, recipient=peer.peer_id, case_ref=case_ref, type=type_, seq=seq,
                   body=body)
        answer = _call("POST", f"{peer.base_url}/federation/v1/messages", json=msg.as_json())
    except PeerRefused as exc:
        with transaction(session_factory) as s:
            row = s.scalars(select(FederationMessage).where(FederationMessage.direction == Direction.outgoing,
                                                            FederationMessage.message_id == message_id)).one()
            row.last_error = f"{exc.code}: {exc.detail}"[:2000]
            if exc.permanent:
                row.status = OutStatus.failed
        raise
    except Exception as exc:
        with transaction(session_factory) as s:
            row = s.scalars(select(FederationMessage).where(FederationMessage.direction == Direction.outgoing,
                                                            FederationMessage.message_id == message_id)).one()
            row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        raise
    with transaction(session_factory) as s:
        row = s.scalars(select(FederationMessage).where(FederationMessage.direction == Direction.outgoing,
                                                        FederationMessage.message_id == message_id)).one()
        peer_row = peers.get_peer(db_session=s, peer_id=row.peer_id)
        assert peer_row is not None
        if row.status == OutStatus.acknowledged:  # a concurrent delivery recorded it meanwhile
            return row.status
        receipt = answer.get("receipt") or {}
        signed = check_receipt(peer=peer_row, row=row, receipt=receipt, db_session=s)
        peers.touch(peer_row, now)
        row.envelope = {**msg.envelope, "sources": sources}
        row.signature = msg.signature
        if signed.get("status") != "applied":
            row.status = OutStatus.held
            row.last_error = "held by the peer until an earlier message of the case arrives"
            raise RefusedTransient(Refusal.sequence_gap, row.last_error)
        row.status, row.receipt, row.acknowledged_at, row.last_error = OutStatus.acknowledged, receipt, now, ""
        if row.case_id is not None:
            record_receipt_event(db_session=s, row=row, signed=signed, now=now)
        return row.status


def record_receipt_event(*, db_session: Session, row: FederationMessage, signed: dict[str, Any],
                         now: datetime) -> None:
    """The receipt in the case's audit chain: who signed it, with which key, what it verified."""
    case = db_session.get(Case, row.case_id)
    assert case is not None
    audit.append(db_session=db_session, case_id=case.id, case_no=case.case_no, at=now,
                 actor=f"peer:{row.peer_id}", actor_role="system", event="federation_receipt",
                 from_state=case.state, to_state=case.state, version=case.version,
                 payload={"message_id": row.message_id, "type": row.type, "event": row.event, "seq": row.seq,
                          "peer": row.peer_id, "key_id": signed.get("key_id"),
                          "receipt_sha256": hashlib.sha256(repr(sorted(signed.items())).encode()).hexdigest(),
                          "verified": [v["sha256"] for v in signed.get("verified", [])],
                          "remote_case_no": signed.get("case_no", "")})


@dataclass(frozen=True)
class Transfer:
    message_id: str
    receipt: dict[str, Any]
