"""The schema of a dataset: what each column held in a reference, and how far a new batch may stray from it.

:func:`infer_schema` reads a reference table once: Arrow types, nullability, ranges, category sets,
uniqueness, constant columns, the time column, the target and the share of duplicated rows. The result is a
frozen value, stored with every dataset version and editable as TOML (:meth:`Schema.to_toml`,
:meth:`Schema.from_toml`); :mod:`ctml.data._validate` checks batches against it.

>>> import pyarrow as pa
>>> table = pa.table({"size": [1.0, 2.5, 4.0, 3.0], "color": ["red", "blue", "red", "red"], "y": [0, 1, 0, 1]})
>>> schema = infer_schema(table, target="y")
>>> schema.column("size").min, schema.column("size").max, schema.column("color").categories
(1.0, 4.0, ('blue', 'red'))
>>> Schema.from_toml(schema.to_toml()) == schema
True
"""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ctml.data._profile import ColumnProfile, Profile
from ctml.errors import ConfigError
from ctml.types import JSON, JSONObject

__all__ = ["ColumnSchema", "Expectations", "Schema", "infer_schema", "merge_schemas", "schema_from_profile"]

_MAX_CATEGORIES = 50


@dataclass(frozen=True)
class Expectations:
    """How far a batch may stray before a finding is a warning or a failure; every field is editable in TOML."""

    range_slack: float = 0.1
    """Values further than this share of the reference range outside it are out of range (a warning)."""
    max_far_fraction: float = 0.01
    """Share of values more than 10 reference spans outside the range (a unit change) above which it fails."""
    null_slack: float = 0.05
    """A column's null limit is its reference null share plus this."""
    max_unseen_fraction: float = 0.05
    """Share of rows with categories the reference never had above which it fails (below: a warning)."""
    max_duplicate_increase: float = 0.1
    """Duplicated-row share above the reference's plus this is a warning."""
    collapsed_share: float = 0.99
    """The target's most common class above this share (when the reference's was not) fails the batch."""
    min_rows: int = 1
    """A batch with fewer rows fails."""


@dataclass(frozen=True)
class ColumnSchema:
    name: str
    type: str
    nullable: bool = True
    max_null_fraction: float = 1.0
    min: float | str | None = None
    max: float | str | None = None
    mean: float | None = None
    categories: tuple[str, ...] | None = None
    top_share: float | None = None
    """Share of rows holding the most common category (categorical columns)."""
    unique: bool = False
    constant: bool = False


@dataclass(frozen=True)
class Schema:
    columns: tuple[ColumnSchema, ...]
    time_column: str | None = None
    target: str | None = None
    rows: int = 0
    duplicate_fraction: float = 0.0
    expectations: Expectations = field(default_factory=Expectations)

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ConfigError(f"A schema's column names must be unique. Got {names}.")
        for role, name in (("time_column", self.time_column), ("target", self.target)):
            if name is not None and name not in names:
                raise ConfigError(f"The schema's {role} {name!r} is not one of its columns {names}.")

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> ColumnSchema:
        for column in self.columns:
            if column.name == name:
                return column
        raise ConfigError(f"The schema has no column {name!r}. Its columns are {self.names}.")

    def arrow_types(self) -> dict[str, pa.DataType]:
        """Arrow types by column name, to pin when reading a later file of the same dataset."""
        found: dict[str, pa.DataType] = {}
        for column in self.columns:
            kind = _arrow_type(column.type)
            if kind is not None:
                found[column.name] = kind
        return found

    def as_dict(self) -> JSONObject:
        document: JSONObject = {
            "time_column": self.time_column,
            "target": self.target,
            "rows": self.rows,
            "duplicate_fraction": self.duplicate_fraction,
            "expectations": dict(asdict(self.expectations)),
            "columns": [_column_dict(c) for c in self.columns],
        }
        return document

    @classmethod
    def from_dict(cls, document: JSONObject) -> Schema:
        try:
            raw_columns = document["columns"]
            if not isinstance(raw_columns, list):
                raise TypeError("columns must be a list of tables")
            columns = tuple(_column_from(c) for c in raw_columns)
            raw_expect = document.get("expectations") or {}
            if not isinstance(raw_expect, dict):
                raise TypeError("expectations must be a table")
            known = {f.name for f in fields(Expectations)}
            unknown = set(raw_expect) - known
            if unknown:
                raise TypeError(f"unknown expectations {sorted(unknown)}; known: {sorted(known)}")
            return cls(
                columns=columns,
                time_column=_opt_str(document.get("time_column")),
                target=_opt_str(document.get("target")),
                rows=int(document.get("rows") or 0),  # type: ignore[arg-type]
                duplicate_fraction=float(document.get("duplicate_fraction") or 0.0),  # type: ignore[arg-type]
                expectations=Expectations(**raw_expect),  # type: ignore[arg-type]
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"Not a valid ctml schema: {exc}. Expected a document like the one `ctml data schema` writes."
            ) from exc

    def to_toml(self) -> str:
        """The schema as TOML text, for people to read, edit and keep in version control."""
        lines = ["# ctml dataset schema. Edit ranges, categories and expectations; remove a key to drop its check."]
        document = self.as_dict()
        for key in ("time_column", "target", "rows", "duplicate_fraction"):
            if document[key] is not None:
                lines.append(f"{key} = {_toml_value(document[key])}")
        lines.append("\n[expectations]")
        expectations = document["expectations"]
        assert isinstance(expectations, dict)
        lines.extend(f"{k} = {_toml_value(v)}" for k, v in expectations.items())
        columns = document["columns"]
        assert isinstance(columns, list)
        for column in columns:
            assert isinstance(column, dict)
            lines.append("\n[[columns]]")
            lines.extend(f"{k} = {_toml_value(v)}" for k, v in column.items() if v is not None)
        return "\n".join(lines) + "\n"

    @classmethod
    def from_toml(cls, text: str) -> Schema:
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"The schema is not valid TOML: {exc}. Fix the line it names.") from exc
        return cls.from_dict(document)


def infer_schema(
    table: pa.Table,
    *,
    target: str | None = None,
    time_column: str | None = None,
    expectations: Expectations | None = None,
    max_categories: int = _MAX_CATEGORIES,
) -> Schema:
    """The schema of a reference table (see the module docstring for what it records)."""
    for role, name in (("target", target), ("time_column", time_column)):
        if name is not None and name not in table.column_names:
            raise ConfigError(
                f"The {role} {name!r} is not a column of the reference. Its columns: {table.column_names}."
            )
    unique = set()
    for f in table.schema:
        column = table.column(f.name)
        keyish = pa.types.is_integer(f.type) or pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
        present = len(column) - column.null_count
        if keyish and f.name != target and present > 1 and pc.count_distinct(column).as_py() == present:
            unique.add(f.name)
    return schema_from_profile(
        Profile.of(table),
        target=target,
        time_column=time_column,
        expectations=expectations,
        max_categories=max_categories,
        unique=unique,
        duplicate_fraction=_duplicate_fraction(table),
    )


def schema_from_profile(
    profile: Profile,
    *,
    target: str | None = None,
    time_column: str | None = None,
    expectations: Expectations | None = None,
    max_categories: int = _MAX_CATEGORIES,
    unique: set[str] | frozenset[str] = frozenset(),
    duplicate_fraction: float = 0.0,
) -> Schema:
    """The schema a streamed profile supports (uniqueness and duplicates need the whole table: pass them)."""
    expect = expectations or Expectations()
    columns = tuple(
        _infer_column(f.name, f.type, profile.columns[f.name], f.name == target, expect, max_categories, unique)
        for f in profile.schema
    )
    if time_column is None:
        time_column = next((f.name for f in profile.schema if pa.types.is_temporal(f.type)), None)
    return Schema(
        columns=columns,
        time_column=time_column,
        target=target if target in profile.columns else None,
        rows=profile.rows,
        duplicate_fraction=duplicate_fraction,
        expectations=expect,
    )


def merge_schemas(base: Schema, batch: Schema) -> Schema:
    """What ``base`` and an accepted ``batch`` together support: ranges and category sets widen, rows add up."""
    merged = []
    for column in base.columns:
        if column.name not in batch.names:
            merged.append(column)
            continue
        other = batch.column(column.name)
        categories = None
        if column.categories is not None and other.categories is not None:
            union = tuple(sorted(set(column.categories) | set(other.categories)))
            categories = union if len(union) <= max(_MAX_CATEGORIES, len(column.categories)) else None
        total = base.rows + batch.rows
        mean = column.mean
        if column.mean is not None and other.mean is not None and total:
            mean = (column.mean * base.rows + other.mean * batch.rows) / total
        merged.append(
            replace(
                column,
                nullable=column.nullable or other.nullable,
                max_null_fraction=max(column.max_null_fraction, other.max_null_fraction),
                min=_widen(column.min, other.min, min),
                max=_widen(column.max, other.max, max),
                mean=mean,
                categories=categories,
                top_share=_widen(column.top_share, other.top_share, max),  # type: ignore[arg-type]
                unique=column.unique and other.unique,
                constant=column.constant and other.constant and column.min == other.min,
            )
        )
    merged.extend(c for c in batch.columns if c.name not in base.names)
    return replace(base, columns=tuple(merged), rows=base.rows + batch.rows)


def _widen(a: float | str | None, b: float | str | None, pick: Any) -> float | str | None:
    if a is None or b is None or type(a) is not type(b):
        return a if b is None else b if a is None else a
    return pick(a, b)  # type: ignore[no-any-return]


def _infer_column(
    name: str,
    kind: pa.DataType,
    profile: ColumnProfile,
    is_target: bool,
    expect: Expectations,
    max_categories: int,
    unique: set[str] | frozenset[str],
) -> ColumnSchema:
    null_share = profile.nulls / profile.count if profile.count else 0.0
    categories: tuple[str, ...] | None = None
    text = pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_boolean(kind)
    counted = profile.categories
    small = counted is not None and len(counted) <= max_categories
    if small and counted is not None and (text or (pa.types.is_integer(kind) and (is_target or len(counted) <= 10))):
        categories = tuple(sorted(counted))
    numeric = pa.types.is_integer(kind) or pa.types.is_floating(kind)
    top_share = None
    if categories and counted and profile.present:
        top_share = round(max(counted.values()) / profile.present, 6)
    return ColumnSchema(
        name=name,
        type=str(kind),
        nullable=profile.nulls > 0,
        max_null_fraction=round(min(1.0, null_share + expect.null_slack), 6),
        min=_bound(profile.min, numeric),
        max=_bound(profile.max, numeric),
        mean=profile.mean,
        categories=categories,
        top_share=top_share,
        unique=name in unique,
        constant=profile.present > 0 and profile.min is not None and profile.min == profile.max,
    )


def _duplicate_fraction(table: pa.Table) -> float:
    if table.num_rows == 0 or table.num_columns == 0:
        return 0.0
    try:
        distinct: int = table.group_by(table.column_names).aggregate([]).num_rows
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
        return 0.0
    rows: int = table.num_rows
    return round(1 - distinct / rows, 6)


def _bound(value: Any, numeric: bool) -> float | str | None:
    if value is None:
        return None
    if numeric:
        number = float(value)
        return None if math.isnan(number) else number
    return str(value)


def _column_dict(column: ColumnSchema) -> dict[str, JSON]:
    document: dict[str, JSON] = {}
    for f in fields(column):
        value = getattr(column, f.name)
        document[f.name] = list(value) if isinstance(value, tuple) else value
    return document


def _column_from(raw: Any) -> ColumnSchema:
    if not isinstance(raw, dict) or "name" not in raw or "type" not in raw:
        raise TypeError(f"each column needs a name and a type, got {raw!r}")
    known = {f.name for f in fields(ColumnSchema)}
    unknown = set(raw) - known
    if unknown:
        raise TypeError(f"column {raw['name']!r} has unknown keys {sorted(unknown)}; known: {sorted(known)}")
    values = dict(raw)
    if values.get("categories") is not None:
        values["categories"] = tuple(str(v) for v in values["categories"])
    column = ColumnSchema(**values)
    if _arrow_type(column.type) is None and column.type != "null":
        raise TypeError(f"column {column.name!r} has type {column.type!r}, which is not an Arrow type name")
    return replace(column, max_null_fraction=float(column.max_null_fraction))


def _arrow_type(name: str) -> pa.DataType | None:
    simple = {
        "int8": pa.int8(),
        "int16": pa.int16(),
        "int32": pa.int32(),
        "int64": pa.int64(),
        "uint8": pa.uint8(),
        "uint16": pa.uint16(),
        "uint32": pa.uint32(),
        "uint64": pa.uint64(),
        "float": pa.float32(),
        "double": pa.float64(),
        "bool": pa.bool_(),
        "string": pa.string(),
        "large_string": pa.large_string(),
        "date32[day]": pa.date32(),
    }
    if name in simple:
        return simple[name]
    if name.startswith("timestamp["):
        unit, _, zone = name[len("timestamp[") : -1].partition(", tz=")
        return pa.timestamp(unit, tz=zone or None)
    return None


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _toml_value(value: JSON) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise ConfigError(f"Cannot write {value!r} to TOML.")
