"""Backtest reports kept under the workspace home: ``<home>/reports/NAME.json`` and/or ``NAME.html``.

``NAME.json`` is ``BacktestResult.to_json()`` (``ctml backtest --json > NAME.json``) and gives the summary
table; ``NAME.html`` is ``ctml backtest --html NAME.html`` and is shown as it is. Either alone is enough.
Names are checked against a strict pattern, so a request can never read outside the folder.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ctml.errors import NotFoundError

__all__ = ["Report", "find_reports", "get_report"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_MAX_JSON = 20_000_000


@dataclass(frozen=True)
class Report:
    name: str
    json_path: Path | None
    html_path: Path | None
    modified: datetime

    def summary(self) -> dict[str, Any] | None:
        """The JSON result, or None when there is none or it cannot be read as a backtest result."""
        if self.json_path is None or self.json_path.stat().st_size > _MAX_JSON:
            return None
        try:
            data = json.loads(self.json_path.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and isinstance(data.get("policies"), dict) else None


def find_reports(folder: Path) -> list[Report]:
    """Every report in ``folder``, newest first."""
    if not folder.is_dir():
        return []
    names = sorted({p.stem for p in folder.iterdir() if p.suffix in (".json", ".html") and _NAME.match(p.stem)})
    found = [_report(folder, name) for name in names]
    return sorted(found, key=lambda r: r.modified, reverse=True)


def get_report(folder: Path, name: str) -> Report:
    if not _NAME.match(name):
        raise NotFoundError(f"No backtest report named {name!r}: names are letters, digits, '.', '_' and '-'.")
    report = _report(folder, name)
    if report.json_path is None and report.html_path is None:
        raise NotFoundError(f"No backtest report named {name!r} in {folder}.")
    return report


def _report(folder: Path, name: str) -> Report:
    json_path, html_path = folder / f"{name}.json", folder / f"{name}.html"
    paths = [p for p in (json_path, html_path) if p.is_file()]
    modified = max((p.stat().st_mtime for p in paths), default=0.0)
    return Report(
        name,
        json_path if json_path.is_file() else None,
        html_path if html_path.is_file() else None,
        datetime.fromtimestamp(modified, tz=UTC),
    )
