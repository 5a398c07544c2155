"""App specs (L2 loop): one description of an app — data, model, training, gate, triggers, roll-out.

Write it in Python (:class:`App`) or TOML (:func:`load_app`; ``ctml init`` writes a working example).
"""

from ctml.app._spec import STRATEGIES, App, default_policy
from ctml.app._toml import EXAMPLE, app_from_toml, load_app, parse_duration
from ctml.app._tournament import Tournament

__all__ = [
    "EXAMPLE",
    "STRATEGIES",
    "App",
    "Tournament",
    "app_from_toml",
    "default_policy",
    "load_app",
    "parse_duration",
]
