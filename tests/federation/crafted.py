"""Messages a test signs itself with a deployment's real key (read from its key directory): a peer
that is early, late, replays, or whose clock is off — and blobs uploaded the way a peer does."""

from __future__ import annotations

import hashlib
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from federation import keys
from federation.envelope import Message, seal
from federation.transfer import PeerAddress, upload_blob
from storage.objects.filesystem import FilesystemStore
from tests.app_harness import USCC, make_pdf
from tests.federation.deployments import Deployment


def identity_of(d: Deployment) -> keys.Identity:
    ident = keys.load(d.home / "federation")
    assert ident is not None
    return ident


def stranger(tmp: Path, claims_to_be: str) -> keys.Identity:
    """A key nobody registered, under a registered peer's name."""
    ident, _ = keys.init(tmp / f"stranger-{uuid.uuid4().hex[:6]}", claims_to_be)
    return ident


def post(to: Deployment, msg: Message) -> httpx.Response:
    return httpx.post(f"{to.base}/federation/v1/messages", json=msg.as_json(), timeout=60)


def upload(ident: keys.Identity, to: Deployment, recipient: str, data: bytes, tmp: Path) -> dict[str, Any]:
    store = FilesystemStore(tmp / "crafted-store")
    sha = hashlib.sha256(data).hexdigest()
    key = f"crafted/{sha}"
    store.put_bytes(key, data)
    upload_blob(store=store, ident=ident, peer=PeerAddress(recipient, to.base), object_key=key, sha256=sha,
                size=len(data), chunk_bytes=64 * 1024)
    return {"sha256": sha, "size": len(data)}


def transfer_message(ident: keys.Identity, to: Deployment, recipient: str, tmp: Path, *, case_ref: str | None = None,
                     created_at: datetime | None = None, seq: int = 1,
                     uploader: keys.Identity | None = None) -> Message:
    """A transfer of a new case of QY-001 (TJ-TEDA), every material on paper, one scan (its blobs uploaded
    by ``uploader``, by default the signer)."""
    scan = make_pdf(f"扫描件 {uuid.uuid4().hex[:6]}")
    packet = make_pdf("材料包", 2) + os.urandom(8)
    manifest = b'{"crafted": true, "n": "' + uuid.uuid4().hex.encode() + b'"}'
    blobs = [upload(uploader or ident, to, recipient, x, tmp) for x in (scan, packet, manifest)]
    now = datetime.now(UTC)
    case_ref = case_ref or f"BJETOWN-{now:%Y%m%d}-9{uuid.uuid4().int % 10**4:04d}"
    body = {
        "case": {"case_no": case_ref, "version": 4, "state": "prechecked",
                 "item": {"code": "QY-001", "name": "企业档案查询", "zone": "TJ-TEDA", "promised_days": 3},
                 "receiving_zone": {"code": "BJ-ETOWN", "name": "北京经济技术开发区"}, "handling_zone": "TJ-TEDA",
                 "applicant": {"kind": "enterprise", "name": "天津测试科技有限公司", "id_number": USCC,
                               "phone": "13812345678", "address": "天津市滨海新区第三大街1号"},
                 "delivery_method": "mail", "delivery_address": "天津市滨海新区第三大街1号",
                 "received_at": (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "due_at": None,
                 "paused_since": None,
                 "materials": [{"position": p, "name": f"材料{p}", "required": True, "provided": True,
                                "paper_received": True} for p in range(1, 8)]},
        "files": [{**blobs[0], "filename": "扫描件.pdf", "kind": "pdf", "pages": 1, "material": "材料1",
                   "material_position": 1}],
        "packet": {**blobs[1], "pages": 2, "filename": f"转递材料包-{case_ref}.pdf"},
        "manifest": {**blobs[2], "filename": f"manifest-{case_ref}.json"},
        "chain_head": {"seq": 3, "hash": "0" * 64},
        "blobs": blobs,
    }
    return seal(ident, message_id=str(uuid.uuid4()), recipient=recipient, case_ref=case_ref, type="transfer", seq=seq,
                body=body, created_at=created_at)


def event_message(ident: keys.Identity, recipient: str, case_ref: str, seq: int, event: str, role: str,
                  payload: dict[str, Any] | None = None, created_at: datetime | None = None) -> Message:
    body = {"event": event, "actor": "crafted", "actor_role": role, "at": datetime.now(UTC).isoformat(),
            "version": 0, "payload": payload or {}, "blobs": []}
    return seal(ident, message_id=str(uuid.uuid4()), recipient=recipient, case_ref=case_ref, type="event", seq=seq,
                body=body, created_at=created_at)


def resign(ident: keys.Identity, msg: Message, created_at: datetime) -> Message:
    """The same message (id, seq, body) signed again at another time."""
    env = msg.envelope
    return seal(ident, message_id=env["message_id"], recipient=env["recipient"], case_ref=env["case_ref"],
                type=env["type"], seq=env["seq"], body=msg.body, created_at=created_at)
