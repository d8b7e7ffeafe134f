"""`tongban verify CASE_NO`: the audit chain intact and every stored file still what was received."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from states.identifiers import mask_text
from states.transition.service import get_case
from storage.audit import service as audit
from storage.case.models import Case
from storage.objects import ObjectStore
from storage.objects.base import ObjectNotFound


@dataclass
class VerifyReport:
    case_no: str
    files_checked: int = 0
    events_checked: int = 0
    licences_checked: int = 0
    #: Signed receipts of a peer deployment checked (federation).
    receipts_checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_case(*, db_session: Session, store: ObjectStore, case_no: str) -> VerifyReport:
    case = get_case(db_session=db_session, case_no=case_no)
    report = VerifyReport(case_no=case_no)
    report.problems += audit.verify_chain(db_session=db_session, case_id=case.id, case_no=case.case_no)
    events = audit.list_events(db_session=db_session, case_id=case.id)
    report.events_checked = len(events)
    # The case row must be where its trail says: a state or version changed by hand shows here.
    if not events:
        report.problems.append("the case has no audit trail")
    elif (events[-1].to_state, events[-1].version) != (case.state, case.version):
        last = events[-1]
        report.problems.append(
            f"case row says state '{case.state}' version {case.version}, but its audit trail ends at "
            f"'{last.to_state}' version {last.version} (#{last.seq} {last.event}): changed outside the system"
        )
    # A case shared with a peer deployment: every signed receipt it gave (federation/verify.py).
    from federation.verify import check_receipts

    receipts, problems = check_receipts(db_session=db_session, case_id=case.id)
    report.receipts_checked += receipts
    report.problems += problems
    for f in case.files:
        report.files_checked += 1
        try:
            actual = store.sha256(f.object_key)
        except ObjectNotFound:
            report.problems.append(f"file #{f.id} “{f.filename}” is missing from the store ({f.object_key})")
            continue
        if actual != f.sha256:
            report.problems.append(
                f"file #{f.id} “{f.filename}” was altered: SHA-256 is {actual[:12]}…, recorded {f.sha256[:12]}…"
            )
    report.problems += verify_e_licences(db_session=db_session, store=store, case=case, report=report)
    return report


def _json_of(store: ObjectStore, key: str) -> Any:
    try:
        return json.loads(b"".join(store.iter_bytes(key)).decode("utf-8"))
    except (ObjectNotFound, UnicodeDecodeError, ValueError):
        return None


def verify_e_licences(*, db_session: Session, store: ObjectStore, case: Case, report: VerifyReport) -> list[str]:
    """电子证照: each signed original's Ed25519 signature checked again, against the issuer's key as it
    was registered when the licence was verified (kept in the verification record)."""
    from licences import service as e_licence
    from licences.signing import signature_valid

    problems = []
    files = {f.id: f for f in case.files}
    for row in e_licence.licences_of(db_session=db_session, case_id=case.id):
        report.licences_checked += 1
        what = f"e-licence {row.type_name} {mask_text(row.number)}"
        original, record = files.get(row.original_file_id), files.get(row.record_file_id)
        doc = _json_of(store, original.object_key) if original else None
        rec = _json_of(store, record.object_key) if record else None
        key = rec.get("issuer", {}).get("public_key") if isinstance(rec, dict) else None
        if doc is None or not isinstance(key, str):
            problems.append(f"{what}: the signed original or its verification record cannot be read")
        elif not signature_valid("licence", doc, key):
            problems.append(f"{what}: the issuer's signature ({row.issuer_code}, key {row.key_id}) no longer verifies")
        elif doc["licence"].get("number") != row.number or doc["licence"].get("issuer") != row.issuer_code:
            problems.append(f"{what}: the signed original is not the licence recorded for the case")
    return problems
