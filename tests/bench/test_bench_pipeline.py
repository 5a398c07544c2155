"""``ctml bench pipeline`` on a small workload: the JSON keys, that the fan-out really trained every model,
and that the generated no-op chains and Metaflow flows are what they claim to be."""

from __future__ import annotations

import ast
import importlib.util
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from ctml.bench.pipeline import PipelineBench, _chain_source, _metaflow_source, _time_chain, bench_pipeline
from ctml.cli import cli
from ctml.exec import loopback_only
from ctml.meta import open_meta

KEYS = {"step_overhead_ms", "fanout_inline_s", "fanout_process_s", "fanout_ray_s", "anchor", "anchor_step_overhead_ms"}


def test_the_json_has_the_issue_keys_and_measured_values() -> None:
    args = ["bench", "pipeline", "--quick", "--fanout", "12", "--no-ray", "--no-anchor", "--json"]
    out = CliRunner().invoke(cli, args)
    assert out.exit_code == 0, out.output
    report = json.loads(out.output)
    assert set(report) >= KEYS
    assert report["fanout"] == 12
    assert report["step_overhead_ms"] > 0
    assert report["fanout_inline_s"] > 0
    assert report["fanout_process_s"] > 0
    assert report["fanout_ray_s"] is None
    assert report["anchor"] is None
    assert report["speedup_process"] == pytest.approx(report["fanout_inline_s"] / report["fanout_process_s"], rel=1e-2)
    assert any("--no-ray" in note for note in report["notes"])


def test_a_chain_runs_every_step_and_records_each(tmp_path: Path) -> None:
    _time_chain(tmp_path, 7)
    with open_meta(f"sqlite:///{tmp_path}/chain-7/meta.db") as meta:
        (run,) = meta.runs.search()
        steps = meta.steps.list(run.id)
    assert sorted(s.name for s in steps) == sorted(f"s{i}" for i in range(7))
    assert {s.status for s in steps} == {"finished"}


def test_the_metaflow_flow_is_a_linear_chain_of_the_asked_length() -> None:
    tree = ast.parse(_metaflow_source(5))
    (flow,) = [node for node in tree.body if isinstance(node, ast.ClassDef)]
    assert [f.name for f in flow.body if isinstance(f, ast.FunctionDef)] == ["start", "s1", "s2", "s3", "end"]
    assert "s59" in _chain_source(60)
    assert "s60" not in _chain_source(60)


@pytest.mark.skipif(importlib.util.find_spec("metaflow") is None, reason="Metaflow comes with the bench extra")
def test_the_metaflow_anchor_runs() -> None:
    workload = PipelineBench(short_chain=2, long_chain=4, fanout=2, ray=False, anchor_short=2, anchor_long=3)
    result = bench_pipeline(workload)
    assert result.anchor == "metaflow"
    assert result.anchor_step_overhead_ms is not None


@pytest.mark.ray
@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="the ray extra is not installed")
def test_the_fanout_runs_on_a_local_ray_cluster() -> None:
    if not loopback_only():
        message = "the Ray tests run in a network namespace with loopback only: `make test` starts one"
        if os.environ.get("CTML_REQUIRE_RAY"):
            pytest.fail(message)
        pytest.skip(message)
    result = bench_pipeline(PipelineBench(short_chain=2, long_chain=4, fanout=20, workers=2, anchor=False))
    assert result.fanout_s["ray"] is not None
    assert result.fanout_s["ray"] > 0
