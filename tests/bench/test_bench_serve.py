"""``ctml bench serve`` on a tiny workload: every server answers, ctml logs what it served, the JSON has the
issue's keys, and the docs section is written from the measured numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctml.bench.serve import ServeWorkload, bench_serve, markdown_section

pytestmark = pytest.mark.slow

KEYS = {"rows", "connections", "ctml_rps", "mlflow_rps", "bare_rps", "ctml_p99_ms", "mlflow_p99_ms", "bare_p99_ms"}


def test_a_short_run_measures_ctml_and_the_bare_app(tmp_path: Path) -> None:
    result = bench_serve(ServeWorkload(rows=(1, 20), connections=(2,), seconds=0.4, warmup=0.2, repeats=1))
    scenarios = result.as_list()
    assert [(s["rows"], s["connections"]) for s in scenarios] == [(1, 2), (20, 2)]
    for s in scenarios:
        assert set(s) >= KEYS
        assert s["ctml_rps"] > 0
        assert s["bare_rps"] > 0
        assert s["errors"] == {}
    assert result.logged_rows >= sum(s["ctml_rps"] * 0.4 * s["rows"] for s in scenarios) * 0.5
    section = markdown_section(result, "ctml bench serve --write docs/benchmarks.md")
    assert section.startswith("<!-- ctml bench serve: start -->")
    assert f"| 20 | 2 | {scenarios[1]['ctml_rps']:,.0f} |" in section
