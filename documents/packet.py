"""The transfer packet (转递包): one PDF with the cover sheet and every material, one bookmark each.

The reviewer in the handling zone opens ONE file and jumps between materials by bookmark.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import BinaryIO

from pypdf import PdfReader, PdfWriter
from pypdf.generic import Destination

from documents.active import strip_active_content

COVER_BOOKMARK = "封面"


def build_packet(cover_pdf: bytes, materials: list[tuple[str, BinaryIO | Path]], out: BinaryIO) -> int:
    """Write the packet to ``out``: the cover, then each material in order; return the page count.

    Each material gets a top-level bookmark titled with its name at its first page; the materials'
    own bookmarks are not imported, so the outline lists exactly the cover and the materials.
    Materials must already have passed :func:`documents.normalize_upload`. pypdf assembles the
    packet in memory before writing it, so its size bounds the memory used.

    The packet carries no active content (see :mod:`documents.active`): intake refuses it, and
    whatever came in before that check (or slipped past it) is stripped here, unreferenced objects
    and all, so the reviewer's viewer runs nothing and opens nothing by itself.
    """
    writer = PdfWriter()
    with ExitStack() as files:
        writer.append(io.BytesIO(cover_pdf), outline_item=COVER_BOOKMARK, import_outline=False)
        for name, source in materials:
            # An open file, not a path: pypdf reads a whole file into memory when given a path.
            stream = files.enter_context(source.open("rb")) if isinstance(source, Path) else source
            writer.append(stream, outline_item=name, import_outline=False)
        if strip_active_content(writer.root_object):
            # The scripts' and embedded files' own objects are now unreferenced: leave them out of the file.
            writer.compress_identical_objects(remove_duplicates=False, remove_unreferenced=True)
        writer.page_mode = "/UseOutlines"  # viewers open with the bookmarks showing
        writer.add_metadata({"/Title": f"转递材料包（{len(materials)} 件材料）"})
        pages = len(writer.pages)
        writer.write(out)
    return pages


def _reader(path_or_stream: Path | str | BinaryIO | bytes) -> PdfReader:
    if isinstance(path_or_stream, bytes):
        return PdfReader(io.BytesIO(path_or_stream))
    return PdfReader(path_or_stream)


def _top_level(outline: list[Destination | list[object]]) -> Iterator[Destination]:
    for entry in outline:
        if isinstance(entry, Destination):
            yield entry


def pdf_outline_titles(path_or_stream: Path | str | BinaryIO | bytes) -> list[str]:
    """Titles of the top-level bookmarks, in order (children of a bookmark are not listed)."""
    reader = _reader(path_or_stream)
    return [str(dest.title) for dest in _top_level(reader.outline)]  # type: ignore[arg-type]


def pdf_outline_pages(path_or_stream: Path | str | BinaryIO | bytes) -> list[tuple[str, int | None]]:
    """Top-level bookmarks with the 0-based page each points at (None: nowhere); for tests and the UI."""
    reader = _reader(path_or_stream)
    return [
        (str(dest.title), reader.get_destination_page_number(dest))
        for dest in _top_level(reader.outline)  # type: ignore[arg-type]
    ]


def pdf_text(path_or_stream: Path | str | BinaryIO | bytes) -> str:
    """The extractable text of every page, pages separated by a newline."""
    reader = _reader(path_or_stream)
    return "\n".join(page.extract_text() or "" for page in reader.pages)
