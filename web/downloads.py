"""Headers of every file download (materials, packets, receipts, notices, exports).

A stored file is the applicant's, not a page of ours: it is saved as an attachment under its own
name, served with ``nosniff`` (the declared type is the type: an HTML/PDF polyglot is never sniffed
into a page) and with a CSP that sandboxes it should a browser show it anyway.
"""

from __future__ import annotations

from urllib.parse import quote

#: A stored file is the applicant's, not our page: never run in our origin, never sniffed into HTML.
FILE_CSP = "default-src 'none'; sandbox"


def file_headers(filename: str) -> dict[str, str]:
    """Headers of every file download: saved as an attachment under its own name, served with
    ``nosniff`` (the declared type is the type) and a CSP that sandboxes it should a browser show it."""
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "'").replace("?", "_")
    return {
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": FILE_CSP,
    }
