"""ctml: continuous training for machine learning models.

Detect, retrain, validate, roll out, watch, roll back, in one package that runs on a laptop (SQLite + local
files) and scales out on PostgreSQL and S3. Names are imported lazily, so ``import ctml`` stays cheap and
``ctml.errors`` never pulls in a database driver.

>>> import ctml
>>> ctml.Settings.local("/tmp/ct").meta_url
'sqlite:////tmp/ct/meta.db'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ctml.app import App, load_app
    from ctml.clock import Clock, SimulatedClock, WallClock
    from ctml.config import Settings
    from ctml.errors import CtmlError
    from ctml.meta import MetaStore, Metric, Node, open_meta
    from ctml.registry import ModelRegistry
    from ctml.store import ArtifactStore, open_store
    from ctml.tracking import ActiveRun, Tracker
    from ctml.workspace import Workspace

__all__ = [
    "ActiveRun",
    "App",
    "ArtifactStore",
    "Clock",
    "CtmlError",
    "MetaStore",
    "Metric",
    "ModelRegistry",
    "Node",
    "Settings",
    "SimulatedClock",
    "Tracker",
    "WallClock",
    "Workspace",
    "__version__",
    "load_app",
    "open_meta",
    "open_store",
]

__version__ = "0.1.0"

_WHERE = {
    "ActiveRun": "ctml.tracking",
    "App": "ctml.app",
    "ArtifactStore": "ctml.store",
    "Clock": "ctml.clock",
    "CtmlError": "ctml.errors",
    "MetaStore": "ctml.meta",
    "Metric": "ctml.meta",
    "ModelRegistry": "ctml.registry",
    "Node": "ctml.meta",
    "Settings": "ctml.config",
    "SimulatedClock": "ctml.clock",
    "Tracker": "ctml.tracking",
    "WallClock": "ctml.clock",
    "Workspace": "ctml.workspace",
    "load_app": "ctml.app",
    "open_meta": "ctml.meta",
    "open_store": "ctml.store",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'ctml' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
