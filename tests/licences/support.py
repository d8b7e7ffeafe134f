"""The demo issuing authority as a real process on loopback, and a catalog item whose lines accept e-licences.

One register holds a licence for each story: good, expired, revoked, someone else's, tampered on its
way, and one that names an authority tongban never registered. A second registered issuer (食品经营许可证)
points at a port nothing listens on: the issuer that cannot be reached.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from licences import service as e_licence
from storage.catalog import service as catalog
from storage.db import transaction
from tests import servers
from tests.app_harness import USCC

ITEM = "DZZZ-001"
ISSUER = "TJ-SCJG"
ISSUER_NAME = "天津市市场监督管理委员会"
FOOD_ISSUER = "TJ-SPJG"
#: Another (valid) enterprise: the holder of a licence that is not the applicant's.
OTHER_USCC = "91110000MA01234567"

GOOD = "TJYZ-2020-000001"
EXPIRED = "TJYZ-2010-000002"
REVOKED = "TJYZ-2019-000003"
OTHERS = "TJYZ-2021-000004"
TAMPERED = "TJYZ-2022-000005"
FOREIGN = "TJYZ-2023-000006"
MISSING = "TJYZ-9999-999999"
FOOD = "JY11201160000007"
HOLDER = "天津测试科技有限公司"


def _licence(number: str, holder_id: str = USCC, **extra: object) -> dict[str, object]:
    return {"type": "yyzz", "type_name": "营业执照", "number": number,
            "holder": {"name": HOLDER, "id_number": holder_id, "kind": "enterprise"},
            "valid_from": "2020-03-01", "valid_until": None, "issued_on": "2020-03-01",
            "fields": {"法定代表人": "张三", "住所": "天津经济技术开发区第三大街1号", "注册资本": "500万元人民币"},
            **extra}


REGISTER = {
    "issuer": {"code": ISSUER, "name": ISSUER_NAME, "authority": "天津市"},
    "licences": [
        _licence(GOOD), _licence(EXPIRED, valid_from="2010-01-01", valid_until="2025-12-31"), _licence(REVOKED),
        _licence(OTHERS, holder_id=OTHER_USCC), _licence(TAMPERED, tampered=True),
        _licence(FOREIGN, claims_issuer="HB-SCJG"),
    ],
    "revoked": [{"type": "yyzz", "number": REVOKED, "revoked_on": "2026-06-01", "reason": "吊销营业执照"}],
}


@dataclass(frozen=True)
class IssuerProcess:
    endpoint: str
    public_key: str
    key_id: str
    dead_endpoint: str


def start_issuer(home: Path) -> Iterator[IssuerProcess]:
    register = home / "register.json"
    register.write_text(json.dumps(REGISTER, ensure_ascii=False), encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "licences.issuer", "--register", str(register),
                             "--key", str(home / "issuer-key.pem"), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the licence issuer did not start (exit {proc.wait(timeout=10)})")
        about = json.loads(line)
        yield IssuerProcess(endpoint=about["endpoint"], public_key=about["public_key"], key_id=about["key_id"],
                            dead_endpoint=f"http://127.0.0.1:{servers.free_port()}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


MATERIALS = [
    {"name": "变更登记申请书", "form": "原件"},
    {"name": "营业执照副本", "form": "复印件", "e_licence": "yyzz"},
    {"name": "食品经营许可证", "form": "复印件", "e_licence": "食品经营许可证"},
    {"name": "不动产权证书", "form": "复印件", "required": False, "e_licence": "bdcqzs"},
]


def set_up(session_factory: sessionmaker[Session], issuer: IssuerProcess) -> None:
    """Register the two issuers with their keys and publish the item (idempotent: shared servers)."""
    with transaction(session_factory) as s:
        e_licence.register_issuer(db_session=s, code=ISSUER, name=ISSUER_NAME, authority="天津市",
                                  public_key=issuer.public_key, endpoint=issuer.endpoint, types=["yyzz"])
        e_licence.register_issuer(db_session=s, code=FOOD_ISSUER, name="天津市食品经营许可服务", authority="天津市",
                                  public_key=issuer.public_key, endpoint=issuer.dead_endpoint,
                                  types=["spjyxkz"])
        catalog.upsert_item(db_session=s, spec=catalog.ItemSpec.model_validate(
            {"code": ITEM, "name": "电子证照示例事项", "zone": "TJ-TEDA", "promised_days": 5, "materials": MATERIALS}))
