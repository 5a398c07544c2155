"""``ctml bench serve`` on a tiny workload: every server answers, ctml logs what it served, the JSON has the
issue's keys, and the docs section is written from the measured numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctml.bench.serve import ServeWorkload, bench_serve, find_elec2, markdown_section
from ctml.errors import ConfigError

pytestmark = pytest.mark.slow

KEYS = {"rows", "connections", "ctml_rps", "mlflow_rps", "bare_rps", "ctml_p99_ms", "mlflow_p99_ms", "bare_p99_ms"}


def test_a_short_run_measures_ctml_and_the_bare_app(tmp_path: Path) -> None:
    if find_elec2() is None:
        pytest.skip("shared/datasets/elec2 is not beside this checkout")
    result = bench_serve(ServeWorkload(rows=(1, 20), connections=(2,), seconds=0.4, warmup=0.2, repeats=1))
    scenarios = result.as_list()
    assert [(s["rows"], s["connections"]) for s in scenarios] == [(1, 2), (20, 2)]
    for s in scenarios:
        assert set(s) >= KEYS
        assert s["ctml_rps"] > 0
        assert s["bare_rps"] > 0
        assert s["ctml_sklearn_rps"] > 0  # ctml serve --no-fast-path
        assert s["errors"] == {}
    assert result.logged_rows >= sum(s["ctml_rps"] * 0.4 * s["rows"] for s in scenarios) * 0.5
    section = markdown_section(result, "ctml bench serve --write docs/benchmarks.md")
    assert section.startswith("<!-- ctml bench serve: start -->")
    assert f"| 20 | 2 | {scenarios[1]['ctml_rps']:,.0f} |" in section


def test_elec2_is_found_in_the_shared_datasets_folder(tmp_path: Path) -> None:
    (tmp_path / "shared" / "datasets" / "elec2").mkdir(parents=True)
    (tmp_path / "shared" / "datasets" / "elec2" / "elec2.csv").write_text("date,class\n0,UP\n")
    (tmp_path / "work").mkdir()
    assert find_elec2(tmp_path / "work") == (tmp_path / "shared" / "datasets" / "elec2" / "elec2.csv").resolve()


def test_a_missing_or_unreadable_data_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"Cannot find Elec2's elec2.csv at .*nowhere.csv. Pass --data PATH"):
        bench_serve(data=tmp_path / "nowhere.csv")
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("a,b\n1,2\n")
    with pytest.raises(ConfigError, match=r"Cannot read Elec2 from .*wrong.csv: .*Expected the CSV"):
        bench_serve(data=wrong)
