"""Headers of every file download (materials, packets, receipts, notices, exports).

A stored file is the applicant's, not a page of ours: it is saved as an attachment under its own
name, served with ``nosniff`` (the declared type is the type: an HTML/PDF polyglot is never sniffed
into a page) and with a CSP that sandboxes it should a browser show it anyway.
"""

from __future__ import annotations

from urllib.parse import quote

#: A stored file is the applicant's, not our page: never run in our origin, never sniffed into HTML.
FILE_CSP = "default-src 'none'; sandbox; frame-ancestors 'self'"


def file_headers(filename: str, *, ours: bool = False) -> dict[str, str]:
    """Headers of every file download: saved as an attachment under its own name, served with
    ``nosniff`` (the declared type is the type) and a CSP that sandboxes it should a browser show it.

    ``ours``: a PDF tongban built itself with active content stripped (the transfer packet): shown
    inline so the case page can embed it (Chromium renders no PDF under a sandboxing CSP); still
    ``nosniff``, and the security headers' file CSP (``default-src 'none'``, same-origin framing)."""
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "'").replace("?", "_")
    disposition = "inline" if ours else "attachment"
    headers = {
        "Content-Disposition": f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}",
        "X-Content-Type-Options": "nosniff",
    }
    if not ours:
        headers["Content-Security-Policy"] = FILE_CSP
    return headers
