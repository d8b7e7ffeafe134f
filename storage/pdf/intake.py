"""Take an uploaded material at the window (收件) and turn it into one checked PDF.

Everything a clerk can upload ends up as a PDF: the handling zone archives PDFs, and the transfer
packet is one PDF. So at intake we refuse what the other side could not open (encrypted, truncated,
mislabelled files) while the applicant is still at the counter, and we convert scans (JPEG, PNG,
multi-page TIFF) to PDF pages.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, ImageSequence
from pypdf import PdfReader
from reportlab.lib.pagesizes import A3, A4
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas

from storage.pdf.errors import MaterialError, display_name

#: Accepted file name extensions and the content type each one promises.
EXTENSION_KINDS: dict[str, str] = {
    ".pdf": "pdf",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".png": "png",
    ".tif": "tiff",
    ".tiff": "tiff",
}
KIND_LABELS = {"pdf": "PDF", "jpeg": "JPEG image", "png": "PNG image", "tiff": "TIFF image"}
KIND_LABELS_ZH = {"pdf": "PDF 文件", "jpeg": "JPEG 图片", "png": "PNG 图片", "tiff": "TIFF 图片"}
PIL_FORMATS = {"jpeg": "JPEG", "png": "PNG", "tiff": "TIFF"}

MAX_NAME_LENGTH = 200
#: PDF allows junk before the header; readers look for it in the first KiB.
PDF_HEADER_WINDOW = 1024
#: Where a complete PDF's last ``%%EOF`` must be (some producers pad the end a little).
PDF_TAIL_WINDOW = 4096
#: A resolution tag outside this range is a lie (72 dpi "unknown", 1 dpi aspect-only JFIF …).
SANE_DPI = (100.0, 1200.0)
_EXIF_ORIENTATION = 0x0112


@dataclass
class NormalizedMaterial:
    """An accepted upload, as a PDF on disk ready to be hashed, stored and put in a packet."""

    filename: str  # original (clean) name
    kind: str  # "pdf" | "jpeg" | "png" | "tiff": the real type, from the content
    page_count: int
    pdf_path: Path  # the original if it was a PDF, else a converted PDF in the workdir


def _refuse(filename: str, code: str, en: str, zh: str) -> MaterialError:
    return MaterialError(filename=filename, code=code, message=en, message_zh=zh)


def check_filename(name: str) -> str:
    """Return the clean upload name (NFC, trimmed) or refuse one that could escape a folder or mislead.

    Refused: empty, longer than 200 characters, any folder part (``/``, ``\\``, ``C:``), ``.``/``..``,
    control or invisible format characters (NUL, right-to-left override …).
    """
    raw = name if isinstance(name, str) else str(name)
    clean = unicodedata.normalize("NFC", raw).strip()
    shown = display_name(raw) or "(empty)"

    def bad(en_reason: str, zh_reason: str) -> MaterialError:
        return _refuse(
            raw,
            "bad_name",
            f"The file name “{shown}” is not acceptable: {en_reason}.",
            f"文件名“{shown}”不可接受：{zh_reason}。",
        )

    if not clean:
        raise bad("it is empty", "文件名为空")
    if len(clean) > MAX_NAME_LENGTH:
        raise bad(f"it is longer than {MAX_NAME_LENGTH} characters", f"长度超过 {MAX_NAME_LENGTH} 个字符")
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in clean):
        raise bad("it contains control or invisible characters", "包含控制字符或不可见字符")
    if "/" in clean or "\\" in clean or ":" in clean:
        raise bad("it must be a bare file name without any folder or drive", "不得包含目录或盘符")
    if clean in (".", "..") or clean.endswith("."):
        raise bad("it is not a file name", "不是有效的文件名")
    return clean


def _sniff(head: bytes) -> str | None:
    """The real content type from magic bytes, or None if it is none we accept."""
    if b"%PDF-" in head[:PDF_HEADER_WINDOW]:
        return "pdf"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "tiff"
    return None


def normalize_upload(path: Path, filename: str, *, workdir: Path, max_bytes: int) -> NormalizedMaterial:
    """Check one uploaded file and return it as a PDF, or raise :class:`MaterialError`.

    The type is taken from the content (magic bytes), and must agree with the name's extension.
    Images become a PDF with one page per frame, written to a new file in ``workdir``.
    """
    name = check_filename(filename)
    ext = os.path.splitext(name)[1].lower()
    claimed = EXTENSION_KINDS.get(ext)
    if claimed is None:
        accepted = " ".join(sorted(EXTENSION_KINDS))
        raise _refuse(
            name,
            "unsupported_type",
            f"“{name}” is not an accepted type of file; upload PDF, JPEG, PNG or TIFF ({accepted}).",
            f"文件“{name}”的类型不受支持，请上传 PDF、JPEG、PNG 或 TIFF 文件（{accepted}）。",
        )
    size = path.stat().st_size
    if size == 0:
        raise _refuse(name, "empty", f"“{name}” is empty (0 bytes).", f"文件“{name}”为空（0 字节）。")
    if size > max_bytes:
        have, limit = _human(size), _human(max_bytes)
        if have == limit:  # too close to tell apart when rounded
            have, limit = f"{size} bytes", f"{max_bytes} bytes"
        raise _refuse(
            name,
            "too_large",
            f"“{name}” is {have}, larger than the limit of {limit}.",
            f"文件“{name}”大小为 {have}，超过上限 {limit}。",
        )
    with path.open("rb") as fh:
        head = fh.read(PDF_HEADER_WINDOW)
    real = _sniff(head)
    if real != claimed:
        what_en = f"a {KIND_LABELS[real]}" if real else "not any accepted type (PDF, JPEG, PNG, TIFF)"
        what_zh = f"实际是{KIND_LABELS_ZH[real]}" if real else "不属于任何可接受的类型（PDF、JPEG、PNG、TIFF）"
        raise _refuse(
            name,
            "type_mismatch",
            f"“{name}” is named as a {KIND_LABELS[claimed]} but its content is {what_en}.",
            f"文件“{name}”按扩展名应为{KIND_LABELS_ZH[claimed]}，但其内容{what_zh}。",
        )
    if real == "pdf":
        pages = _check_pdf(path, name, size)
        return NormalizedMaterial(filename=name, kind="pdf", page_count=pages, pdf_path=path)
    workdir.mkdir(parents=True, exist_ok=True)
    fd, out_name = tempfile.mkstemp(dir=workdir, prefix="material-", suffix=".pdf")
    os.close(fd)
    out = Path(out_name)
    try:
        pages = _image_to_pdf(path, name, real, out)
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return NormalizedMaterial(filename=name, kind=real, page_count=pages, pdf_path=out)


def _human(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n = n / 1024  # type: ignore[assignment]
    raise AssertionError("unreachable")


def _corrupt(name: str, en_detail: str, zh_detail: str) -> MaterialError:
    return _refuse(
        name,
        "corrupt",
        f"“{name}” is damaged and cannot be read ({en_detail}); please scan or export it again.",
        f"文件“{name}”已损坏，无法读取（{zh_detail}），请重新扫描或导出。",
    )


class _DecodeTrouble(logging.Handler):
    """Collects what pypdf's decoders complain about in this thread while we read the pages.

    pypdf repairs a damaged compressed stream as far as it can and only logs a warning; for an
    archive copy that repair is data loss, so here it counts as damage.
    """

    _logger = logging.getLogger("pypdf.filters")

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []
        self._thread = threading.get_ident()

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self._thread:
            self.messages.append(record.getMessage())

    def __enter__(self) -> _DecodeTrouble:
        self._logger.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self._logger.removeHandler(self)


def _check_pdf(path: Path, name: str, size: int) -> int:
    """Open the PDF the way the other zone will and read every page; return the page count.

    pypdf given a *path* reads the whole file into memory, so we hand it an open file instead.
    pypdf's lenient mode repairs some damage silently, so a missing ``%%EOF`` at the end (a file
    cut short in upload or copy) is checked here first.
    """
    with path.open("rb") as fh:
        fh.seek(max(0, size - PDF_TAIL_WINDOW))
        if b"%%EOF" not in fh.read():
            raise _corrupt(name, "the end of the file is missing, it was probably cut short", "文件不完整，结尾缺失")
        fh.seek(0)
        try:
            reader = PdfReader(fh, strict=False)
        except Exception as exc:
            raise _corrupt(name, f"PDF structure unreadable: {exc}", "PDF 结构无法解析") from exc
        if reader.is_encrypted:
            raise _refuse(
                name,
                "encrypted",
                f"“{name}” is password-protected or encrypted; the handling zone cannot archive it, "
                "so please upload an unprotected copy.",
                f"文件“{name}”已加密或设有密码，受理地无法归档，请上传未加密的文件。",
            )
        try:
            with _DecodeTrouble() as trouble:
                count = len(reader.pages)
                for number, page in enumerate(reader.pages, start=1):
                    box = page.mediabox
                    if box.width <= 0 or box.height <= 0:
                        raise ValueError(f"page {number} has an empty size")
                    contents = page.get_contents()
                    if contents is not None:
                        contents.get_data()
                    if trouble.messages:
                        raise ValueError(f"page {number} is damaged: {trouble.messages[0]}")
        except Exception as exc:
            raise _corrupt(name, f"a page cannot be read: {exc}", "有页面无法读取") from exc
    if count == 0:
        raise _refuse(name, "no_pages", f"“{name}” is a PDF without any page.", f"文件“{name}”是没有任何页面的 PDF。")
    return count


def _page_size(frame: Image.Image) -> tuple[float, float]:
    """Page size in points: the scan's native size at its DPI, or fitted to A4 when the DPI is missing,
    implausible, or would give a page larger than A3 (a 300-dpi scan tagged 72 dpi)."""
    px_w, px_h = frame.size
    dpi = frame.info.get("dpi")
    try:
        dx, dy = (float(dpi[0]), float(dpi[1])) if dpi else (0.0, 0.0)
    except (TypeError, ValueError, IndexError):
        dx = dy = 0.0
    if SANE_DPI[0] <= dx <= SANE_DPI[1] and SANE_DPI[0] <= dy <= SANE_DPI[1]:
        w, h = px_w * 72.0 / dx, px_h * 72.0 / dy
        if max(w, h) <= A3[1] + 1 and min(w, h) <= A3[0] + 1:
            return w, h
    a4_w, a4_h = (A4[0], A4[1]) if px_h >= px_w else (A4[1], A4[0])
    scale = min(a4_w / px_w, a4_h / px_h)
    return px_w * scale, px_h * scale


def _printable(frame: Image.Image) -> Image.Image:
    """A frame in a mode reportlab embeds well: gray or colour, no transparency (paper is white)."""
    if frame.mode in ("L", "RGB", "CMYK"):
        return frame
    if frame.mode == "1":
        return frame.convert("L")
    if frame.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return frame.convert("L")
    rgba = frame.convert("RGBA")
    white = Image.new("RGB", rgba.size, (255, 255, 255))
    white.paste(rgba, mask=rgba.getchannel("A"))
    return white


def _image_to_pdf(path: Path, name: str, kind: str, out: Path) -> int:
    """Write ``out`` with one page per image frame; return the page count.

    A plain JPEG is embedded as it is (no re-compression); other frames are embedded losslessly.
    reportlab's ``invariant`` mode makes the same scan give the same PDF bytes (same SHA-256).
    """
    pdf = canvas.Canvas(str(out), invariant=1, pageCompression=1)
    pdf.setTitle(name)
    pages = 0
    try:
        with Image.open(path) as im:
            if im.format != PIL_FORMATS[kind]:
                raise _corrupt(name, f"not a readable {KIND_LABELS[kind]}", f"不是可读取的{KIND_LABELS_ZH[kind]}")
            for frame in ImageSequence.Iterator(im):
                frame.load()  # decodes the whole frame: a truncated scan fails here
                turned = kind == "jpeg" and frame.getexif().get(_EXIF_ORIENTATION, 1) not in (1, None)
                upright = ImageOps.exif_transpose(frame) if turned else frame
                w, h = _page_size(frame)
                if upright.size != frame.size:  # a phone photo taken sideways
                    w, h = h, w
                pdf.setPageSize((w, h))
                passthrough = kind == "jpeg" and not turned and frame.mode in ("L", "RGB")
                source = ImageReader(str(path)) if passthrough else ImageReader(_printable(upright))
                pdf.drawImage(source, 0, 0, width=w, height=h)
                pdf.showPage()
                pages += 1
    except MaterialError:
        raise
    except Image.DecompressionBombError as exc:
        raise _refuse(
            name,
            "too_large",
            f"“{name}” has too many pixels to be a document scan ({exc}).",
            f"文件“{name}”像素过多，不像是文件扫描件。",
        ) from exc
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError, struct.error …
        raise _corrupt(name, f"image data unreadable: {exc}", "图像数据无法读取") from exc
    if pages == 0:
        raise _refuse(name, "no_pages", f"“{name}” contains no image.", f"文件“{name}”不包含任何图像。")
    pdf.save()
    return pages
