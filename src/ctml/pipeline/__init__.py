"""Pipelines as code (L2 domain): typed steps, a graph checked when it is built, caching, resume, fan-out.

A step's parameter names are its inputs: another step's output, a pipeline param, or ``seed``. Outputs go
to the artifact store; every run records each step's code fingerprint, params, seed, environment, git
commit, input and output digests and lineage. ``docs/pipelines.md`` is the user's guide.

>>> @step
... def greet(name: str = "world") -> str:
...     return f"hello {name}"
>>> Pipeline([greet]).steps
['greet']
"""

from ctml.pipeline._errors import PipelineDefinitionError, PipelineRunError, StepFailure
from ctml.pipeline._pipeline import Pipeline, PipelineResult
from ctml.pipeline._runner import Observer, StepEvent
from ctml.pipeline._step import Step, StepOptions, step

__all__ = [
    "Observer",
    "Pipeline",
    "PipelineDefinitionError",
    "PipelineResult",
    "PipelineRunError",
    "Step",
    "StepEvent",
    "StepFailure",
    "StepOptions",
    "step",
]
