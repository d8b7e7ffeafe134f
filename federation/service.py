"""The peer registry, the case links, refusals and per-peer health (services: ``db_session``, no commit)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from federation import keys
from federation.enums import Direction, OutStatus, Refusal
from federation.envelope import Refused
from federation.models import CaseLink, FederationMessage, Peer, PeerKey
from federation.models import Refusal as RefusalRow

log = logging.getLogger("tongban.federation")


class PeerError(ValueError):
    """A peer cannot be added or removed as asked (the message names the field)."""


# --- peers -----------------------------------------------------------------------------------------

def get_peer(*, db_session: Session, peer_id: str) -> Peer | None:
    return db_session.scalars(select(Peer).where(Peer.peer_id == peer_id)).first()


def list_peers(*, db_session: Session) -> list[Peer]:
    return list(db_session.scalars(select(Peer).order_by(Peer.peer_id)))


def add_peer(*, db_session: Session, peer_id: str, base_url: str, zone_codes: list[str], public_key: str,
             display_name: str = "", valid_from: datetime | None = None, valid_until: datetime | None = None,
             own_id: str = "") -> Peer:
    """Register a peer (or add a key to a registered one: same id, same URL)."""
    peer_id = peer_id.strip()
    if not peer_id:
        raise PeerError("peer id: required")
    if own_id and peer_id == own_id:
        raise PeerError(f"peer id: {peer_id} is this deployment's own id")
    if not base_url.startswith(("http://", "https://")):
        raise PeerError(f"--url: {base_url!r} is not an http(s) URL")
    try:
        raw = keys.unb64(public_key.strip())
        keys.public_from_b64(public_key.strip())
    except ValueError as exc:
        raise PeerError(f"--public-key: not an Ed25519 public key in base64url ({exc})") from exc
    zones = sorted({z.strip() for z in zone_codes if z.strip()})
    if not zones:
        raise PeerError("--zones: name at least one zone code the peer hosts")
    for other in list_peers(db_session=db_session):
        clash = set(other.zone_codes) & set(zones)
        if other.peer_id != peer_id and clash:
            raise PeerError(f"--zones: {', '.join(sorted(clash))} already hosted by peer {other.peer_id}")
    peer = get_peer(db_session=db_session, peer_id=peer_id)
    if peer is None:
        peer = Peer(peer_id=peer_id, display_name=display_name or peer_id, zone_codes=zones,
                    base_url=base_url.rstrip("/"))
        db_session.add(peer)
    else:
        peer.zone_codes, peer.base_url = zones, base_url.rstrip("/")
        if display_name:
            peer.display_name = display_name
    key_id = keys.fingerprint(raw)
    if not any(k.key_id == key_id for k in peer.keys):
        peer.keys.append(PeerKey(key_id=key_id, public_key=public_key.strip(),
                                 valid_from=valid_from or datetime.now(UTC), valid_until=valid_until))
    db_session.flush()
    return peer


def remove_peer(*, db_session: Session, peer_id: str) -> None:
    peer = get_peer(db_session=db_session, peer_id=peer_id)
    if peer is None:
        raise PeerError(f"peer id: no peer {peer_id!r}")
    open_links = db_session.scalar(select(func.count()).select_from(CaseLink).where(CaseLink.peer_id == peer_id))
    if open_links:
        log.warning("peer %s removed while %d cases are linked to it", peer_id, open_links)
    db_session.delete(peer)
    db_session.flush()


def peer_for_zone(*, db_session: Session, zone_code: str) -> Peer | None:
    """The peer that hosts ``zone_code``, or None when this deployment (or nobody) does."""
    for peer in list_peers(db_session=db_session):
        if zone_code in peer.zone_codes:
            return peer
    return None


def peer_key(peer: Peer, key_id: str, at: datetime) -> PeerKey:
    """The peer's key ``key_id`` if its signatures are accepted at ``at`` (else ``unknown_key``/``key_expired``)."""
    for k in peer.keys:
        if k.key_id == key_id:
            if k.valid_until is not None and at > k.valid_until:
                raise Refused(Refusal.key_expired, f"key {key_id[:16]} of {peer.peer_id} expired "
                              f"{k.valid_until.isoformat()}", status=401)
            return k
    raise Refused(Refusal.unknown_key, f"{peer.peer_id} has no key {key_id[:16]} registered here", status=401)


def learn_keys(*, db_session: Session, peer: Peer, document: dict[str, Any]) -> list[str]:
    """Take the keys of a peer's identity document, if a key we already trust signed it (rotation).

    Returns the key ids added or updated. A document signed only by keys we do not know changes nothing:
    a new key is believed only on the word of an old one (or of an operator: ``tongban peer add``).
    """
    from federation.envelope import signature_ok

    signed, signatures = document.get("signed"), document.get("signatures")
    if not isinstance(signed, dict) or not isinstance(signatures, list) or signed.get("deployment_id") != peer.peer_id:
        return []
    now = datetime.now(UTC)
    vouched = False
    for s in signatures:
        if not isinstance(s, dict):
            continue
        try:
            known = peer_key(peer, str(s.get("key_id")), now)
        except Refused:
            continue
        if signature_ok(known.public_key, signed, str(s.get("signature"))):
            vouched = True
            break
    if not vouched:
        return []
    changed = []
    by_id = {k.key_id: k for k in peer.keys}
    for entry in signed.get("keys", []):
        key_id, public = str(entry.get("key_id")), str(entry.get("public_key"))
        if keys.fingerprint(keys.unb64(public)) != key_id:
            continue
        until = keys.parse_time(entry["valid_until"]) if entry.get("valid_until") else None
        if key_id in by_id:
            if by_id[key_id].valid_until != until and until is not None:
                by_id[key_id].valid_until = until
                changed.append(key_id)
            continue
        peer.keys.append(PeerKey(key_id=key_id, public_key=public, valid_from=keys.parse_time(entry["valid_from"]),
                                 valid_until=until))
        changed.append(key_id)
    db_session.flush()
    return changed


def touch(peer: Peer, now: datetime) -> None:
    """Last contact, to the half minute: a chunk upload does not cost a database write (and fsync) each."""
    last = peer.last_contact_at
    if last is None or now - last > timedelta(seconds=30) or now < last:
        peer.last_contact_at = now


# --- refusals ----------------------------------------------------------------------------------------

def record_refusal(*, db_session: Session, peer_id: str, refused: Refused, message_id: str = "",
                   now: datetime) -> None:
    """Logged and counted; nothing else changes (the caller's own work is rolled back)."""
    log.warning("federation refusal from %s: %s %s (message %s)", peer_id or "?", refused.code.value,
                refused.detail, message_id or "-")
    db_session.add(RefusalRow(peer_id=peer_id[:64], code=refused.code.value, detail=refused.detail[:2000],
                              message_id=message_id[:64], at=now))
    db_session.flush()


# --- links ---------------------------------------------------------------------------------------------

def link_of_case(*, db_session: Session, case_id: int) -> CaseLink | None:
    return db_session.scalars(select(CaseLink).where(CaseLink.case_id == case_id)).first()


def link_by_ref(*, db_session: Session, peer_id: str, case_ref: str) -> CaseLink | None:
    return db_session.scalars(select(CaseLink).where(CaseLink.peer_id == peer_id, CaseLink.case_ref == case_ref)
                              ).first()


def messages_of_case(*, db_session: Session, case_id: int) -> list[FederationMessage]:
    return list(db_session.scalars(select(FederationMessage).where(FederationMessage.case_id == case_id)
                                   .order_by(FederationMessage.id)))


# --- health ------------------------------------------------------------------------------------------

@dataclass
class PeerHealth:
    peer_id: str
    display_name: str
    zone_codes: list[str]
    base_url: str
    fingerprints: list[str]
    last_contact_at: datetime | None
    waiting: int
    oldest_unacknowledged: datetime | None
    failed: int
    refusals: int
    refusals_by_code: dict[str, int]


def health(*, db_session: Session) -> list[PeerHealth]:
    out = []
    for peer in list_peers(db_session=db_session):
        open_out = (FederationMessage.peer_id == peer.peer_id) & (FederationMessage.direction == Direction.outgoing) \
            & FederationMessage.status.in_([OutStatus.pending, OutStatus.held])
        waiting = db_session.scalar(select(func.count()).select_from(FederationMessage).where(open_out)) or 0
        oldest = db_session.scalar(select(func.min(FederationMessage.created_at)).where(open_out))
        failed = db_session.scalar(select(func.count()).select_from(FederationMessage).where(
            FederationMessage.peer_id == peer.peer_id, FederationMessage.status == OutStatus.failed)) or 0
        by_code = dict(db_session.execute(select(RefusalRow.code, func.count())
                                          .where(RefusalRow.peer_id == peer.peer_id)
                                          .group_by(RefusalRow.code)).tuples().all())
        out.append(PeerHealth(peer.peer_id, peer.display_name, list(peer.zone_codes), peer.base_url,
                              [keys.short(k.key_id) for k in peer.keys], peer.last_contact_at, waiting, oldest,
                              failed, sum(by_code.values()), by_code))
    return out


# --- what the case page shows --------------------------------------------------------------------------

@dataclass
class TransferLine:
    """One message of a shared case as the case page lists it (发送 / 已回执 / 等待 / 失败)."""

    message_id: str
    direction: str
    type: str
    event: str
    seq: int
    status: str
    created_at: datetime
    acknowledged_at: datetime | None
    #: The peer that signed the receipt, its key's fingerprint (short form), the files it confirmed.
    receipt_by: str
    receipt_key: str
    verified_files: int
    last_error: str
    attempts: int


@dataclass
class CaseFederation:
    peer_id: str
    peer_name: str
    role: str
    case_ref: str
    remote_case_no: str
    messages: list[TransferLine]


def case_federation(*, db_session: Session, case_id: int) -> CaseFederation | None:
    link = link_of_case(db_session=db_session, case_id=case_id)
    if link is None:
        return None
    peer = get_peer(db_session=db_session, peer_id=link.peer_id)
    lines = []
    for m in messages_of_case(db_session=db_session, case_id=case_id):
        signed = (m.receipt or {}).get("signed") or {}
        lines.append(TransferLine(
            m.message_id, m.direction, m.type, m.event, m.seq, m.status, m.created_at, m.acknowledged_at,
            str(signed.get("sender", "")), keys.short(str(signed["key_id"])) if signed.get("key_id") else "",
            len(signed.get("verified", [])), m.last_error, m.attempts))
    return CaseFederation(link.peer_id, peer.display_name if peer else link.peer_id, link.role, link.case_ref,
                          link.remote_case_no, lines)
