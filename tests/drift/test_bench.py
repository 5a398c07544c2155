"""The drift bench (--quick, ctml only) and the detectors bench on usenet1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ctml.bench._markdown import write_section
from ctml.bench.detectors import (
    MARK_END,
    MARK_START,
    RECOMMENDED,
    USENET1_DRIFTS,
    bench_detectors,
    find_usenet1,
)
from ctml.bench.drift import DriftWorkload, make_tables
from ctml.cli._bench_detectors import detectors
from ctml.cli._bench_drift import drift


def test_quick_bench_reports_the_acceptance_keys() -> None:
    result = CliRunner().invoke(drift, ["--quick", "--no-anchors", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    for key in (
        "ctml_s",
        "ctml_profile_s",
        "evidently_s",
        "nannyml_s",
        "speedup_vs_evidently",
        "speedup_vs_nannyml",
        "ctml_peak_mb",
        "data_mb",
    ):
        assert key in found
    assert found["ctml_s"] > 0
    assert found["ctml_profile_s"] > 0
    assert found["ctml_drifted_columns"] == 3  # 2 numeric + 1 categorical columns drift in the quick workload
    assert found["evidently_s"] is None


def test_anchor_that_cannot_install_is_reported(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        drift,
        ["--quick", "--anchor", "nannyml", "--no-install", "--cache-dir", str(tmp_path), "--json"],
        catch_exceptions=False,
    )
    found = json.loads(result.output)
    if found["nannyml_s"] is None:  # installed in this interpreter, it would simply run
        assert "not installed" in found["nannyml_skipped"]


def test_generated_data_is_seeded() -> None:
    workload = DriftWorkload(rows=300, numeric=4, categorical=2)
    assert make_tables(workload)[0].equals(make_tables(workload)[0])


@pytest.fixture
def usenet1() -> Path:
    path = find_usenet1(Path(__file__).parent)
    if path is None:
        pytest.skip("shared/datasets/usenet1 is not beside this checkout")
    return path


def test_recommended_detectors_find_every_usenet1_drift(usenet1: Path) -> None:
    results = {r.detector: r for r in bench_detectors(usenet1)}
    for name in RECOMMENDED:
        assert results[name].found == len(USENET1_DRIFTS), results[name]
        assert results[name].false_alarms <= 1


def test_section_is_written_between_markers(usenet1: Path, tmp_path: Path) -> None:
    document = tmp_path / "benchmarks.md"
    document.write_text("# Benchmarks\n\n## Tracking\n\nkept\n")
    for _ in range(2):
        result = CliRunner().invoke(detectors, ["--data", str(usenet1), "--write", str(document)])
        assert result.exit_code == 0, result.output
    text = document.read_text()
    assert "## Tracking\n\nkept" in text
    assert text.count(MARK_START) == 1
    assert text.count(MARK_END) == 1
    assert "| ddm (River defaults) |" in text


def test_write_section_appends_when_markers_are_missing(tmp_path: Path) -> None:
    document = tmp_path / "b.md"
    write_section(document, f"{MARK_START}\nx\n{MARK_END}\n")
    write_section(document, f"{MARK_START}\ny\n{MARK_END}\n")
    assert document.read_text() == f"# Benchmarks\n\n{MARK_START}\ny\n{MARK_END}\n"


def test_quick_bench_writes_its_own_section(tmp_path: Path) -> None:
    document = tmp_path / "benchmarks.md"
    document.write_text(f"# Benchmarks\n\n{MARK_START}\nkept\n{MARK_END}\n")
    result = CliRunner().invoke(drift, ["--quick", "--no-anchors", "--write", str(document)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    text = document.read_text()
    assert "kept" in text
    assert "## Drift report: ctml vs Evidently and NannyML" in text
    assert "| ctml, stored reference profile |" in text
