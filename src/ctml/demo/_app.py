"""The demo's app and its settings: what the loop is asked to do on the bike-sharing stream, and why.

The product's defaults are written for classification (a floor on accuracy, a 3-point accuracy drop); the
target here is a count of rentals per hour, judged by mean absolute error (MAE, in rentals), so the demo
states its own thresholds in those units.

>>> config = DemoConfig()
>>> config.warmup_rows, config.window_rows, config.label_delay_rows
(1344, 336, 24)
>>> DemoConfig(window_rows=0)
Traceback (most recent call last):
...
ctml.errors.ConfigError: The 'window_rows' parameter of DemoConfig must be an int >= 24. Got 0 instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sklearn.ensemble import HistGradientBoostingRegressor

from ctml.app import App
from ctml.data import FileSource
from ctml.demo._data import FEATURES, TARGET, TIME
from ctml.errors import ConfigError
from ctml.evaluate import Gate
from ctml.rollout import RolloutPlan
from ctml.train import SlidingWindow
from ctml.triggers import AnyOf, Drift, Manual, PerformanceDrop, RetrainPolicy, Volume
from ctml.types import JSONObject

__all__ = ["DemoConfig", "demo_app"]

_HOUR = 3600.0


@dataclass(frozen=True)
class DemoConfig:
    """How the stream is replayed (rows are hours of the stream).

    ``warmup_rows``: the first model's data (8 weeks); ``window_rows``: hours between two controller cycles (two
    weeks); ``label_delay_rows``: hours before a row's count is known (a day); ``request_rows``: rows per
    ``/predict`` request; ``rows``: replay only the first rows of the stream (``None``: all of it);
    ``train_rows``: the sliding window a challenger learns from; ``max_drop``: the MAE rise (rentals) that
    triggers a retrain; ``volume_rows``: new labelled hours that trigger one anyway; ``cooldown_days``: the least
    time between two retrains.
    """

    warmup_rows: int = 1344
    window_rows: int = 336
    label_delay_rows: int = 24
    request_rows: int = 4
    monitor_rows: int = 576
    rows: int | None = None
    train_rows: int = 4032
    max_drop: float = 15.0
    drift_share: float = 0.34
    volume_rows: int = 1344
    cooldown_days: float = 14.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name, low in (("warmup_rows", 168), ("window_rows", 24), ("label_delay_rows", 0), ("request_rows", 1),
                          ("monitor_rows", 24), ("train_rows", 168), ("volume_rows", 1)):  # fmt: skip
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ConfigError(
                    f"The '{name}' parameter of DemoConfig must be an int >= {low}. Got {value!r} instead."
                )
        if self.request_rows > 1000:
            raise ConfigError(f"The 'request_rows' parameter of DemoConfig must be at most 1000 (the server's limit). "
                              f"Got {self.request_rows!r} instead.")  # fmt: skip
        if self.rows is not None and (
            not isinstance(self.rows, int) or self.rows < self.warmup_rows + self.window_rows
        ):
            raise ConfigError(f"The 'rows' parameter of DemoConfig must be None or an int >= warmup_rows + window_rows "
                              f"({self.warmup_rows + self.window_rows}). Got {self.rows!r} instead.")  # fmt: skip
        if not self.max_drop > 0:
            raise ConfigError(f"The 'max_drop' parameter of DemoConfig must be a positive MAE. Got {self.max_drop!r}.")
        if not 0 < self.drift_share <= 1:
            raise ConfigError(f"The 'drift_share' parameter of DemoConfig must be in (0, 1]. Got {self.drift_share!r}.")
        if not self.cooldown_days >= 0:
            raise ConfigError(f"The 'cooldown_days' parameter of DemoConfig must be >= 0. Got {self.cooldown_days!r}.")

    @classmethod
    def quick(cls) -> DemoConfig:
        """Four months of the stream instead of two years, a cycle a week: the same story, told faster (tests, a
        first look)."""
        return cls(warmup_rows=672, window_rows=168, rows=2880, cooldown_days=7.0)

    @property
    def window(self) -> timedelta:
        """The monitor's window: the champion's last ``monitor_rows`` hours of traffic (the monitor measures drift
        on at least 500 rows, so the default is 24 days)."""
        return timedelta(seconds=self.monitor_rows * _HOUR)

    @property
    def label_delay(self) -> timedelta:
        return timedelta(seconds=self.label_delay_rows * _HOUR)

    def to_json(self) -> JSONObject:
        return {"warmup_rows": self.warmup_rows, "window_rows": self.window_rows,
                "label_delay_rows": self.label_delay_rows, "request_rows": self.request_rows,
                "monitor_rows": self.monitor_rows, "rows": self.rows,
                "train_rows": self.train_rows, "max_drop": self.max_drop, "drift_share": self.drift_share,
                "volume_rows": self.volume_rows,
                "cooldown_days": self.cooldown_days, "seed": self.seed}  # fmt: skip


def demo_app(name: str, feed: Path, config: DemoConfig) -> App:
    """The app the demo's controller reconciles: the product's loop with thresholds in rentals per hour.

    - model: gradient-boosted trees on the 12 calendar and weather features;
    - training: a fresh model on the last ``train_rows`` hours (the rental level grows, old hours mislead);
    - gate: challenger vs champion on the same newest 20% of hours, MAE by a paired bootstrap; no first-model
      floor (an MAE floor in rentals would be arbitrary);
    - policy: drift of a third of the features, an MAE rise of ``max_drop`` rentals on at least a week of
      labelled hours, or ``volume_rows`` new labelled hours (8 weeks); at most one retrain per ``cooldown_days``;
    - roll-out: shadow and a 25% canary, each held half a window of simulated time and 48 predicted hours (the
      stage statistics count rows), so the guards (error rate; live MAE no worse than the champion's by more
      than ``max_drop``), which judge after 20 rows, have seen the candidate before it moves on.
    """
    half = config.window_rows * _HOUR / 2
    rule = AnyOf([Drift(above=config.drift_share), PerformanceDrop(max_drop=config.max_drop, min_rows=168),
                  Volume(config.volume_rows), Manual()])  # fmt: skip
    policy = RetrainPolicy(rule, cooldown=timedelta(days=config.cooldown_days), max_per_day=4)
    plan = RolloutPlan(shadow_s=half, canary=(25.0,), bake_s=half, bake_requests=48, max_metric_drop=config.max_drop)
    model = HistGradientBoostingRegressor(random_state=config.seed)
    return App(name, source=FileSource(feed / "*.parquet"), target=TARGET, model=model, features=FEATURES, time=TIME,
               training=SlidingWindow(rows=config.train_rows), gate=Gate(metric="mae", min_effect=0.0),
               policy=policy, rollout=plan, seed=config.seed)  # fmt: skip
