"""The words of the admin calendar page (节假日安排), merged into the shared tables on import."""

from __future__ import annotations

from states.calendar import PROVISIONAL_NOTE
from states.calendar.recompute import EVENT
from web.ui import i18n

ZH: dict[str, str] = {
    "adm.calendar": "节假日安排",
    "cal.years": "工作日历年度",
    "cal.year": "年度",
    "cal.source": "来源",
    "cal.status": "状态",
    "cal.official": "正式",
    "cal.provisional": "暂定（按法定节假日推算，无调休）",
    "cal.open_cases": "暂定时限的办件",
    "cal.add": "录入国务院办公厅公布的节假日安排",
    "cal.add_hint": "每行一个放假日期段：开始日 结束日 名称（单日可只写一个日期），含放假期间的周末；"
                    "调休上班日每行一个：日期 名称（只能是周六或周日）。先预览，确认后应用。",
    "cal.holidays": "放假日期段",
    "cal.workdays": "调休上班日",
    "cal.notice_no": "通知文号",
    "cal.preview": "预览",
    "cal.apply": "应用并重新计算",
    "cal.refused": "节假日安排未通过校验，未做任何更改：",
    "cal.preview_title": "{year} 年节假日安排预览",
    "cal.preview_summary": "应用后共有 {total} 件办件的时限将调整（其中本区参与的 {mine} 件列于下表）。",
    "cal.preview_none": "应用后没有办件的时限需要调整。",
    "cal.case": "案件编号",
    "cal.state": "状态",
    "cal.old_due": "原承诺办结时间（暂定）",
    "cal.new_due": "新承诺办结时间",
    "cal.moved": "变动（工作日）",
    "cal.applied": "{year} 年节假日安排已添加：{moved} 件办件的时限已重新计算并记入审计，已通知 {people} 人。",
    "cal.note": "暂定日期" + "：" + PROVISIONAL_NOTE + "。",
    "cal.back": "返回修改",
}
EN: dict[str, str] = {
    "adm.calendar": "Holiday schedule",
    "cal.years": "Calendar years",
    "cal.year": "Year",
    "cal.source": "Source",
    "cal.status": "Status",
    "cal.official": "official",
    "cal.provisional": "provisional (statutory holidays, no 调休)",
    "cal.open_cases": "Cases with provisional dates",
    "cal.add": "Enter the State Council's published holiday schedule",
    "cal.add_hint": "One holiday range per line: first last name (one date for a single day), weekends inside "
                    "a range included; one 调休 working day per line: date name (a Saturday or Sunday). "
                    "Preview first, then apply.",
    "cal.holidays": "Holiday ranges",
    "cal.workdays": "调休 working days",
    "cal.notice_no": "Notice number",
    "cal.preview": "Preview",
    "cal.apply": "Apply and recompute",
    "cal.refused": "The schedule was refused; nothing was changed:",
    "cal.preview_title": "Holiday schedule {year}: preview",
    "cal.preview_summary": "{total} case(s) would have their deadlines moved ({mine} your zone is party to, below).",
    "cal.preview_none": "No case's deadline would move.",
    "cal.case": "Case",
    "cal.state": "State",
    "cal.old_due": "Promised by (provisional)",
    "cal.new_due": "New promised by",
    "cal.moved": "Moved (working days)",
    "cal.applied": "Holiday schedule {year} added: {moved} case(s) recomputed and audited, {people} person(s) "
                   "notified.",
    "cal.note": "Provisional dates are subject to the schedule the State Council publishes.",
    "cal.back": "Back to the form",
}

for _key, _text in ZH.items():
    i18n.ZH.setdefault(_key, _text)
for _key, _text in EN.items():
    i18n.EN.setdefault(_key, _text)
i18n.EVENT_LABELS_ZH.setdefault(EVENT, "工作日历重算时限")
i18n.EVENT_LABELS_EN.setdefault(EVENT, "deadline recomputed (calendar)")
