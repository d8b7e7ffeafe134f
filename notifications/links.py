"""Links in messages: every message that points at a case points at its page, built here once."""

from __future__ import annotations


def case_link(base_url: str, case_no: str) -> str:
    """The case page (办件详情) a signed-in clerk, reviewer or supervisor opens from an alert or notice."""
    return f"{base_url.rstrip('/')}/ui/cases/{case_no}"
