"""Append and check the per-case hash chain (审计链)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, func, insert, select
from sqlalchemy.orm import Session

from storage.audit.models import AuditEvent

GENESIS = "0" * 64


def event_hash(*, case_no: str, seq: int, at: datetime, actor: str, actor_role: str, event: str,
               from_state: str | None, to_state: str, version: int, payload: dict[str, Any],
               prev_hash: str) -> str:
    """Canonical JSON of everything that matters, chained to the previous event's hash."""
    body = {
        "case_no": case_no, "seq": seq, "at": at.isoformat(timespec="microseconds"), "actor": actor,
        "actor_role": actor_role, "event": event, "from": from_state, "to": to_state,
        "version": version, "payload": payload, "prev": prev_hash,
    }
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def last_event(*, db_session: Session, case_id: int) -> AuditEvent | None:
    stmt = select(AuditEvent).where(AuditEvent.case_id == case_id).order_by(AuditEvent.seq.desc()).limit(1)
    return db_session.scalars(stmt).first()


def append(*, db_session: Session, case_id: int, case_no: str, at: datetime, actor: str, actor_role: str,
           event: str, from_state: str | None, to_state: str, version: int,
           payload: dict[str, Any]) -> AuditEvent:
    prev = last_event(db_session=db_session, case_id=case_id)
    seq = prev.seq + 1 if prev else 1
    prev_hash = prev.hash if prev else GENESIS
    # Round-trip the payload through JSON so the hash covers exactly what the database keeps.
    payload = json.loads(json.dumps(payload, ensure_ascii=False, default=str))
    row = AuditEvent(
        case_id=case_id, seq=seq, at=at, actor=actor, actor_role=actor_role, event=event,
        from_state=from_state, to_state=to_state, version=version, payload=payload, prev_hash=prev_hash,
        hash=event_hash(case_no=case_no, seq=seq, at=at, actor=actor, actor_role=actor_role, event=event,
                        from_state=from_state, to_state=to_state, version=version, payload=payload,
                        prev_hash=prev_hash),
    )
    db_session.add(row)
    db_session.flush()
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
    # Every chain head first, then every insert: the lookups never read rows this call wrote (on
    # PostgreSQL a growing, un-analysed audit_events would otherwise turn them into scans).
    heads: dict[int, tuple[int, str]] = {}
    ids = list(dict.fromkeys(e["case_id"] for e in events))
    for i in range(0, len(ids), chunk):
        part_ids = ids[i:i + chunk]
        last_seq = (select(AuditEvent.case_id, func.max(AuditEvent.seq).label("seq"))
                    .where(AuditEvent.case_id.in_(part_ids)).group_by(AuditEvent.case_id).subquery())
        heads.update({cid: (seq, h) for cid, seq, h in db_session.connection().execute(
            select(AuditEvent.case_id, AuditEvent.seq, AuditEvent.hash)
            .join(last_seq, (AuditEvent.case_id == last_seq.c.case_id) & (AuditEvent.seq == last_seq.c.seq)))})
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
    return written


def list_events(*, db_session: Session, case_id: int) -> list[AuditEvent]:
    return list(db_session.scalars(select(AuditEvent).where(AuditEvent.case_id == case_id)
                                   .order_by(AuditEvent.seq)))


def verify_chain(*, db_session: Session, case_id: int, case_no: str) -> list[str]:
    """Every problem found in the chain; empty means intact."""
    problems: list[str] = []
    prev_hash = GENESIS
    for expected_seq, ev in enumerate(list_events(db_session=db_session, case_id=case_id), start=1):
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
    return problems
