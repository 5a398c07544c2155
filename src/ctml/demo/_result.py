"""What a demo run measured: plain frozen records, so the CLI (or a notebook) can print them any way it likes."""

from __future__ import annotations

from dataclasses import dataclass

from ctml.demo._gate import GateResult
from ctml.errors import ConfigError

__all__ = [
    "MODELS",
    "DemoConfig",
    "DemoResult",
    "LineageDataset",
    "StaticVsRetrained",
    "WindowResult",
    "check_config",
]

MODELS = ("logistic", "hgb")
"""Model kinds the demo can train: scaled logistic regression, or histogram gradient boosting."""


@dataclass(frozen=True)
class DemoConfig:
    """How to replay the stream. ``windows=None`` means every window; ``train_rows=None`` two windows' worth."""

    windows: int | None = None
    window_rows: int = 4000
    train_rows: int | None = None
    holdout_fraction: float = 0.25
    model: str = "logistic"
    seed: int = 0
    alpha: float = 0.05
    min_effect: float = 0.01

    @property
    def sliding_rows(self) -> int:
        return 2 * self.window_rows if self.train_rows is None else self.train_rows


def check_config(config: DemoConfig) -> None:
    """Raise :class:`~ctml.errors.ConfigError` naming the first parameter out of range."""
    problems = [
        ("windows", config.windows is None or config.windows >= 2, "an int >= 2 or None"),
        ("window_rows", config.window_rows >= 100, "an int >= 100"),
        ("train_rows", config.train_rows is None or config.train_rows >= 50, "an int >= 50 or None"),
        ("holdout_fraction", 0 < config.holdout_fraction <= 0.5, "a float in (0, 0.5]"),
        ("model", config.model in MODELS, f"one of {', '.join(MODELS)}"),
        ("alpha", 0 < config.alpha < 1, "a float in (0, 1)"),
        ("min_effect", 0 <= config.min_effect < 1, "a float in [0, 1)"),
    ]
    for name, ok, expected in problems:
        if not ok:
            raise ConfigError(
                f"The {name!r} parameter of DemoConfig must be {expected}. Got {getattr(config, name)!r} instead."
            )


@dataclass(frozen=True)
class WindowResult:
    """One window of the stream: its dataset version, how the champion did live, and the gate's verdict.

    Window 0 trains the first model, so it has no live accuracy and no gate (``gate`` is None).
    """

    index: int
    start: int
    end: int
    time_min: str
    time_max: str
    dataset_version_id: str
    dataset_version: int
    dataset_reused: bool
    """True when these exact rows were already a dataset version (content addressing)."""
    champion_version: int | None
    """The version that predicted this window before its labels were known."""
    live_accuracy: float | None
    static_accuracy: float | None
    """The never-retrained first model on the same rows."""
    challenger_version: int
    train_run_id: str
    train_rows: tuple[int, int]
    holdout_rows: tuple[int, int]
    gate: GateResult | None
    decision: str
    decision_id: str

    @property
    def rows(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class StaticVsRetrained:
    """The first model never retrained vs the gated, continuously retrained champion, on the same rows."""

    rows: int
    static_version: int
    static_accuracy: float
    retrained_accuracy: float
    retrained_only: int
    """Rows the retrained champion got right and the static model got wrong."""
    static_only: int
    p_value: float
    """Exact McNemar test on the discordant rows (two-sided)."""
    constant_label: str
    constant_accuracy: float
    """Always predicting the most frequent label of the first training rows: the floor to beat."""

    @property
    def gain(self) -> float:
        return self.retrained_accuracy - self.static_accuracy


@dataclass(frozen=True)
class LineageDataset:
    """A dataset version that went into a model's training run, read back from the lineage graph."""

    id: str
    version: int
    relation: str
    rows: int
    start: int | None
    end: int | None
    time_min: str | None
    time_max: str | None
    parent_ids: tuple[str, ...]
    parent_versions: tuple[int, ...]


@dataclass(frozen=True)
class DemoResult:
    app: str
    model: str
    dataset: str
    windows: tuple[WindowResult, ...]
    comparison: StaticVsRetrained
    champion_version: int
    champion_run_id: str
    champion_datasets: tuple[LineageDataset, ...]
    promotions: int
    monitor_run_id: str
    elapsed_s: float
    config: DemoConfig

    @property
    def datasets_reused(self) -> int:
        return sum(w.dataset_reused for w in self.windows)
