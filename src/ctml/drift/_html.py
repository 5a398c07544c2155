"""A drift report as one self-contained HTML page: a table of verdicts with a histogram per column.

Rendering reads a finished :class:`DriftReport` and computes nothing but drawing coordinates. Charts are
inline SVG, so the page needs no script, font or network at view time.

>>> import pyarrow as pa
>>> from ctml.drift import compare
>>> ref = pa.table({"x": np.arange(100.0)})
>>> page = render_html(compare(ref, ref), title="x vs x")
>>> page.startswith("<!DOCTYPE html>"), "<svg" in page, "http" in page.replace("http://www.w3.org/2000/svg", "")
(True, True, False)
"""

from __future__ import annotations

import html
import math

import numpy as np
import numpy.typing as npt

from ctml.drift._profile import CategoricalProfile, ColumnProfile, NumericProfile
from ctml.drift._report import ColumnDrift, DriftReport
from ctml.drift._sketch import coarse_groups, regroup

__all__ = ["render_html"]

_W, _H, _PAD = 320, 110, 18
_REF, _CUR = "#9aa5b1", "#1f6feb"
_MAX_CATEGORIES = 12

_STYLE = """
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1b1f24;background:#fff}
h1{font-size:20px;margin:0 0 4px} .sub{color:#57606a;margin-bottom:16px}
.verdict{display:inline-block;padding:2px 10px;border-radius:12px;font-weight:600;color:#fff}
.drift{background:#cf222e} .ok{background:#1a7f37}
table{border-collapse:collapse;width:100%} th,td{border-bottom:1px solid #d0d7de;padding:6px 8px;text-align:left;
vertical-align:middle} th{background:#f6f8fa;font-weight:600} td.num{font-variant-numeric:tabular-nums}
.legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:-2px}
svg text{font:10px system-ui,sans-serif;fill:#57606a}
"""


def render_html(report: DriftReport, title: str = "Drift report") -> str:
    share = f"{report.drifted_share:.0%}"
    verdict = "drift" if report.drifted else "ok"
    rows = "\n".join(_row(result, report) for result in report.columns)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title><style>{_STYLE}</style></head>
<body>
<h1>{html.escape(title)}</h1>
<div class="sub"><span class="verdict {verdict}">{"dataset drift" if report.drifted else "no dataset drift"}</span>
&nbsp; {len(report.drifted_columns)} of {len(report.columns)} columns drifted ({share}; dataset drift at
{report.share_threshold:.0%}) &nbsp;·&nbsp; reference {report.reference.rows:,} rows,
current {report.current.rows:,} rows
<span class="legend"><span style="background:{_REF}"></span>reference
<span style="background:{_CUR}"></span>current</span>
</div>
<table>
<thead><tr><th>column</th><th>kind</th><th>test</th><th>statistic</th><th>p-value</th><th>threshold</th><th>verdict</th>
<th>reference vs current</th></tr></thead>
<tbody>
{rows}
</tbody></table>
</body></html>
"""


def _row(result: ColumnDrift, report: DriftReport) -> str:
    statistic = _number(result.statistic)
    if result.bound is not None:
        statistic += f" ± {result.bound:.3g}"
    p_value = "" if result.p_value is None else _number(result.p_value)
    rule = "p <" if result.p_value is not None or result.test in ("ks", "chisquare", "z") else "≥"
    verdict = '<span class="verdict drift">drift</span>' if result.drifted else '<span class="verdict ok">ok</span>'
    chart = _chart(report.reference.columns.get(result.column), report.current.columns.get(result.column))
    return (
        f"<tr><td><b>{html.escape(result.column)}</b></td><td>{result.kind}</td><td>{result.test}"
        f"<br><small>{result.method}</small></td><td class=num>{statistic}</td><td class=num>{p_value}</td>"
        f"<td class=num>{rule} {result.threshold:g}</td><td>{verdict}</td><td>{chart}</td></tr>"
    )


def _number(value: float) -> str:
    if not math.isfinite(value):
        return "-"
    return f"{value:.3g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"


def _chart(ref: ColumnProfile | None, cur: ColumnProfile | None) -> str:
    if isinstance(ref, NumericProfile) and isinstance(cur, NumericProfile) and ref.count and cur.count:
        if ref.values is not None and cur.values is not None:
            # A few integer values (weekdays, counts): quantile bins collapse onto them, so show each value.
            return _category_chart(
                {str(k): v for k, v in ref.values.items()}, {str(k): v for k, v in cur.values.items()}, numeric=True
            )
        return _density_chart(ref, cur)
    if isinstance(ref, CategoricalProfile) and isinstance(cur, CategoricalProfile):
        return _category_chart(ref.categories, cur.categories)
    return ""


def _density_chart(ref: NumericProfile, cur: NumericProfile) -> str:
    """Densities over about twenty reference-quantile groups, on the real value axis."""
    group = coarse_groups(ref.counts, groups=20)
    used = np.unique(group)
    r = regroup(ref.counts, group)[used]
    c = regroup(cur.counts, group)[used]
    low, high = min(ref.min, cur.min), max(ref.max, cur.max)
    if ref.edges.size >= 2:
        # Long tails would squeeze the body into a few pixels: show the inner edges plus a margin.
        margin = 0.15 * float(ref.edges[-1] - ref.edges[0])
        low, high = max(low, float(ref.edges[0]) - margin), min(high, float(ref.edges[-1]) + margin)
    bounds = np.concatenate(([low], np.clip(ref.edges, low, high), [high]))
    starts = np.array([bounds[np.flatnonzero(group == g)[0]] for g in used])
    ends = np.array([bounds[np.flatnonzero(group == g)[-1] + 1] for g in used])
    widths = np.maximum(ends - starts, (high - low) / 1000 or 1.0)
    dr = r / r.sum() / widths
    dc = c / c.sum() / widths
    span = (high - low) or 1.0
    top = float(max(dr.max(), dc.max())) or 1.0

    def x(value: float) -> float:
        return _PAD + (value - low) / span * (_W - 2 * _PAD)

    def y(density: float) -> float:
        return _H - _PAD - density / top * (_H - 2 * _PAD)

    bars = "".join(
        f'<rect x="{x(s):.1f}" y="{y(d):.1f}" width="{max(x(e) - x(s), 0.5):.1f}" height="{_H - _PAD - y(d):.1f}" '
        f'fill="{_REF}" fill-opacity="0.7"/>'
        for s, e, d in zip(starts, ends, dr, strict=True)
    )
    points = []
    for s, e, d in zip(starts, ends, dc, strict=True):
        points += [f"{x(s):.1f},{y(d):.1f}", f"{x(e):.1f},{y(d):.1f}"]
    line = f'<polyline points="{" ".join(points)}" fill="none" stroke="{_CUR}" stroke-width="2"/>'
    axis = (
        f'<line x1="{_PAD}" y1="{_H - _PAD}" x2="{_W - _PAD}" y2="{_H - _PAD}" stroke="#8c959f"/>'
        f'<text x="{_PAD}" y="{_H - 4}">{_tick(low)}</text>'
        f'<text x="{_W - _PAD}" y="{_H - 4}" text-anchor="end">{_tick(high)}</text>'
        f'<text x="{_W / 2:.0f}" y="{_H - 4}" text-anchor="middle">{_tick((low + high) / 2)}</text>'
    )
    return _svg(bars + line + axis)


def _category_chart(ref: dict[str, int], cur: dict[str, int], *, numeric: bool = False) -> str:
    """Shares of the most frequent categories (or of integer values, in order), reference and current side by side."""
    keys = sorted(set(ref) | set(cur), key=lambda k: (-(ref.get(k, 0) + cur.get(k, 0)), k))[:_MAX_CATEGORIES]
    if numeric:
        keys.sort(key=int)
    nr, nc = sum(ref.values()) or 1, sum(cur.values()) or 1
    shares: npt.NDArray[np.float64] = np.array([[ref.get(k, 0) / nr, cur.get(k, 0) / nc] for k in keys])
    top = float(shares.max(initial=0.0)) or 1.0
    slot = (_W - 2 * _PAD) / max(len(keys), 1)
    parts = []
    for i, (key, (a, b)) in enumerate(zip(keys, shares, strict=True)):
        left = _PAD + i * slot
        for j, (share, color) in enumerate(((a, _REF), (b, _CUR))):
            height = share / top * (_H - 2 * _PAD)
            parts.append(
                f'<rect x="{left + j * slot * 0.42 + slot * 0.08:.1f}" y="{_H - _PAD - height:.1f}" '
                f'width="{slot * 0.4:.1f}" height="{height:.1f}" fill="{color}"><title>{html.escape(key)}: '
                f"{share:.1%}</title></rect>"
            )
        label = html.escape(key if len(key) <= 6 else key[:5] + "…")
        parts.append(f'<text x="{left + slot / 2:.1f}" y="{_H - 4}" text-anchor="middle">{label}</text>')
    parts.append(f'<line x1="{_PAD}" y1="{_H - _PAD}" x2="{_W - _PAD}" y2="{_H - _PAD}" stroke="#8c959f"/>')
    return _svg("".join(parts))


def _svg(body: str) -> str:
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" viewBox="0 0 {_W} {_H}">{body}</svg>'


def _tick(value: float) -> str:
    return f"{value:.3g}"
