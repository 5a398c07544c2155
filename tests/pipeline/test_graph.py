"""The graph is checked when a Pipeline is built, and every error names the user's file:line."""

from __future__ import annotations

import re
from typing import Any

import pytest

from ctml.errors import ConfigError
from ctml.pipeline import Pipeline, PipelineDefinitionError, step


def _where(fn: Any) -> str:
    return re.escape(f"{__file__}:{fn.line}")


def test_a_missing_input_names_the_line_and_the_likely_fix() -> None:
    @step
    def load() -> list[int]:
        return [1]

    @step
    def train(lod: list[int]) -> int:
        return len(lod)

    with pytest.raises(PipelineDefinitionError, match=_where(train) + r".*'lod'.*Did you mean 'load'\?"):
        Pipeline([load, train])


def test_a_cycle_is_shown_as_a_path() -> None:
    @step
    def a(b: int) -> int:
        return b

    @step
    def b(a: int) -> int:
        return a

    with pytest.raises(PipelineDefinitionError, match=r"cycle: a \(.*\) -> b \(.*\) -> a"):
        Pipeline([a, b])


def test_a_type_mismatch_names_both_annotations() -> None:
    @step
    def text() -> str:
        return "x"

    @step
    def count(text: int) -> int:
        return text

    with pytest.raises(PipelineDefinitionError, match=_where(count) + r".*text: int.*returns str"):
        Pipeline([text, count])


def test_compatible_annotations_pass() -> None:
    @step
    def numbers() -> list[int]:
        return [1]

    @step
    def mean(numbers: list[float] | None) -> float:
        return 0.0

    assert Pipeline([numbers, mean]).steps == ["numbers", "mean"]


def test_duplicate_names_are_refused() -> None:
    @step
    def one() -> int:
        return 1

    other = step(name="one")(lambda: 2)
    with pytest.raises(PipelineDefinitionError, match="two steps are named 'one'"):
        Pipeline([one, other])


def test_mapping_over_something_that_is_not_a_collection() -> None:
    @step
    def size() -> int:
        return 3

    @step
    def grow(size: int) -> int:
        return size

    with pytest.raises(PipelineDefinitionError, match=_where(grow) + r".*needs a list or dict.*returns int"):
        Pipeline([size, grow.map(over="size")])
    with pytest.raises(PipelineDefinitionError, match="names no parameter of grow"):
        grow.map(over="nope")


def test_params_conflicting_defaults_and_required() -> None:
    @step
    def a(alpha: float = 0.1) -> float:
        return alpha

    @step
    def b(alpha: float = 0.2) -> float:
        return alpha

    with pytest.raises(PipelineDefinitionError, match=r"defaults to 0\.2 here but to 0\.1"):
        Pipeline([a, b])
    assert Pipeline([a, b], params={"alpha": 0.3}).graph.params == {"alpha": 0.3}

    @step
    def load(path: str) -> str:
        return path

    assert Pipeline([load], params={"path": ...}).graph.required_params() == ["path"]


def test_step_options_are_validated() -> None:
    with pytest.raises(ConfigError, match=r"'retries' option of a step must be an int >= 0\. Got -1"):
        step(retries=-1)
    with pytest.raises(ConfigError, match="Unknown resource 'tpus'"):
        step(resources={"tpus": 1})
    with pytest.raises(PipelineDefinitionError, match=r"takes \*args"):
        step(lambda *args: 1)
