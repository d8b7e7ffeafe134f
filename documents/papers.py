"""The case's paper (receipt, cover sheet, one-time notice) built from its rows, masked and in local time.

The applicant's ID number through ``mask_id``; every typed text (name, file names, notes) through the
one free-text rule ``mask_text``.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from documents import ELicenceLine, render
from states.calendar import PROVISIONAL_NOTE
from states.identifiers import mask_id, mask_text
from storage.audit.models import AuditEvent
from storage.case.models import Case
from storage.user.models import User

DELIVERY_LABELS = {"mail": "邮寄送达", "pickup": "窗口自取"}


def local(dt: datetime | None, tz: str, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return dt.astimezone(ZoneInfo(tz)).strftime(fmt) if dt else ""


def provisional_note(case: Case, tz: str) -> str:
    """The line the applicant's paper carries while the deadline is provisional (暂定)."""
    if not case.due_provisional:
        return ""
    return (f"注：承诺办结日期 {local(case.due_at, tz, '%Y-%m-%d')} 为暂定日期（该年度节假日安排尚未公布，"
            f"按法定节假日推算），{PROVISIONAL_NOTE}；正式安排公布后将重新计算并告知。")


def _particulars(case: Case, tz: str) -> dict[str, object]:
    z = case.receiving_zone
    return dict(
        provisional_note=provisional_note(case, tz),
        case_no=case.case_no, item_code=case.item.code, item_name=case.item.name,
        receiving_zone=z.name, handling_zone=case.handling_zone.name, applicant_name=mask_text(case.applicant.name),
        applicant_id=mask_id(case.applicant.id_number), received_at=local(case.received_at, tz),
        window=render.WindowContact(name=f"{z.name} {z.contact_name}", phone=z.contact_phone, address=z.address),
    )


def _materials(case: Case, *, with_hash: bool) -> list[render.MaterialLine]:
    lines = []
    for m in case.materials:
        files = [f for f in case.files if f.material_id == m.id and f.purpose in ("material", "supplement")]
        im = next((x for x in case.item.materials if x.id == m.item_material_id), None)
        if not files:
            if m.provided:
                lines.append(render.MaterialLine(name=m.name, form=im.form if im else "",
                                                 copies=im.copies if im else None))
            continue
        for f in files:
            lines.append(render.MaterialLine(name=mask_text(f"{m.name}（{f.filename}）"), pages=f.page_count,
                                      sha256=f.sha256 if with_hash else None, form=im.form if im else "",
                                      copies=im.copies if im else None))
    return lines


def _receipt_lines(case: Case) -> list[render.MaterialLine]:
    """收件回执: one line per material of the checklist — its form and copies, whether the paper was
    handed in, how many scans (and pages) were attached."""
    lines = []
    for m in case.materials:
        files = [f for f in case.files if f.material_id == m.id and f.purpose in ("material", "supplement")]
        im = next((x for x in case.item.materials if x.id == m.item_material_id), None)
        lines.append(render.MaterialLine(name=m.name + ("" if m.required else "（选交）"), form=im.form if im else "",
                                  copies=im.copies if im else None, paper=m.paper_received, scans=len(files),
                                  pages=sum(f.page_count or 0 for f in files) or None))
    return lines


def display_name(db_session: Session | None, *, user_id: int | None = None, username: str | None = None) -> str:
    """The person as the applicant reads them on paper: their display name, never a login name."""
    if db_session is None:
        return ""
    stmt = select(User.display_name)
    if user_id is not None:
        stmt = stmt.where(User.id == user_id)
    elif username:
        stmt = stmt.where(User.username == username)
    else:
        return ""
    return db_session.scalar(stmt) or ""


def receipt_info(db_session: Session | None, case: Case, *, tz: str) -> render.ReceiptInfo:
    return render.ReceiptInfo(
        **_particulars(case, tz),  # type: ignore[arg-type]
        deadline=local(case.due_at, tz, "%Y-%m-%d") + ("（暂定）" if case.due_provisional else ""),
        time_limit=f"{case.item.promised_days} 个工作日",
        materials=_receipt_lines(case), clerk=display_name(db_session, user_id=case.received_by_id),
        result_delivery=DELIVERY_LABELS.get(case.delivery_method, case.delivery_method),
    )


def receipt_pdf(case: Case, *, tz: str) -> bytes:
    return render.render_receipt(receipt_info(object_session(case), case, tz=tz))


def cover_pdf(case: Case, *, tz: str, now: datetime) -> bytes:
    return render.render_cover_sheet(render.CoverInfo(
        **_particulars(case, tz),  # type: ignore[arg-type]
        deadline=local(case.due_at, tz, "%Y-%m-%d"), time_limit=f"{case.item.promised_days} 个工作日",
        materials=_materials(case, with_hash=True), forwarded_at=local(now, tz),
        e_licences=_e_licences(case, tz),
    ))


def _e_licences(case: Case, tz: str) -> list[ELicenceLine]:
    """电子证照 of the case as the cover sheet lists them: what was verified, when, against which key."""
    from licences import service as e_licence

    db_session = object_session(case)
    if db_session is None:
        return []
    files = {f.id: f for f in case.files}
    names = {m.id: m.name for m in case.materials}
    return [ELicenceLine(material=names.get(r.material_id, ""), type_name=r.type_name, number=mask_text(r.number),
                         issuer=r.issuer_name, holder=mask_text(r.holder_name),
                         valid=f"{r.valid_from or '—'} 至 {r.valid_until or '长期'}",
                         verified_at=local(r.verified_at, tz), key_id=r.key_id,
                         sha256=files[r.original_file_id].sha256 if r.original_file_id in files else "")
            for r in e_licence.licences_of(db_session=db_session, case_id=case.id)]


def notice_pdf(case: Case, notice: AuditEvent, *, tz: str, supplement_by: str = "") -> bytes:
    """一次性告知书 from the ``request_supplement`` audit event: exactly what was told, once."""
    problems = {"missing": "缺少", "defective": "不符合要求"}
    defects = [render.Defect(material=m["name"], reason=mask_text(f"{problems.get(m['problem'], m['problem'])}"
                                                             f"{'：' + m['note'] if m.get('note') else ''}"))
               for m in notice.payload.get("materials", [])]
    return render.render_supplement_notice(render.NoticeInfo(
        **_particulars(case, tz),  # type: ignore[arg-type]
        notice_date=local(notice.at, tz, "%Y-%m-%d"), defects=defects, supplement_by=supplement_by,
        clerk=display_name(object_session(case), username=notice.actor) or notice.actor,
    ))


def supplement_deadline(notice_at: datetime, *, workdays: int, calendar: object, tz: str) -> str:
    """补正期限: ``workdays`` working days after the notice (the notice day does not count)."""
    from states.calendar import UnknownYearError, WorkCalendar

    assert isinstance(calendar, WorkCalendar)
    try:
        day = calendar.add_workdays(notice_at.astimezone(ZoneInfo(tz)).date(), workdays)
    except UnknownYearError:
        return ""
    return day.isoformat()


__all__ = ["cover_pdf", "display_name", "local", "notice_pdf", "receipt_info", "receipt_pdf",
           "supplement_deadline"]
