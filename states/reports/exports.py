"""Exports (导出): the filtered case list as CSV / Excel, the annual evaluation as Excel / PDF.

PII stays in its place (docs/architecture.md#privacy): ID numbers and phones are masked in every export, and free
text (reasons) goes through ``mask_text``. Every cell of every spreadsheet export (CSV and XLSX)
goes through :func:`defuse_cell`, whatever its source (an item name another zone's admin typed, an
applicant name, a reason, a header): a text that a spreadsheet would run as a formula (``=``, ``+``,
``-``, ``@``, tab or CR first) gets a leading apostrophe, and XLSX cells holding text are written as
strings (type ``s``), never as formulas.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from documents.fonts import find_cjk_font
from notifications.templates import STEP_LABELS
from states.identifiers import mask_id, mask_phone, mask_text
from states.lifecycle import STATE_LABELS
from states.reports.service import Evaluation, EvaluationRow
from storage.case.models import Case

#: Headers in Chinese only: a list fit to hand to a superior (issue 13 §7).
CASE_COLUMNS = ["办件编号", "事项编码", "事项名称", "收件地", "办理地", "申请人", "证件号码（脱敏）",
                "联系电话（脱敏）", "状态", "收件时间", "承诺办结时间", "决定时间", "是否按时", "当前环节",
                "环节时限", "最近理由"]
#: What the 同事同标 comparison names a field (service: name | promised_days | materials | same_standard).
DISAGREEMENT_FIELDS = {"name": "事项名称", "promised_days": "承诺时限（工作日）", "materials": "材料清单",
                       "same_standard": "同事同标标记"}
SPREADSHEET_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


#: What makes Excel, LibreOffice or Google Sheets read a cell as a formula (OWASP "CSV injection").
FORMULA_TRIGGERS = frozenset("=+-@\t\r")


def defuse_cell(value: Any) -> Any:
    """The one rule for every exported cell: a text starting with a formula trigger (after any spaces,
    which some programs strip) gets a leading apostrophe; numbers, dates and ``None`` pass unchanged."""
    if isinstance(value, str) and value.lstrip(" ")[:1] in FORMULA_TRIGGERS:
        return "'" + value
    return value


def _csv_bytes(header: list[str], rows: Iterable[list[Any]]) -> bytes:
    """UTF-8 with a BOM, so Excel opens the Chinese text correctly on a double click."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    for row in (header, *rows):
        writer.writerow([defuse_cell(v) for v in row])
    return buf.getvalue().encode("utf-8-sig")


def _append(ws: Any, row: list[Any]) -> None:
    """One XLSX row, defused; text cells are typed as strings so nothing is ever stored as a formula."""
    ws.append([defuse_cell(v) for v in row])
    for cell in ws[ws.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"


def _local(value: datetime | None, tz: str) -> str:
    return value.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M") if value else ""


def timeliness(case: Case, now: datetime) -> str:
    """按时 / 超期 / 超期未办结 / 办理中 / — as in the reports (see states.reports.service)."""
    if case.decided_at is not None and case.due_at is not None:
        return "按时" if case.decided_at <= case.due_at else "超期"
    if case.closed:
        return "—"
    if case.paused_since is None and case.due_at is not None and case.due_at < now:
        return "超期未办结"
    return "办理中"


def case_rows(cases: Iterable[Case], *, tz: str, now: datetime) -> Iterator[list[str]]:
    for c in cases:
        yield [
            c.case_no, c.item.code, c.item.name, c.receiving_zone.name, c.handling_zone.name,
            mask_text(c.applicant.name), mask_id(c.applicant.id_number), mask_phone(c.applicant.phone),
            STATE_LABELS.get(c.state, c.state), _local(c.received_at, tz), _local(c.due_at, tz),
            _local(c.decided_at, tz), timeliness(c, now), STEP_LABELS["zh-CN"].get(c.step or "", c.step or ""),
            _local(c.step_due_at, tz),
            mask_text(c.last_reason or ""),
        ]


def cases_csv(cases: Iterable[Case], *, tz: str, now: datetime) -> bytes:
    return _csv_bytes(CASE_COLUMNS, case_rows(cases, tz=tz, now=now))


def _style_header(ws: object, ncols: int) -> None:
    fill = PatternFill("solid", fgColor="DDE7F3")
    for col in range(1, ncols + 1):
        cell = ws.cell(row=1, column=col)  # type: ignore[attr-defined]
        cell.font, cell.fill = Font(bold=True), fill
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = "A2"  # type: ignore[attr-defined]


def _widths(ws: object, widths: list[int]) -> None:
    for i, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = w  # type: ignore[attr-defined]


def _xlsx_bytes(wb: Workbook) -> bytes:
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def cases_xlsx(cases: Iterable[Case], *, tz: str, now: datetime) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "办件清单"
    _append(ws, CASE_COLUMNS)
    for row in case_rows(cases, tz=tz, now=now):
        _append(ws, row)
    _style_header(ws, len(CASE_COLUMNS))
    _widths(ws, [26, 10, 22, 11, 11, 24, 22, 16, 10, 17, 17, 17, 14, 10, 17, 30])
    return _xlsx_bytes(wb)


# --- the annual evaluation ------------------------------------------------------------------------------

EVALUATION_COLUMNS = ["事项编码", "事项名称", "办理地", "收件地", "收件数", "决定数", "按时", "超期", "按时率",
                      "平均用时（工作日）", "承诺时限（工作日）", "补正率", "主要补正原因", "退回率", "主要退回原因"]


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def days(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def reasons(pairs: list[tuple[str, int]]) -> str:
    return "；".join(f"{mask_text(text)} ×{n}" for text, n in pairs)


def evaluation_cells(row: EvaluationRow, ev: Evaluation) -> list[str]:
    """One row as text, the zones named as a superior reads them (not by code)."""
    zone = ev.zone_name
    return [row.item_code, row.item_name, zone(row.handling_zone), zone(row.receiving_zone), str(row.received),
            str(row.decided), str(row.on_time), str(row.late), pct(row.on_time_rate), days(row.avg_workdays_used),
            "" if row.promised_days is None else str(row.promised_days), pct(row.supplement_rate),
            reasons(row.supplement_reasons), pct(row.return_rate), reasons(row.return_reasons)]


def evaluation_title(ev: Evaluation) -> str:
    scope = ev.zone_name(ev.zone_code) or "全部辖区"
    item = f" · {ev.item_code}" if ev.item_code else ""
    return f"{ev.year} 年度跨区通办运行评估 · {scope}{item}"


def evaluation_xlsx(ev: Evaluation, *, tz: str) -> bytes:
    """Figures as numbers (so the evaluators can sum and chart them), a sheet for catalog differences."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = f"{ev.year} 评估"
    _append(ws, EVALUATION_COLUMNS)
    for r in [*ev.rows, ev.totals, *ev.split_totals]:
        _append(ws, [r.item_code, r.item_name, ev.zone_name(r.handling_zone), ev.zone_name(r.receiving_zone),
                     r.received, r.decided, r.on_time,
                     r.late, r.on_time_rate, r.avg_workdays_used, r.promised_days, r.supplement_rate,
                     reasons(r.supplement_reasons), r.return_rate, reasons(r.return_reasons)])
    for row in ws.iter_rows(min_row=2):
        for idx in (8, 11, 13):  # rates, 0-based
            row[idx].number_format = "0.0%"
        row[9].number_format = "0.0"
    for last in range(ws.max_row - len(ev.split_totals), ws.max_row + 1):
        for cell in ws[last]:
            cell.font = Font(bold=True)
    _style_header(ws, len(EVALUATION_COLUMNS))
    _widths(ws, [10, 22, 11, 11, 8, 8, 8, 8, 10, 12, 10, 10, 36, 10, 36])
    ws.append([])
    _append(ws, [evaluation_title(ev), f"生成于 {_local(ev.generated_at, tz)}"])

    ds = wb.create_sheet("同事同标差异")
    _append(ds, ["事项编码", "不一致项", "各辖区取值", "说明"])
    for d in ev.disagreements:
        _append(ds, [d.code, DISAGREEMENT_FIELDS.get(d.field, d.field),
                   "；".join(f"{z}：{v}" for z, v in d.named_values()), d.detail])
    _style_header(ds, 4)
    _widths(ds, [10, 16, 70, 50])
    return _xlsx_bytes(wb)


def evaluation_pdf(ev: Evaluation, *, tz: str) -> bytes:
    """A4 landscape, the CJK font embedded (a report travels to the other zone's lead office)."""
    font = find_cjk_font()
    base = ParagraphStyle("ev", fontName=font.name, fontSize=7.5, leading=9.5, wordWrap="CJK")
    title = ParagraphStyle("ev-title", parent=base, fontSize=15, leading=20)
    note = ParagraphStyle("ev-note", parent=base, fontSize=8, leading=11, textColor=colors.HexColor("#444444"))
    heading = ParagraphStyle("ev-h", parent=base, fontSize=11, leading=15, spaceBefore=6, spaceAfter=3)

    def p(text: str, style: ParagraphStyle = base) -> Paragraph:
        return Paragraph(escape(text), style)

    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=landscape(A4), leftMargin=10 * mm, rightMargin=10 * mm,
                            topMargin=12 * mm, bottomMargin=12 * mm, title=evaluation_title(ev),
                            author="tongban 通办")
    story: list[object] = [
        p(evaluation_title(ev), title),
        p(f"生成于 {_local(ev.generated_at, tz)}（{tz}）。口径：{ev.year} 年内收件的办件；"
          "按时 = 作出决定的时间不晚于承诺办结时间（已按补正等暂停顺延）；"
          "已过承诺时间仍未决定的计为超期；暂停中、未到期及不予收件/撤回的不计入。"
          "平均用时 = 收件次日起至决定日的工作日数减去暂停的工作日数。补正率、退回率以收件数为分母。", note),
        Spacer(1, 3 * mm),
    ]
    header = [p(c) for c in EVALUATION_COLUMNS]
    body = [[p(c) for c in evaluation_cells(r, ev)] for r in [*ev.rows, ev.totals, *ev.split_totals]]
    widths = [16, 30, 17, 17, 11, 11, 11, 11, 15, 16, 14, 15, 40, 15, 38]
    table = Table([header, *body], colWidths=[w * mm * 0.96 for w in widths], repeatRows=1)
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#888888")),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#DDE7F3")),
        ("BACKGROUND", (0, -1 - len(ev.split_totals)), (-1, -1), colors.HexColor("#F2F2F2")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]))
    story.append(table if ev.rows else p("本年度无办件。", note))
    story.append(p("同事同标事项差异", heading))
    if ev.disagreements:
        drows = [[p("事项编码"), p("不一致项"), p("各辖区取值"), p("说明")]] + [
            [p(d.code), p(DISAGREEMENT_FIELDS.get(d.field, d.field)),
             p("；".join(f"{z}：{v}" for z, v in d.named_values())), p(d.detail)]
            for d in ev.disagreements]
        dt = Table(drows, colWidths=[22 * mm, 25 * mm, 140 * mm, 85 * mm], repeatRows=1)
        dt.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#888888")),
                                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#DDE7F3")),
                                ("VALIGN", (0, 0), (-1, -1), "TOP")]))
        story.append(dt)
    else:
        story.append(p("无。", note))
    doc.build(story)  # type: ignore[arg-type]
    return buf.getvalue()
