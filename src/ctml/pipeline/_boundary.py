"""The one boundary between ctml and user code: call a step, serialise what it returned, keep any traceback.

It runs wherever the executor puts it (this process, a worker process, a cluster node), so it returns an
:class:`Outcome` — bytes or a failure with the user's traceback as text — which crosses any process boundary
intact, instead of an exception whose traceback would be lost on the way.

Outputs are serialised with :mod:`pickle` (protocol 5). They are only ever read back from the artifact store,
whose reads are digest-verified, so bytes nobody stored are never unpickled.
"""

from __future__ import annotations

import pickle
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ctml.pipeline._errors import StepFailure
from ctml.pipeline._step import Step

__all__ = ["PICKLE_PROTOCOL", "Outcome", "call_step", "failure_of"]

PICKLE_PROTOCOL = 5


@dataclass(frozen=True)
class Outcome:
    """A step call's serialised output, or why there is none."""

    data: bytes | None
    failure: StepFailure | None


def call_step(step: Step, label: str, kwargs: Mapping[str, Any]) -> Outcome:
    """Run ``step`` on ``kwargs``; ``label`` names it in failures (``train`` or ``train[paris]``)."""
    try:
        value = step.fn(**kwargs)
    except Exception as exc:
        return Outcome(None, failure_of(label, exc))
    try:
        data = pickle.dumps(value, protocol=PICKLE_PROTOCOL)
    except Exception as exc:
        message = (
            f"step {label!r} ({step.where}) returned a {type(value).__qualname__} that cannot be serialised "
            f"with pickle: {exc}. Return plain data (numbers, strings, lists, dicts, arrays, fitted models) or "
            "save the object yourself and return its path."
        )
        return Outcome(None, StepFailure(label, "UnserialisableOutputError", message, traceback.format_exc()))
    return Outcome(data, None)


def failure_of(label: str, exc: BaseException) -> StepFailure:
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return StepFailure(label, type(exc).__qualname__, str(exc), text)
