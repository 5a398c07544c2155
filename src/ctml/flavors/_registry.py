"""Flavors by name, with lazy import paths (Metaflow's plugin idea): registering imports nothing.

Each entry says where the flavor class lives (``"module:Class"``) and which top-level modules' objects it fits,
so :func:`flavor_for` can pick a flavor from an estimator's type without importing LightGBM, XGBoost, River or
PyTorch. The scikit-learn flavor is the fallback for any other object with ``fit`` and ``get_params``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from ctml.errors import ConfigError, NotFoundError
from ctml.flavors._base import ModelFlavor

__all__ = ["FlavorEntry", "flavor_for", "get_flavor", "register_flavor", "registered_flavors"]


@dataclass(frozen=True)
class FlavorEntry:
    """Where a flavor lives, and which estimators it fits (by the top-level module or class path of their type)."""

    name: str
    path: str
    handles: tuple[str, ...] = ()


_ENTRIES: dict[str, FlavorEntry] = {
    entry.name: entry
    for entry in (
        FlavorEntry("sklearn", "ctml.flavors._sklearn:SklearnFlavor", ("sklearn",)),
        FlavorEntry("lightgbm", "ctml.flavors._lightgbm:LightGBMFlavor", ("lightgbm",)),
        FlavorEntry("xgboost", "ctml.flavors._xgboost:XGBoostFlavor", ("xgboost",)),
        FlavorEntry("river", "ctml.flavors._river:RiverFlavor", ("river",)),
        FlavorEntry("torch", "ctml.flavors._torch:TorchFlavor", ("ctml.flavors._torch.TorchTabular",)),
    )
}
_LOADED: dict[str, ModelFlavor] = {}


def register_flavor(name: str, path: str, handles: tuple[str, ...] = ()) -> None:
    """Register a flavor class at ``path`` (``"package.module:Class"``, constructed without arguments) as ``name``.

    ``handles`` lists top-level module names (``"catboost"``) or full class paths whose instances it fits.
    Re-registering a name replaces it.
    """
    if ":" not in path:
        raise ConfigError(f"A flavor path looks like 'package.module:Class'. Got {path!r}.")
    _ENTRIES[name] = FlavorEntry(name, path, tuple(handles))
    _LOADED.pop(name, None)


def registered_flavors() -> list[str]:
    """The names of all registered flavors, sorted."""
    return sorted(_ENTRIES)


def get_flavor(name: str) -> ModelFlavor:
    """The flavor registered as ``name``, imported on first use.

    >>> get_flavor("sklearn")
    SklearnFlavor()
    """
    flavor = _LOADED.get(name)
    if flavor is not None:
        return flavor
    entry = _ENTRIES.get(name)
    if entry is None:
        raise NotFoundError(f"No model flavor is registered as {name!r}. Registered: {registered_flavors()}.")
    module_name, _, attribute = entry.path.partition(":")
    flavor = getattr(importlib.import_module(module_name), attribute)()
    if not isinstance(flavor, ModelFlavor):
        raise ConfigError(f"{entry.path} does not implement the ModelFlavor protocol.")
    _LOADED[name] = flavor
    return flavor


def flavor_for(estimator: Any) -> ModelFlavor:
    """The flavor that fits ``estimator``, chosen by its type without importing any optional library.

    >>> from sklearn.linear_model import LogisticRegression
    >>> flavor_for(LogisticRegression()).name
    'sklearn'
    """
    kind = type(estimator)
    class_path = f"{kind.__module__}.{kind.__qualname__}"
    root = kind.__module__.split(".")[0]
    for entry in _ENTRIES.values():
        if class_path in entry.handles or root in entry.handles:
            return get_flavor(entry.name)
    if hasattr(estimator, "fit") and hasattr(estimator, "get_params") and hasattr(estimator, "predict"):
        return get_flavor("sklearn")
    raise ConfigError(
        f"No model flavor fits a {class_path}. ctml fits scikit-learn estimators and pipelines, LightGBM, XGBoost, "
        f"River learners and ctml.flavors.TorchTabular; register another with register_flavor()."
    )
