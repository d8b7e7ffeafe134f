"""Links in messages: every message that points at a page of the app gets its link here, and only here."""

from __future__ import annotations


def case_link(base_url: str, case_no: str) -> str:
    """The case page (办件详情) a signed-in clerk, reviewer or supervisor opens from an alert or notice."""
    return f"{base_url.rstrip('/')}/ui/cases/{case_no}"


def overdue_list_link(base_url: str) -> str:
    """The list of the zone's overdue cases (超期办件), where the daily digest sends a supervisor."""
    return f"{base_url.rstrip('/')}/ui/cases?overdue=true"
