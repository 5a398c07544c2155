"""The demo report's story: every narrated event as a table under the chart (the chart is the backtest's)."""

from __future__ import annotations

import html
from collections.abc import Sequence

from ctml.demo._events import DemoEvent

__all__ = ["events_html"]

_SHOWN = ("server", "first", "drift", "retrain", "train", "gate", "rollout", "promoted", "rollback")


def events_html(events: Sequence[DemoEvent]) -> str:
    """An HTML section listing the events a reader cares about (not the per-window progress), in order."""
    rows = "\n".join(
        f"<tr><td>{e.at:%Y-%m-%d %H:%M}</td><td>{e.row:,}</td><td>{html.escape(e.kind)}</td>"
        f'<td style="text-align:left">{html.escape(e.message)}</td></tr>'
        for e in events
        if e.kind in _SHOWN
    )
    return (
        '<h2 style="font-size:16px;margin-top:24px">What the loop did (simulated time)</h2>\n'
        "<table><thead><tr><th>when</th><th>row</th><th>event</th><th>what</th></tr></thead>\n"
        f"<tbody>\n{rows}\n</tbody></table>\n"
    )
