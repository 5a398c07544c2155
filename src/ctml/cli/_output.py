"""Printing for the CLI: readable tables for people, ``--json`` for programs."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

__all__ = ["console", "emit_json", "jsonable", "table"]


def console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    # Piped output is read by people in logs and by grep: do not fold it to 80 columns.
    width = None if stream.isatty() else 200
    return Console(file=stream, highlight=False, soft_wrap=False, width=width)


def jsonable(value: Any) -> Any:
    """Records, datetimes and enums as plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(jsonable(value), indent=2, sort_keys=True) + "\n")


def when(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def seconds(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    grid = Table(title=title, title_justify="left", show_edge=False, header_style="bold")
    for index, column in enumerate(columns):
        grid.add_column(column, overflow="fold", no_wrap=index == 0)
    for row in rows:
        # Cells are data, not markup: a step named fit[p0] must print as itself.
        grid.add_row(*("" if cell is None else escape(str(cell)) for cell in row))
    console().print(grid)
