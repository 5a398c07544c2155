"""The graph of a pipeline, checked when it is built: names, inputs, cycles and types.

Every error names the user's ``file:line`` of the step at fault, so it can be fixed before anything runs.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ctml.pipeline._errors import PipelineDefinitionError
from ctml.pipeline._step import Step
from ctml.pipeline._types import describe, element_type, fits, gathered_type

__all__ = ["SEED", "Graph", "build_graph"]

SEED = "seed"
REQUIRED: Any = object()


@dataclass(frozen=True)
class Graph:
    """Steps in a runnable (topological) order, each one's upstream steps, and the params with defaults."""

    steps: dict[str, Step]
    upstream: dict[str, tuple[str, ...]]
    params: dict[str, Any]

    def required_params(self) -> list[str]:
        return sorted(k for k, v in self.params.items() if v is REQUIRED)


def build_graph(steps: Sequence[Step], params: Mapping[str, Any]) -> Graph:
    by_name: dict[str, Step] = {}
    for one in steps:
        if not isinstance(one, Step):
            raise PipelineDefinitionError(f"A pipeline is built from @step functions. Got {one!r}; decorate it.")
        if one.name in by_name:
            raise PipelineDefinitionError(
                f"{one.where}: two steps are named {one.name!r} (the other is at {by_name[one.name].where}). "
                "Rename one, or pass name=... to @step."
            )
        by_name[one.name] = one
    for name in params:
        if name in by_name:
            raise PipelineDefinitionError(
                f"{by_name[name].where}: {name!r} is both a step and a pipeline param; rename one of them."
            )
    upstream = {name: tuple(i for i in one.inputs if i in by_name) for name, one in by_name.items()}
    resolved = _params(by_name, params)
    order = _order(by_name, upstream)
    _check_types(by_name, upstream)
    return Graph({name: by_name[name] for name in order}, {name: upstream[name] for name in order}, resolved)


def _params(steps: Mapping[str, Step], declared: Mapping[str, Any]) -> dict[str, Any]:
    """Every input that is not a step: a declared param (``...`` means required) or a parameter default."""
    resolved: dict[str, Any] = {k: REQUIRED if v is Ellipsis else v for k, v in declared.items()}
    origin: dict[str, Step] = {}
    for one in steps.values():
        for name in one.inputs:
            if name == one.name:
                raise PipelineDefinitionError(f"{one.where}: step {one.name!r} takes its own output as input.")
            if name in steps or name == SEED or name in declared:
                continue
            if name not in one.defaults:
                known = [*steps, *declared]
                raise PipelineDefinitionError(
                    f"{one.where}: step {one.name!r} takes input {name!r}, which no step produces and no param "
                    f"names.{_hint(name, known)} Steps: {', '.join(steps)}; params: "
                    f"{', '.join(declared) or '(none)'}. Add a step named {name!r}, give the parameter a default, "
                    f"or declare it: Pipeline(..., params={{{name!r}: ...}})."
                )
            default = one.defaults[name]
            if name in resolved and resolved[name] != default:
                raise PipelineDefinitionError(
                    f"{one.where}: param {name!r} defaults to {default!r} here but to {resolved[name]!r} in "
                    f"{origin[name].name} at {origin[name].where}. Give it one value: Pipeline(..., "
                    f"params={{{name!r}: ...}})."
                )
            resolved[name] = default
            origin[name] = one
    return resolved


def check_params(graph: Graph, given: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults overridden by ``given``; names no step takes and required params left out are errors."""
    unknown = sorted(set(given) - set(graph.params))
    if unknown:
        hint = _hint(unknown[0], list(graph.params))
        raise PipelineDefinitionError(
            f"Unknown pipeline param {', '.join(map(repr, unknown))}; the steps take: "
            f"{', '.join(sorted(graph.params)) or '(no params)'}.{hint}"
        )
    values = {k: v for k, v in graph.params.items() if v is not REQUIRED} | dict(given)
    missing = [name for name in graph.required_params() if name not in values]
    if missing:
        takers = [f"{s.name} ({s.where})" for s in graph.steps.values() if set(s.inputs) & set(missing)]
        raise PipelineDefinitionError(
            f"Param {', '.join(map(repr, missing))} has no value: no step produces it and it has no default. "
            f"Taken by {', '.join(takers)}. Pass it to run(params=...) (ctml run --param NAME=VALUE), or add a "
            "step of that name."
        )
    return values


def _order(steps: Mapping[str, Step], upstream: Mapping[str, tuple[str, ...]]) -> list[str]:
    """Kahn's algorithm, keeping the declared order among steps that are ready together."""
    waiting = {name: set(deps) for name, deps in upstream.items()}
    order: list[str] = []
    while waiting:
        ready = [name for name, deps in waiting.items() if not deps]
        if not ready:
            cycle = _cycle(waiting)
            path = " -> ".join(f"{name} ({steps[name].where})" for name in cycle)
            raise PipelineDefinitionError(f"The steps form a cycle: {path}. A step cannot depend on its own output.")
        for name in ready:
            order.append(name)
            del waiting[name]
        for deps in waiting.values():
            deps.difference_update(ready)
    return order


def _cycle(waiting: Mapping[str, set[str]]) -> list[str]:
    start = next(iter(waiting))
    seen: list[str] = []
    node = start
    while node not in seen:
        seen.append(node)
        node = sorted(waiting[node])[0]
    return [*seen[seen.index(node) :], node]


def _check_types(steps: Mapping[str, Step], upstream: Mapping[str, tuple[str, ...]]) -> None:
    outputs: dict[str, Any] = {}
    for name in _order(steps, upstream):
        consumer = steps[name]
        for source in upstream[name]:
            produced = outputs[source]
            expected = consumer.hints.get(source, Any)
            if consumer.over == source:
                element = element_type(produced)
                if element is None:
                    raise PipelineDefinitionError(
                        f"{consumer.where}: {consumer.name}.map(over={source!r}) needs a list or dict, but step "
                        f"{source!r} ({steps[source].where}) returns {describe(produced)}."
                    )
                produced = element
            if not fits(produced, expected):
                raise PipelineDefinitionError(
                    f"{consumer.where}: step {consumer.name!r} takes {source}: {describe(expected)}, but step "
                    f"{source!r} ({steps[source].where}) returns {describe(produced)}. Change one annotation."
                )
        result = consumer.returns
        outputs[name] = gathered_type(outputs[consumer.over], result) if consumer.over in outputs else result
        if consumer.over is not None and consumer.over not in upstream[name]:
            outputs[name] = Any  # mapped over a param: its shape is only known at run time


def _hint(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f" Did you mean {close[0]!r}?" if close else ""
