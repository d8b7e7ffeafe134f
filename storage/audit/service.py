"""Append and check the per-case hash chain (审计链)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from storage.audit.models import AuditEvent
from storage.case.models import Case

GENESIS = "0" * 64


#: The canonical JSON of :func:`event_hash`, as one reusable encoder (``json.dumps`` builds one per call).
_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def canonical_json(value: Any) -> str:
    """``value`` as :func:`event_hash` writes it into the hashed body (sorted keys, no spaces, UTF-8)."""
    return _CANONICAL.encode(value)


def event_hash(*, case_no: str, seq: int, at: datetime, actor: str, actor_role: str, event: str,
               from_state: str | None, to_state: str, version: int, payload: dict[str, Any],
               prev_hash: str) -> str:
    """Canonical JSON of everything that matters, chained to the previous event's hash."""
    body = {
        "case_no": case_no, "seq": seq, "at": at.isoformat(timespec="microseconds"), "actor": actor,
        "actor_role": actor_role, "event": event, "from": from_state, "to": to_state,
        "version": version, "payload": payload, "prev": prev_hash,
    }
    canonical = _CANONICAL.encode(body)
    return hashlib.sha256(canonical.encode()).hexdigest()


class ChainedEvent(NamedTuple):
    """An audit row ready to insert: numbered, linked and hashed; ``payload`` as canonical JSON text."""

    case_id: int
    seq: int
    at: datetime
    actor: str
    actor_role: str
    event: str
    from_state: str | None
    to_state: str
    version: int
    payload: str
    prev_hash: str
    hash: str


def chain_events(events: Iterable[dict[str, Any]], heads: dict[int, tuple[int, str]]) -> list[ChainedEvent]:
    """Number, link and hash ``events`` (the keyword arguments of :func:`append`, with JSON-plain
    payloads: str/int/bool/None in dicts and lists; or ``payload_json``, the payload's
    :func:`canonical_json` already made, when many events share one) onto the chain heads in ``heads`` (case id →
    (seq, hash), GENESIS when absent); ``heads`` is moved to each case's last new event.

    The hash is exactly :func:`event_hash`'s — the same canonical JSON, assembled from each field's
    canonical text (a dict's canonical text is its sorted ``"key":value`` pairs, so the body can be
    joined from parts) with the repeated ones (actor, event, time, states) encoded once. The caller
    writes the rows and the heads in one transaction, under the same lock :func:`head` takes.
    """
    enc = _CANONICAL.encode
    memo: dict[Any, str] = {}

    def once(value: Any) -> str:
        hit = memo.get(value)
        if hit is None:
            hit = memo[value] = enc(value)
        return hit

    def plain(text: str) -> str:
        """A case number's JSON text: as is between quotes when nothing in it needs escaping."""
        if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
            return f'"{text}"'
        return enc(text)

    stamps: dict[datetime, str] = {}
    out: list[ChainedEvent] = []
    for e in events:
        cid, at = e["case_id"], e["at"]
        seq, prev = heads.get(cid, (0, GENESIS))
        seq += 1
        stamp = stamps.get(at)
        if stamp is None:
            stamp = stamps[at] = enc(at.isoformat(timespec="microseconds"))
        payload = e.get("payload_json") or enc(e["payload"])
        body = (f'{{"actor":{once(e["actor"])},"actor_role":{once(e["actor_role"])},"at":{stamp},'
                f'"case_no":{plain(e["case_no"])},"event":{once(e["event"])},"from":{once(e["from_state"])},'
                f'"payload":{payload},"prev":"{prev}","seq":{seq},"to":{once(e["to_state"])},'
                f'"version":{int(e["version"])}}}')
        h = hashlib.sha256(body.encode()).hexdigest()
        out.append(ChainedEvent(cid, seq, at, e["actor"], e["actor_role"], e["event"], e["from_state"],
                                e["to_state"], e["version"], payload, prev, h))
        heads[cid] = (seq, h)
    return out


def last_event(*, db_session: Session, case_id: int) -> AuditEvent | None:
    stmt = select(AuditEvent).where(AuditEvent.case_id == case_id).order_by(AuditEvent.seq.desc()).limit(1)
    return db_session.scalars(stmt).first()


def head(*, db_session: Session, case_id: int) -> tuple[int, str]:
    """The chain head kept on the case row: the last event's seq and hash (0 and GENESIS before any).

    On PostgreSQL the case row is locked until the transaction ends, so two writers of one case's
    trail take turns (on SQLite, ``BEGIN IMMEDIATE`` already serialises writers).
    """
    stmt = select(Case.audit_seq, Case.audit_head).where(Case.id == case_id)
    if db_session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    seq, hash_ = db_session.execute(stmt).one()
    return seq, hash_


def canonical_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload as the database gives it back (JSON round trip): what the hash must cover."""
    return json.loads(json.dumps(payload, ensure_ascii=False, default=str))  # type: ignore[no-any-return]


def insert_event(*, db_session: Session, case_id: int, seq: int, prev_hash: str, hash: str, at: datetime,
                 actor: str, actor_role: str, event: str, from_state: str | None, to_state: str, version: int,
                 payload: dict[str, Any]) -> None:
    """One INSERT of event ``seq``, its hash computed by the caller (:func:`event_hash`).

    The caller moves the chain head on the case row (``audit_seq``, ``audit_head``) in the same
    transaction — the transition service in its own UPDATE of the case, :func:`append` with an
    UPDATE that leaves the case's version alone. ``uq_audit_case_seq`` refuses a second event with
    the same number, should a writer ever skip the head.
    """
    db_session.connection().execute(_INSERT, {
        "case_id": case_id, "seq": seq, "at": at, "actor": actor, "actor_role": actor_role, "event": event,
        "from_state": from_state, "to_state": to_state, "version": version, "payload": payload,
        "prev_hash": prev_hash, "hash": hash})


_INSERT = insert(cast(Table, AuditEvent.__table__))


def append(*, db_session: Session, case_id: int, case_no: str, at: datetime, actor: str, actor_role: str,
           event: str, from_state: str | None, to_state: str, version: int,
           payload: dict[str, Any]) -> AuditEvent:
    """Append an event that is not a transition (a file attached, a result copied, a reassignment)."""
    prev_seq, prev_hash = head(db_session=db_session, case_id=case_id)
    seq = prev_seq + 1
    payload = canonical_payload(payload)
    row = AuditEvent(
        case_id=case_id, seq=seq, at=at, actor=actor, actor_role=actor_role, event=event,
        from_state=from_state, to_state=to_state, version=version, payload=payload, prev_hash=prev_hash,
        hash=event_hash(case_no=case_no, seq=seq, at=at, actor=actor, actor_role=actor_role, event=event,
                        from_state=from_state, to_state=to_state, version=version, payload=payload,
                        prev_hash=prev_hash),
    )
    db_session.add(row)
    db_session.flush()
    db_session.execute(update(Case).where(Case.id == case_id).values(audit_seq=seq, audit_head=row.hash)
                       .execution_options(synchronize_session=False))
    case = db_session.identity_map.get(identity_key(Case, case_id))
    if isinstance(case, Case):  # keep a loaded row in step without marking it changed (no version bump)
        set_committed_value(case, "audit_seq", seq)
        set_committed_value(case, "audit_head", row.hash)
    return row


def append_many(*, db_session: Session, events: list[dict[str, Any]], chunk: int = 1000,
                plain_payloads: bool = False) -> int:
    """:func:`append` for many cases at once (one event each), with the same hashing and chaining.

    Each item has the keyword arguments of :func:`append`. The previous event of each case is read in
    one query per ``chunk`` and the rows are written with one executemany, so a system event on
    100,000 cases (a calendar recompute) costs a few statements, not 200,000. Events for the same case
    in one call are chained in order. ``plain_payloads``: the caller promises the payloads hold only
    str/int/bool/None in dicts and lists, so the JSON round trip (which makes the hash cover exactly
    what the database keeps) is the identity and is skipped.
    """
    # Every chain head first (on the case row: ``audit_seq``, ``audit_head``), then every insert.
    heads: dict[int, tuple[int, str]] = {}
    ids = list(dict.fromkeys(e["case_id"] for e in events))
    for i in range(0, len(ids), chunk):
        part_ids = ids[i:i + chunk]
        heads.update({cid: (seq or 0, h or GENESIS) for cid, seq, h in db_session.connection().execute(
            select(Case.id, Case.audit_seq, Case.audit_head).where(Case.id.in_(part_ids)))})
    table = cast(Table, AuditEvent.__table__)
    written = 0
    for i in range(0, len(events), chunk):
        rows = []
        for e in events[i:i + chunk]:
            seq, prev_hash = heads.get(e["case_id"], (0, GENESIS))
            seq += 1
            payload = e["payload"] if plain_payloads else json.loads(json.dumps(e["payload"], ensure_ascii=False,
                                                                                default=str))
            h = event_hash(case_no=e["case_no"], seq=seq, at=e["at"], actor=e["actor"], actor_role=e["actor_role"],
                           event=e["event"], from_state=e["from_state"], to_state=e["to_state"],
                           version=e["version"], payload=payload, prev_hash=prev_hash)
            rows.append(dict(case_id=e["case_id"], seq=seq, at=e["at"], actor=e["actor"], actor_role=e["actor_role"],
                             event=e["event"], from_state=e["from_state"], to_state=e["to_state"],
                             version=e["version"], payload=payload, prev_hash=prev_hash, hash=h))
            heads[e["case_id"]] = (seq, h)
        if rows:
            db_session.connection().execute(insert(table), rows)  # Core: no ORM bookkeeping
            written += len(rows)
    # The chain heads move on the case rows in the same transaction, as :func:`append` does.
    cases = cast(Table, Case.__table__)
    moved = [{"p_id": cid, "p_seq": heads[cid][0], "p_head": heads[cid][1]} for cid in ids if cid in heads]
    for i in range(0, len(moved), chunk):
        db_session.connection().execute(
            update(cases).where(cases.c.id == bindparam("p_id"))
            .values(audit_seq=bindparam("p_seq"), audit_head=bindparam("p_head")), moved[i:i + chunk])
    return written


def list_events(*, db_session: Session, case_id: int) -> list[AuditEvent]:
    return list(db_session.scalars(select(AuditEvent).where(AuditEvent.case_id == case_id)
                                   .order_by(AuditEvent.seq)))


def verify_chain(*, db_session: Session, case_id: int, case_no: str) -> list[str]:
    """Every problem found in the chain; empty means intact.

    Each event must be numbered in turn, link to the one before and hash to what it says; the last
    one must be the head kept on the case row, so a trail cut short at its end shows too.
    """
    problems: list[str] = []
    prev_hash = GENESIS
    events = list_events(db_session=db_session, case_id=case_id)
    for expected_seq, ev in enumerate(events, start=1):
        if ev.seq != expected_seq:
            problems.append(f"audit event #{expected_seq} is missing (found #{ev.seq})")
        if ev.prev_hash != prev_hash:
            problems.append(f"audit event #{ev.seq}: link to the previous event is broken")
        recomputed = event_hash(case_no=case_no, seq=ev.seq, at=ev.at, actor=ev.actor,
                                actor_role=ev.actor_role, event=ev.event, from_state=ev.from_state,
                                to_state=ev.to_state, version=ev.version, payload=ev.payload,
                                prev_hash=ev.prev_hash)
        if recomputed != ev.hash:
            problems.append(f"audit event #{ev.seq} ({ev.event}) was altered: its hash does not match")
        prev_hash = ev.hash
    head_seq, head_hash = db_session.execute(
        select(Case.audit_seq, Case.audit_head).where(Case.id == case_id)).one()
    last_seq = events[-1].seq if events else 0
    if (head_seq, head_hash) != (last_seq, prev_hash):
        problems.append(f"the audit trail ends at #{last_seq}, but the case row's chain head is #{head_seq}: "
                        "events were removed or added outside the system")
    return problems
