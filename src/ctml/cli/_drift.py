"""``ctml drift REF CUR``: per-column drift between two files, as a table, JSON or a self-contained HTML page.

REF and CUR are CSV or Parquet files; REF may also be a stored profile (JSON written by ``--save-profile``),
in which case the raw reference is not needed at all.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import click
import pyarrow as pa

from ctml.cli._output import console, emit_json, table
from ctml.drift import (
    TESTS,
    DatasetProfile,
    DriftReport,
    compare,
    domain_classifier,
    profile,
    read_table,
    render_html,
)
from ctml.errors import ConfigError

__all__ = ["drift", "read_input"]


@click.command("drift")
@click.argument("reference", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("current", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--test", "test", type=click.Choice(sorted(TESTS)), help="Force one test on every column it fits.")
@click.option("--column-test", multiple=True, metavar="COLUMN=TEST", help="The test for one column (repeatable).")
@click.option("--threshold", multiple=True, metavar="NAME=VALUE", help="Threshold for a column or a test (repeatable).")
@click.option("--columns", help="Comma-separated columns to compare (default: all shared).")
@click.option("--share", default=0.5, show_default=True, type=float, help="Share of drifted columns = dataset drift.")
@click.option("--classifier", is_flag=True, help="Also train a domain classifier (needs raw REF and CUR).")
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path), help="Write an HTML report.")
@click.option("--save-profile", type=click.Path(dir_okay=False, path_type=Path), help="Write REF's profile (JSON).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def drift(
    reference: Path,
    current: Path,
    test: str | None,
    column_test: tuple[str, ...],
    threshold: tuple[str, ...],
    columns: str | None,
    share: float,
    classifier: bool,
    html_path: Path | None,
    save_profile: Path | None,
    as_json: bool,
) -> None:
    """Compare CURRENT against REFERENCE, column by column.

    \b
    Tests: ks, wasserstein, chisquare, z, psi, jensenshannon, hellinger. By default each column gets
    ks/chisquare/z when REFERENCE has <= 1000 values and jensenshannon otherwise (docs/drift.md).
    Exit status 0 either way; read the verdicts from the output.
    """
    ref = read_input(reference, allow_profile=True)
    cur = read_input(current, allow_profile=True)
    if save_profile is not None:
        stored = ref if isinstance(ref, DatasetProfile) else profile(ref)
        save_profile.write_text(json.dumps(stored.to_json()) + "\n")
    report = compare(
        ref,
        cur,
        test=test,
        tests=_pairs(column_test, "--column-test", str),
        thresholds=_pairs(threshold, "--threshold", float),
        columns=None if columns is None else [c.strip() for c in columns.split(",") if c.strip()],
        share_threshold=share,
    )
    extra: dict[str, Any] = {}
    if classifier:
        if not isinstance(ref, pa.Table) or not isinstance(cur, pa.Table):
            raise ConfigError("--classifier needs raw REFERENCE and CURRENT data (CSV or Parquet), not profiles.")
        found = domain_classifier(ref, cur, columns=[c.column for c in report.columns])
        extra["classifier"] = {
            "auc": found.auc,
            "auc_bound": found.auc_bound,
            "p_value": found.p_value,
            "drifted": found.drifted,
            "top_features": [list(item) for item in found.top_features],
        }
    if html_path is not None:
        html_path.write_text(render_html(report, title=f"Drift: {current.name} vs {reference.name}"))
    if as_json:
        emit_json({**report.to_json(), **extra})
        return
    _show(report, extra.get("classifier"))
    if html_path is not None:
        click.echo(f"HTML report: {html_path}")


def read_input(path: Path, *, allow_profile: bool = False) -> pa.Table | DatasetProfile:
    """A CSV or Parquet file as an Arrow table, or a stored profile (JSON)."""
    if allow_profile and path.suffix.lower() == ".json":
        try:
            return DatasetProfile.from_json(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ConfigError):
                raise
            raise ConfigError(f"Cannot read the profile {path}: {exc}. Write one with --save-profile.") from exc
    return read_table(path)


def _pairs(items: tuple[str, ...], option: str, cast: type[Any]) -> dict[str, Any]:
    pairs: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ConfigError(f"{option} takes NAME=VALUE, for example {option} age=0.1. Got {item!r}.")
        try:
            pairs[name.strip()] = cast(value.strip())
        except ValueError:
            raise ConfigError(f"{option} {item!r}: {value!r} is not a valid {cast.__name__}.") from None
    return pairs


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    if math.isnan(value):
        return "-"
    return f"{value:.4g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"


def _show(report: DriftReport, classifier: dict[str, Any] | None) -> None:
    rows = []
    for c in report.columns:
        statistic = _fmt(c.statistic) + ("" if c.bound is None else f" ± {c.bound:.2g}")
        rule = "p <" if c.p_value is not None else ">="
        verdict = "[red]drift[/red]" if c.drifted else "[green]ok[/green]"
        rows.append(
            (c.column, c.kind, f"{c.test} ({c.method})", statistic, _fmt(c.p_value), f"{rule} {c.threshold:g}", verdict)
        )
    table(
        f"Drift: {report.current.rows:,} current rows vs {report.reference.rows:,} reference rows",
        ["column", "kind", "test", "statistic", "p-value", "threshold", "verdict"],
        rows,
    )
    out = console()
    verdict = "[red]dataset drift[/red]" if report.drifted else "[green]no dataset drift[/green]"
    out.print(
        f"{verdict}: {len(report.drifted_columns)} of {len(report.columns)} columns drifted "
        f"({report.drifted_share:.0%}; threshold {report.share_threshold:.0%})"
    )
    if classifier is not None:
        features = ", ".join(f"{name} ({value:.3f})" for name, value in classifier["top_features"])
        out.print(
            f"domain classifier: AUC {classifier['auc']:.3f} (bound {classifier['auc_bound']:.3f}, "
            f"p {classifier['p_value']:.2g}) -> {'drift' if classifier['drifted'] else 'no drift'}; "
            f"separating features: {features}"
        )
