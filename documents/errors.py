"""The one error a clerk sees when an uploaded material (申请材料) cannot be taken."""

from __future__ import annotations

import unicodedata

#: Every reason we refuse a file; the web layer maps them to messages and HTTP 422.
MATERIAL_ERROR_CODES = frozenset(
    {"empty", "encrypted", "corrupt", "type_mismatch", "unsupported_type", "too_large", "bad_name", "no_pages",
     "active_content", "polyglot", "server_busy"}
)
#: Codes answered with something other than 422: the file is too big (413), or the server is (503).
MATERIAL_ERROR_STATUS = {"too_large": 413, "server_busy": 503}


def display_name(name: str, limit: int = 60) -> str:
    """A file name safe to show in a message: control/format characters made visible, long names cut."""
    shown = "".join(f"\\x{ord(ch):02x}" if unicodedata.category(ch) in ("Cc", "Cf") else ch for ch in name)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


class MaterialError(Exception):
    """A file a clerk uploaded is not acceptable; names the file and the reason, in English and Chinese."""

    def __init__(self, filename: str, code: str, message: str, message_zh: str) -> None:
        if code not in MATERIAL_ERROR_CODES:
            raise ValueError(f"unknown material error code {code!r}")
        super().__init__(message)
        self.filename = filename
        self.code = code
        self.message = message
        self.message_zh = message_zh

    def __repr__(self) -> str:
        return f"MaterialError(filename={self.filename!r}, code={self.code!r}, message={self.message!r})"
