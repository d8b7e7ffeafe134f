"""Charts rendered on the server as plain SVG text (no JS library, nothing fetched at run time).

Hand-written rather than a charting package: two chart shapes are needed, the output must inline into
a page (and print), and a few dozen lines of SVG are easier to keep than another dependency.
Every label is XML-escaped; every chart carries a <title> and a text alternative for screen readers.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape, quoteattr

from states.reports.service import DayCount, OnTimeRate

RECEIVED_COLOUR = "#3b6ea5"
DECIDED_COLOUR = "#5aa469"
LATE_COLOUR = "#c0504d"
GRID_COLOUR = "#d9d9d9"
FONT = "font-family=\"'WenQuanYi Zen Hei','Noto Sans CJK SC',sans-serif\""

#: The words a chart writes, in Chinese; a page in another language passes its own (same keys).
WORDS_ZH = {
    "received": "收件", "decided": "作出决定",
    "daily_alt": "{title}：{days} 天内收件 {received} 件，作出决定 {decided} 件",
    "nothing": "暂无已决定或已超期的办件", "rate_of": "按时 {on_time} / {counted}",
}


def _nice_max(value: int) -> int:
    """A round top for the y axis (1, 2, 5, 10, 20, 50, …) at or above ``value``."""
    top = 1
    while True:
        for step in (1, 2, 5):
            if top * step >= value:
                return top * step
        top *= 10


def daily_chart(days: Sequence[DayCount], *, title: str, words: dict[str, str] | None = None,
                width: int = 720, height: int = 240) -> str:
    """Bars of cases received per day with a line of cases decided per day."""
    w = words or WORDS_ZH
    left, right, top, bottom = 36, 12, 28, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = _nice_max(max([1, *(max(d.received, d.decided) for d in days)]))
    n = max(len(days), 1)
    slot = plot_w / n
    bar_w = max(1.0, slot * 0.6)

    def y(v: int) -> float:
        return top + plot_h - v / peak * plot_h

    total_r, total_d = sum(d.received for d in days), sum(d.decided for d in days)
    alt = w["daily_alt"].format(title=title, received=total_r, decided=total_d, days=len(days))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
           f'height="{height}" role="img" aria-label={quoteattr(alt)} {FONT} font-size="11">',
           f"<title>{escape(alt)}</title>",
           f'<text x="{left}" y="16" font-size="13" font-weight="bold">{escape(title)}</text>']
    for frac in (0, 0.25, 0.5, 0.75, 1):
        v = round(peak * frac)
        yy = y(v)
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="{GRID_COLOUR}"/>')
        out.append(f'<text x="{left - 4}" y="{yy + 4:.1f}" text-anchor="end" fill="#555">{v}</text>')
    label_every = max(1, round(n / 10))
    points = []
    for i, d in enumerate(days):
        x = left + i * slot + (slot - bar_w) / 2
        if d.received:
            out.append(f'<rect x="{x:.1f}" y="{y(d.received):.1f}" width="{bar_w:.1f}" '
                       f'height="{plot_h + top - y(d.received):.1f}" fill="{RECEIVED_COLOUR}">'
                       f"<title>{d.day.isoformat()} {escape(w['received'])} {d.received}</title></rect>")
        cx = left + i * slot + slot / 2
        points.append(f"{cx:.1f},{y(d.decided):.1f}")
        if i % label_every == 0:
            out.append(f'<text x="{cx:.1f}" y="{height - bottom + 14}" text-anchor="middle" fill="#555">'
                       f"{d.day:%m-%d}</text>")
    if points:
        out.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="{DECIDED_COLOUR}" stroke-width="2"/>')
        for d, pt in zip(days, points, strict=True):
            px, py = pt.split(",")
            if d.decided:
                out.append(f'<circle cx="{px}" cy="{py}" r="3" fill="{DECIDED_COLOUR}">'
                           f"<title>{d.day.isoformat()} {escape(w['decided'])} {d.decided}</title></circle>")
    ly = height - 8
    out.append(f'<rect x="{left}" y="{ly - 9}" width="10" height="10" fill="{RECEIVED_COLOUR}"/>'
               f'<text x="{left + 14}" y="{ly}">{escape(w["received"])} ({total_r})</text>'
               f'<line x1="{left + 150}" x2="{left + 166}" y1="{ly - 4}" y2="{ly - 4}" stroke="{DECIDED_COLOUR}" '
               f'stroke-width="2"/><text x="{left + 170}" y="{ly}">{escape(w["decided"])} ({total_d})</text>')
    out.append("</svg>")
    return "".join(out)


def on_time_chart(rows: Sequence[OnTimeRate], *, title: str, zone_names: dict[str, str] | None = None,
                  words: dict[str, str] | None = None, width: int = 720, bar_h: int = 18) -> str:
    """One horizontal bar per item or zone: the on-time share in green, the late share in red. An item's
    handling zone is labelled by its name from ``zone_names`` (a supervisor reads names, not codes)."""
    w = words or WORDS_ZH
    names = zone_names or {}
    rows = [r for r in rows if r.counted]
    left, right, top = 220, 60, 28
    height = top + max(1, len(rows)) * (bar_h + 8) + 24
    plot_w = width - left - right
    alt = f"{title}: " + ("; ".join(f"{r.key} {r.rate * 100:.0f}%" for r in rows if r.rate is not None)
                          if rows else w["nothing"])
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
           f'height="{height}" role="img" aria-label={quoteattr(alt)} {FONT} font-size="11">',
           f"<title>{escape(alt)}</title>",
           f'<text x="8" y="16" font-size="13" font-weight="bold">{escape(title)}</text>']
    if not rows:
        out.append(f'<text x="8" y="{top + 16}" fill="#555">{escape(w["nothing"])}</text>')
    for i, r in enumerate(rows):
        yy = top + i * (bar_h + 8)
        ok_w = plot_w * r.on_time / r.counted
        label = f"{r.key} {r.label}" if r.key != r.label else r.key
        if r.zone_code and r.zone_code != r.key:
            label += f" · {names.get(r.zone_code, r.zone_code)}"
        out.append(f'<text x="{left - 6}" y="{yy + bar_h - 5}" text-anchor="end">{escape(label[:34])}</text>')
        out.append(f'<rect x="{left}" y="{yy}" width="{ok_w:.1f}" height="{bar_h}" fill="{DECIDED_COLOUR}"/>')
        out.append(f'<rect x="{left + ok_w:.1f}" y="{yy}" width="{plot_w - ok_w:.1f}" height="{bar_h}" '
                   f'fill="{LATE_COLOUR}"/>')
        rate = r.rate or 0.0
        out.append(f'<text x="{left + plot_w + 6}" y="{yy + bar_h - 5}">{rate * 100:.0f}%'
                   f"<title>{escape(w['rate_of'].format(on_time=r.on_time, counted=r.counted))}</title></text>")
    out.append("</svg>")
    return "".join(out)
