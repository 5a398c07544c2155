"""Charts drawn on the server as inline SVG: no charting library, no script, nothing fetched at view time.

A time chart has lines, a time axis with readable ticks, a value axis, a legend, and vertical markers for the
loop's events (retrain, promotion, rollback, ...) on the same time axis, each with a tooltip. The lineage
graph lays its nodes out in columns (datasets -> run -> model version -> deployments).

>>> svg = line_chart([Line("accuracy", "#0969da", [(0, 0.8), (60_000, 0.9)])], title="t", y_label="acc")
>>> svg.startswith("<svg") and "accuracy" in svg and "polyline" in svg
True
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["MARK_COLORS", "Line", "LineageNode", "Mark", "line_chart", "lineage_graph", "nice_ticks", "sparkline"]

MARK_COLORS = {
    "retrain": "#fb8500",
    "promote": "#1a7f37",
    "complete": "#1a7f37",
    "approved": "#0969da",
    "start": "#8250df",
    "reject": "#8c959f",
    "needs_approval": "#bf3989",
    "rollback": "#cf222e",
}
PALETTE = ("#0969da", "#bf8700", "#8250df", "#1a7f37", "#cf222e", "#0a7ea4", "#953800", "#6e7781", "#bf3989")
_L, _R, _T, _B = 58, 16, 50, 34


@dataclass(frozen=True)
class Line:
    label: str
    color: str
    points: Sequence[tuple[int, float]]
    dashed: bool = False
    width: float = 1.8


@dataclass(frozen=True)
class Mark:
    at_ms: int
    kind: str
    label: str


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick values covering ``[lo, hi]``.

    >>> nice_ticks(0.0, 1.0)
    [0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
    """
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.floor(lo / step) * step
    return [first + i * step for i in range(math.ceil((hi - first) / step) + 1)]


_TIME_STEPS = [
    s * 1000
    for s in (
        60,
        300,
        900,
        1800,
        3600,
        3 * 3600,
        6 * 3600,
        12 * 3600,
        86400,
        2 * 86400,
        7 * 86400,
        14 * 86400,
        30 * 86400,
        91 * 86400,
        365 * 86400,
    )
]


def _time_ticks(lo: int, hi: int, n: int = 7) -> tuple[list[int], str]:
    span = max(1, hi - lo)
    step = next((s for s in _TIME_STEPS if span / s <= n), _TIME_STEPS[-1])
    fmt = "%H:%M" if step < 86400_000 and span < 2 * 86400_000 else "%b %d" if step < 365 * 86400_000 else "%Y"
    if step < 86400_000 and fmt == "%b %d":
        fmt = "%b %d %H:%M"
    first = -(-lo // step) * step
    return list(range(first, hi + 1, step)), fmt


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def line_chart(
    lines: Sequence[Line],
    *,
    title: str,
    y_label: str,
    marks: Sequence[Mark] = (),
    shade: tuple[int, int, str] | None = None,
    x_range: tuple[int, int] | None = None,
    y_range: tuple[float, float] | None = None,
    width: int = 980,
    height: int = 260,
    legend_marks: bool = True,
) -> str:
    """An SVG time chart; ``shade`` is ``(from_ms, to_ms, label)`` drawn as a hatched band (e.g. labels pending).
    ``legend_marks=False`` leaves the marks out of the legend (a chart under another that explains them)."""
    xs = [t for line in lines for t, _ in line.points] + [m.at_ms for m in marks]
    ys = [v for line in lines for _, v in line.points if math.isfinite(v)]
    out = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{html.escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f'<text x="{_L}" y="16" class="c-title">{html.escape(title)}</text>',
    ]
    if not xs or not ys:
        out.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" class="c-empty">no data yet</text>')
        return "".join(out) + "</svg>"
    x0, x1 = x_range or (min(xs), max(xs))
    if x1 <= x0:
        x0, x1 = x0 - 3600_000, x1 + 3600_000
    y0, y1 = y_range or (min(ys), max(ys))
    if y_range is None:
        pad = (y1 - y0) * 0.08 or abs(y1) * 0.1 or 0.1
        y0, y1 = y0 - pad, y1 + pad
    yt = [t for t in nice_ticks(y0, y1) if y0 <= t <= y1] or [y0, y1]
    pw, ph = width - _L - _R, height - _T - _B

    def px(t: float) -> float:
        return _L + (t - x0) / (x1 - x0) * pw

    def py(v: float) -> float:
        return _T + ph - (v - y0) / (y1 - y0) * ph

    out.append(f'<rect x="{_L}" y="{_T}" width="{pw}" height="{ph}" class="c-plot"/>')
    for t in yt:
        out.append(
            f'<line x1="{_L}" x2="{_L + pw}" y1="{py(t):.1f}" y2="{py(t):.1f}" class="c-grid"/>'
            f'<text x="{_L - 6}" y="{py(t) + 4:.1f}" text-anchor="end" class="c-tick">{_fmt(t)}</text>'
        )
    ticks, fmt = _time_ticks(int(x0), int(x1))
    for t in ticks:
        label = datetime.fromtimestamp(t / 1000, tz=UTC).strftime(fmt)
        out.append(
            f'<line x1="{px(t):.1f}" x2="{px(t):.1f}" y1="{_T + ph}" y2="{_T + ph + 4}" class="c-axis"/>'
            f'<text x="{px(t):.1f}" y="{_T + ph + 17}" text-anchor="middle" class="c-tick">{label}</text>'
        )
    out.append(
        f'<text transform="translate(14 {_T + ph / 2}) rotate(-90)" text-anchor="middle" class="c-ylabel">'
        f"{html.escape(y_label)}</text>"
    )
    if shade is not None and shade[1] > x0:
        a, b = px(max(shade[0], x0)), px(min(shade[1], x1))
        out.append(
            f'<rect x="{a:.1f}" y="{_T}" width="{max(0.0, b - a):.1f}" height="{ph}" class="c-shade">'
            f"<title>{html.escape(shade[2])}</title></rect>"
            f'<text x="{b - 4:.1f}" y="{_T + 13}" text-anchor="end" class="c-shade-label">'
            f"{html.escape(shade[2])}</text>"
        )
    # Marks closer than 3 px are one mark, whose tooltip lists them all: a busy year stays readable and small.
    merged: dict[tuple[int, str], list[str]] = {}
    for mark in marks:
        if x0 <= mark.at_ms <= x1:
            merged.setdefault((int(px(mark.at_ms) / 3), mark.kind), []).append(mark.label)
    for (slot, kind), labels in merged.items():
        color = MARK_COLORS.get(kind, "#57606a")
        x = slot * 3 + 1.5
        label = "\n".join(labels[:5]) + (f"\n… and {len(labels) - 5} more" if len(labels) > 5 else "")
        out.append(
            f'<g class="c-mark" data-kind="{html.escape(kind)}"><title>{html.escape(label)}</title>'
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{_T}" y2="{_T + ph}" stroke="{color}" class="c-markline"/>'
            f'<path d="M{x - 4:.1f} {_T - 1} h8 l-4 6 z" fill="{color}"/></g>'
        )
    for line in lines:
        pts = [(px(t), py(v)) for t, v in line.points if math.isfinite(v)]
        if not pts:
            continue
        dash = ' stroke-dasharray="5 4"' if line.dashed else ""
        coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
        out.append(
            f'<polyline points="{coords}" fill="none" stroke="{line.color}" stroke-width="{line.width}"'
            f'{dash} class="c-line"><title>{html.escape(line.label)}</title></polyline>'
        )
        if len(pts) == 1:
            out.append(f'<circle cx="{pts[0][0]:.1f}" cy="{pts[0][1]:.1f}" r="3" fill="{line.color}"/>')
    out.append(_legend(lines, marks if legend_marks else (), width))
    out.append("</svg>")
    return "".join(out)


def _legend(lines: Sequence[Line], marks: Sequence[Mark], width: int) -> str:
    """One row under the title, left to right: the lines, then the kinds of marks."""
    items = [(line.label, line.color, "line") for line in lines[:12]]
    items += [
        (kind.replace("_", " "), MARK_COLORS.get(kind, "#57606a"), "mark")
        for kind in dict.fromkeys(m.kind for m in marks)
    ]
    parts, x, y = [], float(_L), 34
    for label, color, shape in items:
        text = label if len(label) <= 34 else label[:33] + "…"
        step = 26 + 6.4 * len(text)
        if x + step > width - _R:
            break
        glyph = (
            f'<line x1="{x:.1f}" x2="{x + 14:.1f}" y1="{y - 4}" y2="{y - 4}" stroke="{color}" stroke-width="2.5"/>'
            if shape == "line"
            else f'<path d="M{x + 3:.1f} {y - 8} h8 l-4 7 z" fill="{color}"/>'
        )
        parts.append(f'{glyph}<text x="{x + 18:.1f}" y="{y}" class="c-legend">{html.escape(text)}</text>')
        x += step
    return "".join(parts)


def sparkline(
    points: Sequence[tuple[int, float]], *, color: str = "#0969da", width: int = 140, height: int = 32
) -> str:
    """A small line without axes, for tables."""
    values = [v for _, v in points if math.isfinite(v)]
    if len(values) < 2:
        return ""
    lo, hi = min(values), max(values)
    span = hi - lo or 1.0
    step = (width - 4) / (len(values) - 1)
    coords = " ".join(
        f"{2 + i * step:.1f},{height - 3 - (v - lo) / span * (height - 6):.1f}" for i, v in enumerate(values)
    )
    return (
        f'<svg class="spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg"><polyline points="{coords}" fill="none" stroke="{color}" '
        f'stroke-width="1.5"/></svg>'
    )


@dataclass(frozen=True)
class LineageNode:
    key: str
    column: int
    title: str
    subtitle: str
    href: str | None = None
    tone: str = "default"


_TONES = {
    "default": ("#f6f8fa", "#d0d7de"),
    "focus": ("#ddf4ff", "#0969da"),
    "live": ("#dafbe1", "#1a7f37"),
    "muted": ("#ffffff", "#d0d7de"),
}


def lineage_graph(nodes: Sequence[LineageNode], edges: Sequence[tuple[str, str]], columns: Sequence[str]) -> str:
    """Nodes in ``columns`` (left to right), edges as curves from the right of one node to the left of another."""
    node_w, node_h, gap_y, col_w, top = 190, 44, 14, 250, 34
    per_col: dict[int, list[LineageNode]] = {}
    for node in nodes:
        per_col.setdefault(node.column, []).append(node)
    rows = max((len(v) for v in per_col.values()), default=1)
    width = 20 + col_w * len(columns)
    height = top + rows * (node_h + gap_y) + 10
    at: dict[str, tuple[float, float]] = {}
    for col, members in per_col.items():
        offset = (rows - len(members)) * (node_h + gap_y) / 2
        for i, node in enumerate(members):
            at[node.key] = (20 + col * col_w, top + offset + i * (node_h + gap_y))
    out = [f'<svg class="lineage" viewBox="0 0 {width} {height}" width="100%" xmlns="http://www.w3.org/2000/svg">']
    for i, name in enumerate(columns):
        out.append(f'<text x="{20 + i * col_w}" y="18" class="c-col">{html.escape(name)}</text>')
    for src, dst in edges:
        if src in at and dst in at:
            (sx, sy), (dx, dy) = at[src], at[dst]
            x1, y1, x2, y2 = sx + node_w, sy + node_h / 2, dx, dy + node_h / 2
            mid = (x1 + x2) / 2
            out.append(
                f'<path d="M{x1:.0f} {y1:.0f} C{mid:.0f} {y1:.0f} {mid:.0f} {y2:.0f} {x2 - 6:.0f} {y2:.0f}" '
                f'class="l-edge"/><path d="M{x2 - 7:.0f} {y2 - 4:.0f} l7 4 l-7 4 z" class="l-arrow"/>'
            )
    for node in nodes:
        x, y = at[node.key]
        fill, stroke = _TONES.get(node.tone, _TONES["default"])
        title = node.title if len(node.title) <= 26 else node.title[:25] + "…"
        sub = node.subtitle if len(node.subtitle) <= 30 else node.subtitle[:29] + "…"
        body = (
            f'<rect x="{x}" y="{y:.0f}" width="{node_w}" height="{node_h}" rx="6" fill="{fill}" stroke="{stroke}"/>'
            f'<text x="{x + 10}" y="{y + 18:.0f}" class="l-title">{html.escape(title)}</text>'
            f'<text x="{x + 10}" y="{y + 34:.0f}" class="l-sub">{html.escape(sub)}</text>'
            f"<title>{html.escape(node.title)} — {html.escape(node.subtitle)}</title>"
        )
        out.append(f'<a href="{html.escape(node.href)}">{body}</a>' if node.href else body)
    out.append("</svg>")
    return "".join(out)
