"""Catalog exchange: B publishes the items of the zone it hosts, signed; A imports them, so A's clerks
pick B's new item without anyone retyping it. A catalog naming a zone the peer does not host is refused."""

from __future__ import annotations

import json
from pathlib import Path

from tests.federation.pairing import Pair


def test_a_imports_the_item_b_published(pair: Pair, tmp_path: Path) -> None:
    a, b = pair.a, pair.b
    new_item = {"items": [{"code": "FED-001", "name": "跨系统新增事项", "zone": "TJ-TEDA", "promised_days": 5,
                           "same_standard": True,
                           "materials": [{"name": "申请书"}, {"name": "营业执照", "form": "复印件"}]}]}
    path = b.home / "new-item.json"
    path.write_text(json.dumps(new_item, ensure_ascii=False), encoding="utf-8")
    b.cli("catalog", "import", str(path))
    assert not [i for i in a.api("GET", "/api/v1/items", "bj_clerk", params={"q": "FED-001"}).json()
                if i["code"] == "FED-001"]
    out = a.cli("peer", "import-catalog", "TJ")
    assert "TJ-TEDA/FED-001" in out.stdout, out.stdout
    found = [i for i in a.api("GET", "/api/v1/items", "bj_clerk", params={"q": "FED-001"}).json()
             if i["code"] == "FED-001"]
    assert len(found) == 1 and found[0]["handling_zone"] == "TJ-TEDA" and found[0]["promised_days"] == 5
    assert [m["name"] for m in found[0]["materials"]] == ["申请书", "营业执照"]
    # B's own zones only: A's catalog (BJ-ETOWN) is not B's to publish, so it is not in the document.
    published = json.loads(__import__("httpx").get(f"{b.base}/federation/v1/catalog", timeout=30).text)
    assert {i["zone"] for i in published["signed"]["items"]} == {"TJ-TEDA"}


def test_a_catalog_for_a_zone_the_peer_does_not_host_is_refused(pair: Pair) -> None:
    from federation.catalog import import_catalog
    from federation.envelope import Refused, sign_part
    from federation.models import Peer, PeerKey
    from tests.federation.crafted import identity_of

    tj = identity_of(pair.b)
    doc = sign_part(tj, {"protocol": "tongban-federation/1", "type": "catalog", "sender": "TJ", "created_at": "x",
                         "zones": [], "items": [{"code": "X-1", "name": "冒名事项", "zone": "BJ-ETOWN",
                                                 "promised_days": 1, "materials": [{"name": "申请书"}]}]})
    peer = Peer(peer_id="TJ", zone_codes=["TJ-TEDA"], base_url="http://x",
                keys=[PeerKey(key_id=k.key_id, public_key=k.public_key, valid_from=None) for k in tj.keys])
    try:
        import_catalog(db_session=None, peer=peer, document=doc)  # type: ignore[arg-type]
    except Refused as exc:
        assert exc.code.value == "zone_not_hosted"
    else:
        raise AssertionError("a catalog for BJ-ETOWN signed by TJ was accepted")
