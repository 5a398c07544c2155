"""What a demo run did and measured, read back from the workspace it wrote."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ctml.demo._events import DemoEvent
from ctml.types import JSONObject

__all__ = ["DemoResult"]


@dataclass(frozen=True)
class DemoResult:
    """One replay: the app and model it made, the server's URL, the report, and the numbers behind the story.

    ``live_mae`` is the loop's mean absolute error on every replayed hour, as the server answered before the
    count was known; ``static_mae`` is the first champion's on the same hours, had it never been replaced.
    """

    app: str
    model: str
    home: Path
    folder: Path
    report: Path
    url: str
    rows: int
    scored_rows: int
    windows: int
    live_mae: float
    static_mae: float
    static_version: int
    champion_version: int
    retrains: int
    promotions: int
    rollbacks: int
    gate_verdicts: dict[str, int]
    predictions_logged: int
    decisions_stored: int
    events: tuple[DemoEvent, ...]
    elapsed_s: float

    @property
    def gain(self) -> float:
        """How much lower the loop's MAE is than the never-retrained model's (rentals per hour)."""
        return self.static_mae - self.live_mae

    def to_json(self) -> JSONObject:
        return {
            "app": self.app,
            "model": self.model,
            "home": str(self.home),
            "folder": str(self.folder),
            "report": str(self.report),
            "url": self.url,
            "rows": self.rows,
            "scored_rows": self.scored_rows,
            "windows": self.windows,
            "live_mae": self.live_mae,
            "static_mae": self.static_mae,
            "gain": self.gain,
            "static_version": self.static_version,
            "champion_version": self.champion_version,
            "retrains": self.retrains,
            "promotions": self.promotions,
            "rollbacks": self.rollbacks,
            "gate_verdicts": dict(self.gate_verdicts),
            "predictions_logged": self.predictions_logged,
            "decisions_stored": self.decisions_stored,
            "events": [e.to_json() for e in self.events],
            "elapsed_s": self.elapsed_s,
        }
