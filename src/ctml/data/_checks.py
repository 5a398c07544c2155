"""The per-column checks of a batch: tallies accumulated batch by batch, then findings with their numbers."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from ctml.data._findings import Finding, Severity
from ctml.data._profile import ColumnProfile
from ctml.data._schema import ColumnSchema, Schema

__all__ = ["FAR_SPANS", "Tally", "column_findings"]

FAR_SPANS = 10.0
"""Values further than this many reference spans outside the range are a scale change, not drift."""


@dataclass
class Tally:
    """What the checks of one reference column need, accumulated over batches."""

    profile: ColumnProfile
    out: int = 0
    far: int = 0
    unseen: dict[str, int] = field(default_factory=dict)
    unseen_rows: int = 0
    values: list[pa.Array] = field(default_factory=list)

    def update(self, schema: Schema, column: ColumnSchema, values: pa.Array) -> None:
        self.profile.update(values)
        present = values.drop_null()
        if len(present) == 0:
            return
        numeric = pa.types.is_integer(values.type) or pa.types.is_floating(values.type)
        if numeric and isinstance(column.min, float | int) and isinstance(column.max, float | int):
            low, high = float(column.min), float(column.max)
            span = high - low
            slack = schema.expectations.range_slack * (span or abs(high) or 1.0)
            reach = FAR_SPANS * (max(span, abs(low), abs(high)) or 1.0)
            doubles = present.cast(pa.float64())
            self.out += pc.sum(pc.or_(pc.less(doubles, low - slack), pc.greater(doubles, high + slack))).as_py() or 0
            self.far += pc.sum(pc.or_(pc.less(doubles, low - reach), pc.greater(doubles, high + reach))).as_py() or 0
        if column.categories is not None:
            as_text = present.cast(pa.string())
            if pa.types.is_boolean(present.type):
                as_text = pc.utf8_lower(as_text)
            unseen = as_text.filter(pc.invert(pc.is_in(as_text, value_set=pa.array(column.categories, pa.string()))))
            self.unseen_rows += len(unseen)
            if len(unseen):
                counts = pc.value_counts(unseen)
                for value, count in zip(
                    counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=False
                ):
                    if len(self.unseen) < 1000 or value in self.unseen:
                        self.unseen[value] = self.unseen.get(value, 0) + int(count)
        if column.unique:
            self.values.append(present)


def column_findings(schema: Schema, column: ColumnSchema, tally: Tally, rows: int) -> list[Finding]:
    found: list[Finding] = []
    expect = schema.expectations
    name = column.name
    profile = tally.profile
    if rows:
        share = profile.nulls / rows
        if share > column.max_null_fraction:
            found.append(
                Finding(
                    "nulls",
                    "fail",
                    f"Column {name!r} is {share:.1%} null ({profile.nulls} of {rows} rows); the limit is "
                    f"{column.max_null_fraction:.1%}. Fix the upstream export, or raise max_null_fraction "
                    "in the schema.",
                    column=name,
                    details={"nulls": profile.nulls, "rows": rows, "share": share, "limit": column.max_null_fraction},
                )
            )
        elif profile.nulls and not column.nullable:
            found.append(
                Finding(
                    "nulls",
                    "warn",
                    f"Column {name!r} has {profile.nulls} nulls of {rows} rows ({share:.2%}); the reference had none "
                    f"(limit {column.max_null_fraction:.1%}).",
                    column=name,
                    details={"nulls": profile.nulls, "rows": rows, "share": share, "limit": column.max_null_fraction},
                )
            )
    present = profile.present
    if tally.out and present:
        far_share = tally.far / present
        severity = "fail" if far_share > expect.max_far_fraction else "warn"
        hint = ""
        if column.mean and profile.mean is not None and column.mean != 0:
            ratio = profile.mean / column.mean
            hint = f" The mean moved from {column.mean:.4g} to {profile.mean:.4g} (x{ratio:.4g})"
            hint += ": it looks like a unit change." if abs(ratio) >= 100 or 0 < abs(ratio) <= 0.01 else "."
        found.append(
            Finding(
                "out_of_range",
                severity,  # type: ignore[arg-type]
                f"Column {name!r} has {tally.out} of {present} values ({tally.out / present:.1%}) outside the "
                "reference "
                f"range [{column.min:.4g}, {column.max:.4g}] (batch range [{profile.min:.4g}, {profile.max:.4g}]); "
                f"{tally.far} are more than {FAR_SPANS:g} spans away.{hint}",
                column=name,
                details={
                    "out_of_range": tally.out,
                    "far_out_of_range": tally.far,
                    "present": present,
                    "reference_min": column.min,
                    "reference_max": column.max,
                    "batch_min": profile.min,
                    "batch_max": profile.max,
                    "reference_mean": column.mean,
                    "batch_mean": profile.mean,
                },
            )
        )
    if tally.unseen_rows and present:
        share = tally.unseen_rows / present
        top = sorted(tally.unseen.items(), key=lambda kv: -kv[1])[:5]
        found.append(
            Finding(
                "unseen_categories",
                _unseen_severity(schema, column, share),
                f"Column {name!r} has {len(tally.unseen)} categories the reference never had, in "
                f"{tally.unseen_rows} of "
                f"{present} rows ({share:.1%}): " + ", ".join(f"{v!r} ({n})" for v, n in top) + ". Known: "
                f"{len(column.categories or ())} categories. Add them to the schema if they are legitimate.",
                column=name,
                details={"unseen": dict(top), "rows": tally.unseen_rows, "share": share},
            )
        )
    if column.unique and tally.values:
        values = pa.chunked_array(tally.values)
        distinct = pc.count_distinct(values).as_py()
        if distinct < len(values):
            found.append(
                Finding(
                    "duplicates",
                    "fail",
                    f"Column {name!r} should be unique but has {len(values) - distinct} repeated values in "
                    f"{len(values)} rows. Check for a double export or a broken key.",
                    column=name,
                    details={"repeated": len(values) - distinct, "rows": len(values)},
                )
            )
    constant = present > 1 and profile.min is not None and profile.min == profile.max
    if name == schema.target:
        found.extend(_label_findings(schema, column, profile, present))
    elif constant and not column.constant:
        found.append(
            Finding(
                "constant_column",
                "warn",
                f"Column {name!r} holds one value ({profile.min!r}) in all {present} rows; the reference varied "
                f"over [{column.min}, {column.max}].",
                column=name,
                details={"value": str(profile.min), "rows": present},
            )
        )
    return found


def _unseen_severity(schema: Schema, column: ColumnSchema, share: float) -> Severity:
    """A new label or text category over the limit fails; a new value of an integer feature (a month not seen
    yet in seasonal data) is a warning: its range check still catches a unit change."""
    if share <= schema.expectations.max_unseen_fraction:
        return "warn"
    textual = column.type in ("string", "large_string", "bool")
    return "fail" if textual or column.name == schema.target else "warn"


def _label_findings(schema: Schema, column: ColumnSchema, profile: ColumnProfile, present: int) -> list[Finding]:
    if present < 30 or column.constant:
        return []
    counts = profile.categories or {}
    if counts:
        label, top = max(counts.items(), key=lambda kv: kv[1])
        share = top / present
    elif profile.min is not None and profile.min == profile.max:
        label, share = str(profile.min), 1.0
    else:
        return []
    limit = schema.expectations.collapsed_share
    if share <= limit or (column.top_share is not None and column.top_share > limit):
        return []
    return [
        Finding(
            "collapsed_labels",
            "fail",
            f"The target {column.name!r} is {label!r} in {share:.1%} of {present} rows; the reference had "
            f"{len(column.categories or ()) or 'several'} classes. A label pipeline that fills a default looks like "
            "this; check it before training on the batch.",
            column=column.name,
            details={"label": label, "share": share, "rows": present, "limit": schema.expectations.collapsed_share},
        )
    ]
