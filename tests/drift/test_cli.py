"""``ctml drift REF CUR``: table, JSON, HTML and stored profiles, called through click's runner."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from pyarrow import csv

from ctml.cli._drift import drift
from ctml.errors import ConfigError


@pytest.fixture
def files(tables, tmp_path: Path) -> tuple[Path, Path]:  # type: ignore[no-untyped-def]
    ref, cur = tables
    pq.write_table(ref, tmp_path / "ref.parquet")
    csv.write_csv(cur, tmp_path / "cur.csv")
    return tmp_path / "ref.parquet", tmp_path / "cur.csv"


def _run(*args: str) -> str:
    result = CliRunner().invoke(drift, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_table_names_every_column_and_the_verdict(files: tuple[Path, Path]) -> None:
    out = _run(str(files[0]), str(files[1]))
    for column in ("shifted", "stable", "city", "flag"):
        assert column in out
    assert "dataset drift: 2 of 4 columns drifted" in out


def test_json_and_forced_test(files: tuple[Path, Path]) -> None:
    found = json.loads(
        _run(
            str(files[0]), str(files[1]), "--json", "--test", "ks", "--threshold", "city=0.5", "--threshold", "flag=0.0"
        )
    )
    by_column = {c["column"]: c for c in found["columns"]}
    assert by_column["shifted"]["test"] == "ks"
    assert by_column["shifted"]["method"] == "exact"
    assert by_column["city"]["threshold"] == 0.5
    assert found["drifted_columns"] == ["shifted", "flag"]  # JS >= 0.0 always; city JS < 0.5


def test_stored_profile_as_reference(files: tuple[Path, Path], tmp_path: Path) -> None:
    stored = tmp_path / "ref.profile.json"
    first = json.loads(_run(str(files[0]), str(files[1]), "--json", "--save-profile", str(stored)))
    second = json.loads(_run(str(stored), str(files[1]), "--json"))
    assert [c["statistic"] for c in first["columns"]] == pytest.approx([c["statistic"] for c in second["columns"]])
    assert second["drifted_columns"] == first["drifted_columns"]


def test_html_is_self_contained(files: tuple[Path, Path], tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    _run(str(files[0]), str(files[1]), "--html", str(page))
    text = page.read_text()
    assert text.count("<svg") == 4
    assert "drift</span>" in text
    links = set(re.findall(r"(?:src|href)=\"([^\"]+)\"", text)) | set(re.findall(r"https?://[^\"' )]+", text))
    assert links <= {"http://www.w3.org/2000/svg"}


def test_classifier_option(files: tuple[Path, Path]) -> None:
    found = json.loads(_run(str(files[0]), str(files[1]), "--json", "--classifier"))
    assert found["classifier"]["drifted"]
    assert found["classifier"]["top_features"][0][0] in {"shifted", "city"}


def test_bad_inputs_raise_config_errors(files: tuple[Path, Path], tmp_path: Path) -> None:
    odd = tmp_path / "data.xlsx"
    odd.write_text("x")
    with pytest.raises(ConfigError, match="Cannot tell the format"):
        CliRunner().invoke(drift, [str(odd), str(files[1])], catch_exceptions=False)
    with pytest.raises(ConfigError, match="--threshold takes NAME=VALUE"):
        CliRunner().invoke(drift, [str(files[0]), str(files[1]), "--threshold", "0.1"], catch_exceptions=False)
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet")
    with pytest.raises(ConfigError, match="Cannot read"):
        CliRunner().invoke(drift, [str(broken), str(files[1])], catch_exceptions=False)
    notes = tmp_path / "notes.json"
    notes.write_text(json.dumps({"hello": 1}))
    with pytest.raises(ConfigError, match="Not a ctml drift profile"):
        CliRunner().invoke(drift, [str(notes), str(files[1])], catch_exceptions=False)


def test_integer_csv_columns_are_profiled(tmp_path: Path) -> None:
    table = pa.table({"n": list(range(50)) * 4})
    csv.write_csv(table, tmp_path / "a.csv")
    found = json.loads(_run(str(tmp_path / "a.csv"), str(tmp_path / "a.csv"), "--json"))
    assert found["drifted_columns"] == []
