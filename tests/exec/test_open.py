from __future__ import annotations

import importlib.util

import pytest

from ctml.errors import ConfigError, MissingExtraError, UnknownBackendError
from ctml.exec import Executor, InlineExecutor, ProcessExecutor, open_executor


def test_uris_pick_executors() -> None:
    assert isinstance(open_executor("inline"), InlineExecutor)
    process = open_executor("process://?workers=3")
    assert isinstance(process, ProcessExecutor)
    assert process.url == "process://?workers=3"
    assert isinstance(process, Executor)


@pytest.mark.parametrize(
    ("uri", "match"),
    [
        ("process://?workers=x", "whole number"),
        ("process://?threads=2", "looks like process://"),
        ("dask://scheduler", "Unknown executor URL scheme 'dask'"),
        ("ray://", "looks like ray://127.0.0.1:6390"),
    ],
)
def test_bad_uris_say_what_is_expected(uri: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        open_executor(uri)


def test_unknown_scheme_is_an_unknown_backend() -> None:
    with pytest.raises(UnknownBackendError):
        open_executor("spark://x")


def test_ray_without_the_extra_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    with pytest.raises(MissingExtraError, match=r"pip install 'ctml\[ray\]'") as raised:
        open_executor("ray://127.0.0.1:6390")
    assert raised.value.extra == "ray"


def test_process_pool_refuses_functions_it_cannot_import() -> None:
    executor = ProcessExecutor(workers=1)
    with pytest.raises(ConfigError, match=r"lambda.*test_open.py:\d+.*top level of an importable module"):
        executor.submit(lambda: 1)
    executor.shutdown()


def test_workers_must_be_positive() -> None:
    with pytest.raises(ConfigError, match=r"'workers' parameter of ProcessExecutor must be an int >= 1\. Got 0"):
        ProcessExecutor(workers=0)
