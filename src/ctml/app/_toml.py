"""The TOML form of :class:`~ctml.app.App`: the same spec, readable and diffable, loaded with clear errors.

Every table maps onto the Python objects one to one (``[gate]`` holds :class:`~ctml.evaluate.Gate`'s
parameters, ``[rollout]`` :class:`~ctml.rollout.RolloutPlan`'s, and so on), so an error names the table and
the key. The model's class is imported by name from the libraries ctml has flavors for; a custom estimator
belongs in a Python spec.

>>> app = app_from_toml(EXAMPLE.format(name="demo", path="data/*.csv", target="class"))
>>> app.name, app.training, app.policy.cooldown
('demo', SlidingWindow(rows=20000, seconds=None), datetime.timedelta(seconds=21600))
"""

from __future__ import annotations

import importlib
import re
import tomllib
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from ctml.app._spec import STRATEGIES, App
from ctml.data import FileSource, SqlSource
from ctml.errors import ConfigError
from ctml.evaluate import Gate
from ctml.rollout import RolloutPlan
from ctml.triggers import (
    AllOf,
    AnyOf,
    CodeChange,
    Drift,
    Manual,
    PerformanceDrop,
    RetrainPolicy,
    Rule,
    Schedule,
    Volume,
)

__all__ = ["EXAMPLE", "app_from_toml", "load_app", "parse_duration"]

_MODEL_MODULES = ("sklearn.", "lightgbm", "xgboost", "river.", "ctml.flavors")
_TABLES = {"app", "source", "model", "training", "gate", "triggers", "rollout"}
_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")

EXAMPLE = """\
# A ctml app: the data, the model, how to retrain it, what it must prove, and how it rolls out.
# `ctml run --app app.toml` trains once; `ctml controller --app app.toml` keeps it fresh.

[app]
name = "{name}"
target = "{target}"          # the label column
# time = "date"               # the event-time column, if any
# features = ["a", "b"]       # default: every column but the target and time
holdout = 0.2                 # the newest share of training rows, held out for the gate
seed = 7

[source]
path = "{path}"               # a file glob (CSV, Parquet, JSON lines; .gz/.zst), each file ingested once
# url = "postgresql://host/db"   # or a SQL table read by an increasing cursor column
# table = "events"
# cursor = "id"
# on_invalid = "reject"         # a batch failing validation is not stored (or "keep": store it, record findings)

[model]
class = "sklearn.ensemble.HistGradientBoostingClassifier"
params = {{ max_iter = 100, learning_rate = 0.1 }}

[training]
strategy = "sliding_window"   # full_history | sliding_window | warm_start | incremental | fine_tune
rows = 20000

[gate]
metric = "accuracy"
alpha = 0.05
min_effect = 0.002            # promote only a real gain of at least 0.2 points
slice_margin = 0.02           # and no slice worse by more than 2 points
floors = {{ accuracy = 0.55 }}  # a first model must reach these

[triggers]
any = [
  {{ drift = 0.34 }},                       # a third of the features drifted
  {{ performance_drop = 0.03, min_rows = 300 }},
  {{ volume = 5000 }},                      # new labelled rows since the champion was trained
  {{ schedule = "0 3 * * 1" }},             # Mondays 03:00 UTC
  "manual",
  "code",                                  # the training code changed
]
cooldown = "6h"
max_per_day = 2

[rollout]
shadow = "10m"
canary = [5, 25, 50]          # percent of traffic, by a sticky key hash
bake = "30m"
bake_requests = 500
max_error_rate = 0.01
max_metric_drop = 0.02
"""


def load_app(path: str | Path) -> App:
    """The app spec in the TOML file at ``path``; a relative source path is taken from the file's folder."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"No app spec at {file}. Write one with `ctml init`.") from None
    except UnicodeDecodeError:
        raise ConfigError(f"The app spec {file} is not UTF-8 text.") from None
    return app_from_toml(text, base=file.parent, where=str(file))


def app_from_toml(text: str, *, base: Path | None = None, where: str = "the app spec") -> App:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where} is not valid TOML: {exc}.") from None
    unknown = sorted(set(doc) - _TABLES)
    if unknown:
        raise ConfigError(f"{where}: unknown table(s) {', '.join(unknown)}; expected {', '.join(sorted(_TABLES))}.")
    app = _table(doc, "app", where, required=True)
    _keys(app, "app", {"name", "target", "time", "features", "holdout", "seed"}, where)
    for key in ("name", "target"):
        if key not in app:
            raise ConfigError(f"{where}: [app] needs '{key}'.")
    source = _table(doc, "source", where, required=True)
    try:
        return App(
            name=app["name"],
            target=app["target"],
            time=app.get("time"),
            features=tuple(app["features"]) if "features" in app else None,
            holdout=float(app.get("holdout", 0.2)),
            seed=app.get("seed", 0),
            source=_source(source, base, where),
            on_invalid=source.get("on_invalid", "reject"),
            model=_model(_table(doc, "model", where, required=True), where),
            training=_training(_table(doc, "training", where), where),
            gate=_gate(_table(doc, "gate", where), where),
            policy=_policy(_table(doc, "triggers", where), where),
            rollout=_rollout(_table(doc, "rollout", where), where),
        )
    except ConfigError as exc:
        message = str(exc)
        raise ConfigError(message if message.startswith(where) else f"{where}: {message}") from None
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}.") from None


def parse_duration(value: object, what: str) -> timedelta:
    """``"90s"``, ``"10m"``, ``"6h"``, ``"1d"`` or a number of seconds.

    >>> parse_duration("6h", "cooldown"), parse_duration(30, "bake")
    (datetime.timedelta(seconds=21600), datetime.timedelta(seconds=30))
    """
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return timedelta(seconds=value)
    match = _SPAN.match(value) if isinstance(value, str) else None
    if match is None:
        raise ConfigError(f"The {what} must be a duration like '90s', '10m', '6h' or '1d'. Got {value!r}.")
    amount, unit = float(match.group(1)), match.group(2)
    return timedelta(seconds=amount * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit])


def _table(doc: Mapping[str, Any], name: str, where: str, *, required: bool = False) -> dict[str, Any]:
    value = doc.get(name)
    if value is None:
        if required:
            raise ConfigError(f"{where} needs a [{name}] table.")
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: '{name}' must be a table ([{name}]).")
    return value


def _keys(table: Mapping[str, Any], name: str, allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) in [{name}]: {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}."
        )


def _source(table: dict[str, Any], base: Path | None, where: str) -> Any:
    _keys(table, "source", {"path", "url", "table", "cursor", "on_invalid"}, where)
    if "path" in table and "url" not in table:
        pattern = Path(str(table["path"]))
        if not pattern.is_absolute() and base is not None:
            pattern = base / pattern
        return FileSource(pattern)
    if "url" in table and {"table", "cursor"} <= set(table) and "path" not in table:
        return SqlSource(str(table["url"]), str(table["table"]), str(table["cursor"]))
    raise ConfigError(f"{where}: [source] needs either 'path' (a file glob) or 'url', 'table' and 'cursor'.")


def _model(table: dict[str, Any], where: str) -> Any:
    _keys(table, "model", {"class", "params"}, where)
    path = table.get("class")
    if not isinstance(path, str) or "." not in path:
        raise ConfigError(f"{where}: [model] needs 'class', e.g. 'sklearn.linear_model.LogisticRegression'.")
    if not path.startswith(_MODEL_MODULES):
        raise ConfigError(
            f"{where}: [model] class {path!r} is not from a library ctml has a flavor for "
            f"({', '.join(m.rstrip('.') for m in _MODEL_MODULES)}); put a custom estimator in a Python spec."
        )
    module_name, _, name = path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), name)
    except ImportError as exc:
        raise ConfigError(f"{where}: [model] class {path!r} cannot be imported ({exc}).") from None
    except AttributeError:
        raise ConfigError(f"{where}: [model] module {module_name!r} has no {name!r}.") from None
    params = table.get("params", {})
    if not isinstance(params, dict):
        raise ConfigError(f"{where}: [model] params must be a table of the estimator's parameters.")
    try:
        return cls(**params)
    except TypeError as exc:
        raise ConfigError(f"{where}: [model] params do not fit {path}: {exc}.") from None


def _training(table: dict[str, Any], where: str) -> Any:
    if not table:
        return STRATEGIES["sliding_window"](rows=20_000)
    params = dict(table)
    name = params.pop("strategy", None)
    if name not in STRATEGIES:
        raise ConfigError(f"{where}: [training] strategy must be one of {', '.join(STRATEGIES)}. Got {name!r}.")
    if "seconds" in params:
        params["seconds"] = parse_duration(params["seconds"], "[training] seconds").total_seconds()
    try:
        return STRATEGIES[name](**params)
    except TypeError as exc:
        raise ConfigError(f"{where}: [training] {exc}.") from None


def _gate(table: dict[str, Any], where: str) -> Gate:
    try:
        return Gate(**table)
    except TypeError as exc:
        raise ConfigError(f"{where}: [gate] {exc}.") from None


def _rule(item: object, where: str) -> Rule:
    if item == "manual":
        return Manual()
    if item == "code":
        return CodeChange()
    if isinstance(item, dict):
        spec = dict(item)
        if "schedule" in spec and len(spec) == 1:
            return Schedule(spec["schedule"])
        if "volume" in spec and len(spec) == 1:
            return Volume(spec["volume"])
        if "drift" in spec and set(spec) <= {"drift", "rearm_below"}:
            return Drift(above=spec["drift"], rearm_below=spec.get("rearm_below"))
        if "performance_drop" in spec and set(spec) <= {"performance_drop", "min_rows", "rearm_within"}:
            return PerformanceDrop(spec["performance_drop"], spec.get("min_rows", 200), spec.get("rearm_within"))
        if set(spec) in ({"any"}, {"all"}):
            kind = AnyOf if "any" in spec else AllOf
            rules = [_rule(r, where) for r in spec.get("any", spec.get("all", []))]
            return kind(rules, name=f"{'any' if kind is AnyOf else 'all'}-{'-'.join(r.name for r in rules)}")
    raise ConfigError(
        f"{where}: [triggers] has an entry it cannot read: {item!r}. Use {{ drift = 0.3 }}, {{ volume = 5000 }}, "
        '{ performance_drop = 0.03, min_rows = 300 }, { schedule = "0 3 * * *" }, "manual", "code", '
        "or {{ all = [...] }}."
    )


def _policy(table: dict[str, Any], where: str) -> RetrainPolicy:
    if not table:
        from ctml.app._spec import default_policy

        return default_policy()
    _keys(table, "triggers", {"any", "all", "cooldown", "max_per_day"}, where)
    if ("any" in table) == ("all" in table):
        raise ConfigError(f"{where}: [triggers] needs exactly one of 'any' or 'all', a list of rules.")
    items = table.get("any", table.get("all"))
    if not isinstance(items, list) or not items:
        raise ConfigError(f"{where}: [triggers] 'any' / 'all' must be a non-empty list of rules.")
    rules = [_rule(item, where) for item in items]
    rule: Rule = AnyOf(rules) if "any" in table else AllOf(rules)
    cooldown = parse_duration(table.get("cooldown", "1h"), "[triggers] cooldown")
    return RetrainPolicy(rule, cooldown=cooldown, max_per_day=table.get("max_per_day", 4))


def _rollout(table: dict[str, Any], where: str) -> RolloutPlan:
    params = dict(table)
    allowed = {"shadow", "canary", "bake", "bake_requests", "max_error_rate", "max_p99_ms", "max_metric_drop"}
    _keys(params, "rollout", allowed | {"max_prediction_drift"}, where)
    if "shadow" in params:
        params["shadow_s"] = parse_duration(params.pop("shadow"), "[rollout] shadow").total_seconds()
    if "bake" in params:
        params["bake_s"] = parse_duration(params.pop("bake"), "[rollout] bake").total_seconds()
    if "canary" in params:
        params["canary"] = tuple(params["canary"])
    return RolloutPlan(**params)
