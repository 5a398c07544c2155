"""Validation of a batch against a schema, one record batch at a time (so a large file needs little memory).

Checks: the batch is readable and not empty; no column is missing, renamed or of a changed type; nulls stay
under each column's limit; numbers stay in the reference range (a x1000 unit change fails); categories were
seen before; unique columns stay unique; duplicated rows, constant columns and a collapsed label distribution
are flagged. Full-row duplicates are counted within each record batch (blocks of 16 MB when reading files).

>>> import pyarrow as pa
>>> from ctml.data._schema import infer_schema
>>> reference = pa.table({"price": [0.1, 0.5, 0.9, 0.3], "kind": ["a", "b", "a", "b"]})
>>> batch = pa.table({"price": [100.0, 500.0, 900.0, 300.0], "kind": ["a", "b", "a", "c"]})
>>> report = validate(batch, infer_schema(reference))
>>> [(f.check, f.severity, f.column) for f in report.findings]
[('unseen_categories', 'fail', 'kind'), ('out_of_range', 'fail', 'price')]
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import pyarrow as pa

from ctml.data._checks import Tally, column_findings
from ctml.data._findings import Finding, Report, ordered
from ctml.data._formats import ReadOptions, WiderType, read_batches
from ctml.data._profile import ColumnProfile
from ctml.data._schema import Schema
from ctml.errors import ConfigError

__all__ = ["Validator", "validate", "validate_file"]

_DELIMITERS = (";", "\t", "|", ",")


class Validator:
    """Feed batches with :meth:`update`, then read the :meth:`report`."""

    def __init__(self, schema: Schema, *, source: str | None = None) -> None:
        self.schema = schema
        self.source = source
        self.rows = 0
        self._batch_schema: pa.Schema | None = None
        self._tallies: dict[str, Tally] = {}
        self._duplicates = 0
        self._findings: list[Finding] = []

    def update(self, batch: pa.RecordBatch) -> None:
        if self._batch_schema is None:
            self._batch_schema = batch.schema
            self._tallies = {
                c.name: Tally(ColumnProfile(str(batch.schema.field(c.name).type)))
                for c in self.schema.columns
                if c.name in batch.schema.names
            }
        self.rows += batch.num_rows
        for name, tally in self._tallies.items():
            tally.update(self.schema, self.schema.column(name), batch.column(name))
        if batch.num_rows > 1 and batch.num_columns:
            try:
                distinct = pa.Table.from_batches([batch]).group_by(batch.schema.names).aggregate([]).num_rows
                self._duplicates += batch.num_rows - distinct
            except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
                pass

    def report(self) -> Report:
        findings = list(self._findings)
        expect = self.schema.expectations
        unreadable = any(f.check == "readable" for f in findings)
        if self.rows < expect.min_rows and not unreadable:
            findings.append(
                Finding(
                    "empty",
                    "fail",
                    f"The batch has {self.rows} rows; expected at least {expect.min_rows}. "
                    "An empty file or query result must not reach training; check the upstream export.",
                    details={"rows": self.rows, "min_rows": expect.min_rows},
                )
            )
        if self._batch_schema is not None:
            findings.extend(self._structure(self._batch_schema))
            for name, tally in self._tallies.items():
                findings.extend(column_findings(self.schema, self.schema.column(name), tally, self.rows))
            findings.extend(self._duplicate_rows())
        return Report(ordered(findings), rows=self.rows, source=self.source)

    def fail(self, check: str, message: str) -> None:
        """Record a failure found outside the checks (for example, the file could not be read)."""
        self._findings.append(Finding(check, "fail", message))

    def _structure(self, batch: pa.Schema) -> list[Finding]:
        found: list[Finding] = []
        expected = self.schema.names
        missing = [n for n in expected if n not in batch.names]
        new = [n for n in batch.names if n not in expected]
        if len(batch.names) == 1 and len(expected) > 1 and missing:
            only = batch.names[0]
            guess = next((d for d in _DELIMITERS if d in only), None)
            if guess is not None:
                return [
                    Finding(
                        "delimiter",
                        "fail",
                        f"The batch has one column {only[:60]!r} where the schema expects {len(expected)}: the file "
                        f"looks delimited by {guess!r}. Read it with --delimiter {guess!r} or fix the export.",
                        details={"delimiter": guess, "expected_columns": len(expected)},
                    )
                ]
        for name in list(missing):
            kind = self.schema.column(name).type
            matches = [n for n in new if _compatible(kind, str(batch.field(n).type))]
            close = difflib.get_close_matches(name, matches, n=1, cutoff=0.0) if matches else []
            if close and (len(missing) == len(new) or difflib.SequenceMatcher(None, name, close[0]).ratio() > 0.6):
                renamed = close[0]
                missing.remove(name)
                new.remove(renamed)
                found.append(
                    Finding(
                        "renamed_column",
                        "fail",
                        f"Column {name!r} is missing and {renamed!r} is new with a compatible type ({kind}): it looks "
                        f"renamed. Rename {renamed!r} back to {name!r} upstream, or update the schema's column name.",
                        column=name,
                        details={"expected": name, "found": renamed, "type": kind},
                    )
                )
        found.extend(
            Finding(
                "missing_column",
                "fail",
                f"Column {name!r} ({self.schema.column(name).type}) is missing; the batch has {len(batch.names)} "
                f"columns. Restore it upstream, or remove it from the schema if it was dropped on purpose.",
                column=name,
                details={"expected_type": self.schema.column(name).type},
            )
            for name in missing
        )
        found.extend(
            Finding(
                "new_column",
                "warn",
                f"Column {name!r} ({batch.field(name).type}) is not in the schema; it will be stored but no check "
                "covers it. Add it to the schema to validate it.",
                column=name,
                details={"type": str(batch.field(name).type)},
            )
            for name in new
        )
        for column in self.schema.columns:
            if column.name not in batch.names:
                continue
            actual = str(batch.field(column.name).type)
            if actual in (column.type, "null"):
                continue
            if _compatible(column.type, actual):
                found.append(
                    Finding(
                        "type_changed",
                        "info",
                        f"Column {column.name!r} reads as {actual}, the schema says {column.type}; the values convert.",
                        column=column.name,
                        details={"expected": column.type, "actual": actual},
                    )
                )
            else:
                found.append(
                    Finding(
                        "type_changed",
                        "fail",
                        f"Column {column.name!r} changed type from {column.type} to {actual}. Expected {column.type}; "
                        "look for text in a numeric column (a unit suffix, a placeholder like 'N/A') upstream.",
                        column=column.name,
                        details={"expected": column.type, "actual": actual},
                    )
                )
        return found

    def _duplicate_rows(self) -> list[Finding]:
        if self.rows < 2:
            return []
        share = self._duplicates / self.rows
        limit = self.schema.duplicate_fraction + self.schema.expectations.max_duplicate_increase
        if share <= limit:
            return []
        return [
            Finding(
                "duplicate_rows",
                "warn",
                f"{self._duplicates} of {self.rows} rows ({share:.1%}) repeat another row; the reference had "
                f"{self.schema.duplicate_fraction:.1%} and the limit is {limit:.1%}. Check for a file ingested twice.",
                details={"duplicates": self._duplicates, "rows": self.rows, "share": share, "limit": limit},
            )
        ]


def _compatible(expected: str, actual: str) -> bool:
    numeric = ("int", "uint", "float", "double", "halffloat")
    if expected.startswith(numeric) and actual.startswith(numeric):
        return True
    return expected == actual or {expected, actual} <= {"string", "large_string"}


def validate(data: pa.Table | pa.RecordBatch | Iterable[pa.RecordBatch], schema: Schema) -> Report:
    """The report of ``data`` (a table, a batch or batches) against ``schema``."""
    validator = Validator(schema)
    batches: Iterable[pa.RecordBatch]
    if isinstance(data, pa.Table):
        batches = data.combine_chunks().to_batches() or [pa.RecordBatch.from_pylist([], schema=data.schema)]
    elif isinstance(data, pa.RecordBatch):
        batches = [data]
    else:
        batches = data
    for batch in batches:
        validator.update(batch)
    return validator.report()


def validate_file(path: str | Path, schema: Schema, options: ReadOptions | None = None) -> Report:
    """The report of a file; a file that cannot be read is a ``fail`` finding, not an exception."""
    options = options or ReadOptions()
    for _ in range(2 * len(schema.columns) + 2):  # each retry widens one column: int -> double -> string
        validator = Validator(schema, source=str(path))
        try:
            for batch in read_batches(path, options):
                validator.update(batch)
        except WiderType as wider:  # read again: the first block's inferred type was too narrow
            options = replace(options, column_types={**options.column_types, wider.column: wider.type})
            continue
        except ConfigError as exc:
            validator.fail("readable", str(exc))
        return validator.report()
    raise ConfigError(f"Column types of {str(path)!r} kept changing while reading; pass them explicitly.")
