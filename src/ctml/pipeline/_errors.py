"""Errors of pipelines: a graph that cannot run (found when it is built) and steps that failed (at run time).

CtmlError
├── ConfigError
│   └── PipelineDefinitionError ... the graph is wrong; the message names the user's file:line
└── PipelineRunError .............. steps failed; ``failures`` keeps each one's traceback
"""

from __future__ import annotations

from dataclasses import dataclass

from ctml.errors import ConfigError, CtmlError

__all__ = ["PipelineDefinitionError", "PipelineRunError", "StepFailure"]


class PipelineDefinitionError(ConfigError):
    """A pipeline's graph is wrong: a missing input, a cycle, a type mismatch, a duplicate name."""


@dataclass(frozen=True)
class StepFailure:
    """Why one step (or one partition of a mapped step) failed: the user's exception and its traceback."""

    step: str
    error_type: str
    message: str
    traceback: str

    def __str__(self) -> str:
        return f"{self.step}: {self.error_type}: {self.message}"


class PipelineRunError(CtmlError):
    """Steps of a run failed. The run can be resumed with ``pipeline.resume(run_id)`` once fixed."""

    def __init__(self, run_id: str, failures: list[StepFailure]) -> None:
        listed = "; ".join(str(f) for f in failures)
        super().__init__(
            f"Run {run_id} failed in {len(failures)} step(s): {listed}. "
            f"The tracebacks are in `ctml runs show {run_id}`; resume with --resume {run_id} once fixed."
        )
        self.run_id = run_id
        self.failures = failures
