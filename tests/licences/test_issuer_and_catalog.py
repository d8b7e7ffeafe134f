"""The issuing authority's wire format as a verifier sees it, the catalog's e-licence column, and the
registration of an issuer from the command line."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from licences.adapters import HttpIssuer, IssuerUnreachable
from licences.signing import fingerprint, signature_valid
from storage.catalog import service as catalog
from storage.catalog.models import Item
from storage.db import transaction
from tests.app_harness import Tongban
from tests.licences import support
from tests.licences.support import GOOD, IssuerProcess
from web.cli import app
from web.ui.routes.admin import _parse_materials


def test_the_issuer_publishes_its_key_and_signs_licences_and_its_revocation_list(
        licence_issuer: IssuerProcess) -> None:
    about = httpx.get(f"{licence_issuer.endpoint}/.well-known/licence-issuer").json()
    assert about["code"] == support.ISSUER and about["algorithm"] == "Ed25519"
    assert about["public_key"] == licence_issuer.public_key and about["key_id"] == fingerprint(about["public_key"])
    source = HttpIssuer(licence_issuer.endpoint)
    doc = source.fetch("yyzz", GOOD)
    assert signature_valid("licence", doc, licence_issuer.public_key)
    revocations = source.revocations()
    assert signature_valid("revocations", revocations, licence_issuer.public_key)
    assert [e["number"] for e in revocations["revocations"]["entries"]] == [support.REVOKED]
    assert httpx.get(f"{licence_issuer.endpoint}/licences", params={"type": "yyzz"}).status_code == 400


def test_the_signature_covers_the_canonical_form_not_the_layout(licence_issuer: IssuerProcess) -> None:
    doc = HttpIssuer(licence_issuer.endpoint).fetch("yyzz", GOOD)
    reordered = {"signature": doc["signature"],
                 "licence": dict(reversed(list(doc["licence"].items())))}  # same content, other key order
    assert signature_valid("licence", json.loads(json.dumps(reordered, indent=4)), licence_issuer.public_key)
    for path, value in [(("number",), "TJYZ-2020-000009"), (("valid_until",), "2099-12-31"),
                        (("holder", "id_number"), support.OTHER_USCC), (("fields", "法定代表人"), "李四")]:
        changed: Any = copy.deepcopy(doc)
        target = changed["licence"]
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        assert not signature_valid("licence", changed, licence_issuer.public_key), path
    other_key = "A" * 43 + "="
    assert not signature_valid("licence", doc, other_key)


def test_an_issuer_that_does_not_answer_is_unreachable(licence_issuer: IssuerProcess) -> None:
    with pytest.raises(IssuerUnreachable):
        HttpIssuer(licence_issuer.dead_endpoint, timeout=2).fetch("yyzz", GOOD)


def test_catalog_import_takes_the_e_licence_type_by_name_and_refuses_an_unknown_one(
        tb_sqlite_fs: Tongban, tmp_path: Path) -> None:
    good = tmp_path / "catalog.json"
    materials = [{"name": "申请书"}, {"name": "食品经营许可证", "e_licence": "食品经营许可证"}]
    good.write_text(json.dumps({"items": [{"code": "DZZZ-002", "name": "食品经营许可延续", "zone": "TJ-TEDA",
                                           "promised_days": 5, "materials": materials}]}, ensure_ascii=False),
                    encoding="utf-8")
    with transaction(tb_sqlite_fs.runtime.session_factory) as s:
        [item] = catalog.import_file(db_session=s, path=good)
        assert [m.e_licence for m in item.materials] == [None, "spjyxkz"]
    bad = tmp_path / "bad.json"
    bad.write_text(good.read_text(encoding="utf-8").replace("食品经营许可证\"}", "驾驶证\"}"), encoding="utf-8")
    with pytest.raises(catalog.CatalogError, match="DZZZ-002: 食品经营许可证：未知的电子证照类型“驾驶证”"), \
            transaction(tb_sqlite_fs.runtime.session_factory) as s:
        catalog.import_file(db_session=s, path=bad)
    with transaction(tb_sqlite_fs.runtime.session_factory) as s:  # nothing of the refused file was kept
        item = s.get(Item, item.id)
        assert item is not None and [m.e_licence for m in item.materials] == [None, "spjyxkz"]


def test_the_admin_materials_text_takes_the_e_licence_type_as_a_fifth_column() -> None:
    assert _parse_materials("营业执照副本 | 复印件 | 1 | 必交 | 营业执照\n申请书 | 原件") == [
        {"name": "营业执照副本", "form": "复印件", "copies": "1", "required": True, "e_licence": "营业执照"},
        {"name": "申请书", "form": "原件"},
    ]


def _run(home: Path, *args: str) -> Any:
    env = {"TONGBAN_HOME": str(home), "TONGBAN_DATABASE_URL": "", "TONGBAN_STORAGE_URL": "", "TONGBAN_MODE": "embedded"}
    return CliRunner().invoke(app, list(args), env=env)


def test_an_administrator_registers_an_issuer_from_the_command_line(
        tmp_path: Path, licence_issuer: IssuerProcess) -> None:
    home = tmp_path / "home"
    assert _run(home, "db", "upgrade").exit_code == 0
    bad = _run(home, "licence", "register-issuer", "TJ-SCJG", "--endpoint", licence_issuer.endpoint,
               "--name", support.ISSUER_NAME, "--public-key", "bm90IGEga2V5", "--types", "yyzz")
    assert bad.exit_code == 1 and "公钥无效" in bad.stderr
    ok = _run(home, "licence", "register-issuer", "TJ-SCJG", "--endpoint", licence_issuer.endpoint,
              "--name", support.ISSUER_NAME, "--public-key", licence_issuer.public_key, "--types", "yyzz,营业执照")
    assert ok.exit_code == 0, ok.output
    assert licence_issuer.key_id in ok.stdout
    types = _run(home, "licence", "types").stdout.splitlines()
    assert "yyzz\t营业执照\tenterprise\tTJ-SCJG" in types
    names = {line.split("\t")[1] for line in types}
    assert names >= {"营业执照", "不动产权证书", "特种设备作业人员证", "食品经营许可证", "居民身份证"}
