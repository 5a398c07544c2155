"""``ctml bench backtest`` on one small stream: every policy scored on the same rows, the goal judged from the
numbers, and the docs/benchmarks.md section written between its own markers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ctml.bench.backtest import MARK_END, MARK_START, STREAMS, bench_backtest, find_datasets, summary
from ctml.cli._bench_backtest import backtest
from ctml.errors import ConfigError

ROOT = find_datasets(Path(__file__).parent) or find_datasets(Path("/work/main"))
pytestmark = pytest.mark.skipif(ROOT is None, reason="needs shared/datasets")


def test_every_shared_stream_is_listed_and_present() -> None:
    assert ROOT is not None
    assert len(STREAMS) == 12
    for case in STREAMS:
        assert (ROOT / case.file).is_file(), case.file


def test_one_stream_through_the_cli_writes_json_and_the_section(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n<!-- other: start -->\nkept\n<!-- other: end -->\n")
    args = ["--datasets", str(ROOT), "--stream", "usenet1", "--policy", "ctml", "--policy", "never",
            "--policy", "periodic", "--json", "--write", str(doc)]  # fmt: skip
    result = CliRunner().invoke(backtest, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)  # stderr tells each stream's end
    [stream] = out["streams"]
    assert stream["stream"] == "usenet1"
    assert stream["rows"] == 1500
    policies = stream["policies"]
    assert set(policies) == {"ctml", "never", "periodic"}
    assert policies["periodic"]["retrains"] == 26  # every 50 rows from row 150 (BASELINES.md: 26)
    assert policies["ctml"]["via_server"] is True
    assert policies["ctml"]["logged_predictions"] >= 1500 - 150  # with the copies of shadows and challengers
    assert stream["beats_arf"] is None  # not run: not judged
    assert stream["frugal"] == (policies["ctml"]["retrains"] * 3 <= 26)
    assert stream["beats_periodic"] == (policies["ctml"]["accuracy"] >= policies["periodic"]["accuracy"])
    assert out["summary"]["goal"] == {"met": 0, "of": 0}
    text = doc.read_text()
    assert "kept" in text
    assert MARK_START in text
    assert MARK_END in text
    assert "| usenet1 | 1,500 |" in text


def test_unknown_stream_and_missing_folder_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Unknown stream"):
        bench_backtest(tmp_path, streams=["nope"])
    with pytest.raises(ConfigError, match="lacks"):
        bench_backtest(tmp_path, streams=["usenet1"])
    assert summary([]) == {k: {"met": 0, "of": 0} for k in ("beats_periodic", "beats_arf", "frugal", "goal")}


def test_streams_run_in_parallel_processes_and_report_progress() -> None:
    assert ROOT is not None
    seen: list[tuple[str, str, int, int]] = []
    scores = bench_backtest(ROOT, streams=["usenet1", "keystroke"], policies=["ctml", "never", "periodic"], jobs=2,
                            progress=lambda *args: seen.append(args))  # fmt: skip
    assert [s.case.name for s in scores] == ["keystroke", "usenet1"]  # the order of STREAMS, whoever ended first
    inline = bench_backtest(ROOT, streams=["usenet1"], policies=["never", "periodic"], jobs=1)
    assert scores[1].result.policies["periodic"].value == inline[0].result.policies["periodic"].value
    assert list(scores[1].result.policies) == ["ctml", "never", "periodic"]  # ctml and the baselines: two tasks
    assert scores[1].result.policies["ctml"].via_server
    stages = {(name, stage) for name, stage, *_ in seen}
    assert stages >= {("usenet1", "queued"), ("usenet1", "done"), ("usenet1 baselines", "done"), ("keystroke", "done")}
