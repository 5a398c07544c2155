"""What a model server serves and how: the apps (model and alias each) and the server's limits."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from ctml.errors import ConfigError

__all__ = ["AppSpec", "ServeConfig"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True)
class AppSpec:
    """An app served at ``/v1/apps/{name}``: the registry ``model`` and the ``alias`` its champion follows.

    >>> AppSpec.parse("churn=churn-model:prod")
    AppSpec(name='churn', model='churn-model', alias='prod')
    >>> AppSpec.parse("churn")
    AppSpec(name='churn', model='churn', alias='champion')
    """

    name: str
    model: str
    alias: str = "champion"

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ConfigError(
                f"An app name is 1-128 letters, digits, '.', '_' or '-' starting with a letter or digit. "
                f"Got {self.name!r}."
            )

    @classmethod
    def parse(cls, text: str) -> AppSpec:
        """``NAME=MODEL[:ALIAS]`` or ``MODEL[:ALIAS]`` (the app is named after the model)."""
        name, eq, rest = text.partition("=")
        if not eq:
            rest, name = name, name.partition(":")[0]
        model, _, alias = rest.partition(":")
        if not model:
            raise ConfigError(f"--app takes NAME=MODEL[:ALIAS], for example churn=churn-model:champion. Got {text!r}.")
        return cls(name, model, alias or "champion")


@dataclass(frozen=True)
class ServeConfig:
    """A server's apps and limits. ``poll_s``: how often aliases and route tables are re-read.

    ``log_capacity`` rows fit in the prediction log's queue; with ``log_batch_rows`` they bound what a crash can
    lose (see :mod:`ctml.serve._log`). ``fast_path``: answer plain linear scikit-learn models in one NumPy pass,
    proven equal to scikit-learn's own answers when each version loads (see :func:`ctml.flavors.predictor`).
    ``learn``: versions that can learn in place are updated from feedback labels (see :mod:`ctml.serve._learner`),
    their state written as a snapshot every ``snapshot_labels`` labels or ``snapshot_s`` seconds.
    """

    apps: Sequence[AppSpec]
    poll_s: float = 5.0
    max_batch_rows: int = 1_000
    max_body_bytes: int = 4 * 1024 * 1024
    log_capacity: int = 10_000
    log_batch_rows: int = 1_000
    require_token_for_predict: bool = False
    fast_path: bool = True
    learn: bool = True
    snapshot_labels: int = 1_000
    snapshot_s: float = 60.0
    actor: str = "ctml-serve"
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.apps:
            raise ConfigError("A server needs at least one app: --app NAME=MODEL[:ALIAS].")
        names = [a.name for a in self.apps]
        if len(set(names)) != len(names):
            raise ConfigError(f"App names must be unique. Got {names}.")
        for name, value, low in (
            ("poll_s", self.poll_s, 0.01),
            ("max_batch_rows", self.max_batch_rows, 1),
            ("max_body_bytes", self.max_body_bytes, 1024),
            ("log_capacity", self.log_capacity, 1),
            ("log_batch_rows", self.log_batch_rows, 1),
            ("snapshot_labels", self.snapshot_labels, 1),
            ("snapshot_s", self.snapshot_s, 0.0),
        ):
            if value < low:
                raise ConfigError(f"The {name!r} parameter of ServeConfig must be >= {low}. Got {value!r}.")
