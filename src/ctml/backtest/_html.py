"""A backtest as one self-contained HTML page: rolling accuracy (or MAE) per policy over the row index, with
ctml's retrains, promotions and rollbacks marked, and the summary table. Inline SVG only: no script, font or
network at view time.
"""

from __future__ import annotations

import html

import numpy as np

from ctml.backtest._result import BacktestResult, Marker
from ctml.backtest._run import rolling

__all__ = ["render_backtest_html"]

_W, _H = 1100, 420
_L, _R, _T, _B = 60, 20, 28, 40
_COLORS = {"ctml": "#0969da", "never": "#8c959f", "periodic": "#bf8700", "always": "#8250df", "arf": "#1a7f37"}
_MARKS = {"retrain": "#fb8500", "promote": "#2da44e", "reject": "#6e7781", "needs_approval": "#6e7781",
          "rollback": "#cf222e", "complete": "#2da44e", "shadow": "#8250df"}  # fmt: skip
_POINTS = 600
_STYLE = """
body{font:14px system-ui,sans-serif;margin:24px;color:#1f2328;max-width:1150px}
h1{font-size:20px;margin:0 0 4px}.sub{color:#57606a;margin-bottom:16px}
table{border-collapse:collapse;margin-top:16px}td,th{padding:4px 10px;border-bottom:1px solid #d0d7de;text-align:right}
th:first-child,td:first-child{text-align:left}
.legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 14px;vertical-align:-1px;border-radius:2px}
svg text{font:11px system-ui,sans-serif;fill:#57606a}
ul{color:#57606a}
"""


def render_backtest_html(result: BacktestResult, title: str | None = None) -> str:
    """The page for ``result``; rolling windows are ``result.window_rows`` rows wide."""
    title = title or f"Backtest: {result.data}"
    metric = "accuracy" if result.metric == "accuracy" else "MAE (lower is better)"
    legend = "".join(
        f'<span style="background:{_COLORS.get(n, "#000")}"></span>{html.escape(n)}' for n in result.policies
    )
    marks = "".join(
        f'<span style="background:{c}"></span>ctml {k}' for k, c in _MARKS.items() if k in ("retrain", "promote",
                                                                                          "rollback")
    )  # fmt: skip
    rows = "\n".join(
        f"<tr><td>{html.escape(n)}</td><td>{_fmt(p.value, result.metric)}</td><td>{p.retrains}</td>"
        f"<td>{p.promotions}</td><td>{p.rollbacks}</td><td>{p.seconds:.1f}</td>"
        f"<td>{'yes' if p.via_server else 'no'}</td></tr>"
        for n, p in result.policies.items()
    )
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in result.notes)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title><style>{_STYLE}</style></head>
<body>
<h1>{html.escape(title)}</h1>
<div class="sub">target <b>{html.escape(result.target)}</b> ({result.task}) &nbsp;·&nbsp; {result.rows:,} rows,
warm-up {result.warmup_rows:,}, reconcile every {result.window_rows:,} rows, label delay {result.label_delay_rows:,}
rows &nbsp;·&nbsp; rolling {metric} over {result.window_rows:,} rows</div>
<div class="legend">{legend}&nbsp;&nbsp;|{marks}</div>
{_chart(result)}
<table><thead><tr><th>policy</th><th>{html.escape(result.metric)}</th><th>retrains</th><th>promotions</th>
<th>rollbacks</th><th>seconds</th><th>through the server</th></tr></thead>
<tbody>
{rows}
</tbody></table>
{_time_split(result)}
<ul>{notes}</ul>
</body></html>
"""


def _chart(result: BacktestResult) -> str:
    start, stop = result.warmup_rows, result.rows
    curves = {n: rolling(p.scores, result.window_rows) for n, p in result.policies.items() if p.scores.size}
    if not curves:
        return "<p>No policy scored any row.</p>"
    values = np.concatenate(list(curves.values()))
    lo, hi = float(values.min()), float(values.max())
    if result.metric == "accuracy":
        lo, hi = max(0.0, lo - 0.02), min(1.0, hi + 0.02)
    else:
        lo, hi = 0.0, hi * 1.05
    if hi - lo < 1e-9:
        hi = lo + 1.0
    width, height = _W - _L - _R, _H - _T - _B

    def x(row: float) -> float:
        return _L + (row - start) / max(1, stop - start) * width

    def y(value: float) -> float:
        return _T + (1 - (value - lo) / (hi - lo)) * height

    parts = [f'<rect x="{_L}" y="{_T}" width="{width}" height="{height}" fill="#fff" stroke="#d0d7de"/>']
    for tick in np.linspace(lo, hi, 6):
        parts.append(f'<line x1="{_L}" x2="{_L + width}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#eaeef2"/>')
        parts.append(f'<text x="{_L - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick:.3g}</text>')
    for tick in np.linspace(start, stop, 7):
        parts.append(f'<text x="{x(tick):.1f}" y="{_T + height + 16}" text-anchor="middle">{int(tick):,}</text>')
    parts.append(f'<text x="{_L + width / 2}" y="{_H - 4}" text-anchor="middle">row</text>')
    ctml = result.policies.get("ctml")
    if ctml is not None:
        parts.extend(_marker(m, x(m.row), height) for m in ctml.markers if m.kind in _MARKS)
    for name, curve in curves.items():
        step = max(1, curve.size // _POINTS)
        idx = np.arange(0, curve.size, step)
        points = " ".join(f"{x(float(start + i)):.1f},{y(float(curve[i])):.1f}" for i in idx)
        color = _COLORS.get(name, "#000")
        thick = 2.2 if name == "ctml" else 1.4
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="{thick}" points="{points}">'
                     f"<title>{html.escape(name)}</title></polyline>")  # fmt: skip
    body = "".join(parts)
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" viewBox="0 0 {_W} {_H}">{body}</svg>'


_PARTS = {"predict and learn": "#1a7f37", "predict": "#0969da", "batch fits": "#bf8700",
          "log and store": "#8250df", "controller and gate": "#cf222e", "model loads": "#6e7781",
          "requests": "#fb8500", "other": "#d0d7de"}  # fmt: skip


def _time_split(result: BacktestResult) -> str:
    """ctml's wall time as one stacked bar (every version's predict, learn summed), with the bare cost of its
    candidates beside it when it was measured."""
    ctml = result.policies.get("ctml")
    parts = {} if ctml is None else ctml.time_spent()
    if ctml is None or not parts:
        return ""
    total = sum(parts.values()) or 1.0
    width = _W - _L - _R
    x = float(_L)
    bars, legend = [], []
    for name, value in parts.items():
        color = _PARTS.get(name, "#57606a")
        w = width * value / total
        bars.append(f'<rect x="{x:.1f}" y="8" width="{w:.1f}" height="26" fill="{color}">'
                    f"<title>{html.escape(name)}: {value:.1f} s ({value / total:.0%})</title></rect>")  # fmt: skip
        legend.append(f'<span style="background:{color}"></span>{html.escape(name)} {value:.1f} s')
        x += w
    bare = ctml.details.get("bare_cost")
    ratio = ctml.details.get("overhead")
    note = ""
    if isinstance(bare, dict) and isinstance(ratio, int | float):
        note = (f"<div class='sub'>Its candidates alone, outside ctml, on the same rows (online learners "
                f"test-then-train and the same batch fits): {bare.get('total', 0):.1f} s; ctml took {ratio:.2f}x "
                "that.</div>")  # fmt: skip
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="42" viewBox="0 0 {_W} 42">'
           f"{''.join(bars)}</svg>")  # fmt: skip
    return (f"<h2 style='font-size:16px;margin-top:20px'>Where ctml's {ctml.seconds:.1f} s went</h2>{svg}"
            f"<div class='legend'>{''.join(legend)}</div>{note}")  # fmt: skip


def _marker(marker: Marker, at: float, height: int) -> str:
    color = _MARKS[marker.kind]
    dash = ' stroke-dasharray="3,3"' if marker.kind == "retrain" else ""
    tip = html.escape(f"row {marker.row:,}: {marker.kind} — {marker.reason}")
    top = _T - 2 if marker.kind == "retrain" else _T - 10
    return (f'<g class="marker {marker.kind}"><title>{tip}</title>'
            f'<line x1="{at:.1f}" x2="{at:.1f}" y1="{_T}" y2="{_T + height}" stroke="{color}" stroke-opacity="0.55"'
            f'{dash}/><path d="M{at - 5:.1f},{top - 7} L{at + 5:.1f},{top - 7} L{at:.1f},{top} Z" fill="{color}"/>'
            "</g>")  # fmt: skip


def _fmt(value: float, metric: str) -> str:
    return f"{value:.2%}" if metric == "accuracy" else f"{value:.4g}"
