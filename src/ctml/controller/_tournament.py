"""The live tournament: every candidate's answers to the same labelled rows, read back from the prediction log.

The server logs the answering version's prediction of each row (route ``champion`` or ``canary``) and every
challenger's answer to it (route ``challenger``, naming the row it shadows), all before the row's label can
arrive. A row's label is stored against the answering prediction. :func:`live_rows` joins them back: for each
labelled row, the truth and each version's answer, whatever route the version had then (a promoted challenger
answered in shadow before and for real after). :func:`judge_live` runs the gate on the rows two versions both
answered: evidence from rows neither had learned, which is what production will see next.

>>> rows = LiveRows(["a", "b", "c"], [1, 0, 1], {1: {"a": 1, "b": 1, "c": 0}, 2: {"a": 1, "b": 0, "c": 1}})
>>> rows.score(2, "classification"), round(rows.score(1, "classification"), 4)
(1.0, 0.3333)
>>> change_rows([0.0] * 300 + [1.0] * 120, min_rows=50)  # ADWIN sees the change 20 rows after it happened
100
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ctml.drift import ADWIN
from ctml.evaluate import Gate, Verdict
from ctml.meta import MetaStore
from ctml.types import JSON, JSONObject

__all__ = ["LiveRows", "change_rows", "judge_live", "live_rows", "standings_json"]


@dataclass
class LiveRows:
    """``keys``: the answering prediction ids of labelled rows, oldest first; ``truth``: their labels;
    ``answers``: version -> row key -> that version's answer."""

    keys: list[str]
    truth: list[JSON]
    answers: dict[int, dict[str, JSON]] = field(default_factory=dict)
    served: list[int] = field(default_factory=list)
    """The version that answered each row for real."""

    def paired(self, *versions: int) -> list[int]:
        """Indexes of the rows every one of ``versions`` answered."""
        found = [self.answers.get(v, {}) for v in versions]
        return [i for i, k in enumerate(self.keys) if all(k in f for f in found)]

    def score(self, version: int, task: str) -> float | None:
        """Accuracy (classification) or MAE of ``version`` on the rows it answered; None when it answered none."""
        mine = self.answers.get(version, {})
        idx = [i for i, k in enumerate(self.keys) if k in mine]
        if not idx:
            return None
        truth = [self.truth[i] for i in idx]
        pred = [mine[self.keys[i]] for i in idx]
        return _score(truth, pred, task)

    def errors(self, task: str) -> list[float]:
        """The served answer's error on each row (0/1, or the absolute error), oldest first."""
        out = []
        for i, key in enumerate(self.keys):
            version = self.served[i] if i < len(self.served) else None
            answer = self.answers.get(version, {}).get(key) if version is not None else None
            if answer is None:
                continue
            out.append(_loss(self.truth[i], answer, task))
        return out


def live_rows(meta: MetaStore, app: str, *, rows: int, versions: int) -> LiveRows:
    """The newest ``rows`` labelled rows of ``app`` with the answer of every version that gave one (``versions``:
    how many versions may have answered each row, to read enough of the log)."""
    records = meta.predictions.labeled(app, limit=rows * max(1, versions), newest=True, with_inputs=False)
    truth: dict[str, JSON] = {}
    served: dict[str, int] = {}
    answers: dict[int, dict[str, JSON]] = {}
    for record in records:
        p = record.prediction
        output = p.output if isinstance(p.output, dict) else {}
        if "error" in output or "prediction" not in output:
            continue
        shadow_of = output.get("shadow_of")
        key = shadow_of if isinstance(shadow_of, str) else p.id
        if shadow_of is None:
            served[key] = p.version
            if record.label is not None:
                truth[key] = record.label
        answers.setdefault(p.version, {})[key] = output["prediction"]
    keys = [k for k in truth][-rows:]
    return LiveRows(keys, [truth[k] for k in keys], answers, [served[k] for k in keys])


def judge_live(gate: Gate, rows: LiveRows, champion: int, challenger: int, task: str) -> tuple[Verdict, int]:
    """The gate's verdict on ``challenger`` against ``champion`` on the rows both answered, and how many."""
    idx = rows.paired(champion, challenger)
    t = [rows.truth[i] for i in idx]
    mine = [rows.answers[challenger][rows.keys[i]] for i in idx]
    theirs = [rows.answers[champion][rows.keys[i]] for i in idx]
    if task == "classification":
        y, a, b = (np.asarray([str(v) for v in x], dtype=object) for x in (t, mine, theirs))
        classes = np.asarray(sorted(set(y.tolist()) | set(a.tolist()) | set(b.tolist())), dtype=object)
        verdict = gate.judge(y, a, b, classes=classes)
    else:
        y, a, b = (np.asarray(x, dtype=np.float64) for x in (t, mine, theirs))
        verdict = gate.judge(y, a, b)
    return verdict, len(idx)


def change_rows(errors: Sequence[float], *, min_rows: int) -> int:
    """Rows since the last change ADWIN finds in ``errors`` (all of them when it finds none), at least
    ``min_rows``: how far back a refit should reach."""
    detector = ADWIN()
    last = 0
    for i, e in enumerate(errors):
        if detector.update(float(e)).drift_detected:
            last = i + 1
    return max(min_rows, len(errors) - last)


def standings_json(rows: LiveRows, versions: Sequence[int], task: str) -> JSONObject:
    out: JSONObject = {}
    for v in versions:
        score = rows.score(v, task)
        out[str(v)] = {"rows": len(rows.answers.get(v, {})), "score": score}
    return out


def _score(truth: list[JSON], pred: list[JSON], task: str) -> float:
    losses = [_loss(t, p, task) for t, p in zip(truth, pred, strict=True)]
    mean = float(np.mean(losses))
    return 1.0 - mean if task == "classification" else mean


def _loss(truth: Any, answer: Any, task: str) -> float:
    if task == "classification":
        return 0.0 if str(truth) == str(answer) else 1.0
    return abs(float(truth) - float(answer))
