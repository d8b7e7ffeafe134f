"""The case's paper (receipt, cover sheet, one-time notice) built from its rows, masked and in local time.

The applicant's ID number through ``mask_id``; every typed text (name, file names, notes) through the
one free-text rule ``mask_text``.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from states.identifiers import mask_id, mask_text
from storage.audit.models import AuditEvent
from storage.case.models import Case
from storage.pdf import (
    CaseParticulars,
    CoverInfo,
    Defect,
    MaterialLine,
    NoticeInfo,
    ReceiptInfo,
    WindowContact,
    render_cover_sheet,
    render_receipt,
    render_supplement_notice,
)

DELIVERY_LABELS = {"mail": "邮寄送达", "pickup": "窗口自取"}


def local(dt: datetime | None, tz: str, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return dt.astimezone(ZoneInfo(tz)).strftime(fmt) if dt else ""


def _particulars(case: Case, tz: str) -> dict[str, object]:
    z = case.receiving_zone
    return dict(
        case_no=case.case_no, item_code=case.item.code, item_name=case.item.name,
        receiving_zone=z.name, handling_zone=case.handling_zone.name, applicant_name=mask_text(case.applicant.name),
        applicant_id=mask_id(case.applicant.id_number), received_at=local(case.received_at, tz),
        window=WindowContact(name=f"{z.name} {z.contact_name}", phone=z.contact_phone, address=z.address),
    )


def _materials(case: Case, *, with_hash: bool) -> list[MaterialLine]:
    lines = []
    for m in case.materials:
        files = [f for f in case.files if f.material_id == m.id and f.purpose in ("material", "supplement")]
        im = next((x for x in case.item.materials if x.id == m.item_material_id), None)
        if not files:
            if m.provided:
                lines.append(MaterialLine(name=m.name, form=im.form if im else "", copies=im.copies if im else None))
            continue
        for f in files:
            lines.append(MaterialLine(name=mask_text(f"{m.name}（{f.filename}）"), pages=f.page_count,
                                      sha256=f.sha256 if with_hash else None, form=im.form if im else ""))
    return lines


def receipt_pdf(case: Case, *, tz: str, clerk: str = "") -> bytes:
    return render_receipt(ReceiptInfo(
        **_particulars(case, tz),  # type: ignore[arg-type]
        deadline=local(case.due_at, tz, "%Y-%m-%d"), time_limit=f"{case.item.promised_days} 个工作日",
        materials=_materials(case, with_hash=False), clerk=clerk,
        result_delivery=DELIVERY_LABELS.get(case.delivery_method, case.delivery_method),
    ))


def cover_pdf(case: Case, *, tz: str, now: datetime) -> bytes:
    return render_cover_sheet(CoverInfo(
        **_particulars(case, tz),  # type: ignore[arg-type]
        deadline=local(case.due_at, tz, "%Y-%m-%d"), time_limit=f"{case.item.promised_days} 个工作日",
        materials=_materials(case, with_hash=True), forwarded_at=local(now, tz),
    ))


def notice_pdf(case: Case, notice: AuditEvent, *, tz: str) -> bytes:
    """一次性告知书 from the ``request_supplement`` audit event: exactly what was told, once."""
    problems = {"missing": "缺少", "defective": "不符合要求"}
    defects = [Defect(material=m["name"], reason=mask_text(f"{problems.get(m['problem'], m['problem'])}"
                                                             f"{'：' + m['note'] if m.get('note') else ''}"))
               for m in notice.payload.get("materials", [])]
    return render_supplement_notice(NoticeInfo(
        **_particulars(case, tz),  # type: ignore[arg-type]
        notice_date=local(notice.at, tz, "%Y-%m-%d"), defects=defects, clerk=notice.actor,
    ))


__all__ = ["CaseParticulars", "cover_pdf", "local", "notice_pdf", "receipt_pdf"]
