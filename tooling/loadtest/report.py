"""Self-contained HTML reports: the verdict on top, plots below, as inline SVG (no scripts, no fetches).

One file to attach to a ticket or open from CI artefacts: throughput, latency percentiles (with the
SLO thresholds drawn in), errors, users, generator CPU and replicas per component over time.
"""

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777")
CSS = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;max-width:1180px;color:#111827;
padding:0 16px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:16px;margin:28px 0 8px}
.meta{color:#4b5563;margin-bottom:16px}
.badge{display:inline-block;padding:4px 12px;border-radius:6px;font-weight:700;color:#fff;margin-right:8px}
.pass{background:#16a34a}.fail{background:#dc2626}
table{border-collapse:collapse;width:100%;margin:6px 0}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #e5e7eb;vertical-align:top}
th{background:#f9fafb;font-weight:600} td.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#16a34a;font-weight:700}.bad{color:#dc2626;font-weight:700}
.warn{background:#fef3c7;border:1px solid #f59e0b;border-radius:6px;padding:8px 12px;margin:8px 0}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(540px,1fr));gap:12px}
.card{border:1px solid #e5e7eb;border-radius:8px;padding:8px}
svg text{font:11px system-ui,sans-serif;fill:#374151} svg .title{font-size:13px;font-weight:600;fill:#111827}
code{background:#f3f4f6;padding:1px 4px;border-radius:4px}
"""


@dataclass
class Line:
    label: str
    points: Sequence[tuple[float, float | None]]
    color: str = ""
    step: bool = False
    dashed: bool = False


@dataclass
class Chart:
    title: str
    unit: str
    lines: list[Line]
    thresholds: list[tuple[str, float]] = field(default_factory=list)
    x_label: str = "seconds since start"
    y_max: float | None = None
    x_max: float | None = None


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 × 10^n at or above `value` (for axis tops)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for factor in (1, 2, 2.5, 5, 10):
        if factor * power >= value * 0.999:
            return float(factor * power)
    return float(10 * power)


def fmt(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100 or value == int(value):
        return f"{value:.0f}"
    return f"{value:.2f}".rstrip("0").rstrip(".") if abs(value) < 10 else f"{value:.1f}"


def _frame(title: str, unit: str, width: int, height: int, left: int, right: int, y_top: float,
           y_of: Callable[[float], float]) -> list[str]:
    """The opening of every chart: the svg element, title, unit and five horizontal grid lines."""
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="img" '
             f'aria-label="{html.escape(title)}">',
             f'<text class="title" x="{left}" y="16">{html.escape(title)}</text>',
             f'<text x="{width - right}" y="16" text-anchor="end">{html.escape(unit)}</text>']
    for i in range(5):
        value = y_top * i / 4
        y = y_of(value)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e7eb"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{fmt(value)}</text>')
    return parts


def svg_chart(chart: Chart, width: int = 540, height: int = 250) -> str:
    left, right, top, bottom = 52, 12, 28, 58
    plot_w, plot_h = width - left - right, height - top - bottom
    x_max = chart.x_max or max((x for line in chart.lines for x, _ in line.points), default=1.0) or 1.0
    lines = [Line(ln.label, [(x, y) for x, y in ln.points if 0 <= x <= x_max], ln.color, ln.step, ln.dashed)
             for ln in chart.lines]
    ys = [y for line in lines for _, y in line.points if y is not None]
    ys += [value for _, value in chart.thresholds]
    legend_rows = _legend_rows([line.label for line in lines], width - left - right)
    bottom += 16 * (len(legend_rows) - 1)
    plot_h = height + 16 * (len(legend_rows) - 1) - top - bottom
    height += 16 * (len(legend_rows) - 1)
    y_top = chart.y_max or nice_ceiling(max(ys, default=1.0) * 1.05)

    def px(x: float) -> float:
        return left + plot_w * x / x_max

    def py(y: float) -> float:
        return top + plot_h * (1 - min(y, y_top) / y_top)

    parts = _frame(chart.title, chart.unit, width, height, left, right, y_top, py)
    x_step = nice_ceiling(x_max / 6)
    for i in range(int(x_max // x_step) + 1):
        value = x_step * i
        parts.append(f'<text x="{px(value):.1f}" y="{top + plot_h + 15}" text-anchor="middle">{fmt(value)}</text>')
    parts.append(f'<text x="{left + plot_w / 2}" y="{top + plot_h + 30}" text-anchor="middle">'
                 f'{html.escape(chart.x_label)}</text>')
    parts.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#9ca3af"/>')
    for label, value in chart.thresholds:
        y = py(value)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#dc2626" '
                     f'stroke-dasharray="6 4" stroke-width="1"/>')
        parts.append(f'<text x="{width - right - 4}" y="{y - 4:.1f}" text-anchor="end" fill="#dc2626">'
                     f'{html.escape(label)} {fmt(value)}</text>')
    for index, line in enumerate(lines):
        color = line.color or PALETTE[index % len(PALETTE)]
        for segment in _segments(line.points):
            coords = []
            for n, (x, y) in enumerate(segment):
                if line.step and n:
                    coords.append(f"{px(x):.1f},{py(segment[n - 1][1]):.1f}")
                coords.append(f"{px(x):.1f},{py(y):.1f}")
            dash = ' stroke-dasharray="4 3"' if line.dashed else ""
            if len(coords) == 1:
                parts.append(f'<circle cx="{coords[0].split(",")[0]}" cy="{coords[0].split(",")[1]}" r="2.5" '
                             f'fill="{color}"/>')
            else:
                parts.append(f'<polyline points="{" ".join(coords)}" fill="none" stroke="{color}" '
                             f'stroke-width="2"{dash}/>')
        row = next(n for n, labels in enumerate(legend_rows) if index < sum(len(r) for r in legend_rows[:n + 1]))
        before = legend_rows[row][:index - sum(len(r) for r in legend_rows[:row])]
        legend_x = left + sum(_legend_width(label) for label in before)
        legend_y = top + plot_h + 46 + 16 * row
        parts.append(f'<rect x="{legend_x}" y="{legend_y - 8}" width="12" height="4" fill="{color}"/>')
        parts.append(f'<text x="{legend_x + 16}" y="{legend_y - 3}">{html.escape(line.label)}</text>')
    if not ys:
        parts.append(f'<text x="{left + plot_w / 2}" y="{top + plot_h / 2}" text-anchor="middle">no data</text>')
    parts.append("</svg>")
    return "".join(parts)


def _legend_width(label: str) -> float:
    return 26 + 6.2 * len(label)


def _legend_rows(labels: list[str], width: float) -> list[list[str]]:
    rows: list[list[str]] = [[]]
    used = 0.0
    for label in labels:
        if rows[-1] and used + _legend_width(label) > width:
            rows.append([])
            used = 0.0
        rows[-1].append(label)
        used += _legend_width(label)
    return rows


def _segments(points: Sequence[tuple[float, float | None]]) -> list[list[tuple[float, float]]]:
    """Split a line at missing values (a bucket with no samples draws a gap, not a zero)."""
    segments: list[list[tuple[float, float]]] = [[]]
    for x, y in points:
        if y is None:
            if segments[-1]:
                segments.append([])
        else:
            segments[-1].append((x, y))
    return [s for s in segments if s]


def svg_bars(title: str, unit: str, bars: list[tuple[str, float]], ideal: list[float] | None = None,
             width: int = 540, height: int = 250) -> str:
    """Bars with labels; optional `ideal` markers (e.g. linear scaling) drawn as dashes over them."""
    left, right, top, bottom = 52, 12, 28, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    y_top = nice_ceiling(max([v for _, v in bars] + (ideal or []) + [1e-9]) * 1.1)
    slot = plot_w / max(len(bars), 1)
    parts = _frame(title, unit, width, height, left, right, y_top, lambda value: top + plot_h * (1 - value / y_top))
    for index, (label, value) in enumerate(bars):
        x = left + slot * index + slot * 0.2
        h = plot_h * value / y_top
        parts.append(f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{slot * 0.6:.1f}" height="{h:.1f}" '
                     f'fill="{PALETTE[0]}"/>')
        parts.append(f'<text x="{x + slot * 0.3:.1f}" y="{top + plot_h - h - 4:.1f}" text-anchor="middle">'
                     f'{fmt(value)}</text>')
        parts.append(f'<text x="{x + slot * 0.3:.1f}" y="{top + plot_h + 16}" text-anchor="middle">'
                     f'{html.escape(label)}</text>')
        if ideal and index < len(ideal):
            y = top + plot_h * (1 - ideal[index] / y_top)
            parts.append(f'<line x1="{x - 4:.1f}" x2="{x + slot * 0.6 + 4:.1f}" y1="{y:.1f}" y2="{y:.1f}" '
                         f'stroke="{PALETTE[1]}" stroke-width="2" stroke-dasharray="5 3"/>')
    if ideal:
        parts.append(f'<text x="{width - right}" y="{height - 6}" text-anchor="end" fill="{PALETTE[1]}">'
                     '- - linear scaling from one replica</text>')
    parts.append("</svg>")
    return "".join(parts)


def _cell(value: Any, unit: str = "") -> str:
    if value is None:
        return "—"
    if unit == "ratio":
        return f"{float(value):.2%}"
    return f"{fmt(float(value))} {unit}".strip()


def slo_table(slos: list[dict[str, Any]]) -> str:
    rows = ["<table><tr><th></th><th>SLO</th><th>what</th><th>measured</th><th>threshold</th><th>detail</th></tr>"]
    for slo in slos:
        mark = '<span class="ok">✓</span>' if slo["passed"] else '<span class="bad">✗</span>'
        rows.append(f"<tr><td>{mark}</td><td><code>{html.escape(slo['name'])}</code></td>"
                    f"<td>{html.escape(slo['description'])}</td>"
                    f'<td class="num">{_cell(slo["measured"], slo["unit"])}</td>'
                    f'<td class="num">{html.escape(slo["comparison"])} {_cell(slo["threshold"], slo["unit"])}</td>'
                    f"<td>{html.escape(slo.get('detail') or '')}</td></tr>")
    rows.append("</table>")
    return "".join(rows)


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def page(title: str, passed: bool | None, meta: str, sections: list[str]) -> str:
    badge = "" if passed is None else \
        f'<span class="badge {"pass" if passed else "fail"}">{"PASS" if passed else "FAIL"}</span>'
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f'<meta name="viewport" content="width=device-width,initial-scale=1"><style>{CSS}</style></head><body>'
            f"<h1>{badge}{html.escape(title)}</h1><div class=\"meta\">{meta}</div>{''.join(sections)}</body></html>")


def charts_grid(charts: list[str]) -> str:
    return '<div class="grid">' + "".join(f'<div class="card">{c}</div>' for c in charts) + "</div>"


def warnings_block(warnings: list[str]) -> str:
    return "".join(f'<div class="warn">⚠ {html.escape(w)}</div>' for w in warnings)
