"""The public surface is exactly what ``__all__`` says, and every name resolves."""

from __future__ import annotations

import subprocess
import sys

import pytest

import ctml


def test_all_names_resolve() -> None:
    for name in ctml.__all__:
        assert getattr(ctml, name) is not None, name


def test_all_is_exact() -> None:
    public = {name for name in ctml._WHERE} | {"__version__"}
    assert set(ctml.__all__) == public
    assert list(ctml.__all__) == sorted(ctml.__all__)


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NotAThing"):
        ctml.NotAThing  # noqa: B018


def test_importing_core_pulls_no_database_or_cli_library() -> None:
    code = (
        "import sys, ctml, ctml.errors, ctml.config, ctml.clock, ctml.ids, ctml.hashing;"
        "print(sorted(m for m in ('sqlalchemy', 'alembic', 'pyarrow', 'click', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
