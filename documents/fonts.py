"""Find a CJK font to embed in the PDFs we print (收件回执, 转递封面, 一次性告知书).

A receipt or a cover sheet travels to another office; it must show its Chinese text in whatever
viewer that office has. So we embed a subset of a TrueType CJK font found on this machine. Only
TrueType outlines can be embedded by reportlab (Noto CJK ``.ttc``/``.otf`` files are CFF and are
refused by reportlab; they are tried and skipped). When nothing usable is installed we fall back to
reportlab's ``STSong-Light`` CID font, which is NOT embedded, and say so loudly: install
``fonts-wqy-zenhei`` (Debian) to fix it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont

log = logging.getLogger(__name__)

#: Places where Debian/Ubuntu/Fedora/Alpine put TrueType CJK fonts, best first. No settings on
#: purpose: the font is a property of the machine, not of a deployment.
DEFAULT_CANDIDATES: tuple[Path, ...] = (
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/wqy-zenhei/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/wenquanyi/wqy-zenhei/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/wqy-microhei/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/arphic/uming.ttc"),
    Path("/usr/share/fonts/truetype/arphic/ukai.ttc"),
    Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),
    Path("/usr/share/fonts/google-droid-sans-fonts/DroidSansFallbackFull.ttf"),
    # CFF-flavoured, reportlab refuses them today; kept in case a TrueType build is installed there.
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc"),
)

#: reportlab's built-in Adobe-GB1 CID font: always available, never embedded.
FALLBACK_CID_FONT = "STSong-Light"


@dataclass(frozen=True)
class CjkFont:
    """The font our documents use for Chinese text, and whether it travels inside the PDF."""

    name: str  # reportlab font name to use in styles
    path: Path | None  # the font file, None for the CID fallback
    embedded: bool  # False: the PDF shows Chinese only where the viewer has a CJK font


_lock = threading.Lock()
_cache: dict[tuple[Path, ...], CjkFont] = {}


def _registered_name(path: Path) -> str:
    """A reportlab font name unique per file, so two candidates never collide in the registry."""
    return "TongbanCJK-" + path.stem.replace(" ", "")


def find_cjk_font(candidates: Sequence[Path] = DEFAULT_CANDIDATES) -> CjkFont:
    """Register and return the first embeddable CJK font among ``candidates``.

    Falls back to ``STSong-Light`` (not embedded) with a warning. The result is cached per
    candidate list, because parsing a 16 MB ``.ttc`` for every receipt would be wasteful.
    """
    key = tuple(candidates)
    with _lock:
        if key in _cache:
            return _cache[key]
        font = _search(key)
        _cache[key] = font
        return font


def _search(candidates: tuple[Path, ...]) -> CjkFont:
    for path in candidates:
        if not path.is_file():
            continue
        name = _registered_name(path)
        try:
            if name not in pdfmetrics.getRegisteredFontNames():
                pdfmetrics.registerFont(TTFont(name, str(path), subfontIndex=0))
        except Exception as exc:  # reportlab raises TTFError and friends for CFF or broken files
            log.info("CJK font candidate %s cannot be embedded by reportlab: %s", path, exc)
            continue
        return CjkFont(name=name, path=path, embedded=True)
    log.warning(
        "No embeddable CJK TrueType font found (looked at %d places); falling back to %s, which is "
        "NOT embedded: generated PDFs show Chinese only where the viewer has a CJK font. "
        "Install fonts-wqy-zenhei to fix this.",
        len(candidates),
        FALLBACK_CID_FONT,
    )
    if FALLBACK_CID_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FALLBACK_CID_FONT))
    return CjkFont(name=FALLBACK_CID_FONT, path=None, embedded=False)
