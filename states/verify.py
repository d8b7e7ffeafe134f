"""`tongban verify CASE_NO`: the audit chain intact and every stored file still what was received."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from states.transition.service import get_case
from storage.audit import service as audit
from storage.objects import ObjectStore
from storage.objects.base import ObjectNotFound


@dataclass
class VerifyReport:
    case_no: str
    files_checked: int = 0
    events_checked: int = 0
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
    return report
