"""``ctml bench training`` on tiny settings: every applicable flavor x strategy runs on the real streams, the
protocol counts what it says, and the docs/benchmarks.md section is written between its own markers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ctml.bench import training as bench
from ctml.bench.training import MARK_END, MARK_START, TrainingBench, bench_training, find_datasets, markdown_section
from ctml.cli._bench_training import training

ROOT = find_datasets(Path(__file__).parent) or find_datasets(Path("/work/main"))
pytestmark = pytest.mark.skipif(ROOT is None, reason="needs shared/datasets (elec2, spam, bike_sharing_hourly)")


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread() -> None:
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)


def test_every_applicable_pair_runs_on_every_stream() -> None:
    # spam's first 133 rows are all spam: its first model needs more rows than 10% of 200.
    settings = TrainingBench.tiny(max_rows=200, caps={"spam": 1500}, flavors=("sklearn", "lightgbm", "river", "torch"))
    rows = bench_training(settings, root=ROOT)
    pairs = {(r.dataset, r.flavor, r.strategy) for r in rows}
    for dataset in ("elec2", "spam", "bike_sharing_hourly"):
        assert (dataset, "sklearn", "incremental") in pairs
        assert (dataset, "lightgbm", "fine_tune") in pairs
        assert (dataset, "lightgbm", "incremental") not in pairs  # boosters do not learn incrementally
        assert (dataset, "river", "warm_start") not in pairs  # it would re-learn rows it already learned
        assert (dataset, "torch", "warm_start") in pairs
    # 200 rows: trained on the first 20, windows of 40 from row 20; scored from row 60 on; 4 retrains.
    scored = {r.dataset: (r.rows_scored, r.retrains + r.refused) for r in rows}
    assert scored == {"elec2": (140, 4), "bike_sharing_hourly": (140, 4), "spam": (1050, 4)}
    assert {r.metric for r in rows if r.dataset == "bike_sharing_hourly"} == {"mae"}
    assert all(0 <= r.value <= 1 for r in rows if r.metric == "accuracy")
    assert all(r.train_seconds > 0 for r in rows)


def test_the_section_keeps_the_other_sections(tmp_path: Path) -> None:
    rows = bench_training(TrainingBench.tiny(datasets=("elec2",), flavors=("sklearn",), max_rows=150), root=ROOT)
    section = markdown_section(rows, TrainingBench.tiny(), "ctml bench training")
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n<!-- other: start -->\nkept\n<!-- other: end -->\n")
    bench.write_section(doc, section)
    bench.write_section(doc, section)
    text = doc.read_text()
    assert text.count(MARK_START) == 1
    assert text.count(MARK_END) == 1
    assert "kept" in text
    assert "| elec2 | sklearn | incremental |" in text


def test_the_command_prints_json_and_writes_the_section(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    tiny = TrainingBench.tiny(datasets=("bike_sharing_hourly",), flavors=("sklearn", "lightgbm"), max_rows=150)
    monkeypatch.setattr(TrainingBench, "quick", classmethod(lambda cls: tiny))
    doc = tmp_path / "benchmarks.md"
    out = CliRunner().invoke(training, ["--quick", "--json", "--data", str(ROOT), "--write", str(doc)])
    assert out.exit_code == 0, out.output
    report = json.loads(out.output)
    assert {r["flavor"] for r in report["results"]} == {"sklearn", "lightgbm"}
    assert report["settings"]["max_rows"] == 150
    assert "ctml bench training --write docs/benchmarks.md --quick" in doc.read_text()
