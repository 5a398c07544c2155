"""``ctml.App``: one spec for an app — data, model, training, gate, triggers and roll-out — in Python or TOML.

The spec is the desired state the controller reconciles against: which data feeds the model, how a
challenger is trained, what it must prove to be promoted, when to retrain and how to roll out. It holds
objects (a source, an estimator, a strategy, a gate, a policy, a plan), each validated where it is made, so
a bad spec fails when it is loaded, not at 3 a.m.

>>> from sklearn.linear_model import LogisticRegression
>>> from ctml.data import FileSource
>>> app = App("elec2", source=FileSource("data/*.csv"), target="class", model=LogisticRegression())
>>> app.name, app.target, type(app.training).__name__, app.policy.max_per_day
('elec2', 'class', 'SlidingWindow', 4)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from ctml.app._tournament import Tournament
from ctml.data import Source
from ctml.errors import ConfigError
from ctml.evaluate import Gate
from ctml.rollout import RolloutPlan
from ctml.train import FineTune, FullHistory, Incremental, SlidingWindow, WarmStart
from ctml.triggers import AnyOf, Drift, Manual, PerformanceDrop, RetrainPolicy, Volume

__all__ = ["STRATEGIES", "App", "default_policy"]

STRATEGIES: dict[str, type] = {
    "full_history": FullHistory,
    "sliding_window": SlidingWindow,
    "warm_start": WarmStart,
    "incremental": Incremental,
    "fine_tune": FineTune,
}
"""Training strategies by the name a TOML spec uses."""

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


def default_policy() -> RetrainPolicy:
    """Retrain on drift of a third of the features, a 3-point drop in the live metric, 5,000 new labelled rows,
    or a person's request; at most once an hour and four times a day."""
    rule = AnyOf([Drift(above=0.34), PerformanceDrop(max_drop=0.03, min_rows=300), Volume(5000), Manual()])
    return RetrainPolicy(rule, cooldown=timedelta(hours=1), max_per_day=4)


@dataclass(frozen=True)
class App:
    """An app: ``source`` feeds labelled rows (``target`` is the label, ``time`` the event-time column),
    ``model`` is the estimator a challenger is cloned from, ``training`` the strategy, ``gate`` what a
    challenger must prove, ``policy`` when to retrain, ``rollout`` how a promoted model reaches traffic."""

    name: str
    source: Source
    target: str
    model: Any
    features: tuple[str, ...] | None = None
    time: str | None = None
    training: Any = field(default_factory=lambda: SlidingWindow(rows=20_000))
    gate: Gate = field(default_factory=lambda: Gate(min_effect=0.002, floors={"accuracy": 0.5}))
    policy: RetrainPolicy = field(default_factory=default_policy)
    rollout: RolloutPlan = field(default_factory=RolloutPlan)
    holdout: float = 0.2
    seed: int = 0
    tournament: Tournament | None = None
    """The standing challengers and live promotion (:class:`Tournament`); ``None``: challengers are judged on a
    holdout of their training window and rolled out by the plan."""
    on_invalid: str = "reject"
    """What the controller does with a batch that fails validation: ``reject`` leaves it out (recorded as a
    ``validation`` decision; fixed files are retried), ``keep`` stores it anyway with its findings recorded, for
    replaying history whose quirks are known (a date encoding that jumps at new year, say)."""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ConfigError(
                "An app's name must be 1-64 lowercase letters, digits, '.', '_' or '-', starting with a letter or "
                f"digit. Got {self.name!r}."
            )
        if not isinstance(self.target, str) or not self.target:
            raise ConfigError(f"The 'target' of app {self.name!r} must be a column name. Got {self.target!r}.")
        if not (hasattr(self.model, "fit") or hasattr(self.model, "learn_one")):
            raise ConfigError(
                f"The 'model' of app {self.name!r} must be an estimator (scikit-learn, LightGBM, XGBoost, River or "
                f"ctml.flavors.TorchTabular). Got {self.model!r}."
            )
        if self.features is not None:
            features = tuple(self.features)
            if not features or not all(isinstance(f, str) and f for f in features):
                raise ConfigError(f"The 'features' of app {self.name!r} must be column names. Got {self.features!r}.")
            if self.target in features or (self.time is not None and self.time in features):
                raise ConfigError(f"The 'features' of app {self.name!r} must not include the target or time column.")
            object.__setattr__(self, "features", features)
        if not isinstance(self.training, tuple(STRATEGIES.values())):
            raise ConfigError(
                f"The 'training' of app {self.name!r} must be a ctml.train strategy "
                f"({', '.join(c.__name__ for c in STRATEGIES.values())}). Got {self.training!r}."
            )
        for attr, kind in (("gate", Gate), ("policy", RetrainPolicy), ("rollout", RolloutPlan)):
            if not isinstance(getattr(self, attr), kind):
                raise ConfigError(f"The '{attr}' of app {self.name!r} must be a {kind.__name__}.")
        if not isinstance(self.holdout, float) or not 0.05 <= self.holdout <= 0.5:
            raise ConfigError(
                f"The 'holdout' of app {self.name!r} must be a share in [0.05, 0.5]. Got {self.holdout!r}."
            )
        if self.on_invalid not in ("reject", "keep"):
            raise ConfigError(f"'on_invalid' of app {self.name!r} must be 'reject' or 'keep'. Got {self.on_invalid!r}.")
        if self.tournament is not None and not isinstance(self.tournament, Tournament):
            raise ConfigError(f"The 'tournament' of app {self.name!r} must be a ctml.app.Tournament.")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ConfigError(f"The 'seed' of app {self.name!r} must be an int. Got {self.seed!r}.")
