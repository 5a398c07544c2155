"""A step's fingerprint covers the project code it calls, so a changed helper misses the cache."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ctml.pipeline import Step

STEP = """
from ctml.pipeline import step
import userflow_lib as lib


@step
def train(rows: int = 3) -> int:
    return prepare(rows) + lib.scale(rows) + len(json.dumps(rows))


def prepare(rows):
    return {prepare}


import json
"""

LIB = """
def scale(rows):
    return {scale}
"""


@pytest.fixture
def load(tmp_path: Path) -> Iterator[object]:
    """Imports a fresh copy of the same two project modules, as a new checkout of changed code would be."""
    counter = iter(range(1000))

    def make(prepare: str = "rows", scale: str = "rows * 2") -> Step:
        folder = tmp_path / f"checkout{next(counter)}"
        folder.mkdir()
        (folder / "userflow.py").write_text(STEP.format(prepare=prepare))
        (folder / "userflow_lib.py").write_text(LIB.format(scale=scale))
        for name in ("userflow", "userflow_lib"):
            sys.modules.pop(name, None)
        sys.path.insert(0, str(folder))
        try:
            importlib.invalidate_caches()
            step: Step = importlib.import_module("userflow").train
        finally:
            sys.path.remove(str(folder))
        return step

    yield make
    for name in ("userflow", "userflow_lib"):
        sys.modules.pop(name, None)


def test_a_helper_defined_below_the_step_is_part_of_its_fingerprint(load) -> None:  # type: ignore[no-untyped-def]
    same, again, changed = load(), load(), load(prepare="rows + 1")
    assert same.fingerprint == again.fingerprint
    assert changed.fingerprint != same.fingerprint
    assert changed(3) == same(3) + 1


def test_a_function_of_a_project_module_is_part_of_it(load) -> None:  # type: ignore[no-untyped-def]
    assert load(scale="rows * 3").fingerprint != load().fingerprint


def test_standard_library_and_installed_code_are_not_hashed() -> None:
    from ctml.pipeline._step import _callees, _is_project

    def uses_json() -> str:
        import json

        return json.dumps(pytest.__name__)

    assert _callees(uses_json) == []
    assert not _is_project(json_file())
    assert not _is_project(pytest.__file__)


def json_file() -> str:
    import json

    return str(json.__file__)
