"""Tamper-evident trail (docs/architecture.md#audit): change a stored file or an audit row behind the system's
back, and ``GET /verify`` and ``tongban verify CASE_NO`` say so, naming the file or the event.

"Behind the back" means without any tongban code: the file is rewritten on disk (filesystem
store) or with a plain boto3 ``put_object`` (S3 store); audit rows are changed with raw SQL.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from typer.testing import CliRunner

from tests.app_harness import Tongban, make_pdf
from tests.servers import raw_s3_client
from tests.web.drive import case, cases_in, ok, receive, send, sql
from web.cli import app as cli


def overwrite_object(tb: Tongban, key: str, data: bytes) -> None:
    url = urlparse(tb.runtime.settings.resolved_storage_url())
    if url.scheme == "file":
        (Path(url.path) / key).write_bytes(data)
    else:
        endpoint = parse_qs(url.query)["endpoint_url"][0]
        raw_s3_client(endpoint).put_object(Bucket=url.netloc, Key=key, Body=data)


def delete_object(tb: Tongban, key: str) -> None:
    url = urlparse(tb.runtime.settings.resolved_storage_url())
    if url.scheme == "file":
        (Path(url.path) / key).unlink()
    else:
        endpoint = parse_qs(url.query)["endpoint_url"][0]
        raw_s3_client(endpoint).delete_object(Bucket=url.netloc, Key=key)


def object_key(tb: Tongban, file_id: int) -> str:
    from sqlalchemy import text

    from storage.db import transaction

    with transaction(tb.runtime.session_factory) as s:
        return str(s.execute(text("SELECT object_key FROM stored_files WHERE id = :i"), {"i": file_id}).scalar_one())


def set_payload(tb: Tongban, case_no: str, seq: int, payload: dict[str, Any]) -> None:
    cast = "CAST(:p AS json)" if tb.runtime.engine.dialect.name == "postgresql" else ":p"
    sql(tb, f"UPDATE audit_events SET payload = {cast} WHERE seq = :seq AND case_id = "
            "(SELECT id FROM cases WHERE case_no = :c)", p=json.dumps(payload, ensure_ascii=False), seq=seq, c=case_no)


def verify_api(tb: Tongban, case_no: str) -> dict[str, Any]:
    return ok(tb.client.get(f"/api/v1/cases/{case_no}/verify", headers=tb.h("bj_supervisor")))


def verify_cli(tb: Tongban, case_no: str) -> Any:
    s = tb.runtime.settings
    env = {"TONGBAN_HOME": str(s.home), "TONGBAN_DATABASE_URL": s.resolved_database_url(),
           "TONGBAN_STORAGE_URL": s.resolved_storage_url()}
    return CliRunner().invoke(cli, ["verify", case_no], env=env)


def test_an_untouched_case_verifies_on_the_api_and_the_cli(tb: Tongban) -> None:
    case_no = receive(tb)
    v = verify_api(tb, case_no)
    assert v == {"ok": True, "files_checked": 2, "events_checked": 1, "licences_checked": 0, "problems": []}
    r = verify_cli(tb, case_no)
    assert r.exit_code == 0, r.output
    assert f"{case_no}: OK" in r.output


def test_a_scan_changed_in_the_store_is_reported_by_name(tb: Tongban) -> None:
    case_no = receive(tb, files=[("营业执照.pdf", make_pdf("licence")), ("申请表.pdf", make_pdf("form"))])
    licence = case(tb, case_no)["files"][0]
    overwrite_object(tb, object_key(tb, licence["id"]), make_pdf("a forged licence"))

    v = verify_api(tb, case_no)
    assert v["ok"] is False and len(v["problems"]) == 1
    assert "营业执照.pdf" in v["problems"][0] and f"#{licence['id']}" in v["problems"][0]
    assert "altered" in v["problems"][0]
    r = verify_cli(tb, case_no)
    assert r.exit_code != 0
    assert "营业执照.pdf" in r.output and "TAMPERED" in r.output and "申请表.pdf" not in r.output


def test_a_scan_removed_from_the_store_is_reported_missing(tb: Tongban) -> None:
    case_no = receive(tb)
    f = case(tb, case_no)["files"][1]
    delete_object(tb, object_key(tb, f["id"]))
    v = verify_api(tb, case_no)
    assert v["ok"] is False and f["filename"] in v["problems"][0] and "missing" in v["problems"][0]
    assert verify_cli(tb, case_no).exit_code != 0


def test_an_audit_row_changed_by_sql_is_reported_naming_the_event(tb: Tongban) -> None:
    case_no = receive(tb)
    send(tb, "bj_clerk", case_no, "reject")  # seq 2: reject, with its reason
    assert verify_api(tb, case_no)["ok"] is True
    set_payload(tb, case_no, 2, {"reason": "（改过的理由）"})

    v = verify_api(tb, case_no)
    assert v["ok"] is False
    assert any("#2" in p and "reject" in p for p in v["problems"]), v["problems"]
    r = verify_cli(tb, case_no)
    assert r.exit_code != 0 and "#2" in r.output and "reject" in r.output, r.output


def test_an_audit_row_deleted_by_sql_breaks_the_chain(tb: Tongban) -> None:
    case_no = receive(tb)
    send(tb, "bj_clerk", case_no, "request_supplement")
    send(tb, "bj_clerk", case_no, "supplement")
    sql(tb, "DELETE FROM audit_events WHERE seq = 2 AND case_id = (SELECT id FROM cases WHERE case_no = :c)",
        c=case_no)
    v = verify_api(tb, case_no)
    assert v["ok"] is False and any("#2" in p and "missing" in p for p in v["problems"]), v["problems"]
    assert verify_cli(tb, case_no).exit_code != 0


def test_a_changed_scan_is_not_forwarded(tb: Tongban) -> None:
    """The forward step re-checks every hash before it sends anything (docs/architecture.md#integrity)."""
    case_no = cases_in(tb, {"prechecked": 1})["prechecked"][0]
    f = case(tb, case_no)["files"][0]
    overwrite_object(tb, object_key(tb, f["id"]), make_pdf("swapped after the pre-check"))
    tb.dispatch()
    c = case(tb, case_no)
    assert c["state"] == "prechecked" and not any(x["purpose"] in ("packet", "copy") for x in c["files"])
    assert f["filename"] in verify_api(tb, case_no)["problems"][0]


def test_a_case_row_changed_by_hand_is_reported(tb: Tongban) -> None:
    """Someone sets a case to 'approved' in the database: the row no longer matches its trail."""
    from sqlalchemy import text

    r = tb.receive()
    assert r.status_code == 201, r.text
    case_no = r.json()["case_no"]
    assert tb.client.get(f"/api/v1/cases/{case_no}/verify", headers=tb.h("bj_clerk")).json()["ok"] is True
    with tb.runtime.engine.begin() as conn:
        conn.execute(text("UPDATE cases SET state = 'approved' WHERE case_no = :n"), {"n": case_no})
    v = tb.client.get(f"/api/v1/cases/{case_no}/verify", headers=tb.h("bj_clerk")).json()
    assert v["ok"] is False
    assert any("state 'approved'" in p and "'received'" in p for p in v["problems"]), v["problems"]


def test_verify_all_checks_every_case_and_fails_when_one_was_tampered_with(tb: Tongban) -> None:
    """`tongban verify --all` in its own process: each tampered case named, a summary, exit 2."""
    import os
    import subprocess
    import sys

    untouched = receive(tb)
    forged = receive(tb, files=[("营业执照.pdf", make_pdf("licence")), ("申请表.pdf", make_pdf("form"))])
    overwrite_object(tb, object_key(tb, case(tb, forged)["files"][0]["id"]), make_pdf("a forged licence"))
    s = tb.runtime.settings
    env = {**os.environ, "TONGBAN_HOME": str(s.home), "TONGBAN_DATABASE_URL": s.resolved_database_url(),
           "TONGBAN_STORAGE_URL": s.resolved_storage_url()}
    done = subprocess.run([str(Path(sys.executable).with_name("tongban")), "verify", "--all"], env=env, text=True,
                          capture_output=True, timeout=600, check=False)
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    lines = done.stdout.strip().splitlines()
    assert f"{forged}: TAMPERED" in lines and any(f"PROBLEM  {forged}:" in ln and "营业执照.pdf" in ln for ln in lines)
    assert not any(untouched in ln for ln in lines)  # an intact case is counted, not listed
    summary = re.fullmatch(r"(\d+) cases verified: (\d+) OK, (\d+) TAMPERED — .*", lines[-1])
    assert summary is not None, lines[-1]
    total, ok_count, bad = (int(w) for w in summary.groups())
    assert total == ok_count + bad and bad >= 1 and ok_count >= 1 and total == case_count(tb)


def case_count(tb: Tongban) -> int:
    from sqlalchemy import text

    from storage.db import transaction

    with transaction(tb.runtime.session_factory) as s:
        return int(s.execute(text("SELECT count(*) FROM cases")).scalar_one())
