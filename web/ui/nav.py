"""The navigation per role (docs/architecture.md#people). Part of the UI's foundation: pages of other roles add
themselves here by href; the first entry of a role is its home page after sign-in."""

from __future__ import annotations

#: role → [(i18n key, href)]
NAV: dict[str, list[tuple[str, str]]] = {
    "clerk": [("nav.receive", "/ui/receive"), ("nav.my_queue", "/ui/queue"), ("nav.cases", "/ui/cases"),
              ("nav.locker", "/ui/locker"), ("nav.adhoc", "/ui/adhoc")],
    "reviewer": [("nav.review_queue", "/ui/queue"), ("nav.cases", "/ui/cases")],
    "supervisor": [("nav.dashboard", "/ui/dashboard"), ("nav.evaluation", "/ui/evaluation"),
                   ("nav.cases", "/ui/cases"), ("nav.adhoc", "/ui/adhoc")],
    "admin": [("nav.admin", "/ui/admin"), ("nav.adhoc", "/ui/adhoc")],
}


def home_for(role: str) -> str:
    entries = NAV.get(role)
    return entries[0][1] if entries else "/ui/cases"
