"""The paper a case produces: 收件回执 (receipt), 转递封面 (transfer cover sheet), 一次性告知书 (supplement notice).

Each is an A4 PDF with its Chinese text in an embedded CJK font subset (see :mod:`documents.fonts`),
so it prints the same at the receiving window, at the handling zone and at the applicant's home.
Callers pass display-ready strings: times already in local time, ID numbers already masked.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from documents.fonts import CjkFont, find_cjk_font


@dataclass(frozen=True, kw_only=True)
class WindowContact:
    """The receiving window the applicant deals with (办理窗口)."""

    name: str  # e.g. "天津经开区政务服务中心 跨省通办专窗"
    phone: str
    address: str


@dataclass(frozen=True, kw_only=True)
class MaterialLine:
    """One material (申请材料) as listed on a receipt or cover sheet."""

    name: str
    pages: int | None = None
    sha256: str | None = None
    form: str = ""  # 原件 / 复印件 / 扫描件 …
    copies: int | None = None
    #: On a receipt: the paper was handed in (None: not stated) and how many scans were attached.
    paper: bool | None = None
    scans: int | None = None


@dataclass(frozen=True, kw_only=True)
class Defect:
    """One missing or defective material in a one-time notice (一次性告知), and what to do about it."""

    material: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class CaseParticulars:
    """What every document of a case shows about it."""

    case_no: str
    item_code: str
    item_name: str
    receiving_zone: str  # 收件地 (代收方)
    handling_zone: str  # 办理地 (受理方)
    applicant_name: str
    applicant_id: str  # ALREADY masked by the caller
    received_at: str  # local time, display-ready
    window: WindowContact
    #: Said when the case's dates are provisional (暂定, 以国务院办公厅公布的节假日安排为准).
    provisional_note: str = ""


@dataclass(frozen=True, kw_only=True)
class ReceiptInfo(CaseParticulars):
    """收件回执: handed to the applicant at the counter."""

    deadline: str  # 承诺办结日期
    time_limit: str = ""  # e.g. "10 个工作日"
    materials: Sequence[MaterialLine] = ()
    clerk: str = ""
    result_delivery: str = ""  # 邮寄 / 窗口自取
    remarks: str = ""


@dataclass(frozen=True, kw_only=True)
class ELicenceLine:
    """电子证照 as verified at the counter: listed on the cover sheet and printed as its own page."""

    material: str
    type_name: str
    number: str
    issuer: str
    holder: str  # ALREADY masked by the caller
    valid: str  # "2020-01-01 至 2040-12-31" or "… 至 长期"
    verified_at: str
    key_id: str
    sha256: str = ""  # of the signed original
    fields: Sequence[tuple[str, str]] = ()


@dataclass(frozen=True, kw_only=True)
class CoverInfo(CaseParticulars):
    """转递封面: first page of the transfer packet the handling zone opens."""

    deadline: str
    time_limit: str = ""
    materials: Sequence[MaterialLine] = ()
    e_licences: Sequence[ELicenceLine] = ()
    prechecked_by: str = ""
    forwarded_at: str = ""
    remarks: str = ""


@dataclass(frozen=True, kw_only=True)
class NoticeInfo(CaseParticulars):
    """一次性告知书: every missing or defective material, told once, with the reason."""

    notice_date: str
    defects: Sequence[Defect] = field(default_factory=tuple)
    supplement_by: str = ""  # 补正期限, display-ready; empty: none stated
    clerk: str = ""


# --- layout ----------------------------------------------------------------------------------------

_GRID = colors.HexColor("#7a7a7a")
_LABEL_BG = colors.HexColor("#eeeeee")
_PAGE_MARGIN = 16 * mm


class _Styles:
    def __init__(self, font: CjkFont) -> None:
        base = ParagraphStyle("tb-body", fontName=font.name, fontSize=10, leading=14, wordWrap="CJK")
        self.body = base
        self.small = ParagraphStyle("tb-small", parent=base, fontSize=8, leading=10)
        self.hash = ParagraphStyle("tb-hash", parent=base, fontSize=6.5, leading=8)
        self.title = ParagraphStyle("tb-title", parent=base, fontSize=18, leading=24, alignment=TA_CENTER)
        self.caption = ParagraphStyle("tb-cap", parent=base, fontSize=8, leading=10, alignment=TA_CENTER)
        self.subtitle = ParagraphStyle("tb-sub", parent=base, fontSize=9, leading=12, alignment=TA_CENTER)
        self.heading = ParagraphStyle("tb-h", parent=base, fontSize=12, leading=18, spaceBefore=8, spaceAfter=4)


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    """A paragraph of user-supplied text: escaped, so ``<`` or ``&`` in a company name is just text."""
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


_BARCODE_COLUMN = 66 * mm


def _barcode(case_no: str, st: _Styles) -> list[Flowable] | None:
    """Code-128 of the case number for the window's hand scanner, with the number printed under it.

    Only printable ASCII can be coded; bars are narrowed (not below 0.19 mm) to fit the column.
    """
    if not case_no or not case_no.isascii() or not case_no.isprintable():
        return None
    bar_width = 0.3 * mm
    code = Code128(case_no, barHeight=11 * mm, barWidth=bar_width)
    if code.width > _BARCODE_COLUMN:
        bar_width = max(0.19 * mm, bar_width * _BARCODE_COLUMN / code.width)
        code = Code128(case_no, barHeight=11 * mm, barWidth=bar_width)
    code.hAlign = "CENTER"
    return [code, Spacer(1, 1 * mm), _p(case_no, st.caption)]


def _header(title: str, subtitle: str, case_no: str, st: _Styles, width: float) -> Table:
    left = [_p(title, st.title), _p(subtitle, st.subtitle)]
    code = _barcode(case_no, st)
    table = Table([[left, code or ""]], colWidths=[width - _BARCODE_COLUMN, _BARCODE_COLUMN])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE")]))
    return table


def _grid(rows: list[list[object]], widths: list[float], *, header: bool = False, label_cols: int = 0) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1 if header else 0)
    style: list[tuple[object, ...]] = [
        ("GRID", (0, 0), (-1, -1), 0.5, _GRID),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), _LABEL_BG))
    for col in range(label_cols):
        style.append(("BACKGROUND", (col * 2, 0), (col * 2, -1), _LABEL_BG))
    table.setStyle(TableStyle(style))
    return table


def _particulars(info: CaseParticulars, extra: list[tuple[str, str]], st: _Styles, width: float) -> Table:
    """Two label/value pairs per row: the case at a glance."""
    pairs: list[tuple[str, str]] = [
        ("案件编号", info.case_no),
        ("事项编码", info.item_code),
        ("事项名称", info.item_name),
        ("收件日期", info.received_at),
        ("收件地（代收）", info.receiving_zone),
        ("办理地（受理）", info.handling_zone),
        ("申请人", info.applicant_name),
        ("证件号码", info.applicant_id),
        *extra,
    ]
    if len(pairs) % 2:
        pairs.append(("", ""))
    rows = [
        [_p(a, st.body), _p(b, st.body), _p(c, st.body), _p(d, st.body)]
        for (a, b), (c, d) in zip(pairs[::2], pairs[1::2], strict=True)
    ]
    label, value = 28 * mm, width / 2 - 28 * mm
    return _grid(rows, [label, value, label, value], label_cols=2)


def _hash_text(sha256: str | None) -> str:
    if not sha256:
        return "—"
    return sha256[:32] + "\n" + sha256[32:] if len(sha256) > 32 else sha256


def _materials_table(materials: Sequence[MaterialLine], st: _Styles, width: float, *, with_hash: bool) -> Table:
    head = ["序号", "材料名称", "形式", "份数", "页数"] + (["SHA-256"] if with_hash else [])
    rows: list[list[object]] = [[_p(h, st.small) for h in head]]
    for n, m in enumerate(materials, start=1):
        row: list[object] = [
            _p(str(n), st.small),
            _p(m.name, st.body),
            _p(m.form or "—", st.small),
            _p("—" if m.copies is None else str(m.copies), st.small),
            _p("—" if m.pages is None else str(m.pages), st.small),
        ]
        if with_hash:
            row.append(_p(_hash_text(m.sha256), st.hash))
        rows.append(row)
    if not materials:
        rows.append([_p("（无）", st.small)] + [""] * (len(head) - 1))
    fixed = [10 * mm, 0.0, 16 * mm, 11 * mm, 11 * mm] + ([62 * mm] if with_hash else [])
    fixed[1] = width - sum(fixed)
    return _grid(rows, fixed, header=True)


def _receipt_materials(materials: Sequence[MaterialLine], st: _Styles, width: float) -> Table:
    """收件回执: one row per material — form, copies, paper handed in, scans attached."""
    head = ["序号", "材料名称", "形式", "份数", "纸质件", "扫描件"]
    rows: list[list[object]] = [[_p(h, st.small) for h in head]]
    for n, m in enumerate(materials, start=1):
        scans = "—" if m.scans is None else ("无" if m.scans == 0 else f"{m.scans} 个文件"
                                                + (f"，{m.pages} 页" if m.pages else ""))
        rows.append([
            _p(str(n), st.small), _p(m.name, st.body), _p(m.form or "—", st.small),
            _p("—" if m.copies is None else str(m.copies), st.small),
            _p("—" if m.paper is None else ("已收" if m.paper else "未收"), st.small), _p(scans, st.small),
        ])
    if not materials:
        rows.append([_p("（无）", st.small)] + [""] * (len(head) - 1))
    fixed = [10 * mm, 0.0, 16 * mm, 11 * mm, 14 * mm, 30 * mm]
    fixed[1] = width - sum(fixed)
    return _grid(rows, fixed, header=True)


def _window_block(info: CaseParticulars, st: _Styles, width: float) -> Table:
    w = info.window
    rows = [
        [_p("办理窗口", st.body), _p(w.name, st.body)],
        [_p("联系电话", st.body), _p(w.phone, st.body)],
        [_p("窗口地址", st.body), _p(w.address, st.body)],
    ]
    return _grid(rows, [28 * mm, width - 28 * mm], label_cols=1)


def _signatures(labels: Sequence[str], st: _Styles, width: float) -> Table:
    cells = [_p(f"{label}：", st.body) if label else "" for label in labels]  # a blank column: no stray "："
    table = Table([cells], colWidths=[width / len(labels)] * len(labels), rowHeights=[18 * mm])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return table


def _render(title: str, case_no: str, story_of: Callable[[_Styles, float], list[Flowable]], *,
            number_label: str = "案件编号") -> bytes:
    """Lay out one document; ``invariant`` keeps the bytes identical for identical input."""
    font = find_cjk_font()
    st = _Styles(font)
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=_PAGE_MARGIN,
        rightMargin=_PAGE_MARGIN,
        topMargin=_PAGE_MARGIN,
        bottomMargin=_PAGE_MARGIN,
        title=f"{title} {case_no}",
        author="tongban 通办",
        invariant=1,
    )

    def footer(canv: Canvas, _doc: object) -> None:
        canv.saveState()
        canv.setFont(font.name, 8)
        canv.drawCentredString(A4[0] / 2, 9 * mm, f"{title} · {number_label} {case_no} · 第 {canv.getPageNumber()} 页")
        canv.restoreState()

    doc.build(story_of(st, doc.width), onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()


def render_receipt(info: ReceiptInfo) -> bytes:
    """收件回执: proof for the applicant that the window took the materials, with the case number and deadline."""

    def story(st: _Styles, width: float) -> list[Flowable]:
        extra = [("承诺办结日期", info.deadline), ("承诺时限", info.time_limit or "—")]
        if info.result_delivery:
            extra.append(("结果送达方式", info.result_delivery))
        flow: list[Flowable] = [
            _header("收件回执", "跨省通办 · 代收代办", info.case_no, st, width),
            Spacer(1, 4 * mm),
            _particulars(info, extra, st, width),
            _p("材料清单", st.heading),
            _receipt_materials(info.materials, st, width),
            _p("办理窗口", st.heading),
            _window_block(info, st, width),
            Spacer(1, 3 * mm),
            _p(
                f"您的申请材料已由{info.receiving_zone}窗口代收，将转递{info.handling_zone}审批。"
                f"承诺办结日期为{info.deadline}（按工作日计算，补正及原件邮寄期间不计入）。"
                "请妥善保管本回执，凭案件编号查询办理进度、领取办理结果。",
                st.body,
            ),
        ]
        if info.provisional_note:
            flow += [Spacer(1, 2 * mm), _p(info.provisional_note, st.body)]
        if info.remarks:
            flow += [Spacer(1, 2 * mm), _p(f"备注：{info.remarks}", st.body)]
        flow += [Spacer(1, 3 * mm), _p("申请人确认：以上材料清单与本人提交的材料一致。", st.body),
                 Spacer(1, 6 * mm),
                 _signatures(["申请人签字", f"收件人 {info.clerk}".strip(), "窗口（盖章）"], st, width),
                 _signatures(["日期", "日期", ""], st, width)]
        return flow

    return _render("收件回执", info.case_no, story)


def render_cover_sheet(info: CoverInfo) -> bytes:
    """转递封面: what the handling zone needs before opening the materials, including every file's SHA-256."""

    def story(st: _Styles, width: float) -> list[Flowable]:
        extra = [
            ("承诺办结日期", info.deadline),
            ("承诺时限", info.time_limit or "—"),
            ("转递时间", info.forwarded_at or "—"),
            ("预审人", info.prechecked_by or "—"),
            ("收件窗口", info.window.name),
            ("窗口电话", info.window.phone),
        ]
        total = sum(m.pages or 0 for m in info.materials)
        flow: list[Flowable] = [
            _header("转递封面", "跨省通办 · 代收代办", info.case_no, st, width),
            Spacer(1, 4 * mm),
            _particulars(info, extra, st, width),
            _p(f"材料清单（共 {len(info.materials)} 件，{total} 页）", st.heading),
            _materials_table(info.materials, st, width, with_hash=True),
            Spacer(1, 3 * mm),
            _p(
                "本转递包依次包含本封面和上列全部材料，每件材料均有书签。"
                "SHA-256 为收件时记录的文件摘要，受理方可据此核验材料在转递中未被改动。",
                st.small,
            ),
        ]
        if info.e_licences:
            flow += [_p(f"电子证照（共 {len(info.e_licences)} 件，收件时已核验）", st.heading),
                     _e_licence_table(info.e_licences, st, width)]
        if info.remarks:
            flow += [Spacer(1, 2 * mm), _p(f"备注：{info.remarks}", st.body)]
        return flow

    return _render("转递封面", info.case_no, story)


def _e_licence_table(lines: Sequence[ELicenceLine], st: _Styles, width: float) -> Table:
    rows: list[list[object]] = [[_p(h, st.small) for h in ("材料", "证照", "发证机关", "有效期", "核验")]]
    for e in lines:
        rows.append([_p(e.material, st.small), _p(f"{e.type_name}\n{e.number}", st.small), _p(e.issuer, st.small),
                     _p(e.valid, st.small),
                     _p(f"已核验 {e.verified_at}\n签名 Ed25519 · 密钥 {e.key_id}\n原件 SHA-256 {e.sha256[:16]}…",
                        st.hash)])
    return _grid(rows, [32 * mm, 36 * mm, 34 * mm, 30 * mm, width - 132 * mm], header=True)


def render_e_licence(e: ELicenceLine) -> bytes:
    """电子证照 as a page of the packet: the licence's content and what tongban verified about it."""

    def story(st: _Styles, width: float) -> list[Flowable]:
        rows: list[list[object]] = [
            [_p("证照类型", st.small), _p(e.type_name, st.body)],
            [_p("证照编号", st.small), _p(e.number, st.body)],
            [_p("持证主体", st.small), _p(e.holder, st.body)],
            [_p("发证机关", st.small), _p(e.issuer, st.body)],
            [_p("有效期", st.small), _p(e.valid, st.body)],
            *[[_p(k, st.small), _p(v, st.body)] for k, v in e.fields],
        ]
        check = [
            [_p("核验结果", st.small),
             _p("已核验：签名有效、在有效期内、未列入吊销清单、持证主体与申请人一致", st.body)],
            [_p("核验时间", st.small), _p(e.verified_at, st.body)],
            [_p("签名", st.small), _p(f"Ed25519（RFC 8785 规范化 JSON），发证机关密钥指纹 {e.key_id}", st.body)],
            [_p("原件摘要", st.small), _p(f"SHA-256 {e.sha256}", st.hash)],
        ]
        return [
            _header("电子证照", f"代替材料：{e.material}", e.number, st, width),
            Spacer(1, 4 * mm),
            _grid(rows, [30 * mm, width - 30 * mm], label_cols=1),
            _p("核验记录", st.heading),
            _grid(check, [30 * mm, width - 30 * mm], label_cols=1),
            Spacer(1, 3 * mm),
            _p("本页由通办系统根据发证机关签发的电子证照生成，签名原件与核验记录随案保存，可用 tongban verify 复核。",
               st.small),
        ]

    # Rendered before the case has its number (store first, then one transaction): numbered by the licence.
    return _render("电子证照", e.number, story, number_label="证照编号")


def render_supplement_notice(info: NoticeInfo) -> bytes:
    """一次性告知书: every missing or defective material and why, so the applicant comes back only once."""

    def story(st: _Styles, width: float) -> list[Flowable]:
        extra = [("告知日期", info.notice_date), ("补正期限", info.supplement_by or "—")]
        rows: list[list[object]] = [[_p(h, st.small) for h in ("序号", "材料名称", "需补正的问题及要求")]]
        for n, d in enumerate(info.defects, start=1):
            rows.append([_p(str(n), st.small), _p(d.material, st.body), _p(d.reason, st.body)])
        if not info.defects:
            rows.append([_p("（无）", st.small), "", ""])
        flow: list[Flowable] = [
            _header("一次性告知书", "跨省通办 · 代收代办", info.case_no, st, width),
            Spacer(1, 4 * mm),
            _p(f"{info.applicant_name}：", st.body),
            _p(
                f"您于{info.received_at}在{info.receiving_zone}窗口申请办理的“{info.item_name}”"
                f"（案件编号 {info.case_no}），经审查，申请材料不齐全或不符合法定形式。"
                f"现一次性告知您需要补正的全部材料（共 {len(info.defects)} 项）如下。"
                "补正期间不计入承诺办结时限；补齐后请携本告知书到原窗口办理"
                + (f"，请于{info.supplement_by}前补正。" if info.supplement_by else "。"),
                st.body,
            ),
            *([_p(info.provisional_note, st.body)] if info.provisional_note else []),
            Spacer(1, 3 * mm),
            _particulars(info, extra, st, width),
            _p("需补正材料", st.heading),
            _grid(rows, [10 * mm, 50 * mm, width - 60 * mm], header=True),
            _p("办理窗口", st.heading),
            _window_block(info, st, width),
            Spacer(1, 8 * mm),
            _signatures(["申请人签收", f"经办人 {info.clerk}".strip(), "窗口（盖章）"], st, width),
            _signatures(["日期", "日期", ""], st, width),
        ]
        return flow

    return _render("一次性告知书", info.case_no, story)
