"""Whether a producer's return annotation fits a consumer's parameter annotation, checked at build time.

The check is lenient where typing is: unannotated, ``Any``, type variables and special forms pass; classes
follow ``issubclass`` (with ``int`` accepted for ``float``, as PEP 484 says); generics compare their origin
and then their arguments.

>>> fits(list[int], list[float]), fits(int, str), fits(dict[str, int], typing.Mapping[str, int])
(True, False, True)
>>> element_type(dict[str, bytes]), element_type(int)
(<class 'bytes'>, None)
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["describe", "element_type", "fits", "gathered_type"]

_NUMERIC = {float: (int, float), complex: (int, float, complex)}


def fits(produced: Any, expected: Any) -> bool:
    if produced is Any or expected is Any or isinstance(produced, typing.TypeVar | str):
        return True
    if isinstance(expected, typing.TypeVar | str):
        return True
    if _is_union(expected):
        return any(fits(produced, member) for member in typing.get_args(expected))
    if _is_union(produced):
        return all(fits(member, expected) for member in typing.get_args(produced))
    if produced is None:
        produced = type(None)
    if expected is None:
        expected = type(None)
    p_origin, e_origin = typing.get_origin(produced) or produced, typing.get_origin(expected) or expected
    if not isinstance(p_origin, type) or not isinstance(e_origin, type):
        return True  # Literal, Annotated, Callable[...] and friends: not checked
    if e_origin in _NUMERIC and p_origin in _NUMERIC[e_origin]:
        return True
    try:
        if not issubclass(p_origin, e_origin):
            return False
    except TypeError:
        return True
    p_args, e_args = typing.get_args(produced), typing.get_args(expected)
    if not p_args or not e_args or len(p_args) != len(e_args) or Ellipsis in p_args + e_args:
        return True
    return all(fits(p, e) for p, e in zip(p_args, e_args, strict=True))


def element_type(collection: Any) -> Any | None:
    """What one partition of ``collection`` is: a list's item type, a dict's value type; None if not a collection.

    ``Any`` where the collection's type is not known well enough to say.
    """
    if collection is Any or isinstance(collection, typing.TypeVar | str) or _is_union(collection):
        return Any
    origin = typing.get_origin(collection) or collection
    args = typing.get_args(collection)
    if not isinstance(origin, type):
        return Any
    if issubclass(origin, Mapping):
        return args[1] if len(args) == 2 else Any
    if issubclass(origin, list | tuple | set | frozenset) or _is_sequence(origin):
        return args[0] if args and (len(args) == 1 or args[-1] is Ellipsis) else Any
    return None


def gathered_type(collection: Any, result: Any) -> Any:
    """The type of a mapped step's output: the input collection's shape holding the step's results."""
    origin = typing.get_origin(collection) or collection
    if isinstance(origin, type) and issubclass(origin, Mapping):
        args = typing.get_args(collection)
        return dict[args[0] if args else Any, result]  # type: ignore[misc]
    if isinstance(origin, type) and element_type(collection) is not None:
        return list[result]
    return Any


def describe(annotation: Any) -> str:
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__qualname__
    return repr(annotation).replace("typing.", "")


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def _is_sequence(origin: type) -> bool:
    return issubclass(origin, Iterable) and not issubclass(origin, str | bytes)
