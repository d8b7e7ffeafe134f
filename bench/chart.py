"""A small hand-written SVG of cost against N for the figures that must stay flat (no plotting library).

``python -m bench.chart results.json docs/performance-scale.svg`` redraws it from a saved run.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

PANELS = (("SLA sweep, nothing due", "SLA sweep, nothing due (ms)", 1000.0),
          ("reviewer's first queue page", "reviewer's first queue page (ms)", 50.0))
COLOURS = {"sqlite": "#1f77b4", "postgresql": "#d62728"}
W, H, PAD_L, PAD_R, PAD_T, PAD_B = 360, 240, 56, 16, 34, 44


def _panel(results: Sequence[dict[str, Any]], name: str, title: str, target: float, x0: int) -> list[str]:
    rows = [r for r in results if r["name"] == name and r.get("n")]
    if not rows:
        return []
    ns = sorted({r["n"] for r in rows})
    lo_n, hi_n = math.log10(min(ns)), math.log10(max(ns))
    top = max(max(r["value"] for r in rows) * 1.25, 1.0)
    show_target = target <= top * 4
    if show_target:
        top = max(top, target * 1.1)

    def x(n: int) -> float:
        span = (hi_n - lo_n) or 1
        return x0 + PAD_L + (math.log10(n) - lo_n) / span * (W - PAD_L - PAD_R)

    def y(v: float) -> float:
        return PAD_T + (1 - v / top) * (H - PAD_T - PAD_B)

    out = [f'<text x="{x0 + W / 2}" y="18" text-anchor="middle" font-weight="bold">{escape(title)}</text>',
           f'<line x1="{x0 + PAD_L}" y1="{y(0)}" x2="{x0 + W - PAD_R}" y2="{y(0)}" stroke="#333"/>',
           f'<line x1="{x0 + PAD_L}" y1="{PAD_T}" x2="{x0 + PAD_L}" y2="{y(0)}" stroke="#333"/>']
    for i in range(5):
        v = top * i / 4
        out.append(f'<text x="{x0 + PAD_L - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:.3g}</text>')
        out.append(f'<line x1="{x0 + PAD_L}" y1="{y(v):.1f}" x2="{x0 + W - PAD_R}" y2="{y(v):.1f}" '
                   'stroke="#ddd"/>')
    for n in ns:
        label = f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1000}k" if n >= 1000 else str(n)
        out.append(f'<text x="{x(n):.1f}" y="{y(0) + 16:.1f}" text-anchor="middle">{label}</text>')
    out.append(f'<text x="{x0 + W / 2}" y="{H - 6}" text-anchor="middle">open cases N (log scale)</text>')
    if show_target:
        out.append(f'<line x1="{x0 + PAD_L}" y1="{y(target):.1f}" x2="{x0 + W - PAD_R}" y2="{y(target):.1f}" '
                   'stroke="#2ca02c" stroke-dasharray="5,4"/>')
        out.append(f'<text x="{x0 + W - PAD_R}" y="{y(target) - 4:.1f}" text-anchor="end" fill="#2ca02c">'
                   f'target {target:g} ms</text>')
    for backend, colour in COLOURS.items():
        pts = sorted((r["n"], r["value"]) for r in rows if r["backend"] == backend)
        if not pts:
            continue
        path = " ".join(f"{x(n):.1f},{y(v):.1f}" for n, v in pts)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for n, v in pts:
            out.append(f'<circle cx="{x(n):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}">'
                       f'<title>{backend} N={n:,}: {v:.2f} ms</title></circle>')
    return out


def render_svg(results: Sequence[dict[str, Any]]) -> str:
    parts: list[str] = []
    for i, (name, title, target) in enumerate(PANELS):
        parts += _panel(results, name, title, target, i * W)
    legend_y = H + 10
    for i, (backend, colour) in enumerate(COLOURS.items()):
        lx = PAD_L + i * 140
        parts.append(f'<rect x="{lx}" y="{legend_y - 9}" width="14" height="4" fill="{colour}"/>')
        parts.append(f'<text x="{lx + 20}" y="{legend_y - 4}">{backend}</text>')
    body = "\n  ".join(parts)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * W}" height="{H + 16}" '
            f'viewBox="0 0 {2 * W} {H + 16}" font-family="sans-serif" font-size="11">\n'
            f'  <rect width="100%" height="100%" fill="white"/>\n  {body}\n</svg>\n')


def main(argv: Sequence[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m bench.chart results.json out.svg", file=sys.stderr)
        return 2
    results = json.loads(Path(argv[0]).read_text())["results"]
    Path(argv[1]).write_text(render_svg(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
