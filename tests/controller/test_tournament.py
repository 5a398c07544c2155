"""The tournament as its own part (``controller/_tournament.py``): its verbs on a workspace whose prediction log
holds live rows answered by a champion and its challengers, the one paired judge, and a ``kill -9`` between the
state changes of a promotion (stored with its decision, the alias moved, the route table changed): no promotion
is lost and none is done twice."""

from __future__ import annotations

import json
import multiprocessing
import signal
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ctml.clock import SimulatedClock
from ctml.controller import Controller
from ctml.controller._tournament import Change, LiveRows, LiveTournament, judge_paired, live_rows
from ctml.evaluate import Gate, accuracy, mae
from ctml.meta import Answer, ModelVersion
from ctml.train import SlidingWindow
from ctml.workspace import Workspace

from ._process import OWNER, TOURNAMENT_POINTS, run_tournament_cycle
from .conftest import open_workspace, tournament_app

APP = "elec2"
ROWS = 300


@pytest.fixture
def workspace(tmp_path: Path, clock: SimulatedClock) -> Workspace:
    return open_workspace(tmp_path, f"sqlite:///{tmp_path / 'meta.db'}", clock)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def either_workspace(request: pytest.FixtureRequest, tmp_path: Path, clock: SimulatedClock) -> Workspace:
    """A workspace on SQLite, and on a scratch PostgreSQL database."""
    if request.param == "sqlite":
        return open_workspace(tmp_path, f"sqlite:///{tmp_path / 'meta.db'}", clock)
    url: str = request.getfixturevalue("postgres_url")
    return open_workspace(tmp_path, url, clock)


def register(ws: Workspace, **meta: Any) -> ModelVersion:
    base: dict[str, Any] = {"task": "classification"}
    return ws.meta.models.create_version(APP, app=APP, artifact_digest=None, flavor=None, meta={**base, **meta})


def log_live(ws: Workspace, truth: list[str], answers: dict[int, list[str]], champion: int) -> None:
    """The champion answers each row for real, every other version in shadow; then every label arrives."""
    requests = []
    for n in range(len(truth)):
        rid = f"r{n:06d}"
        for version, said in answers.items():
            output: dict[str, Any] = {"predictions": [said[n]]}
            if version != champion:
                output["shadow_of"] = rid
            requests.append({"id": rid if version == champion else f"s{version}x{n:06d}", "app": APP, "model": APP,
                             "version": version, "route": "champion" if version == champion else "challenger",
                             "rows": 1, "inputs": "{}", "output": json.dumps(output), "latency_ms": 1.0,
                             "at_ms": 1_772_323_200_000 + n})  # fmt: skip
    ws.meta.predictions.append(requests)
    ws.meta.predictions.add_feedback(APP, {f"r{n:06d}-0": (json.dumps(label), None) for n, label in enumerate(truth)})


def standing(ws: Workspace, champion: int, challengers: list[int]) -> None:
    ws.meta.models.set_alias(APP, "champion", champion)
    ws.meta.routes.set(APP, {"champion": "champion", "challengers": [f"v{v}" for v in challengers]})


def stream(seed: int, right: float) -> tuple[list[str], list[str]]:
    """Labels, and answers right on about ``right`` of them."""
    rng = np.random.default_rng(seed)
    truth = [str(v) for v in rng.choice(["UP", "DOWN"], ROWS)]
    flip = rng.random(ROWS) > right
    return truth, [("DOWN" if t == "UP" else "UP") if f else t for t, f in zip(truth, flip, strict=True)]


def promotable(ws: Workspace) -> None:
    """v1 serves (about 60% right), v2 answers in shadow (about 95% right) on 300 labelled rows."""
    register(ws, candidate=0, online=False)
    register(ws, candidate=1, online=True)
    truth, weak = stream(1, 0.6)
    _, strong = stream(1, 0.95)
    standing(ws, 1, [2])
    log_live(ws, truth, {1: weak, 2: strong}, champion=1)


def tournament(ws: Workspace, tmp_path: Path, **spec: Any) -> LiveTournament:
    app = tournament_app(tmp_path / "data")
    if spec:
        app = replace(app, tournament=replace(app.tournament, **spec))
    controller = Controller(ws, app)
    assert controller.tournament is not None
    return controller.tournament


# -- the paired judge and the live rows ------------------------------------------------------------------------


def test_judge_paired_rejects_answers_that_do_not_pair_with_the_truth() -> None:
    gate = Gate(min_effect=0.0, floors={})
    # the chained check it replaces (len(mine) != len(theirs) != len(truth)) let this through: 3 == 3, 3 != 2
    verdict = judge_paired(gate, ["a", "b"], ["a", "b", "a"], ["a", "b", "b"], "classification")
    assert verdict.outcome == "reject"
    assert "3 challenger, 3 champion answers for 2 rows" in verdict.reason
    assert judge_paired(gate, ["a", "b", "a"], ["a", "b"], ["a", "b", "b"], "classification").outcome == "reject"


def test_judge_paired_judges_labels_as_text_and_regressions_as_numbers() -> None:
    gate = Gate(min_effect=0.0, floors={})
    truth = [1, 0] * 100
    verdict = judge_paired(gate, truth, ["1", "0"] * 100, [1] * 200, "classification")  # "1" and 1 are one class
    assert verdict.promoted
    numbers = judge_paired(gate, [1.0, 2.0] * 100, [1.0, 2.0] * 100, [3.0, 0.5] * 100, "regression")
    assert numbers.promoted


def test_live_scores_are_the_evaluate_metrics_on_the_rows_each_version_answered() -> None:
    rows = LiveRows(["a", "b", "c", "d"], ["1", "0", "1", "1"], {1: {"a": 1, "b": 1, "c": 1, "d": 0},
                                                               2: {"b": 0, "c": 0}}, [1, 1, 1, 1])  # fmt: skip
    assert rows.score(1, "classification") == accuracy(["1", "0", "1", "1"], ["1", "1", "1", "0"])
    assert rows.score(2, "classification") == 0.5
    assert rows.score(3, "classification") is None
    assert rows.errors("classification") == [0.0, 1.0, 0.0, 1.0]
    numbers = LiveRows(["a", "b"], [1.0, 3.0], {1: {"a": 2.0, "b": 1.0}}, [1, 1])
    assert numbers.score(1, "regression") == mae([1.0, 3.0], [2.0, 1.0]) == 1.5
    assert numbers.errors("regression") == [1.0, 2.0]


def test_live_rows_join_each_label_with_every_versions_answer(workspace: Workspace) -> None:
    log_live(workspace, ["UP", "DOWN", "UP"], {1: ["UP", "UP", "UP"], 2: ["UP", "DOWN", "DOWN"]}, champion=1)
    rows = live_rows(workspace.meta, APP, rows=2, versions=2)
    assert rows.keys == ["r000001-0", "r000002-0"]
    assert rows.truth == ["DOWN", "UP"]
    assert rows.served == [1, 1]
    assert rows.paired(1, 2) == [0, 1]
    assert rows.answers_of(2, [0, 1]) == ["DOWN", "DOWN"]


# -- the verbs -------------------------------------------------------------------------------------------------


def test_first_champion_is_the_first_challenger_unless_another_beats_it_on_the_holdout(
    workspace: Workspace, tmp_path: Path
) -> None:
    part = tournament(workspace, tmp_path)
    truth, weak = stream(2, 0.6)
    _, strong = stream(2, 0.97)
    model = register(workspace, candidate=0, holdout_predictions=strong, holdout_score=0.97)
    first = register(workspace, candidate=1, holdout_predictions=weak, holdout_score=0.6)
    verdict = part.first_champion([model, first], truth)
    assert (verdict.outcome, verdict.version) == ("promote", model.version)
    assert verdict.change == Change((first.version,), model.version, reason=verdict.summary)
    assert "beat v2 on the first rows' holdout" in verdict.summary
    even = part.first_champion([replace(model, meta={**model.meta, "holdout_predictions": weak}), first], truth)
    assert even.version == first.version
    assert "first challenger starts as champion" in even.summary
    short = part.first_champion([replace(model, meta={**model.meta, "holdout_predictions": strong[:-1]}), first],
                                truth)  # fmt: skip
    assert short.version == first.version  # answers that do not pair with the holdout prove nothing


def test_step_promotes_a_challenger_the_gate_prefers_and_apply_moves_the_alias_once(
    either_workspace: Workspace, tmp_path: Path
) -> None:
    workspace = either_workspace
    promotable(workspace)
    part = tournament(workspace, tmp_path)
    verdict = part.step(workspace.registry.resolve(APP, "champion"))
    assert verdict is not None
    assert (verdict.outcome, verdict.version) == ("promote", 2)
    assert verdict.change == Change((1,), 2, rollout=False, reason=verdict.summary)
    assert verdict.evidence["rows"] == ROWS
    standings = verdict.evidence["standings"]
    assert isinstance(standings, dict)
    assert set(standings) == {"1", "2"}
    assert part.apply(verdict.change) is None
    assert part.apply(verdict.change) is None  # applied again after a restart: nothing moves twice
    moves = workspace.registry.history(APP, "champion")
    assert [m.to_version for m in moves] == [2, 1]
    assert part.challengers() == [1]


def test_without_direct_a_promotion_starts_the_roll_out_once(workspace: Workspace, tmp_path: Path) -> None:
    promotable(workspace)
    part = tournament(workspace, tmp_path, direct=False)
    verdict = part.step(workspace.registry.resolve(APP, "champion"))
    assert verdict is not None
    assert verdict.change == Change((1,), 2, rollout=True, reason=verdict.summary)
    assert part.apply(verdict.change) == "active"
    assert part.apply(verdict.change) is None  # after a restart: the roll-out it started goes on
    rollout = part.rollouts.current(APP)
    assert rollout is not None
    assert (rollout[0].candidate, rollout[0].previous) == (2, 1)
    assert [m.to_version for m in workspace.registry.history(APP, "champion")] == [1]  # the plan moves it later
    assert part.challengers() == [1]


def test_step_holds_with_standings_once_a_quarter_of_the_window_is_new(workspace: Workspace, tmp_path: Path) -> None:
    register(workspace, candidate=0)
    register(workspace, candidate=1, online=True)
    truth, answers = stream(3, 0.8)
    standing(workspace, 1, [2])
    log_live(workspace, truth, {1: answers, 2: answers}, champion=1)
    part = tournament(workspace, tmp_path)
    champion = workspace.registry.resolve(APP, "champion")
    verdict = part.step(champion)
    assert verdict is not None
    assert (verdict.outcome, verdict.version, verdict.change) == ("hold", 1, None)
    assert part.step(champion) is None  # no new rows since the standings were stored


def test_step_waits_for_min_rows_paired_rows(workspace: Workspace, tmp_path: Path) -> None:
    promotable(workspace)
    part = tournament(workspace, tmp_path, min_rows=ROWS + 1, window_rows=2 * ROWS)
    verdict = part.step(workspace.registry.resolve(APP, "champion"))
    assert verdict is not None
    assert verdict.outcome == "hold"


def test_enter_replaces_the_oldest_refits_and_is_the_same_after_a_restart(workspace: Workspace, tmp_path: Path) -> None:
    register(workspace, candidate=1, online=True)  # v1: the online champion
    register(workspace, candidate=2, online=True)  # v2: an online challenger
    register(workspace)  # v3, v4: batch refits that joined before
    register(workspace)
    refit = register(workspace, window=500)  # v5
    standing(workspace, 1, [2, 3, 4])
    part = tournament(workspace, tmp_path, batch_challengers=2)
    verdict = part.enter(refit)
    assert verdict.outcome == "enter"
    assert verdict.change == Change((2, 4, 5))
    assert verdict.evidence["dropped"] == [3]
    part.apply(verdict.change)
    assert part.challengers() == [2, 4, 5]
    assert part.enter(refit).change == verdict.change  # a restart enters the same refit the same way


# -- kill -9 between the state changes of a promotion ----------------------------------------------------------


@pytest.mark.parametrize("point", TOURNAMENT_POINTS)
def test_a_promotion_killed_between_its_state_changes_is_finished_once(
    tmp_path: Path, clock: SimulatedClock, point: str
) -> None:
    url = f"sqlite:///{tmp_path / 'meta.db'}"
    ws = open_workspace(tmp_path, url, clock)
    promotable(ws)
    marks = tmp_path / "marks"
    marks.mkdir()
    context = multiprocessing.get_context("forkserver")
    args = (str(tmp_path), url, str(tmp_path / "data"), point, str(marks))
    process = context.Process(target=run_tournament_cycle, args=args, daemon=True)
    process.start()
    deadline = time.monotonic() + 120
    while not (marks / point).exists():
        assert process.is_alive(), f"the controller exited ({process.exitcode}) before reaching {point!r}"
        assert time.monotonic() < deadline, f"the controller did not reach {point!r}"
        time.sleep(0.05)
    process.kill()
    process.join(10)
    assert process.exitcode == -signal.SIGKILL

    restarted = Controller(ws, tournament_app(tmp_path / "data"), owner=OWNER)
    actions = restarted.reconcile_once()
    assert str(actions[0]) == "tournament=recovered"
    promotions = ws.meta.decisions.list(app=APP, kind="tournament")
    assert [(d.outcome, d.version) for d in promotions if d.outcome == "promote"] == [("promote", 2)]
    assert [m.to_version for m in ws.registry.history(APP, "champion")] == [2, 1]
    state, _ = restarted.state()
    assert state.applying is None
    assert state.champion is not None
    assert state.champion["version"] == 2
    assert restarted.tournament is not None
    assert restarted.tournament.challengers() == [1]
    assert not [str(a) for a in restarted.reconcile_once() if a.kind == "gate"]  # v1 does not come back


def test_answers_read_what_the_labelled_records_say(either_workspace: Workspace) -> None:
    """The tournament's lean read of the log (``PredictionRepo.answers``) against the full records
    (``labeled``): multi-row requests, shadows, a failed request, an output that is not an object, rows without a
    label."""
    log_live(either_workspace, ["UP", "DOWN", "UP"], {1: ["UP", "UP", "UP"], 2: ["UP", "DOWN", "DOWN"]}, champion=1)
    batch = {"predictions": ["DOWN", "UP"], "probabilities": [[0.9, 0.1], [0.2, 0.8]]}
    later = [
        {"id": "r9", "rows": 2, "version": 1, "route": "champion", "output": batch},
        {
            "id": "s9",
            "rows": 2,
            "version": 2,
            "route": "challenger",
            "output": {"predictions": ["UP"], "shadow_of": "r9"},
        },
        {"id": "e9", "rows": 1, "version": 2, "route": "challenger", "output": {"error": "boom", "shadow_of": "r9"}},
        {"id": "x9", "rows": 1, "version": 3, "route": "challenger", "output": ["not", "an", "object"]},
    ]
    either_workspace.meta.predictions.append(
        [
            {
                "app": APP,
                "model": APP,
                "inputs": "{}",
                "latency_ms": 1.0,
                "at_ms": 1_772_323_300_000,
                **r,
                "output": json.dumps(r["output"]),
            }
            for r in later
        ]
    )
    either_workspace.meta.predictions.add_feedback(APP, {"r9-1": ('"UP"', None), "r000000-0": ('"DOWN"', None)})
    for limit in (1, 4, 7, 50):
        expected = []
        records = either_workspace.meta.predictions.labeled(APP, limit=limit, newest=True, with_inputs=False)
        for record in records:
            p = record.prediction
            output = p.output if isinstance(p.output, dict) else {}
            if "error" in output:
                continue
            shadow = output.get("shadow_of")
            expected.append((shadow or p.id, p.version, output["prediction"], shadow is not None,
                             None if shadow is not None else record.label))  # fmt: skip
        got = [tuple(a) for a in either_workspace.meta.predictions.answers(APP, limit=limit)]
        assert got == expected  # the same newest whole requests, even where they overshoot the limit
        held: dict[str, tuple[int, int, tuple[Answer, ...]]] = {}
        for again in (limit, 50, limit, 1, limit):  # a memo of another window's requests, larger or smaller
            either_workspace.meta.predictions.answers(APP, limit=again, decoded=held)
            warm = either_workspace.meta.predictions.answers(APP, limit=limit, decoded=held)
            assert [tuple(a) for a in warm] == expected
            assert set(held) == {r.prediction.id.rpartition("-")[0] for r in records}  # this window's requests


@pytest.mark.parametrize("seed", range(3))
def test_answers_from_a_memo_are_the_answers_read_afresh(workspace: Workspace, seed: int) -> None:
    """A memo kept across calls over a log that grows (requests of one to three rows, shadows, failures, ties in
    time, some written behind the newest), labels that arrive late or are corrected, windows that shrink and
    grow: every call answers as a call without it."""
    rng = np.random.default_rng(seed)
    real: list[str] = []
    held: dict[str, tuple[int, int, tuple[Answer, ...]]] = {}
    for step in range(40):
        requests: list[dict[str, Any]] = []
        for n in range(int(rng.integers(0, 4))):
            rows = int(rng.integers(1, 4))
            at = 1_772_323_200_000 + 10 * step + int(rng.integers(0, 2)) - (25 if rng.random() < 0.1 else 0)
            output: dict[str, Any] = {"predictions": [str(rng.integers(0, 2)) for _ in range(rows)]}
            if real and rng.random() < 0.4:
                output["shadow_of"] = real[-1].rpartition("-")[0]
            if rng.random() < 0.05:
                output = {"error": "boom"}
            rid = f"q{step:03d}{'zyx'[n]}"
            requests.append({"id": rid, "app": APP, "model": APP, "version": int(rng.integers(1, 4)),
                             "route": "champion", "rows": rows, "inputs": "{}", "output": json.dumps(output),
                             "latency_ms": 1.0, "at_ms": at})  # fmt: skip
            if "shadow_of" not in output:
                real.extend(f"{rid}-{i}" for i in range(rows))
        workspace.meta.predictions.append(requests)
        labelled = rng.choice(real, size=min(len(real), 3), replace=False) if real else []
        workspace.meta.predictions.add_feedback(APP, {str(pid): (json.dumps(str(rng.integers(0, 2))), datetime(
            2026, 3, 1, tzinfo=UTC) + timedelta(seconds=int(rng.integers(0, 3)))) for pid in labelled})  # fmt: skip
        for limit in rng.integers(1, 30, size=2):
            fresh = workspace.meta.predictions.answers(APP, limit=int(limit))
            assert workspace.meta.predictions.answers(APP, limit=int(limit), decoded=held) == fresh


# -- a warm tournament decides as a restarted one --------------------------------------------------------------


def grow(ws: Workspace, cycle: int, truth: list[str], skill: dict[int, float], champion: int, labels: dict[int, str],
         rng: np.random.Generator) -> None:  # fmt: skip
    """Cycle ``cycle`` of a live log: 100 rows in blocks of 25, the champion answering and every other version
    of ``skill`` in shadow (one of its requests failed); labels for rows 50 cycles back, but some only three
    cycles later, and corrections of labels stored two cycles ago (``labels``: what each row's label is now)."""
    at = 1_772_323_200_000 + cycle * 100_000
    requests: list[dict[str, Any]] = []
    for block in range(4):
        lo = cycle * 100 + block * 25
        rid = f"c{cycle:03d}b{block}"
        for version, right in skill.items():
            said = [t if rng.random() < right else ("DOWN" if t == "UP" else "UP") for t in truth[lo : lo + 25]]
            output: dict[str, Any] = {"predictions": said}
            if version != champion:
                output = {"predictions": said, "shadow_of": rid} if block or cycle % 3 else {"error": "boom"}
            requests.append({"id": rid if version == champion else f"{rid}s{version}", "app": APP, "model": APP,
                             "version": version, "route": "champion" if version == champion else "challenger",
                             "rows": 25, "inputs": "{}", "output": json.dumps(output), "latency_ms": 1.0,
                             "at_ms": at + block})  # fmt: skip
    if cycle == 9:  # a shadow request written late, behind the newest ones a reader has seen
        late_write = {**requests[-1], "id": "late", "at_ms": at - 150_000, "output": json.dumps({"predictions": ["UP"]
                      * 25, "shadow_of": requests[0]["id"]})}  # fmt: skip
        requests.append(late_write)
    ws.meta.predictions.append(requests)

    def pid(row: int) -> str:
        return f"c{row // 100:03d}b{row % 100 // 25}-{row % 25}"

    due = [r for r in range(max(0, cycle * 100 - 150), cycle * 100 - 50) if r % 7]
    late = [r for r in range(max(0, cycle * 100 - 350), cycle * 100 - 250) if r % 7 == 0]
    fixed = [r for r in range(max(0, cycle * 100 - 250), cycle * 100 - 150) if r % 11 == 0 and r % 7]
    sent: dict[str, tuple[str, Any]] = {}
    for row in [*due, *late]:
        labels[row] = truth[row]
        sent[pid(row)] = (json.dumps(truth[row]), datetime.fromtimestamp(at / 1000, UTC))
    for row in fixed:
        labels[row] = "DOWN" if labels[row] == "UP" else "UP"
        sent[pid(row)] = (json.dumps(labels[row]), datetime.fromtimestamp(at / 1000 + 1, UTC))
    if sent:
        ws.meta.predictions.add_feedback(APP, sent)


def test_a_warm_tournament_reads_and_decides_as_a_cold_one_every_cycle(workspace: Workspace, tmp_path: Path) -> None:
    """The tournament keeps the log's decoded requests between cycles; a fresh one (a restarted controller) reads
    it all again. Every cycle both see the same live rows, give the same verdict and refit window, while labels
    arrive late or are corrected, challengers fail a request, and the champion changes."""
    for version in (1, 2, 3):
        register(workspace, candidate=version - 1, online=True)
    standing(workspace, 1, [2, 3])
    app = replace(tournament_app(tmp_path / "data"), training=SlidingWindow(rows=600))
    warm = Controller(workspace, app).tournament
    assert warm is not None
    rng = np.random.default_rng(7)
    truth = [str(v) for v in rng.choice(["UP", "DOWN"], 2000)]
    skill, labels = {1: 0.6, 2: 0.9, 3: 0.7}, {}
    verdicts = []
    for cycle in range(16):
        champion = workspace.registry.resolve(APP, "champion")
        grow(workspace, cycle, truth, skill, champion.version, labels, rng)
        cold = Controller(workspace, app).tournament
        assert cold is not None
        cold.standings_key_ = warm.standings_key_  # when a hold was last stored: the controller's, not the cache's
        before = dict(warm.read_)
        verdict = warm.step(champion)
        kept = [held is before[request] for request, held in warm.read_.items() if request in before]
        assert all(kept) != (cycle == 9)  # not decoded again, unless a request was written among them
        assert len(kept) > 10 or cycle < 2
        assert cold.step(champion) == verdict
        assert warm.refit_window(champion) == cold.refit_window(champion)
        rows = live_rows(workspace.meta, APP, rows=400, versions=3)
        assert rows == live_rows(workspace.meta, APP, rows=400, versions=3, decoded=dict(warm.read_))
        assert [labels[int(k[1:4]) * 100 + int(k[5]) * 25 + int(k[7:])] for k in rows.keys] == rows.truth
        verdicts.append(None if verdict is None else verdict.outcome)
        if verdict is not None and verdict.change is not None:
            warm.apply(verdict.change)
    assert "promote" in verdicts
    assert "hold" in verdicts
    assert workspace.registry.resolve(APP, "champion").version == 2
