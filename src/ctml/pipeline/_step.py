"""Steps: typed functions whose parameter names are their inputs.

A parameter named like another step receives that step's output; any other name is a pipeline param (its
default, if the function gives one, is the param's default). ``seed`` is the run's seed.

>>> @step
... def double(numbers: list[int]) -> list[int]:
...     return [2 * n for n in numbers]
>>> double.name, double.inputs, double([1, 2])
('double', ('numbers',), [2, 4])
>>> double.map(over="numbers").over
'numbers'
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
import os
import site
import sys
import sysconfig
import textwrap
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, overload

from ctml.errors import ConfigError
from ctml.exec._base import check_resources, check_timeout
from ctml.hashing import sha256_bytes
from ctml.pipeline._errors import PipelineDefinitionError

__all__ = ["Step", "StepOptions", "step"]

_MISSING = inspect.Parameter.empty


@dataclass(frozen=True)
class StepOptions:
    """How a step runs: ``retries`` extra attempts ``backoff * 2**n`` seconds apart, a ``timeout`` in seconds
    (enforced by executors that can stop a call), ``resources`` passed to the executor, and ``cache``."""

    cache: bool = True
    retries: int = 0
    backoff: float = 0.0
    timeout: float | None = None
    resources: Mapping[str, float] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.cache, bool):
            raise ConfigError(f"The 'cache' option of a step must be a bool. Got {self.cache!r}.")
        if not isinstance(self.retries, int) or isinstance(self.retries, bool) or self.retries < 0:
            raise ConfigError(f"The 'retries' option of a step must be an int >= 0. Got {self.retries!r}.")
        if not isinstance(self.backoff, int | float) or isinstance(self.backoff, bool) or self.backoff < 0:
            raise ConfigError(f"The 'backoff' option of a step must be a number of seconds >= 0. Got {self.backoff!r}.")
        check_timeout(self.timeout)
        object.__setattr__(self, "resources", check_resources(self.resources))


class Step:
    """A function in a pipeline. Calling it calls the function, so steps stay testable as plain functions."""

    def __init__(self, fn: Callable[..., Any], *, name: str | None = None, options: StepOptions | None = None) -> None:
        if not callable(fn) or not hasattr(fn, "__code__"):
            raise ConfigError(f"@step decorates a plain function. Got {fn!r}.")
        self.fn = fn
        self.name = name or fn.__name__
        self.options = options or StepOptions()
        self.over: str | None = None
        self.file = inspect.getsourcefile(fn) or fn.__code__.co_filename
        self.line = fn.__code__.co_firstlineno
        parameters = inspect.signature(fn).parameters.values()
        for parameter in parameters:
            if parameter.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
                raise PipelineDefinitionError(
                    f"{self.where}: step {self.name!r} takes *{parameter.name}; a step's inputs are its named "
                    "parameters, so list each input by name."
                )
        self.inputs = tuple(p.name for p in parameters)
        self.defaults = {p.name: p.default for p in parameters if p.default is not _MISSING}
        self.hints = _hints(fn)

    @functools.cached_property
    def fingerprint(self) -> str:
        """The sha256 of the step's code and of the user code it calls (taken when first asked, once its
        module has finished importing, so helpers defined below the step count too)."""
        return _fingerprint(self.fn, self.name)

    @property
    def where(self) -> str:
        """The user's ``file:line`` of the function, for messages."""
        return f"{self.file}:{self.line}"

    @property
    def returns(self) -> Any:
        return self.hints.get("return", Any)

    def __repr__(self) -> str:
        mapped = f".map(over={self.over!r})" if self.over else ""
        return f"<step {self.name}{mapped} at {self.where}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def map(self, over: str) -> Step:
        """This step run once per element of its input ``over`` (a list or dict), gathered the same shape."""
        if over not in self.inputs:
            raise PipelineDefinitionError(
                f"{self.where}: {self.name}.map(over={over!r}) names no parameter of {self.name}. "
                f"Its parameters are: {', '.join(self.inputs) or '(none)'}."
            )
        mapped = self.with_options()
        mapped.over = over
        return mapped

    def with_options(self, **changes: Any) -> Step:
        """A copy with some options changed, e.g. ``train.with_options(cache=False)``."""
        copy = object.__new__(Step)
        copy.__dict__.update(self.__dict__)
        copy.options = dataclasses.replace(self.options, **changes)
        return copy

    def __reduce__(self) -> tuple[Callable[[str, str], Step], tuple[str, str]]:
        # Worker processes import the step by name (its function's module and qualified name).
        return _import_step, (self.fn.__module__, self.fn.__qualname__)


def _import_step(module: str, qualname: str) -> Step:
    target: Any = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    if isinstance(target, Step):
        return target
    return Step(target)


@overload
def step(fn: Callable[..., Any], /) -> Step: ...


@overload
def step(
    *,
    name: str | None = None,
    cache: bool = True,
    retries: int = 0,
    backoff: float = 0.0,
    timeout: float | None = None,
    resources: Mapping[str, float] | None = None,
) -> Callable[[Callable[..., Any]], Step]: ...


def step(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    cache: bool = True,
    retries: int = 0,
    backoff: float = 0.0,
    timeout: float | None = None,
    resources: Mapping[str, float] | None = None,
) -> Step | Callable[[Callable[..., Any]], Step]:
    """Make a function a pipeline step: ``@step`` or ``@step(retries=2, backoff=1.0, timeout=600)``."""
    options = StepOptions(cache, retries, backoff, timeout, dict(resources or {}))
    if fn is not None:
        return Step(fn, name=name, options=options)
    return lambda function: Step(function, name=name, options=options)


def _hints(fn: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(fn)
    except Exception:
        # An annotation that cannot be resolved (a name imported only for type checking) is not checked.
        return {k: v for k, v in getattr(fn, "__annotations__", {}).items() if not isinstance(v, str)}


def _fingerprint(fn: Callable[..., Any], name: str) -> str:
    """The sha256 of the step's source text and of the user code it reaches by name.

    A step that calls ``prepare(...)`` from its own project must miss the cache when ``prepare`` changes, so
    the functions and classes it names — directly, or as ``module.attribute`` of a project module — are
    hashed too, and what those name in turn, a few levels deep. "Project" means not the standard library and
    not an installed package: those change with the environment, which every run records separately.
    """
    parts = [name.encode()]
    seen: set[int] = set()
    pending: list[tuple[Any, int]] = [(fn, 0)]
    while pending:
        obj, depth = pending.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        parts.append(_source_of(obj))
        if depth < _CALLEE_DEPTH:
            pending += [(callee, depth + 1) for callee in sorted(_callees(obj), key=_qualified, reverse=True)]
    return sha256_bytes(b"\0".join(parts))


_CALLEE_DEPTH = 3


def _source_of(obj: Any) -> bytes:
    try:
        return _qualified(obj).encode() + b"\n" + textwrap.dedent(inspect.getsource(obj)).encode()
    except (OSError, TypeError):
        code = getattr(obj, "__code__", None)
        if code is None:
            return _qualified(obj).encode()
        return bytes(code.co_code) + repr(code.co_consts).encode() + repr(code.co_names).encode()


def _qualified(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', '?')}"


def _callees(obj: Any) -> list[Any]:
    """The project functions and classes that ``obj``'s code names through its module's globals."""
    function = inspect.unwrap(obj) if inspect.isfunction(obj) else None
    if function is None:
        return []
    names: set[str] = set()
    codes = [function.__code__]
    while codes:
        code = codes.pop()
        names.update(code.co_names)
        codes += [const for const in code.co_consts if inspect.iscode(const)]
    found: list[Any] = []
    module_globals = function.__globals__
    for name in names:
        value = module_globals.get(name)
        if inspect.ismodule(value) and not value.__name__.startswith("ctml") and _is_project(value.__file__):
            found += [getattr(value, attr) for attr in names if _is_project_code(getattr(value, attr, None))]
        elif _is_project_code(value):
            found.append(value)
    return found


def _is_project_code(value: Any) -> bool:
    if not (inspect.isfunction(value) or inspect.isclass(value)):
        return False
    name = getattr(value, "__module__", "") or ""
    module = sys.modules.get(name)
    if module is None or name == "ctml" or name.startswith("ctml."):
        return False
    return _is_project(getattr(module, "__file__", None))


@functools.lru_cache(maxsize=1024)
def _is_project(path: str | None) -> bool:
    if not path:
        return False
    resolved = os.path.realpath(path)
    installed = {os.path.realpath(p) for p in [*site.getsitepackages(), site.getusersitepackages()]}
    stdlib = os.path.realpath(sysconfig.get_paths()["stdlib"])
    if any(resolved.startswith(root + os.sep) for root in installed):
        return False
    return not resolved.startswith(stdlib + os.sep)
