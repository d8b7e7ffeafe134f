"""Checks of a shared case: the peer's signed receipts (``tongban verify``) and both histories
(``tongban federation verify``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from federation import service as peers
from federation.enums import Direction, InStatus, OutStatus
from federation.envelope import signature_ok


def check_receipts(*, db_session: Session, case_id: int) -> tuple[int, list[str]]:
    """(receipts checked, problems): each acknowledged message's receipt verifies under a key of the peer,
    names the message, and lists every file hash the message named."""
    problems, checked = [], 0
    for m in peers.messages_of_case(db_session=db_session, case_id=case_id):
        if m.direction != Direction.outgoing or m.status != OutStatus.acknowledged:
            continue
        checked += 1
        receipt = m.receipt or {}
        signed, sig = receipt.get("signed") or {}, str(receipt.get("signature", ""))
        peer = peers.get_peer(db_session=db_session, peer_id=m.peer_id)
        key = next((k for k in (peer.keys if peer else []) if k.key_id == signed.get("key_id")), None)
        if key is None:
            problems.append(f"receipt of message {m.message_id} ({m.event}): signed with a key of {m.peer_id} "
                            "that is not registered here")
            continue
        if not signature_ok(key.public_key, signed, sig):
            problems.append(f"receipt of message {m.message_id} ({m.event}): the signature does not verify")
            continue
        if signed.get("message_id") != m.message_id or signed.get("body_sha256") != m.envelope.get("body_sha256"):
            problems.append(f"receipt of message {m.message_id}: names another message")
        named = {b["sha256"] for b in m.body.get("blobs", [])}
        missing = named - {v["sha256"] for v in signed.get("verified", [])}
        if missing:
            problems.append(f"receipt of message {m.message_id}: {len(missing)} file(s) not confirmed by {m.peer_id}")
    return checked, problems


@dataclass
class Comparison:
    peer_id: str
    remote_case_no: str = ""
    messages: int = 0
    lines: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(line.startswith("DIFFERS") for line in self.lines)


def compare_with_peer(runtime: Any, case_no: str) -> Comparison:
    """Ask the peer for its signed side of the case; the same state, and every message seen by both."""
    from federation import receive
    from federation.envelope import token
    from federation.transfer import _call, identity
    from states.transition.service import get_case
    from storage.db import transaction

    with transaction(runtime.session_factory) as s:
        case = get_case(db_session=s, case_no=case_no)
        link = peers.link_of_case(db_session=s, case_id=case.id)
        if link is None:
            raise LookupError(f"case {case_no} is not shared with a peer deployment")
        peer = peers.get_peer(db_session=s, peer_id=link.peer_id)
        if peer is None:
            raise LookupError(f"peer {link.peer_id} of case {case_no} is no longer registered")
        ours = receive.chain_head(runtime, peer, s, link.case_ref)["signed"]
        base, peer_id, case_ref = peer.base_url, peer.peer_id, link.case_ref
    ident = identity(runtime.settings)
    answer = _call("GET", f"{base}/federation/v1/cases/{case_ref}/head",
                   headers={"X-Tongban-Token": token(ident, recipient=peer_id, purpose="head", case_ref=case_ref)})
    out = Comparison(peer_id)
    with transaction(runtime.session_factory) as s:
        peer = peers.get_peer(db_session=s, peer_id=peer_id)
        assert peer is not None
        theirs, sig = answer.get("signed") or {}, str(answer.get("signature", ""))
        key = next((k for k in peer.keys if k.key_id == theirs.get("key_id")), None)
        if key is None or not signature_ok(key.public_key, theirs, sig):
            out.lines.append(f"DIFFERS  the answer of {peer_id} is not signed by a key registered here")
            return out
    out.remote_case_no = str(theirs.get("case_no", ""))
    head = theirs.get("chain_head", {})
    out.lines.append(f"signed by {peer_id}: {out.remote_case_no} in state {theirs.get('state')}, chain head "
                     f"#{head.get('seq')} {str(head.get('hash'))[:12]}…")
    if theirs.get("state") != ours["state"]:
        out.lines.append(f"DIFFERS  state: here {ours['state']}, at {peer_id} {theirs.get('state')}")
    mine = {(m["message_id"], m["direction"]): m for m in ours["messages"]}
    other = {(m["message_id"], m["direction"]): m for m in theirs.get("messages", [])}
    flip = {"out": "in", "in": "out"}
    for (mid, direction), m in mine.items():
        out.messages += 1
        counterpart = other.get((mid, flip[direction]))
        if counterpart is None:
            out.lines.append(f"DIFFERS  message {mid} ({m['event']}, {direction}) unknown at {peer_id}")
        elif direction == "out" and m["status"] == OutStatus.acknowledged and counterpart["status"] != InStatus.applied:
            out.lines.append(f"DIFFERS  message {mid} ({m['event']}) acknowledged here but "
                             f"{counterpart['status']} there")
        elif counterpart.get("body_sha256") and m.get("body_sha256") and counterpart["body_sha256"] != m["body_sha256"]:
            out.lines.append(f"DIFFERS  message {mid} ({m['event']}) has another body there")
        elif direction == "out" and m["status"] != OutStatus.acknowledged:
            out.lines.append(f"waiting  message {mid} ({m['event']}) not yet acknowledged")
    for (mid, direction), m in other.items():
        if (mid, flip[direction]) not in mine:
            out.messages += 1
            out.lines.append(f"DIFFERS  message {mid} ({m['event']}) of {peer_id} unknown here")
    return out
