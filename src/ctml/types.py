"""Small shared types."""

from __future__ import annotations

from enum import StrEnum
from typing import TypeAlias

__all__ = ["JSON", "JSONObject", "RunStatus"]

JSON: TypeAlias = "dict[str, JSON] | list[JSON] | str | int | float | bool | None"
JSONObject: TypeAlias = "dict[str, JSON]"


class RunStatus(StrEnum):
    """Life of a run or a step. ``running`` ends in exactly one of the other three."""

    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    KILLED = "killed"
