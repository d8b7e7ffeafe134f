"""A clerk uploads scans at the window; the system refuses what the other zone could not open,
turns images into PDF pages, prints receipts and cover sheets in Chinese, and binds the packet."""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from pypdf import PdfReader, PdfWriter
from pypdf.generic import DictionaryObject
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from documents import (
    COVER_BOOKMARK,
    CoverInfo,
    Defect,
    MaterialError,
    MaterialLine,
    NoticeInfo,
    ReceiptInfo,
    WindowContact,
    build_packet,
    check_filename,
    find_cjk_font,
    normalize_upload,
    pdf_outline_pages,
    pdf_outline_titles,
    pdf_text,
    render_cover_sheet,
    render_receipt,
    render_supplement_notice,
)

LIMIT = 50 * 1024 * 1024


# --- inputs a clerk might upload ---------------------------------------------------------------------


def pdf_bytes(pages: int, label: str = "material", *, bookmark: str | None = None) -> bytes:
    """A real PDF with some text on each page, big enough that half of it is a broken file."""
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    for n in range(1, pages + 1):
        if bookmark and n == 1:
            c.bookmarkPage("own")
            c.addOutlineEntry(bookmark, "own", level=0)
        c.drawString(72, 760, f"{label} page {n} of {pages}")
        for line in range(40):
            c.drawString(72, 720 - line * 15, f"line {line} " + "lorem ipsum dolor " * 4)
        c.showPage()
    c.save()
    return buf.getvalue()


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / "uploads" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def image_bytes(fmt: str, size: tuple[int, int] = (600, 800), mode: str = "RGB", **save: object) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, "white" if mode != "1" else 1).save(buf, fmt, **save)
    return buf.getvalue()


def tiff_bytes(frames: int) -> bytes:
    pages = [Image.new("L", (400, 560), shade) for shade in range(100, 100 + 40 * frames, 40)]
    buf = io.BytesIO()
    pages[0].save(buf, "TIFF", save_all=True, append_images=pages[1:], dpi=(150, 150))
    return buf.getvalue()


def refused(tmp_path: Path, name: str, data: bytes, *, max_bytes: int = LIMIT) -> MaterialError:
    path = write(tmp_path, "upload.bin", data)
    with pytest.raises(MaterialError) as caught:
        normalize_upload(path, name, workdir=tmp_path / "work", max_bytes=max_bytes)
    return caught.value


# --- intake: what is taken ---------------------------------------------------------------------------


def test_a_two_page_pdf_is_taken_as_it_is(tmp_path: Path) -> None:
    path = write(tmp_path, "营业执照.pdf", pdf_bytes(2))
    material = normalize_upload(path, "营业执照.pdf", workdir=tmp_path / "work", max_bytes=LIMIT)
    assert (material.filename, material.kind, material.page_count) == ("营业执照.pdf", "pdf", 2)
    assert material.pdf_path == path
    assert not (tmp_path / "work").exists(), "a PDF needs no conversion, so nothing is written"


def test_a_jpeg_scan_becomes_one_page_at_its_own_resolution(tmp_path: Path) -> None:
    path = write(tmp_path, "scan.jpg", image_bytes("JPEG", (600, 800), dpi=(200, 200)))
    material = normalize_upload(path, "scan.JPG", workdir=tmp_path / "work", max_bytes=LIMIT)
    assert (material.kind, material.page_count) == ("jpeg", 1)
    assert material.pdf_path.parent == tmp_path / "work"
    page = PdfReader(material.pdf_path).pages[0]
    assert float(page.mediabox.width) == pytest.approx(600 * 72 / 200)
    assert float(page.mediabox.height) == pytest.approx(800 * 72 / 200)


def test_a_scan_without_a_believable_resolution_is_fitted_to_a4(tmp_path: Path) -> None:
    path = write(tmp_path, "photo.png", image_bytes("PNG", (2480, 3508), mode="RGBA"))
    material = normalize_upload(path, "photo.png", workdir=tmp_path / "work", max_bytes=LIMIT)
    box = PdfReader(material.pdf_path).pages[0].mediabox
    assert float(box.width) <= A4[0] + 0.5 and float(box.height) <= A4[1] + 0.5
    assert max(float(box.width) / A4[0], float(box.height) / A4[1]) == pytest.approx(1.0, abs=0.01)


def test_a_three_frame_tiff_becomes_three_pages(tmp_path: Path) -> None:
    path = write(tmp_path, "合同.tiff", tiff_bytes(3))
    material = normalize_upload(path, "合同.tiff", workdir=tmp_path / "work", max_bytes=LIMIT)
    assert (material.kind, material.page_count) == ("tiff", 3)
    assert len(PdfReader(material.pdf_path).pages) == 3


def test_the_same_scan_converts_to_the_same_bytes(tmp_path: Path) -> None:
    """Re-running intake after a crash must not produce a file with a different SHA-256."""
    path = write(tmp_path, "scan.png", image_bytes("PNG", (300, 400)))
    first = normalize_upload(path, "scan.png", workdir=tmp_path / "a", max_bytes=LIMIT)
    second = normalize_upload(path, "scan.png", workdir=tmp_path / "b", max_bytes=LIMIT)
    assert first.pdf_path.read_bytes() == second.pdf_path.read_bytes()


# --- intake: what is refused, and the clerk is told why -----------------------------------------------


def test_an_encrypted_pdf_is_refused_even_without_a_user_password(tmp_path: Path) -> None:
    writer = PdfWriter(clone_from=io.BytesIO(pdf_bytes(2)))
    writer.encrypt(user_password="", owner_password="owner-secret")
    buf = io.BytesIO()
    writer.write(buf)
    assert len(PdfReader(io.BytesIO(buf.getvalue())).pages) == 2, "it opens with an empty password"
    error = refused(tmp_path, "授权书.pdf", buf.getvalue())
    assert error.code == "encrypted"
    assert "授权书.pdf" in error.message and "授权书.pdf" in error.message_zh


def test_a_password_protected_pdf_is_refused(tmp_path: Path) -> None:
    writer = PdfWriter(clone_from=io.BytesIO(pdf_bytes(1)))
    writer.encrypt(user_password="1234")
    buf = io.BytesIO()
    writer.write(buf)
    assert refused(tmp_path, "locked.pdf", buf.getvalue()).code == "encrypted"


def test_a_pdf_cut_in_half_is_refused_as_corrupt(tmp_path: Path) -> None:
    whole = pdf_bytes(6)
    error = refused(tmp_path, "half.pdf", whole[: len(whole) // 2])
    assert error.code == "corrupt"
    assert "half.pdf" in error.message and "half.pdf" in error.message_zh


def test_a_cut_pdf_with_an_end_marker_glued_on_is_still_refused(tmp_path: Path) -> None:
    whole = pdf_bytes(6)
    assert refused(tmp_path, "glued.pdf", whole[: len(whole) // 2] + b"\n%%EOF\n").code == "corrupt"


def test_a_pdf_whose_page_data_rotted_in_the_middle_is_refused(tmp_path: Path) -> None:
    """Same length, valid structure, damaged page 2: pypdf alone would quietly repair what it can."""
    data = bytearray(pdf_bytes(3))
    contents = PdfReader(io.BytesIO(bytes(data))).pages[1].raw_get("/Contents")
    start = data.index(b"stream", data.index(f"\n{contents.idnum} 0 obj".encode())) + len(b"stream\r\n")
    data[start + 100 : start + 140] = b"!" * 40  # still valid ASCII85, no longer valid Flate
    error = refused(tmp_path, "rot.pdf", bytes(data))
    assert error.code == "corrupt" and "page 2" in error.message


def test_a_pdf_without_pages_is_refused(tmp_path: Path) -> None:
    buf = io.BytesIO()
    PdfWriter().write(buf)
    assert refused(tmp_path, "blank.pdf", buf.getvalue()).code == "no_pages"


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    error = refused(tmp_path, "身份证.pdf", b"")
    assert (error.code, error.filename) == ("empty", "身份证.pdf")
    assert "身份证.pdf" in error.message


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("notes.pdf", "这不是 PDF，只是文本。\n".encode()),
        ("picture.pdf", image_bytes("PNG", (20, 20))),
        ("scan.png", image_bytes("JPEG", (20, 20))),
        ("document.jpg", pdf_bytes(1)),
    ],
)
def test_a_file_whose_name_lies_about_its_type_is_refused(tmp_path: Path, name: str, content: bytes) -> None:
    error = refused(tmp_path, name, content)
    assert error.code == "type_mismatch"
    assert name in error.message and name in error.message_zh


def test_a_word_document_is_not_an_accepted_type(tmp_path: Path) -> None:
    assert refused(tmp_path, "申请表.docx", b"PK\x03\x04 not really").code == "unsupported_type"


def test_a_file_over_the_limit_is_refused(tmp_path: Path) -> None:
    data = pdf_bytes(2)
    error = refused(tmp_path, "big.pdf", data, max_bytes=len(data) - 1)
    assert error.code == "too_large" and "big.pdf" in error.message
    path = write(tmp_path, "exact.pdf", data)
    assert normalize_upload(path, "exact.pdf", workdir=tmp_path / "w", max_bytes=len(data)).page_count == 2


def test_a_truncated_image_is_refused_as_corrupt_and_leaves_nothing_behind(tmp_path: Path) -> None:
    whole = image_bytes("JPEG", (800, 1000), quality=95)
    error = refused(tmp_path, "cut.jpg", whole[: len(whole) // 2])
    assert error.code == "corrupt" and "cut.jpg" in error.message
    assert list((tmp_path / "work").glob("*")) == []


@pytest.mark.parametrize(
    "name",
    [
        "../x.pdf",
        "a/b.pdf",
        "C:\\x.pdf",
        "C:x.pdf",
        "x\x00.pdf",
        "",
        "   ",
        "..",
        "x" * 197 + ".pdf",
        "invoice\u202efdp.exe",
    ],
)
def test_names_that_could_escape_the_folder_or_mislead_are_refused(name: str) -> None:
    with pytest.raises(MaterialError) as caught:
        check_filename(name)
    assert caught.value.code == "bad_name"
    assert "\x00" not in caught.value.message, "the message shows control characters escaped"


def test_an_ordinary_name_is_returned_clean() -> None:
    assert check_filename("  营业执照（副本）.pdf ") == "营业执照（副本）.pdf"
    assert check_filename("e\u0301.pdf") == "\u00e9.pdf", "one spelling for one name (NFC)"


def test_path_traversal_is_refused_before_the_file_is_looked_at(tmp_path: Path) -> None:
    path = write(tmp_path, "ok.pdf", pdf_bytes(1))
    with pytest.raises(MaterialError) as caught:
        normalize_upload(path, "../../etc/passwd.pdf", workdir=tmp_path / "w", max_bytes=LIMIT)
    assert caught.value.code == "bad_name"


# --- printed documents -------------------------------------------------------------------------------

WINDOW = WindowContact(
    name="天津经开区政务服务中心 跨省通办专窗", phone="022-12345678", address="天津市滨海新区第二大街 62 号"
)
CASE: dict[str, Any] = dict(  # keyword arguments shared by every document of one case
    case_no="TB-2025-000123",
    item_code="1201-QY-0001",
    item_name="企业档案查询",
    receiving_zone="天津经开区",
    handling_zone="北京经开区",
    applicant_name="北京某某科技有限公司 & <分公司>",
    applicant_id="9111**********123X",
    received_at="2025-03-03 10:15",
    window=WINDOW,
)
MATERIALS = [
    MaterialLine(name="营业执照（副本）", pages=2, sha256="ab" * 32, form="扫描件", copies=1),
    MaterialLine(name="法定代表人身份证明", pages=1, sha256="cd" * 32, form="原件", copies=1),
]


def font_files(pdf: bytes) -> dict[str, set[str]]:
    """Each font on the first page → which embedded font-file keys its descriptor has."""
    page = PdfReader(io.BytesIO(pdf)).pages[0]
    found: dict[str, set[str]] = {}
    for font in page["/Resources"]["/Font"].values():  # type: ignore[index, union-attr]
        font = font.get_object()
        descriptor_owner = font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font
        descriptor = descriptor_owner.get("/FontDescriptor")
        keys: set[str] = set()
        if isinstance(descriptor and descriptor.get_object(), DictionaryObject):
            keys = {k for k in descriptor.get_object() if k.startswith("/FontFile")}
        found[str(font["/BaseFont"])] = keys
    return found


def assert_chinese_travels_with_the_pdf(pdf: bytes) -> None:
    font = find_cjk_font()
    fonts = font_files(pdf)
    if font.embedded:
        embedded = {name for name, keys in fonts.items() if "/FontFile2" in keys}
        assert embedded, f"no embedded TrueType font among {fonts}"
    else:  # the fallback: reported as not embedded, and indeed not embedded
        assert any("STSong-Light" in name and not keys for name, keys in fonts.items()), fonts


def test_the_receipt_shows_the_case_number_and_item_in_chinese_with_the_font_embedded() -> None:
    pdf = render_receipt(
        ReceiptInfo(
            **CASE,
            deadline="2025-03-17",
            time_limit="10 个工作日",
            materials=MATERIALS,
            clerk="张三",
            result_delivery="邮寄",
        )
    )
    text = pdf_text(pdf)
    for expected in (
        "收件回执",
        "TB-2025-000123",
        "企业档案查询",
        "承诺办结日期",
        "2025-03-17",
        "营业执照（副本）",
        "北京某某科技有限公司 & <分公司>",
        "022-12345678",
    ):
        assert expected in text
    assert_chinese_travels_with_the_pdf(pdf)


def test_the_cover_sheet_lists_every_material_with_its_hash() -> None:
    pdf = render_cover_sheet(
        CoverInfo(
            **CASE, deadline="2025-03-17", materials=MATERIALS, prechecked_by="李四", forwarded_at="2025-03-04 09:00"
        )
    )
    text = pdf_text(pdf).replace("\n", "")
    assert "TB-2025-000123" in text and "企业档案查询" in text and "转递封面" in text
    for m in MATERIALS:
        assert m.sha256 and m.name in text and m.sha256 in text
    assert "共 2 件，3 页" in text
    assert_chinese_travels_with_the_pdf(pdf)


def test_the_supplement_notice_tells_every_defect_at_once() -> None:
    defects = [
        Defect(material="营业执照", reason="复印件不清晰，请提供清晰复印件并加盖公章"),
        Defect(material="委托书", reason="缺少，须由法定代表人签字"),
    ]
    pdf = render_supplement_notice(
        NoticeInfo(**CASE, notice_date="2025-03-03", defects=defects, supplement_by="2025-03-20")
    )
    text = pdf_text(pdf).replace("\n", "")
    assert "一次性告知书" in text and "TB-2025-000123" in text and "企业档案查询" in text
    for d in defects:
        assert d.material in text and d.reason in text
    assert "共 2 项" in text
    assert_chinese_travels_with_the_pdf(pdf)


def test_without_any_cjk_font_installed_the_fallback_is_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    not_a_font = tmp_path / "broken.ttc"
    not_a_font.write_bytes(b"not a font")
    with caplog.at_level(logging.WARNING, logger="documents.fonts"):
        font = find_cjk_font([tmp_path / "missing.ttc", not_a_font])
    assert (font.name, font.embedded, font.path) == ("STSong-Light", False, None)
    assert "NOT embedded" in caplog.text


# --- the transfer packet -----------------------------------------------------------------------------


def test_the_packet_is_the_cover_then_every_material_each_with_a_bookmark(tmp_path: Path) -> None:
    work = tmp_path / "work"
    licence = normalize_upload(
        write(tmp_path, "licence.pdf", pdf_bytes(2, "licence", bookmark="its own mark")),
        "licence.pdf",
        workdir=work,
        max_bytes=LIMIT,
    )
    contract = normalize_upload(
        write(tmp_path, "contract.tif", tiff_bytes(3)), "contract.tif", workdir=work, max_bytes=LIMIT
    )
    photo = normalize_upload(write(tmp_path, "id.jpg", image_bytes("JPEG")), "id.jpg", workdir=work, max_bytes=LIMIT)
    cover = render_cover_sheet(CoverInfo(**CASE, deadline="2025-03-17", materials=MATERIALS))
    named = [("营业执照（副本）", licence), ("合同", contract), ("身份证明", photo)]

    out = io.BytesIO()
    with licence.pdf_path.open("rb") as licence_stream:
        sources = [(name, licence_stream if m is licence else m.pdf_path) for name, m in named]
        pages = build_packet(cover, sources, out)  # type: ignore[arg-type]

    cover_pages = len(PdfReader(io.BytesIO(cover)).pages)
    assert pages == cover_pages + sum(m.page_count for _, m in named)
    assert len(PdfReader(io.BytesIO(out.getvalue())).pages) == pages
    assert pdf_outline_titles(out.getvalue()) == [COVER_BOOKMARK] + [name for name, _ in named]
    starts = [page for _, page in pdf_outline_pages(out.getvalue())]
    assert starts == [0, cover_pages, cover_pages + 2, cover_pages + 5]
    second_page_text = PdfReader(io.BytesIO(out.getvalue())).pages[cover_pages + 1].extract_text()
    assert "licence page 2 of 2" in second_page_text


def test_a_packet_written_to_a_file_reads_back(tmp_path: Path) -> None:
    material = write(tmp_path, "m.pdf", pdf_bytes(1, "only"))
    target = tmp_path / "packet.pdf"
    cover = render_cover_sheet(CoverInfo(**CASE, deadline="2025-03-17"))
    with target.open("wb") as out:
        pages = build_packet(cover, [("唯一材料", material)], out)
    assert pdf_outline_titles(target) == [COVER_BOOKMARK, "唯一材料"]
    assert pages == len(PdfReader(target).pages)
    assert "only page 1 of 1" in pdf_text(target) and "TB-2025-000123" in pdf_text(target)
