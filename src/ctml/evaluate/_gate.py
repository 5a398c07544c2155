"""The gate: should a challenger replace the champion? A paired test, per-slice non-inferiority, hard limits.

The decision rule (docs/evaluate.md draws it as a flowchart):

1. Hard limits, for every model: p99 latency <= ``max_latency_ms``, size <= ``max_size_bytes``.
2. A first model (no champion) must meet every floor (``{"accuracy": 0.6}``; for error metrics, a ceiling).
3. Against a champion, on the same rows: the paired test for the primary metric (McNemar for accuracy,
   DeLong for binary ROC AUC, the paired bootstrap otherwise) must find the challenger better, one-sided
   ``p < alpha``; the effect must be at least ``min_effect``; and on every slice with at least
   ``min_slice_rows`` rows it may be worse than the champion by at most ``slice_margin``.
4. Any failed check rejects. Otherwise ``require_approval``, or an effect below ``auto_promote_effect``,
   asks a human ("needs_approval"); else the challenger is promoted.

Effects are signed so that positive means better; intervals are at confidence ``1 - 2 alpha``, so the lower end
is the one-sided bound the test holds against zero.

>>> truth = np.array([1, 0] * 100)
>>> champion = truth.copy(); champion[:40] = 1 - champion[:40]
>>> challenger = truth.copy(); challenger[:10] = 1 - challenger[:10]
>>> verdict = Gate(metric="accuracy", min_effect=0.02).judge(truth, challenger, champion)
>>> verdict.outcome, verdict.evidence["test"]["test"]
('promote', 'mcnemar')
>>> verdict.reason
'Promoted: accuracy 0.9500 vs champion 0.8000, effect +0.1500 (90% CI [+0.1085, +0.1915]), mcnemar p=9.31e-10.'
>>> Gate(alpha=2)
Traceback (most recent call last):
ctml.errors.ConfigError: The 'alpha' parameter of Gate must be a float in (0, 0.5). Got 2 instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from ctml.errors import ConfigError
from ctml.evaluate._delong import delong
from ctml.evaluate._metrics import METRICS, MetricSpec, accuracy, mae, resolve_classes, rmse
from ctml.evaluate._paired import PairedTest, mcnemar, paired_bootstrap
from ctml.evaluate._params import Constraint, Interval, MetricBounds, OneOf, Optional, validate
from ctml.evaluate._report import Report, SliceReport, Task, _checked_proba, _score, evaluate
from ctml.evaluate._verdict import Check, Outcome, Verdict
from ctml.types import JSON, JSONObject

__all__ = ["GATE_TESTS", "Gate"]

GATE_TESTS = ("auto", "mcnemar", "delong", "bootstrap")

_CONSTRAINTS: dict[str, Constraint] = {
    "metric": OneOf(tuple(METRICS)),
    "test": OneOf(GATE_TESTS),
    "alpha": Interval(float, 0, 0.5, closed="neither"),
    "min_effect": Interval(float, 0, None),
    "auto_promote_effect": Optional(Interval(float, 0, None)),
    "require_approval": OneOf((True, False)),
    "slice_margin": Interval(float, 0, None),
    "min_slice_rows": Interval(int, 1, None),
    "max_latency_ms": Optional(Interval(float, 0, None, closed="neither")),
    "max_size_bytes": Optional(Interval(int, 1, None)),
    "floors": MetricBounds(tuple(METRICS)),
    "n_resamples": Interval(int, 100, None),
    "seed": Interval(int, 0, None),
}


@dataclass(frozen=True)
class Gate:
    """Promotion policy of an app. ``judge`` applies it to a challenger (and the champion) on held-out rows."""

    metric: str = "accuracy"
    test: str = "auto"
    alpha: float = 0.05
    min_effect: float = 0.0
    auto_promote_effect: float | None = None
    """Promote without a human only when the effect is at least this; smaller significant effects need approval."""
    require_approval: bool = False
    slice_margin: float = 0.02
    min_slice_rows: int = 30
    max_latency_ms: float | None = None
    """Limit on the p99 latency in milliseconds."""
    max_size_bytes: int | None = None
    floors: Mapping[str, float] = field(default_factory=dict)
    """Absolute bounds for a first model: a minimum for higher-is-better metrics, a maximum for error metrics."""
    n_resamples: int = 2000
    seed: int = 0

    def __post_init__(self) -> None:
        validate("Gate", _CONSTRAINTS, {f.name: getattr(self, f.name) for f in fields(self)})
        if self.auto_promote_effect is not None and self.auto_promote_effect < self.min_effect:
            raise ConfigError(
                f"The 'auto_promote_effect' parameter of Gate must be >= min_effect ({self.min_effect}). "
                f"Got {self.auto_promote_effect!r} instead."
            )
        if self.test == "mcnemar" and self.metric != "accuracy":
            raise ConfigError(f"McNemar's test compares accuracies; Gate(metric={self.metric!r}) needs another test.")
        if self.test == "delong" and self.metric != "roc_auc":
            raise ConfigError(f"DeLong's test compares ROC AUCs; Gate(metric={self.metric!r}) needs another test.")
        kind = METRICS[self.metric].regression
        mixed = [name for name in self.floors if METRICS[name].regression != kind]
        if mixed:
            raise ConfigError(
                f"The 'floors' parameter of Gate names {mixed}, which belong to another task than {self.metric!r}."
            )
        object.__setattr__(self, "floors", MappingProxyType(dict(self.floors)))

    def to_json(self) -> JSONObject:
        out: JSONObject = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "floors"}
        out["floors"] = dict(self.floors)
        return out

    def judge(
        self,
        y_true: npt.ArrayLike,
        challenger_pred: npt.ArrayLike,
        champion_pred: npt.ArrayLike | None = None,
        *,
        challenger_proba: npt.ArrayLike | None = None,
        champion_proba: npt.ArrayLike | None = None,
        classes: npt.ArrayLike | None = None,
        slices: Mapping[str, npt.ArrayLike] | None = None,
        challenger_latency_ms: float | Sequence[float] | npt.NDArray[np.float64] | None = None,
        challenger_size_bytes: int | None = None,
    ) -> Verdict:
        """Judge ``challenger_pred`` against ``champion_pred`` on the rows of ``y_true`` (or the floors, if first).

        ``challenger_latency_ms`` is the p99 in milliseconds, or per-request latencies whose p99 is taken.
        """
        spec = METRICS[self.metric]
        task: Task = "regression" if spec.regression else "classification"
        t = np.asarray(y_true)
        first = champion_pred is None
        labels = None
        if task == "classification":
            labels = np.asarray(classes) if classes is not None else resolve_classes(t, challenger_pred, champion_pred)
        needed = set(self.floors) if first else {self.metric}
        for name in sorted(n for n in needed if METRICS[n].needs_proba):
            if challenger_proba is None or (not first and champion_proba is None):
                raise ConfigError(
                    f"The gate's {name!r} needs probabilities: pass challenger_proba"
                    f"{'' if first else ' and champion_proba'} to judge."
                )
        mine = evaluate(t, challenger_pred, challenger_proba, task=task, classes=labels, slices=slices)
        checks = self._limit_checks(challenger_latency_ms, challenger_size_bytes)
        theirs: Report | None = None
        test: PairedTest | None = None
        if first:
            checks += self._floor_checks(mine.overall)
        else:
            assert champion_pred is not None
            theirs = evaluate(t, champion_pred, champion_proba, task=task, classes=labels, slices=slices)
            test = self._paired_test(spec, t, labels, challenger_pred, champion_pred, challenger_proba, champion_proba)
            checks += self._test_checks(test, mine.overall, theirs.overall)
            checks += self._slice_checks(spec, mine, theirs)
        outcome, reason = self._decide(checks, test, mine.overall, theirs)
        evidence: JSONObject = {
            "gate": self.to_json(),
            "metric": self.metric,
            "higher_is_better": spec.higher_is_better,
            "first_model": first,
            "rows": len(t),
            "challenger": mine.to_json(),
            "champion": None if theirs is None else theirs.to_json(),
            "test": None if test is None else test.to_json(),
            "checks": [c.to_json() for c in checks],
            "failed_slices": _failed_slices(checks, mine, theirs, self.metric, self.slice_margin),
        }
        return Verdict(outcome, reason, evidence)

    # -- the checks ----------------------------------------------------------------------------------------------

    def _limit_checks(self, latency: Any, size: int | None) -> list[Check]:
        checks: list[Check] = []
        if self.max_latency_ms is not None:
            if latency is None:
                checks.append(Check("latency", "failed", None, self.max_latency_ms, "no latency was measured"))
            else:
                values = np.asarray(latency, dtype=np.float64)
                p99 = float(values) if values.ndim == 0 else float(np.percentile(values, 99))
                ok = p99 <= self.max_latency_ms
                relation = "within" if ok else "exceeds"
                detail = f"p99 latency {p99:.1f} ms {relation} the limit {self.max_latency_ms:g} ms"
                checks.append(Check("latency", "passed" if ok else "failed", p99, self.max_latency_ms, detail))
        if self.max_size_bytes is not None:
            if size is None:
                checks.append(Check("size", "failed", None, self.max_size_bytes, "no model size was given"))
            else:
                ok = size <= self.max_size_bytes
                detail = (
                    f"model size {size} bytes {'within' if ok else 'exceeds'} the limit {self.max_size_bytes} bytes"
                )
                checks.append(Check("size", "passed" if ok else "failed", size, self.max_size_bytes, detail))
        return checks

    def _floor_checks(self, overall: SliceReport) -> list[Check]:
        checks = []
        for name, bound in self.floors.items():
            value = overall.metrics.get(name)
            if value is None:
                why = overall.skipped.get(name, "it was not computed")
                checks.append(Check(f"floor {name}", "failed", None, bound, f"{name} is undefined: {why}"))
                continue
            higher = METRICS[name].higher_is_better
            ok = value >= bound if higher else value <= bound
            word = ("meets the floor" if ok else "is below the floor") if higher else ("within" if ok else "above")
            detail = (
                f"first model: {name} {value:.4f} {word} {bound:g}"
                if higher
                else (f"first model: {name} {value:.4f} is {word} the ceiling {bound:g}")
            )
            checks.append(Check(f"floor {name}", "passed" if ok else "failed", value, bound, detail))
        return checks

    def _test_checks(self, test: PairedTest, mine: SliceReport, theirs: SliceReport) -> list[Check]:
        ours, base = mine.metrics.get(self.metric), theirs.metrics.get(self.metric)
        compared = f"{self.metric} {_num(ours)} vs champion {_num(base)}"
        significant = test.p_value < self.alpha and test.effect > 0
        sign = "<" if test.p_value < self.alpha else ">="
        detail = f"{compared}: {test.test} p={test.p_value:.3g} {sign} alpha {self.alpha:g} (effect {test.effect:+.4f})"
        if test.effect <= 0:
            detail = f"{compared}: not better (effect {test.effect:+.4f}, {test.test} p={test.p_value:.3g})"
        big = test.effect >= self.min_effect
        effect_detail = (
            f"{compared}: effect {test.effect:+.4f} {'>=' if big else '<'} the minimum effect {self.min_effect:g}"
        )
        return [
            Check("significance", "passed" if significant else "failed", test.p_value, self.alpha, detail),
            Check("min_effect", "passed" if big else "failed", test.effect, self.min_effect, effect_detail),
        ]

    def _slice_checks(self, spec: MetricSpec, mine: Report, theirs: Report) -> list[Check]:
        checks = []
        sign = 1.0 if spec.higher_is_better else -1.0
        for ours, base in zip(mine.slices, theirs.slices, strict=True):
            name = f"slice {ours.name}"
            a, b = ours.metrics.get(self.metric), base.metrics.get(self.metric)
            if ours.rows < self.min_slice_rows:
                why = f"slice {ours.name}: only {ours.rows} rows (< min_slice_rows {self.min_slice_rows})"
                checks.append(Check(name, "skipped", ours.rows, self.min_slice_rows, why))
            elif a is None or b is None:
                why = ours.skipped.get(self.metric) or base.skipped.get(self.metric) or "undefined"
                checks.append(Check(name, "skipped", None, None, f"slice {ours.name}: {self.metric} undefined: {why}"))
            else:
                diff = sign * (a - b)
                ok = diff >= -self.slice_margin
                detail = (
                    f"slice {ours.name}: {self.metric} {a:.4f} vs champion {b:.4f} on {ours.rows} rows "
                    f"({diff:+.4f}; {'within' if ok else 'beyond'} the margin {self.slice_margin:g})"
                )
                checks.append(Check(name, "passed" if ok else "failed", diff, -self.slice_margin, detail))
        return checks

    def _paired_test(
        self,
        spec: MetricSpec,
        t: npt.NDArray[Any],
        labels: npt.NDArray[Any] | None,
        challenger: npt.ArrayLike,
        champion: npt.ArrayLike,
        challenger_proba: npt.ArrayLike | None,
        champion_proba: npt.ArrayLike | None,
    ) -> PairedTest:
        confidence = 1 - 2 * self.alpha
        binary = labels is not None and len(labels) == 2
        name = self.test
        if name == "auto":
            name = {"accuracy": "mcnemar", "roc_auc": "delong" if binary else "bootstrap"}.get(self.metric, "bootstrap")
        if name == "mcnemar":
            return mcnemar(t, challenger, champion, alternative="greater", confidence=confidence)
        if name == "delong":
            if not binary or labels is None:
                raise ConfigError("DeLong's test needs a binary task; use test='bootstrap' for a multiclass ROC AUC.")
            assert challenger_proba is not None
            assert champion_proba is not None
            a = _checked_proba(challenger_proba, len(t), labels)
            b = _checked_proba(champion_proba, len(t), labels)
            return delong(t, a, b, pos_label=labels[1], alternative="greater", confidence=confidence)
        scorer: Callable[[Any, Any], float]
        if spec.needs_proba:
            assert challenger_proba is not None
            assert champion_proba is not None
            assert labels is not None
            a, b = _checked_proba(challenger_proba, len(t), labels), _checked_proba(champion_proba, len(t), labels)
        else:
            a, b = np.asarray(challenger), np.asarray(champion)
        known = {"accuracy": accuracy, "mae": mae, "rmse": rmse}
        if spec.name in known:
            scorer = known[spec.name]
        else:

            def scorer(y: Any, predicted: Any) -> float:
                if spec.needs_proba:
                    return _score(spec.name, y, y, predicted, labels)
                return _score(spec.name, y, predicted, None, labels)

            scorer.__name__ = spec.name
        return paired_bootstrap(
            scorer,
            t,
            a,
            b,
            higher_is_better=spec.higher_is_better,
            n_resamples=self.n_resamples,
            confidence=confidence,
            alternative="greater",
            seed=self.seed,
        )

    def _decide(
        self, checks: list[Check], test: PairedTest | None, mine: SliceReport, theirs: Report | None
    ) -> tuple[Outcome, str]:
        failed = [c for c in checks if c.failed]
        if failed:
            more = (
                f" (and {len(failed) - 1} more failed check{'s' if len(failed) > 2 else ''})" if len(failed) > 1 else ""
            )
            return "reject", f"Rejected: {failed[0].detail}{more}."
        if test is None or theirs is None:
            floors = "meets every floor" if self.floors else "no floors configured"
            summary = f"first model, {self.metric} {_num(mine.metrics.get(self.metric))}, {floors}"
        else:
            low, high = test.ci
            summary = (
                f"{self.metric} {_num(mine.metrics.get(self.metric))} vs champion "
                f"{_num(theirs.overall.metrics.get(self.metric))}, effect {test.effect:+.4f} "
                f"({test.confidence:.0%} CI [{low:+.4f}, {high:+.4f}]), {test.test} p={test.p_value:.3g}"
            )
        if self.require_approval:
            return "needs_approval", f"Needs approval (require_approval is set): {summary}."
        if test is not None and self.auto_promote_effect is not None and test.effect < self.auto_promote_effect:
            return "needs_approval", (
                f"Needs approval: significant, but the effect {test.effect:+.4f} is below "
                f"auto_promote_effect {self.auto_promote_effect:g}; {summary}."
            )
        return "promote", f"Promoted: {summary}."


def _failed_slices(checks: list[Check], mine: Report, theirs: Report | None, metric: str, margin: float) -> list[JSON]:
    if theirs is None:
        return []
    failed = {c.name for c in checks if c.failed and c.name.startswith("slice ")}
    out: list[JSON] = []
    for ours, base in zip(mine.slices, theirs.slices, strict=True):
        if f"slice {ours.name}" in failed:
            out.append(
                {
                    "column": ours.column,
                    "value": ours.value,
                    "rows": ours.rows,
                    "challenger": ours.metrics[metric],
                    "champion": base.metrics[metric],
                    "margin": margin,
                }
            )
    return out


def _num(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.4f}"
