"""Presentation helpers shared by the pages: local times, time left in colour, small labels.

No business rules here: deadlines come from the case (the SLA clock computed them); this only says
how much working time is left, for colour and words.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from states.calendar import UnknownYearError, WorkCalendar
from states.identifiers import mask_text


def local_time(value: datetime | None, tz: str, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored UTC time as the clerk reads it (Asia/Shanghai by default)."""
    if value is None:
        return "—"
    return value.astimezone(ZoneInfo(tz)).strftime(fmt)


def deadline_status(*, due: datetime | None, now: datetime, calendar: WorkCalendar, tz: str,
                    t: Callable[..., str], closed: bool = False) -> tuple[str, str]:
    """``(css class, words)``: ``ok``, ``warning`` (at most one working day left) or ``overdue``."""
    if due is None or closed:
        return "none", t("time.none")
    zone = ZoneInfo(tz)
    if due < now:
        try:
            days = calendar.workdays_between(due.astimezone(zone).date(), now.astimezone(zone).date())
        except UnknownYearError:
            days = 0
        return "overdue", (t("time.overdue", n=days) if days > 0 else t("time.overdue_today"))
    try:
        days = calendar.workdays_between(now.astimezone(zone).date(), due.astimezone(zone).date())
    except UnknownYearError:
        days = (due - now).days
    if days <= 0:
        return "warning", t("time.due_today", time=local_time(due, tz, "%H:%M"))
    return ("warning" if days <= 1 else "ok"), t("time.left", n=days)


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def audit_detail(payload: dict[str, Any], name_of: Callable[[str], str] | None = None) -> str:
    """One line of what an audit event carried (reasons, notes, files, tracking), PII masked; people by
    ``name_of`` (their display name, not their login name)."""
    parts: list[str] = []
    if name_of is not None and payload.get("assignee"):
        payload = {**payload, "assignee": name_of(str(payload["assignee"]))}
    for key in ("reason", "note", "carrier", "tracking_no", "assignee", "item", "signed_on", "signatory",
                "terminal", "slot"):
        if payload.get(key):
            parts.append(str(payload[key]))
    originals = payload.get("originals")
    if isinstance(originals, dict):
        parts.append(f"原件 {originals.get('carrier', '')} {originals.get('tracking_no', '')}".strip())
    if isinstance(payload.get("paper"), list):
        parts.append("纸质件：" + "、".join(str(p) for p in payload["paper"]))
    for m in payload.get("materials") or []:
        if isinstance(m, dict):
            problem = {"missing": "缺失", "defective": "有误"}.get(str(m.get("problem", "")), m.get("problem", ""))
            parts.append(f"{m.get('name', '')}（{problem}{'：' + m['note'] if m.get('note') else ''}）")
    for f in payload.get("files") or []:
        if isinstance(f, dict) and f.get("name"):
            parts.append(str(f["name"]))
    return mask_text(" · ".join(parts))


def promise_status(*, due: datetime | None, now: datetime, paused_since: datetime | None,
                   decided_at: datetime | None, calendar: WorkCalendar, tz: str,
                   t: Callable[..., str]) -> tuple[str, str]:
    """``(css class, words)`` of the promised overall deadline (承诺办结时间): working days left, frozen
    while the clock is paused (counted from the pause), and no countdown once decided."""
    if due is None:
        return "none", t("time.none")
    zone = ZoneInfo(tz)
    if decided_at is not None:
        return ("ok" if decided_at <= due else "overdue"), t("case.promise_decided")
    at = paused_since or now
    try:
        days = calendar.workdays_between(at.astimezone(zone).date(), due.astimezone(zone).date())
    except UnknownYearError:
        days = (due - at).days
    if due < at:
        return "overdue", t("case.promise_overdue", n=max(-days, 0) or 1) if days < 0 else t("time.overdue_today")
    if days <= 0:
        return "warning", t("case.promise_today")
    return ("warning" if days <= 1 else "ok"), t("case.promise_left", n=days)
