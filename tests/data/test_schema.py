"""Schema inference, TOML round trips and edits, and the quality checks not covered by the corruption suite."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from ctml.data import Expectations, Schema, infer_schema, read_table, validate, validate_file
from ctml.errors import ConfigError

from .conftest import head, write_csv


def test_inference_on_real_data_records_types_ranges_categories_and_time() -> None:
    table = head("bike_sharing_hourly", 2000)
    schema = infer_schema(table, target="cnt")
    assert schema.time_column == "dteday"
    assert schema.target == "cnt"
    assert schema.rows == 2000
    season = schema.column("season")
    seasons = tuple(sorted(str(v) for v in set(table.column("season").to_pylist())))
    assert season.type == "int64"
    assert season.categories == seasons
    assert len(seasons) >= 1
    assert schema.column("instant").unique
    assert not schema.column("temp").unique
    temp = schema.column("temp")
    assert temp.min == pc.min(table.column("temp")).as_py()
    assert temp.max == pc.max(table.column("temp")).as_py()
    assert not temp.nullable
    assert temp.max_null_fraction == pytest.approx(0.05)
    assert schema.column("yr").constant
    labels = infer_schema(head("elec2", 2000), target="class").column("class")
    assert labels.categories == ("DOWN", "UP")
    assert labels.top_share is not None
    assert 0.5 <= labels.top_share < 1


def test_toml_round_trip_and_an_edit_changes_the_verdict(tmp_path: Path) -> None:
    table = head("elec2", 2000)
    schema = infer_schema(table, target="class")
    text = schema.to_toml()
    assert Schema.from_toml(text) == schema
    batch = table.set_column(3, "nswprice", pc.multiply(table.column("nswprice"), 1000.0))
    assert not validate(batch, schema).passed
    edited = text.replace("max_far_fraction = 0.01", "max_far_fraction = 1.0")
    assert validate(batch, Schema.from_toml(edited)).passed  # now a warning only


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("columns = [", "not valid TOML"),
        ("rows = 3\n", "columns"),
        ('[[columns]]\nname = "x"\ntype = "int64"\ncolour = "red"\n', "unknown keys"),
        ('[[columns]]\nname = "x"\ntype = "a number"\n', "not an Arrow type"),
        ('target = "y"\n[[columns]]\nname = "x"\ntype = "int64"\n', "target 'y' is not one of its columns"),
        ('[expectations]\nstrictness = 3\n[[columns]]\nname = "x"\ntype = "int64"\n', "unknown expectations"),
    ],
)
def test_a_bad_schema_file_says_what_is_wrong(text: str, complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint):
        Schema.from_toml(text)


def test_nulls_over_the_limit_fail_and_name_the_numbers() -> None:
    table = head("noaa_weather", 1000)
    schema = infer_schema(table, target="rain")
    mask = pa.array([i % 3 == 0 for i in range(400)])
    holes = pc.if_else(mask, pa.scalar(None, pa.float64()), table.column("visibility").slice(0, 400))
    batch = table.slice(0, 400).set_column(3, "visibility", holes)
    finding = validate(batch, schema).by_check("nulls")[0]
    assert finding.severity == "fail"
    assert finding.column == "visibility"
    assert "134 of 400 rows" in finding.message
    assert "33.5%" in finding.message
    assert "5.0%" in finding.message


def test_duplicates_in_a_unique_column_and_repeated_rows() -> None:
    table = head("bike_sharing_hourly", 600)
    schema = infer_schema(table.slice(0, 300), target="cnt")
    doubled = pa.concat_tables([table.slice(300, 150), table.slice(300, 150)])
    report = validate(doubled, schema)
    assert report.by_check("duplicates")[0].column == "instant"
    assert "150 repeated values in 300 rows" in report.by_check("duplicates")[0].message
    assert report.by_check("duplicate_rows")[0].severity == "warn"


def test_collapsed_labels_and_constant_columns() -> None:
    table = head("usenet1", 1500)
    schema = infer_schema(table.slice(0, 600), target="Label")
    batch = table.slice(600, 300).set_column(
        table.column_names.index("Label"), "Label", pa.array([1] * 300, pa.int64())
    )
    collapsed = validate(batch, schema).by_check("collapsed_labels")[0]
    assert collapsed.severity == "fail"
    assert "'1' in 100.0% of 300 rows" in collapsed.message
    elec = head("elec2", 1000)
    flat = elec.slice(500, 200).set_column(1, "day", pa.array([3] * 200, pa.int64()))
    constant = validate(flat, infer_schema(elec.slice(0, 500), target="class")).by_check("constant_column")
    assert constant
    assert constant[0].column == "day"
    assert constant[0].severity == "warn"


def test_a_type_change_and_a_header_only_file(tmp_path: Path) -> None:
    table = head("keystroke", 400)
    schema = infer_schema(table, target="class")
    texty = table.set_column(0, "attribute_0", pa.array(["n/a"] * 400))
    changed = validate(texty, schema).by_check("type_changed")[0]
    assert changed.severity == "fail"
    assert "from double to string" in changed.message
    header = tmp_path / "header.csv"
    header.write_text(",".join(table.column_names) + "\n")
    report = validate_file(header, schema)
    assert [f.check for f in report.findings] == ["empty"]


def test_the_reference_is_never_modified_by_validation(tmp_path: Path) -> None:
    path = write_csv(head("ozone", 500), tmp_path / "ozone.csv")
    before = path.read_bytes()
    schema = infer_schema(read_table(path), target="class")
    validate_file(path, replace(schema, expectations=Expectations(min_rows=10_000)))
    assert path.read_bytes() == before
