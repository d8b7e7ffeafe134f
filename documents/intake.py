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
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageOps, ImageSequence
from pypdf import PdfReader
from reportlab.lib.pagesizes import A3, A4
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas

from documents.active import describe, find_active_content
from documents.errors import MaterialError, display_name

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
#: Before ``%PDF-``: markup a browser or an HTML parser would act on (an HTML/PDF polyglot).
_MARKUP_MARKERS = (b"<", b"javascript:")
#: Markup that has no business in the first KiB of any scan or PDF, wherever it stands there.
_HTML_MARKERS = (b"<html", b"<script", b"<!doctype", b"<iframe", b"<body", b"<svg", b"<object", b"<embed",
                 b"<meta", b"<img", b"<a href", b"<form")

#: Bytes per pixel that one conversion (decode + colour conversion + reportlab's encoding) holds at
#: its peak, measured on 20-megapixel noise images (incompressible: the worst case): gray 12, colour
#: 25, with alpha or a palette 29 — rounded up.
WORKING_BYTES_PER_PIXEL = {"gray": 13, "colour": 26, "alpha": 30}
_GRAY_MODES = frozenset({"1", "L", "I;16", "I;16B", "I;16L", "I;16N", "I", "F"})
_ALPHA_MODES = frozenset({"P", "PA", "LA", "La", "RGBA", "RGBa"})


def decoded_bytes(size: tuple[int, int], mode: str) -> int:
    """Bytes Pillow holds for one decoded frame (it keeps 1, 2 or 4 bytes per pixel, RGB included)."""
    per_pixel = 1 if mode in ("1", "L", "P") else 2 if mode.startswith("I;16") else 4
    return size[0] * size[1] * per_pixel


def working_bytes(size: tuple[int, int], mode: str) -> int:
    """Peak memory one frame's conversion to a PDF page costs, estimated from its header alone."""
    kind = "gray" if mode in _GRAY_MODES else "alpha" if mode in _ALPHA_MODES else "colour"
    return size[0] * size[1] * WORKING_BYTES_PER_PIXEL[kind]


class MemoryBudget:
    """A weighted semaphore over bytes: concurrent conversions together stay under ``capacity``.

    A conversion reserves its estimated working set before it decodes anything and gives it back
    when its page is written; one that would not fit waits (up to ``wait_seconds``) for others to
    finish. One process shares one budget (see :func:`image_limits`).
    """

    def __init__(self, capacity: int, *, wait_seconds: float = 120.0) -> None:
        if capacity <= 0:
            raise ValueError("a memory budget needs a positive capacity")
        self.capacity = capacity
        self.wait_seconds = wait_seconds
        self.in_use = 0
        self.peak = 0  # the most ever reserved at once (for tests and the docs)
        self._cond = threading.Condition()

    @contextmanager
    def reserve(self, nbytes: int) -> Iterator[None]:
        """Hold ``nbytes`` of the budget; ``TimeoutError`` when it does not free up in time."""
        if nbytes > self.capacity:
            raise ValueError(f"{nbytes} bytes can never fit a budget of {self.capacity}")
        deadline = time.monotonic() + self.wait_seconds
        with self._cond:
            while self.in_use + nbytes > self.capacity:
                left = deadline - time.monotonic()
                timed_out = left <= 0 or not self._cond.wait(left)
                if timed_out and self.in_use + nbytes > self.capacity:
                    raise TimeoutError(f"no {nbytes} bytes free in the conversion budget")
            self.in_use += nbytes
            self.peak = max(self.peak, self.in_use)
        try:
            yield
        finally:
            with self._cond:
                self.in_use -= nbytes
                self._cond.notify_all()


@dataclass(frozen=True)
class ImageLimits:
    """How big a scan may be once decoded, and the memory all conversions of a process share."""

    max_pixels: int
    max_decoded_bytes: int
    budget: MemoryBudget

    def check_frame(self, name: str, size: tuple[int, int], mode: str) -> int:
        """Refuse a frame whose declared size is over the limits (before decoding); return its working set."""
        w, h = size
        pixels, decoded, working = w * h, decoded_bytes(size, mode), working_bytes(size, mode)
        if w <= 0 or h <= 0:
            raise _corrupt(name, "the image declares no size", "图像未声明尺寸")
        if pixels > self.max_pixels or decoded > self.max_decoded_bytes or working > self.budget.capacity:
            mp, limit_mp = pixels / 1e6, self.max_pixels / 1e6
            raise _refuse(
                name,
                "too_large",
                f"“{name}” declares {w}×{h} pixels ({mp:.1f} megapixels, about {_human(decoded)} once decoded); "
                f"the limit is {limit_mp:.0f} megapixels and {_human(self.max_decoded_bytes)}. "
                "Scan it again at 300 dpi or make it smaller.",
                f"文件“{name}”声明的图像尺寸为 {w}×{h} 像素（{mp:.1f} 百万像素，解码后约 {_human(decoded)}），"
                f"超过上限（{limit_mp:.0f} 百万像素、{_human(self.max_decoded_bytes)}）。"
                "请以 300 dpi 重新扫描或缩小后再上传。",
            )
        return working


@lru_cache(maxsize=8)
def image_limits(max_pixels: int = 32_000_000, max_decoded_bytes: int = 128 * 1024 * 1024,
                 memory_budget: int = 1024 * 1024 * 1024) -> ImageLimits:
    """The limits for these settings; the same settings give the same object, so one process shares
    one :class:`MemoryBudget` however many runtimes, requests and flows use it."""
    return ImageLimits(max_pixels=max_pixels, max_decoded_bytes=max_decoded_bytes,
                       budget=MemoryBudget(memory_budget))


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


def normalize_upload(path: Path, filename: str, *, workdir: Path, max_bytes: int,
                     limits: ImageLimits | None = None, refuse_hostile: bool = True) -> NormalizedMaterial:
    """Check one uploaded file and return it as a PDF, or raise :class:`MaterialError`.

    The type is taken from the content (magic bytes), and must agree with the name's extension.
    Images become a PDF with one page per frame, written to a new file in ``workdir``; their
    declared size is checked against ``limits`` before anything is decoded. A PDF with active
    content (scripts, launch actions, embedded files, XFA) and an HTML/PDF polyglot are refused
    unless ``refuse_hostile`` is false: the forward flow re-reads stored files for the packet, which
    is written afresh without either, and a file stored before these checks must still be forwarded.
    """
    limits = limits or image_limits()
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
    if refuse_hostile:
        _refuse_polyglot(name, head, real)
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
        pages = _check_pdf(path, name, size, refuse_active=refuse_hostile)
        return NormalizedMaterial(filename=name, kind="pdf", page_count=pages, pdf_path=path)
    workdir.mkdir(parents=True, exist_ok=True)
    fd, out_name = tempfile.mkstemp(dir=workdir, prefix="material-", suffix=".pdf")
    os.close(fd)
    out = Path(out_name)
    try:
        pages = _image_to_pdf(path, name, real, out, limits)
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return NormalizedMaterial(filename=name, kind=real, page_count=pages, pdf_path=out)


def _refuse_polyglot(name: str, head: bytes, real: str | None) -> None:
    """A file that is also a web page (HTML before ``%PDF-``, or HTML tags in its first KiB) is refused:
    a browser or mail client that sniffs it would run it as a page of our site."""
    lowered = head.lower()
    prefix = lowered[: lowered.find(b"%pdf-")] if real == "pdf" else b""
    if any(m in prefix for m in _MARKUP_MARKERS) or any(m in lowered for m in _HTML_MARKERS):
        raise _refuse(
            name,
            "polyglot",
            f"“{name}” is also a web page (it contains HTML markup where a browser looks for it); "
            "such a file could run in a browser, so it is not accepted — scan the paper or export a clean PDF.",
            f"文件“{name}”同时是一个网页（文件开头含有 HTML 标记），可能在浏览器中被执行，出于安全原因不予接收；"
            "请扫描纸质件或重新导出为普通 PDF 后上传。",
        )


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


def _check_pdf(path: Path, name: str, size: int, *, refuse_active: bool = True) -> int:
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
        active = find_active_content(reader.trailer["/Root"]) if refuse_active else []
    if active:
        en, zh = describe(active)
        raise _refuse(
            name,
            "active_content",
            f"“{name}” contains active content ({en}) that a PDF viewer would run or open by itself; "
            "for the handling zone's safety it is not accepted. Print it to a new PDF or scan the paper, "
            "then upload that.",
            f"文件“{name}”含有活动内容（{zh}），打开时可能自动运行或打开其他程序，出于安全原因不予接收。"
            "请将其“打印为 PDF”或扫描纸质件后重新上传。",
        )
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


def _image_to_pdf(path: Path, name: str, kind: str, out: Path, limits: ImageLimits) -> int:
    """Write ``out`` with one page per image frame; return the page count.

    A plain JPEG is embedded as it is (no re-compression); other frames are embedded losslessly.
    reportlab's ``invariant`` mode makes the same scan give the same PDF bytes (same SHA-256).
    Each frame's declared size (read from its header, nothing decoded yet) is checked against
    ``limits`` and its working set reserved from the process's conversion budget while it converts.
    """
    pdf = canvas.Canvas(str(out), invariant=1, pageCompression=1)
    pdf.setTitle(name)
    pages = 0
    try:
        with Image.open(path) as im:
            if im.format != PIL_FORMATS[kind]:
                raise _corrupt(name, f"not a readable {KIND_LABELS[kind]}", f"不是可读取的{KIND_LABELS_ZH[kind]}")
            for frame in ImageSequence.Iterator(im):
                working = limits.check_frame(name, frame.size, frame.mode)  # header only, not decoded
                with _reserved(limits.budget, working, name):
                    pages += _frame_page(pdf, path, kind, frame)
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


@contextmanager
def _reserved(budget: MemoryBudget, working: int, name: str) -> Iterator[None]:
    """Hold ``working`` bytes of the budget; a timeout becomes a clear "server busy" refusal."""
    reservation = budget.reserve(working)
    try:
        reservation.__enter__()
    except TimeoutError as exc:
        raise _refuse(
            name,
            "server_busy",
            f"The server is converting other large scans right now; “{name}” was not taken — try again in a minute.",
            f"服务器正在转换其他大幅扫描件，文件“{name}”暂未接收，请稍后重试。",
        ) from exc
    try:
        yield
    finally:
        reservation.__exit__(None, None, None)


def _frame_page(pdf: canvas.Canvas, path: Path, kind: str, frame: Image.Image) -> int:
    """Decode one frame and draw it as one page."""
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
    return 1
