"""PDF handling: intake checks and conversion, printed documents, and the transfer packet."""

from documents.errors import MATERIAL_ERROR_CODES, MaterialError
from documents.fonts import CjkFont, find_cjk_font
from documents.intake import EXTENSION_KINDS, NormalizedMaterial, check_filename, normalize_upload
from documents.packet import (
    COVER_BOOKMARK,
    build_packet,
    pdf_outline_pages,
    pdf_outline_titles,
    pdf_text,
)
from documents.render import (
    CaseParticulars,
    CoverInfo,
    Defect,
    ELicenceLine,
    MaterialLine,
    NoticeInfo,
    ReceiptInfo,
    WindowContact,
    render_cover_sheet,
    render_e_licence,
    render_receipt,
    render_supplement_notice,
)

__all__ = [
    "COVER_BOOKMARK",
    "EXTENSION_KINDS",
    "MATERIAL_ERROR_CODES",
    "CaseParticulars",
    "CjkFont",
    "CoverInfo",
    "Defect",
    "ELicenceLine",
    "MaterialError",
    "MaterialLine",
    "NormalizedMaterial",
    "NoticeInfo",
    "ReceiptInfo",
    "WindowContact",
    "build_packet",
    "check_filename",
    "find_cjk_font",
    "normalize_upload",
    "pdf_outline_pages",
    "pdf_outline_titles",
    "pdf_text",
    "render_cover_sheet",
    "render_e_licence",
    "render_receipt",
    "render_supplement_notice",
]
