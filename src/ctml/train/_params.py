"""Parameter checks with scikit-learn's messages, for the small records of this package.

>>> positive_int("SlidingWindow", "rows", 0)
Traceback (most recent call last):
ctml.errors.ConfigError: The 'rows' parameter of SlidingWindow must be an int >= 1. Got 0 instead.
"""

from __future__ import annotations

import math
from typing import Any

from ctml.errors import ConfigError

__all__ = ["fraction", "positive_int", "positive_number", "seed_value"]


def _fail(owner: str, name: str, expected: str, value: Any) -> ConfigError:
    return ConfigError(f"The {name!r} parameter of {owner} must be {expected}. Got {value!r} instead.")


def positive_int(owner: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _fail(owner, name, "an int >= 1", value)
    return value


def positive_number(owner: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise _fail(owner, name, "a number > 0", value)
    return float(value)


def fraction(owner: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise _fail(owner, name, "a float in (0, 1)", value)
    return float(value)


def seed_value(owner: str, value: Any) -> int:
    import numpy as np

    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise _fail(owner, "seed", "an int", value)
    return int(value)
