"""Assertions shared by the conformance suites; they keep working under ``python -O`` and without pytest."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

__all__ = ["Raised", "expect", "raises"]

_E = TypeVar("_E", bound=BaseException)


class Raised(Generic[_E]):
    """What :func:`raises` caught, for checks on the message."""

    value: _E


@contextmanager
def raises(kind: type[_E], what: str) -> Iterator[Raised[_E]]:
    """Like ``pytest.raises``, without needing pytest at run time."""
    raised = Raised[_E]()
    try:
        yield raised
    except kind as exc:
        raised.value = exc
        return
    except Exception as exc:
        raise AssertionError(f"{what} should raise {kind.__name__}, but it raised {exc!r}") from exc
    raise AssertionError(f"{what} should raise {kind.__name__}, but it returned normally")


def expect(condition: bool, message: str) -> None:
    # Not `assert`: the suite must keep checking under `python -O`.
    if not condition:
        raise AssertionError(message)
