"""Catalog exchange (事项目录交换): a deployment publishes the items of the zones it hosts, signed; a peer
imports them, so its clerks pick the other zone's items (code, materials, promised days) without
anyone retyping them, and its 同事同标 report compares the catalogs of both deployments.

Only items of zones the publishing peer hosts are taken (a peer cannot rewrite our own catalog or a
third deployment's), and only when the document verifies under one of the peer's keys.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from federation import keys
from federation import service as peers
from federation.enums import Refusal
from federation.envelope import Refused, now_text, sign_part, signature_ok
from federation.models import Peer
from storage.catalog import service as catalog
from storage.catalog.models import Item
from storage.zone.models import Zone


def _spec(item: Item) -> dict[str, Any]:
    return {"code": item.code, "name": item.name, "zone": item.zone.code, "promised_days": item.promised_days,
            "step_targets": dict(item.step_targets or {}), "result_delivery": item.result_delivery,
            "mail_side": item.mail_side, "same_standard": item.same_standard,
            "materials": [{"name": m.name, "form": m.form, "copies": m.copies, "required": m.required}
                          for m in item.materials]}


def published(*, db_session: Session, ident: keys.Identity) -> dict[str, Any]:
    """Our catalog: active items of the zones no peer hosts (ours), signed."""
    hosted_elsewhere = {z for p in peers.list_peers(db_session=db_session) for z in p.zone_codes}
    items = [i for i in db_session.scalars(select(Item).where(Item.active.is_(True)).order_by(Item.code)).unique()
             if i.zone.code not in hosted_elsewhere]
    zones = {i.zone.code: i.zone.name for i in items}
    return sign_part(ident, {"protocol": "tongban-federation/1", "type": "catalog", "sender": ident.deployment_id,
                             "created_at": now_text(),
                             "zones": [{"code": c, "name": n} for c, n in sorted(zones.items())],
                             "items": [_spec(i) for i in items]})


def import_catalog(*, db_session: Session, peer: Peer, document: dict[str, Any]) -> list[Item]:
    """Verify and import a peer's published catalog; refusals change nothing (the caller rolls back)."""
    signed, sig = document.get("signed"), str(document.get("signature", ""))
    if not isinstance(signed, dict) or signed.get("type") != "catalog" or signed.get("sender") != peer.peer_id:
        raise Refused(Refusal.malformed, f"not a catalog published by {peer.peer_id}")
    key = next((k for k in peer.keys if k.key_id == signed.get("key_id")), None)
    if key is None:
        raise Refused(Refusal.unknown_key, f"the catalog is signed with a key of {peer.peer_id} not registered here")
    if not signature_ok(key.public_key, signed, sig):
        raise Refused(Refusal.bad_signature, "the catalog's signature does not verify")
    names = {str(z.get("code")): str(z.get("name", "")) for z in signed.get("zones", [])}
    out = []
    for i, raw in enumerate(signed.get("items", [])):
        try:
            spec = catalog.ItemSpec.model_validate(raw)
        except ValueError as exc:
            raise Refused(Refusal.malformed, f"item #{i + 1}: {exc}") from exc
        if spec.zone not in peer.zone_codes:
            raise Refused(Refusal.zone_not_hosted, f"item {spec.code}: {peer.peer_id} does not host zone {spec.zone}")
        if db_session.scalars(select(Zone).where(Zone.code == spec.zone)).first() is None:
            db_session.add(Zone(code=spec.zone, name=names.get(spec.zone) or spec.zone))
            db_session.flush()
        out.append(catalog.upsert_item(db_session=db_session, spec=spec))
    return out
