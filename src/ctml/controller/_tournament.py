"""The live tournament: a champion and standing challengers, judged on the rows they all answered before their
labels arrived.

The server logs the answering version's prediction of each row (route ``champion`` or ``canary``) and every
challenger's answer to it (route ``challenger``, naming the row it shadows), all before the row's label can
arrive. A row's label is stored against the answering prediction. :func:`live_rows` joins them back: for each
labelled row, the truth and each version's answer, whatever route the version had then (a promoted challenger
answered in shadow before and for real after). A tournament keeps the log's requests it read (``read_``), so
each cycle decodes only the new ones; a restarted one reads them all again, and sees the same rows.

:class:`LiveTournament` is the controller's part for it, three verbs that return a :class:`TournamentVerdict`:
``first_champion`` (which first candidate serves, judged on the first rows' holdout), ``step`` (score the
live rows; promote a challenger the gate prefers, or hold) and ``enter`` (a refit joins as a challenger). The
one paired judge, :func:`judge_paired`, runs the gate on both kinds of evidence. A verdict's :class:`Change` of
champion and challengers is stored with its decision first and applied after (:meth:`LiveTournament.apply`,
idempotent), so a controller killed in between finishes it, once.

>>> rows = LiveRows(["a", "b", "c"], [1, 0, 1], {1: {"a": 1, "b": 1, "c": 0}, 2: {"a": 1, "b": 0, "c": 1}})
>>> rows.score(2, "classification"), round(rows.score(1, "classification"), 4)
(1.0, 0.3333)
>>> change_rows([0.0] * 300 + [1.0] * 120, min_rows=50)  # ADWIN sees the change 20 rows after it happened
100
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from ctml.app import App
from ctml.drift import ADWIN
from ctml.errors import ConfigError, NotFoundError
from ctml.evaluate import Gate, Verdict, accuracy, mae
from ctml.meta import Answer, MetaStore, ModelVersion
from ctml.registry import ModelRegistry
from ctml.rollout import Rollouts
from ctml.rollout._machine import ACTIVE
from ctml.train import SlidingWindow
from ctml.types import JSON, JSONObject

__all__ = [
    "Change",
    "LiveRows",
    "LiveTournament",
    "TournamentVerdict",
    "change_rows",
    "judge_paired",
    "live_rows",
]

_Memo = dict[str, tuple[int, int, tuple[Answer, ...]]]
"""Requests of the prediction log read and decoded before (``meta.predictions.answers``'s ``decoded``)."""


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
        idx: Sequence[int] = range(len(self.keys))
        for v in versions:
            found = self.answers.get(v, {})
            idx = [i for i in idx if self.keys[i] in found]
        return list(idx)

    def answers_of(self, version: int, rows: Sequence[int]) -> list[JSON]:
        """``version``'s answers to the rows at indexes ``rows`` (it answered each)."""
        mine = self.answers[version]
        return [mine[self.keys[i]] for i in rows]

    def score(self, version: int, task: str) -> float | None:
        """Accuracy (classification) or MAE of ``version`` on the rows it answered; None when it answered none."""
        idx = self.paired(version)
        if not idx:
            return None
        truth = encode([self.truth[i] for i in idx], task)
        answers = encode(self.answers_of(version, idx), task)
        return accuracy(truth, answers) if task == "classification" else mae(truth, answers)

    def errors(self, task: str) -> list[float]:
        """The served answer's error on each row (0/1, or the absolute error), oldest first."""
        truth: list[JSON] = []
        answers: list[JSON] = []
        for i, key in enumerate(self.keys):
            version = self.served[i] if i < len(self.served) else None
            answer = self.answers.get(version, {}).get(key) if version is not None else None
            if answer is not None:
                truth.append(self.truth[i])
                answers.append(answer)
        if not truth:
            return []
        t, a = encode(truth, task), encode(answers, task)
        errors = (t != a).astype(np.float64) if task == "classification" else np.abs(a - t)
        return [float(e) for e in errors]


def live_rows(meta: MetaStore, app: str, *, rows: int, versions: int, decoded: _Memo | None = None) -> LiveRows:
    """The newest ``rows`` labelled rows of ``app`` with the answer of every version that gave one (``versions``:
    how many versions may have answered each row, to read enough of the log). ``decoded``: a memo of the log's
    requests kept from the last call (``meta.predictions.answers``), so that only new requests are
    decoded; the rows are the same with it or without."""
    truth: dict[str, JSON] = {}
    served: dict[str, int] = {}
    answers: dict[int, dict[str, JSON]] = {}
    for answer in meta.predictions.answers(app, limit=rows * max(1, versions), decoded=decoded):
        if not answer.shadow:
            served[answer.row] = answer.version
            if answer.label is not None:
                truth[answer.row] = answer.label
        answers.setdefault(answer.version, {})[answer.row] = answer.prediction
    keys = [k for k in truth][-rows:]
    return LiveRows(keys, [truth[k] for k in keys], answers, [served[k] for k in keys])


def encode(values: Sequence[Any], task: str) -> npt.NDArray[Any]:
    """Labels or answers as the gate and the metrics compare them: text for a class (so 1 and "1" are one),
    floats for a regression."""
    if task == "classification":
        return np.asarray([str(v) for v in values], dtype=object)
    return np.asarray(values, dtype=np.float64)


def judge_paired(gate: Gate, truth: Sequence[Any], challenger: Sequence[Any], champion: Sequence[Any],
                 task: str) -> Verdict:  # fmt: skip
    """The gate's verdict on ``challenger``'s answers against ``champion``'s to the same rows of ``truth``
    (a holdout's, or live rows both answered): the one paired judge of the tournament.

    >>> gate = Gate(min_effect=0.0, floors={})
    >>> judge_paired(gate, [1, 0] * 50, ["1", "0"] * 50, [1] * 100, "classification").outcome
    'promote'
    >>> judge_paired(gate, [1, 0, 1], [1, 0, 1], [1, 1], "classification").reason
    'no paired answers to compare (3 challenger, 2 champion answers for 3 rows)'
    """
    if not len(challenger) == len(champion) == len(truth):
        return Verdict("reject", f"no paired answers to compare ({len(challenger)} challenger, {len(champion)} "
                       f"champion answers for {len(truth)} rows)", {})  # fmt: skip
    y, a, b = encode(truth, task), encode(challenger, task), encode(champion, task)
    if task == "classification":
        classes = np.asarray(sorted(set(y.tolist()) | set(a.tolist()) | set(b.tolist())), dtype=object)
        return gate.judge(y, a, b, classes=classes)
    return gate.judge(y, a, b)


def change_rows(errors: Sequence[float], *, min_rows: int) -> int:
    """Rows since the last change ADWIN finds in ``errors`` (all of them when it finds none), at least
    ``min_rows``: how far back a refit should reach."""
    detector = ADWIN()
    last = 0
    for i, e in enumerate(errors):
        if detector.update(float(e)).drift_detected:
            last = i + 1
    return max(min_rows, len(errors) - last)


@dataclass(frozen=True)
class Change:
    """Where the tournament goes next: ``champion`` the version to promote (None: the champion stays),
    ``challengers`` the versions standing beside it; ``rollout``: promote through the app's roll-out plan
    instead of at once. Stored with its decision before it is applied, so a restart can apply it."""

    challengers: tuple[int, ...]
    champion: int | None = None
    rollout: bool = False
    reason: str = ""

    def to_json(self) -> JSONObject:
        return {"challengers": list(self.challengers), "champion": self.champion, "rollout": self.rollout,
                "reason": self.reason}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Change:
        champion = data.get("champion")
        return cls(tuple(int(v) for v in data.get("challengers") or ()), None if champion is None else int(champion),
                   bool(data.get("rollout")), str(data.get("reason", "")))  # fmt: skip


@dataclass(frozen=True)
class TournamentVerdict:
    """What a verb of :class:`LiveTournament` found: ``outcome`` (``promote``, ``enter`` or ``hold``), a one-line
    ``summary`` and its ``evidence``, the ``version`` it is about, and the :class:`Change` to apply (None for a
    hold)."""

    outcome: str
    summary: str
    evidence: JSONObject
    version: int
    run_id: str | None = None
    change: Change | None = None


class LiveTournament:
    """The tournament of ``app`` (its :class:`ctml.app.Tournament`) over registry model ``model``: it reads
    the route table's challengers and the live rows, and owns the ``challengers`` entry of the route table."""

    def __init__(self, meta: MetaStore, registry: ModelRegistry, rollouts: Rollouts, app: App, model: str) -> None:
        if app.tournament is None:
            raise ConfigError(f"App {app.name!r} has no tournament; give it one (App(..., tournament=Tournament())).")
        self.meta = meta
        self.registry = registry
        self.rollouts = rollouts
        self.app = app
        self.spec = app.tournament
        self.model = model
        self.gate = self.spec.gate or replace(app.gate, floors={})
        self.standings_key_: str | None = None
        """The newest row of the last stored standings (a hold is stored once a quarter of the window is new)."""
        self.read_: _Memo = {}
        """The requests of the log the last step read, decoded: the next step reads only the newer ones."""
        self.refit_read_: _Memo = {}
        """Those the last refit read, a longer stretch of the log up to then."""

    # -- the verbs ---------------------------------------------------------------------------------------------

    def first_champion(self, candidates: Sequence[ModelVersion], truth: Sequence[Any]) -> TournamentVerdict:
        """Of the first job's registered ``candidates`` (the app's model first), the one that serves first: the
        first challenger, unless the gate prefers another on the holdout (``truth``) of the first rows."""
        incumbent = candidates[1] if len(candidates) > 1 else candidates[0]
        best, reason = incumbent, "the tournament's first challenger starts as champion"
        task = str(incumbent.meta.get("task", "classification"))
        theirs = _holdout(incumbent)
        top = 0.0
        for v in candidates:
            if v.version == incumbent.version:
                continue
            verdict = judge_paired(self.gate, truth, _holdout(v), theirs, task)
            effect = _effect(verdict)
            if verdict.promoted and effect > top:
                best, top, reason = v, effect, f"it beat v{incumbent.version} on the first rows' holdout"
        others = [v.version for v in candidates if v.version != best.version]
        scores: JSONObject = {str(v.version): v.meta.get("holdout_score") for v in candidates}
        summary = (f"v{best.version} serves first ({reason}; holdout {scores[str(best.version)]}); "
                   "the others stand as challengers")  # fmt: skip
        evidence: JSONObject = {"scores": scores, "champion": best.version, "challengers": list(others),
                                "first_model": True}  # fmt: skip
        return TournamentVerdict("promote", summary, evidence, best.version, best.run_id,
                                 Change(tuple(others), best.version, reason=summary))  # fmt: skip

    def step(self, champion_version: ModelVersion) -> TournamentVerdict | None:
        """Score every candidate on the newest live labelled rows: a ``promote`` of the challenger the gate
        prefers most (largest effect), else a ``hold`` with the standings once a quarter of the window is new
        rows, else None."""
        challengers = self.challengers()
        if not challengers:
            return None
        champion = champion_version.version
        task = str(champion_version.meta.get("task", "classification"))
        rows = live_rows(self.meta, self.app.name, rows=self.spec.window_rows, versions=1 + len(challengers),
                         decoded=self.read_)  # fmt: skip
        best: tuple[float, int, Verdict, int] | None = None
        for version in challengers:
            if version == champion:
                continue
            idx = rows.paired(champion, version)
            if len(idx) < self.spec.min_rows:
                continue
            truth = [rows.truth[i] for i in idx]
            verdict = judge_paired(self.gate, truth, rows.answers_of(version, idx), rows.answers_of(champion, idx),
                                   task)  # fmt: skip
            effect = _effect(verdict)
            if verdict.promoted and (best is None or effect > best[0]):
                best = (effect, version, verdict, len(idx))
        standings: JSONObject = {}
        for v in [champion, *challengers]:
            standings[str(v)] = {"rows": len(rows.answers.get(v, {})), "score": rows.score(v, task)}
        if best is None:
            return self._hold(rows, standings, champion)
        _, version, verdict, n = best
        summary = (f"v{version} beat the champion v{champion} on {n:,} live labelled rows both answered "
                   f"before their labels arrived ({verdict.reason})")  # fmt: skip
        evidence: JSONObject = {"champion": champion, "challenger": version, "rows": n, "standings": standings,
                                "verdict": verdict.to_json(), "direct": self.spec.direct}  # fmt: skip
        # the previous champion stays in the tournament: a promotion that stops paying is undone the same way
        change = Change((*[v for v in challengers if v != version], champion), version, not self.spec.direct, summary)
        return TournamentVerdict("promote", summary, evidence, version, change=change)

    def enter(self, refit: ModelVersion) -> TournamentVerdict:
        """A batch refit joins as a challenger, replacing the oldest batch refits beyond the spec's limit."""
        limit = self.spec.batch_challengers
        current = self.challengers()
        # the refit itself is left out: after a restart it may stand already, and must not count as an old one
        refits = [v for v in current if v != refit.version and self._is_refit(v)]
        keep = refits[-(limit - 1) :] if limit > 1 else []
        dropped = [v for v in refits if v not in keep]
        challengers = [v for v in current if v not in dropped and v != refit.version]
        if limit > 0:
            challengers.append(refit.version)
        window = refit.meta.get("window")
        summary = (f"v{refit.version} (refit on {window or 'the window'} rows) joins the tournament; "
                   f"it is promoted only if it beats the champion on live rows")  # fmt: skip
        evidence: JSONObject = {"version": refit.version, "window": window, "challengers": list(challengers),
                                "dropped": list(dropped)}  # fmt: skip
        return TournamentVerdict("enter", summary, evidence, refit.version, refit.run_id, Change(tuple(challengers)))

    def refit_window(self, champion: ModelVersion) -> int | None:
        """Rows since ADWIN's last change point in the champion's live errors, within the training strategy's
        window (None: refit on the strategy's own window)."""
        strategy = self.app.training
        if not self.spec.adaptive_window or not isinstance(strategy, SlidingWindow) or strategy.rows is None:
            return None
        held = _joined(self.refit_read_, self.read_)  # the step read the newest this cycle, the last refit older ones
        rows = live_rows(self.meta, self.app.name, rows=strategy.rows, versions=1 + len(self.challengers()),
                         decoded=held)  # fmt: skip
        self.refit_read_ = held
        errors = rows.errors(str(champion.meta.get("task", "classification")))
        if len(errors) < self.spec.min_rows:
            return None
        return min(strategy.rows, change_rows(errors, min_rows=max(self.spec.min_rows, strategy.rows // 4)))

    # -- the route table and the registry ----------------------------------------------------------------------

    def challengers(self) -> list[int]:
        """The standing challengers' versions, as the route table lists them (unknown ones left out)."""
        record = self.meta.routes.get(self.app.name)
        refs = [] if record is None else record.routes.get("challengers") or []
        out: list[int] = []
        for ref in refs if isinstance(refs, list) else []:
            try:
                out.append(self.registry.resolve(self.model, str(ref)).version)
            except NotFoundError:
                continue
        return out

    def apply(self, change: Change) -> str | None:
        """Make the registry and the route table say what ``change`` says; each write only if it is not there
        yet, so applying a change twice promotes once. The roll-out's status when one started."""
        status = None
        promote = change.champion
        if promote is not None and not change.rollout and self._champion() != promote:
            self.registry.promote(self.model, promote, "champion", reason=change.reason)
        self._set_challengers(list(change.challengers))
        if promote is not None and change.rollout:
            current = self.rollouts.current(self.app.name)
            started = current is not None and current[0].status == ACTIVE and current[0].candidate == promote
            if not started:
                status = self.rollouts.start(self.app.name, self.model, promote, self.app.rollout,
                                             reason=change.reason).status  # fmt: skip
        return status

    def _set_challengers(self, versions: list[int]) -> None:
        record = self.meta.routes.get(self.app.name)
        table: JSONObject = dict(record.routes) if record is not None else {"champion": "champion"}
        table["challengers"] = [f"v{v}" for v in dict.fromkeys(versions)]
        self.meta.routes.set(self.app.name, table, expected_revision=0 if record is None else record.revision)

    def _champion(self) -> int | None:
        try:
            return self.registry.resolve(self.model, "champion").version
        except NotFoundError:
            return None

    def _is_refit(self, version: int) -> bool:
        found = self.registry.resolve(self.model, version)
        return found.meta.get("candidate") is None and not found.meta.get("online")

    def _hold(self, rows: LiveRows, standings: JSONObject, champion: int) -> TournamentVerdict | None:
        newest = rows.keys[-1] if rows.keys else None
        if newest is None:
            return None
        last = self.standings_key_
        fresh = len(rows.keys) if last not in rows.keys else len(rows.keys) - 1 - rows.keys.index(last)
        if last is not None and fresh < max(1, self.spec.window_rows // 4):
            return None
        self.standings_key_ = newest
        summary = f"champion v{champion} holds: no challenger beat it on {len(rows.keys):,} live labelled rows"
        evidence: JSONObject = {"champion": champion, "standings": standings, "rows": len(rows.keys)}
        return TournamentVerdict("hold", summary, evidence, champion)


def _joined(older: _Memo, newer: _Memo) -> _Memo:
    """One stretch of the log from two memos of it (``meta.predictions.answers``): the older one's requests up to
    where the newer one's begin, then the newer one's; the newer one alone where they do not meet, or disagree
    where they overlap (a request was written among the older one's since it was read)."""
    keys = list(newer)
    if not keys or keys[0] not in older:
        return dict(newer)
    before = list(older)
    start = before.index(keys[0])
    if keys[: len(before) - start] != before[start:]:
        return dict(newer)
    return {**{k: older[k] for k in before[:start]}, **newer}


def _holdout(version: ModelVersion) -> list[JSON]:
    found = version.meta.get("holdout_predictions")
    return found if isinstance(found, list) else []


def _effect(verdict: Verdict) -> float:
    test = verdict.evidence.get("test")
    return float(test.get("effect", 0.0)) if isinstance(test, dict) else 0.0  # type: ignore[arg-type]
