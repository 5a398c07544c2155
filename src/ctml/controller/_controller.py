"""The reconcile loop: desired state (the app spec) against actual state (data, registry, roll-out, monitor).

One :meth:`Controller.reconcile_once` holding the lease ``controller:<app>``:

1. ingest what the source has that its watermark has not seen (exactly once across restarts);
2. finish a training job a killed controller left (it is named in the stored state);
3. step an active roll-out, observe the champion with the monitor (its time series goes on; the policy
   does not act while a roll-out runs), and stop there;
4. without a champion: train a first model, judge it against the gate's floors, register it, roll it out;
5. with a champion: observe it with the monitor, ask the retraining policy; on ``retrain`` train a
   challenger, judge it against the champion on the same held-out rows, register it, record the verdict, and
   on ``promote`` start a roll-out.

Every transition of the stored state is one transaction with the decisions and events behind it
(:meth:`ctml.meta.MetaStore.controller`), moved by compare-and-set; a job's id comes from the trigger decision
that caused it, and the model version it registers carries that id, so a retry after a crash finds the version
instead of registering a second one.
"""

from __future__ import annotations

import copy
import os
import socket
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from ctml.app import App
from ctml.clock import Clock
from ctml.controller._history import History, load_history, source_versions
from ctml.controller._state import ControllerState
from ctml.controller._tournament import Change, LiveTournament, TournamentVerdict
from ctml.data import Datasets
from ctml.drift import profile
from ctml.errors import ConfigError, ConflictError, NotFoundError
from ctml.evaluate import METRICS, Verdict
from ctml.flavors import Model
from ctml.flavors._signature import encode_labels
from ctml.ids import new_id
from ctml.meta import Decision, ModelVersion
from ctml.monitor import PREDICTION_PROFILE, Monitor, prediction_reference
from ctml.rollout import Rollouts
from ctml.rollout._machine import ACTIVE
from ctml.train import SlidingWindow, record_training, train
from ctml.triggers import ManualRequest
from ctml.types import JSON, JSONObject
from ctml.workspace import Workspace

__all__ = ["HANDLED_KIND", "REQUEST_KIND", "Action", "Controller"]

REQUEST_KIND = "controller.retrain_request"
"""The event kind of a manual retraining request (:meth:`Controller.request_retrain`)."""
HANDLED_KIND = "controller.retrain_handled"
"""The event kind that marks a request handled, written in the transaction of the decision that acted on it."""


@dataclass(frozen=True)
class Action:
    """One thing a cycle did or found: ``kind`` (lease, ingest, rollout, trigger, train, gate, idle), its
    ``outcome``, a one-line ``summary``, and the stored decision or model version behind it, if any."""

    kind: str
    outcome: str
    summary: str
    decision_id: str | None = None
    version: int | None = None
    evidence: JSONObject = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.kind}={self.outcome}"


class Controller:
    """Keeps ``app`` trained, judged and rolled out in ``workspace``; one per app acts at a time (a lease).

    ``model`` is the registry name (default: the app's name); ``window`` and ``label_delay`` are the monitor's;
    ``lease_ttl`` how long the lease outlives a silent controller.
    """

    def __init__(
        self,
        workspace: Workspace,
        app: App,
        *,
        owner: str | None = None,
        clock: Clock | None = None,
        model: str | None = None,
        window: timedelta = timedelta(hours=1),
        label_delay: timedelta = timedelta(0),
        lease_ttl: timedelta = timedelta(minutes=5),
        actor: str = "controller",
    ) -> None:
        self.workspace = workspace
        self.app = app
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{new_id(workspace.meta.clock.now())[-6:]}"
        self.clock: Clock = clock or workspace.meta.clock
        self.model = model or app.name
        self.window = window
        self.label_delay = label_delay
        self.lease_ttl = lease_ttl
        self.actor = actor
        self.lease = f"controller:{app.name}"
        self.datasets = Datasets(workspace.meta, workspace.artifacts, actor=actor)
        self.rollouts = Rollouts(workspace.meta, workspace.registry, clock=self.clock)
        self._monitor: Monitor | None = None
        self.tournament = (
            None if app.tournament is None
            else LiveTournament(workspace.meta, workspace.registry, self.rollouts, app, self.model)
        )  # fmt: skip

    # -- outside requests --------------------------------------------------------------------------------------

    def request_retrain(self, actor: str, reason: str, *, request_id: str | None = None) -> ManualRequest:
        """Ask for a retrain at the next cycle, stored durably (an event); the same ``request_id`` twice is one
        request."""
        return self._store_request(actor, reason, request_id)[0]

    def _store_request(self, actor: str, reason: str, request_id: str | None) -> tuple[ManualRequest, bool]:
        """The request, and whether it was stored now (False: this id was stored before)."""
        rid = f"retrain-request-{request_id or new_id(self.clock.now())}"
        payload: JSONObject = {"actor": actor, "reason": reason}
        stored = self.workspace.meta.events.append(rid, REQUEST_KIND, payload, app=self.app.name)
        return ManualRequest(rid, actor, reason), stored

    def pending_requests(self, state: ControllerState | None = None) -> list[ManualRequest]:
        state = state if state is not None else self.state()[0]
        events = self.workspace.meta.events
        # A handled request is marked by an event written with the decision that acted on it; the state's own
        # list only holds the latest few hundred, so it cannot be the only record.
        marks = events.read(kind=HANDLED_KIND, app=self.app.name, limit=1_000_000)
        handled = set(state.handled) | {str(e.payload.get("request")) for e in marks}
        found = events.read(kind=REQUEST_KIND, app=self.app.name, limit=1_000_000)
        return [
            ManualRequest(e.id, str(e.payload.get("actor", "unknown")), str(e.payload.get("reason", "")))
            for e in found
            if e.id not in handled
        ]

    def state(self) -> tuple[ControllerState, int]:
        """The stored state and its revision (0: never stored)."""
        record = self.workspace.meta.controller.get(self.app.name)
        if record is None:
            return ControllerState(), 0
        return ControllerState.from_json(dict(record.state)), record.revision

    # -- the loop ----------------------------------------------------------------------------------------------

    def reconcile_once(self, now: datetime | None = None) -> list[Action]:
        """One cycle; what it did, in order. Without the lease it does nothing and says who holds it."""
        meta = self.workspace.meta
        if not meta.leases.acquire(self.lease, self.owner, self.lease_ttl.total_seconds()):
            held = meta.leases.get(self.lease)
            holder = "someone" if held is None else held.owner
            return [Action("lease", "held", f"{self.lease} is held by {holder}; not acting")]
        actions: list[Action] = []
        try:
            actions.extend(self._ingest())
            state, revision = self.state()
            if state.applying is not None:  # a killed controller stored a tournament change it did not apply
                self._finish_change(state, revision)
                actions.append(Action("tournament", "recovered", "applied a tournament change a stopped controller "
                                      "stored"))  # fmt: skip
                state, revision = self.state()
            if state.job is not None:
                actions.extend(self._run_job(state, revision))
                return actions
            if self.rollouts.recover(self.app.name):  # a killed controller stored a step it did not apply
                actions.append(Action("rollout", "recovered", "applied a roll-out step a stopped controller stored"))
            active = self.rollouts.current(self.app.name)
            if active is not None and active[0].status == ACTIVE:
                decision = self.rollouts.step(self.app.name, now=now)
                actions.append(Action("rollout", decision.outcome, decision.reason, evidence=decision.evidence))
                if self._champion() is not None:  # keep watching: no gap in the champion's series
                    self._get_monitor().observe(now or self.clock.now())
                return actions
            if self._champion() is None:
                actions.extend(self._first(state, revision, now))
            else:
                actions.extend(self._observe(state, revision, now))
            return actions
        except ConflictError as exc:
            actions.append(Action("conflict", "skipped", f"another controller moved first: {exc}"))
            return actions

    def release(self) -> None:
        """Give the lease up now (on a clean shutdown), so another controller can act at once."""
        self.workspace.meta.leases.release(self.lease, self.owner)

    # -- steps -------------------------------------------------------------------------------------------------

    def _ingest(self) -> list[Action]:
        result = self.datasets.ingest(self.app.name, self.app.source, target=self.app.target, time_column=self.app.time,
                                      app=self.app.name, keep_invalid=self.app.on_invalid == "keep")  # fmt: skip
        kept = result.kept
        fresh = [v for v in result.new_versions if all(v is not k.version for k in kept)]
        out = []
        if fresh:
            rows = sum(v.rows for v in fresh)
            names = ", ".join(f"@{v.version}" for v in fresh)
            out.append(Action("ingest", "new", f"{len(fresh)} new version(s) ({names}), {rows} rows"))
        for rejected in result.rejected:
            out.append(Action("ingest", "rejected", f"{rejected.label}: rejected by validation"))
        for outcome in kept:  # the findings are recorded (a validation decision each); the app keeps the batch
            assert outcome.version is not None
            out.append(Action("ingest", "rejected", f"{outcome.label}: rejected by validation"))
            out.append(Action("ingest", "kept", f"@{outcome.version.version}: {outcome.version.rows} rows stored "
                              "despite failing validation (the app's on_invalid is 'keep')"))  # fmt: skip
        return out

    def _first(self, state: ControllerState, revision: int, now: datetime | None) -> list[Action]:
        versions = source_versions(self.datasets, self.app.name)
        if not versions:
            return [Action("idle", "no_data", f"app {self.app.name!r} has no data yet; waiting for its source")]
        ids = [v.id for v in versions]
        requests = self.pending_requests(state)
        if state.first_tried == ids and not requests:
            return [Action("idle", "no_champion", "the first model failed the gate; waiting for new data")]
        at = now or self.clock.now()
        reason = "no champion yet: train a first model"
        evidence: JSONObject = {"datasets": list(ids), "requests": [r.id for r in requests]}
        decision = self._decision("trigger", "retrain", reason, evidence, at)
        job = self._job("first", decision, ids)
        new = replace(state.with_handled([r.id for r in requests]), job=job, last_trigger="retrain")
        self.workspace.meta.controller.transition(
            self.app.name, new.to_json(), expected_revision=revision, decisions=[decision],
            events=_handled(requests, decision),
        )  # fmt: skip
        acted = [Action("trigger", "retrain", reason, decision.id, evidence=evidence)]
        return acted + self._run_job(*self.state())

    def _observe(self, state: ControllerState, revision: int, now: datetime | None) -> list[Action]:
        at = now or self.clock.now()
        if self.tournament is not None:
            promoted = self._tournament_step(state, revision, at)
            if promoted:
                return promoted
        report = self._get_monitor().observe(at)
        requests = self.pending_requests(state)
        observation = report.to_observation(manual=requests)
        ingested = sum(v.rows for v in source_versions(self.datasets, self.app.name))
        rows = (state.champion or {}).get("rows")
        trained_rows = max(state.trained_rows, rows if isinstance(rows, int) else 0)
        # The volume rule counts labelled rows no training job has seen (a rejected challenger saw them too):
        # the source's rows past the last job's, or, for an app whose source has nothing yet, the labelled
        # predictions the monitor saw since the champion's promotion.
        fresh = max(0, ingested - trained_rows) if ingested else observation.new_rows
        observation = replace(observation, new_rows=fresh)
        decision, trigger = self.app.policy.decide(observation, state.trigger)
        new = replace(state, trigger=trigger, last_trigger=decision.outcome, cycles=state.cycles + 1)
        record = decision.outcome != "hold" or state.last_trigger != "hold"
        stored = self._decision("trigger", decision.outcome, decision.reason, decision.evidence, at) if record else None
        if decision.retrain:
            assert stored is not None
            ids = [v.id for v in source_versions(self.datasets, self.app.name)]
            new = replace(new.with_handled([r.id for r in requests]), job=self._job("retrain", stored, ids))
        self.workspace.meta.controller.transition(
            self.app.name,
            new.to_json(),
            expected_revision=revision,
            decisions=[] if stored is None else [stored],
            events=[]
            if stored is None
            else [
                (f"trigger-{stored.id}", f"trigger.{decision.outcome}", {"decision": stored.id}),
                *(_handled(requests, stored) if decision.retrain else []),
            ],
        )
        action = Action("trigger", decision.outcome, decision.reason, None if stored is None else stored.id,
                        evidence=decision.evidence)  # fmt: skip
        if not decision.retrain:
            return [action]
        return [action, *self._run_job(*self.state())]

    def _run_job(self, state: ControllerState, revision: int) -> list[Action]:
        """Train, register, judge and (on promote) roll out the job in ``state``; resumable at every step."""
        job = state.job
        assert job is not None
        meta = self.workspace.meta
        job_id = str(job["id"])
        versions = [meta.datasets.get(str(i)) for i in job["datasets"]]  # type: ignore[union-attr]
        history = load_history(self.datasets, self.app, versions)
        if self.tournament is not None and job["kind"] == "first":
            return self._first_tournament(state, revision, job, history, versions)
        live = self.tournament is not None and job["kind"] == "retrain"
        champion = self._champion() if job["kind"] == "retrain" else None
        champion_model = None if champion is None or live else self._load(champion.version)
        actions: list[Action] = []
        registered = self._registered(job_id)
        if registered is None:
            try:
                window = None
                if self.tournament is not None and champion is not None:
                    window = self.tournament.refit_window(champion)
                registered, model = self._train(job, history, champion_model, versions, window=window, live=live)
            except ConfigError as exc:  # the data cannot train this model (one class in the window, say)
                return [*actions, self._failed(state, revision, job, history, exc)]
            span = registered.meta.get("train_rows")
            used = span[1] - span[0] if isinstance(span, list) and len(span) == 2 else history.split  # type: ignore[operator]
            actions.append(Action("train", "registered", f"trained {self.model} v{registered.version} on "
                                  f"{used:,} rows", version=registered.version))  # fmt: skip
        else:
            model = self._load(registered.version)
            actions.append(Action("train", "found", f"job {job_id} had registered v{registered.version}",
                                  version=registered.version))  # fmt: skip
        meta.leases.renew(self.lease, self.owner, self.lease_ttl.total_seconds())
        if live:
            return [*actions, self._enter(state, revision, job, history, registered)]
        verdict = self._judge(model, champion_model, history, registered)
        at = self.clock.now()
        gate = self._decision("gate", verdict.outcome, verdict.reason, verdict.evidence, at, version=registered.version,
                              run_id=registered.run_id)  # fmt: skip
        actions.append(Action("gate", verdict.outcome, verdict.reason, gate.id, registered.version))
        # Hysteresis is per champion and condition: a promoted challenger is measured afresh, and after a
        # rejected one the condition that fired still stands (the cooldown spaces the next try, on newer rows).
        new = replace(state, job=None, trained_rows=history.rows, trigger=state.trigger.rearmed())
        events: list[tuple[str, str, JSONObject]] = [
            (f"gate-{job_id}", f"gate.{verdict.outcome}", {"decision": gate.id, "version": registered.version})
        ]
        if verdict.promoted:
            current = self.rollouts.current(self.app.name)
            started = (
                current is not None and current[0].candidate == registered.version and current[0].model == self.model
            )
            if not started:
                rolled = self.rollouts.start(self.app.name, self.model, registered.version, self.app.rollout,
                                             reason=f"{job['kind']} model passed the gate ({job_id})")  # fmt: skip
                actions.append(Action("rollout", "start", f"rolling out v{registered.version}: {rolled.status}",
                                      version=registered.version))  # fmt: skip
            new = replace(new, first_tried=None, champion={"version": registered.version, "rows": history.rows,
                                                          "job": job_id})  # fmt: skip
        elif job["kind"] == "first":
            new = replace(new, first_tried=[str(i) for i in job["datasets"]])  # type: ignore[union-attr]
        meta.controller.transition(self.app.name, new.to_json(), expected_revision=revision, decisions=[gate],
                                   events=events)  # fmt: skip
        return actions

    # -- the tournament ----------------------------------------------------------------------------------------

    def _first_tournament(
        self, state: ControllerState, revision: int, job: JSONObject, history: History, versions: list[Any]
    ) -> list[Action]:
        """Train the app's model and every challenger on the first rows, serve the one the tournament picks as
        champion and the others as challengers (resumable: each candidate is registered once per job)."""
        assert self.tournament is not None
        job_id = str(job["id"])
        actions: list[Action] = []
        registered: list[ModelVersion] = []
        for i, estimator in enumerate([self.app.model, *self.tournament.spec.challengers]):
            found = self._registered(job_id, i)
            if found is None:
                try:
                    found, _ = self._train(job, history, None, versions, estimator=estimator, candidate=i)
                except ConfigError as exc:
                    if i == 0:
                        return [*actions, self._failed(state, revision, job, history, exc)]
                    actions.append(Action("train", "failed", f"challenger {type(estimator).__name__}: {exc}"))
                    continue
                actions.append(Action("train", "registered", f"trained {self.model} v{found.version} "
                                      f"({type(estimator).__name__})", version=found.version))  # fmt: skip
            registered.append(found)
        verdict = self.tournament.first_champion(registered, list(history.holdout.y))
        new = replace(state, job=None, trained_rows=history.rows, trigger=state.trigger.rearmed(), first_tried=None,
                      champion={"version": verdict.version, "rows": history.rows, "job": job_id})  # fmt: skip
        decision, _ = self._store_change(new, revision, verdict, f"gate-{job_id}", "gate.promote")
        actions.append(Action("gate", "promote", verdict.summary, decision.id, verdict.version,
                              evidence=verdict.evidence))  # fmt: skip
        others = list(verdict.change.challengers) if verdict.change is not None else []
        actions.append(Action("rollout", "complete", f"v{verdict.version} serves; challengers {others}",
                              version=verdict.version))  # fmt: skip
        return actions

    def _enter(
        self, state: ControllerState, revision: int, job: JSONObject, history: History, registered: ModelVersion
    ) -> Action:
        """A refit joins the tournament as a challenger."""
        assert self.tournament is not None
        verdict = self.tournament.enter(registered)
        new = replace(state, job=None, trained_rows=history.rows, trigger=state.trigger.rearmed())
        decision, _ = self._store_change(new, revision, verdict, f"gate-{job['id']}", "tournament.enter")
        return Action("gate", "shadow", verdict.summary, decision.id, verdict.version, evidence=verdict.evidence)

    def _tournament_step(self, state: ControllerState, revision: int, at: datetime) -> list[Action]:
        """The tournament's step on the newest live rows: a promotion's actions, or none (a hold is stored)."""
        assert self.tournament is not None
        champion = self._champion()
        verdict = None if champion is None else self.tournament.step(champion)
        if verdict is None:
            return []
        if verdict.outcome == "hold":
            self.workspace.meta.decisions.record("tournament", "hold", verdict.summary, verdict.evidence,
                                                 app=self.app.name, model=self.model, version=verdict.version,
                                                 actor=self.actor)  # fmt: skip
            return []
        previous = state.champion or {}
        new = replace(state, champion={"version": verdict.version, "rows": previous.get("rows"), "job": "tournament"},
                      trigger=state.trigger.rearmed(), last_trigger="hold")  # fmt: skip
        decision, status = self._store_change(new, revision, verdict, None, "tournament.promote", at=at)
        version = verdict.version
        actions = [Action("gate", "promote", verdict.summary, decision.id, version, evidence=verdict.evidence)]
        if status is None:
            actions.append(Action("rollout", "complete", f"v{version} serves at once: it already answered every "
                                  "request in shadow", version=version))  # fmt: skip
        else:
            actions.append(Action("rollout", "start", f"rolling out v{version}: {status}",
                                  version=version))  # fmt: skip
        return actions

    def _store_change(
        self,
        new: ControllerState,
        revision: int,
        verdict: TournamentVerdict,
        event_id: str | None,
        event_kind: str,
        *,
        at: datetime | None = None,
    ) -> tuple[Decision, str | None]:
        """Store ``new`` with the verdict's decision and its change to apply, then apply the change and clear it.
        A controller killed in between applies it at its next cycle (:meth:`_finish_change`), once. The
        decision, and the status of the roll-out the change started, if it started one."""
        assert verdict.change is not None
        decision = self._decision("tournament", verdict.outcome, verdict.summary, verdict.evidence,
                                  at or self.clock.now(), version=verdict.version, run_id=verdict.run_id)  # fmt: skip
        payload: JSONObject = {"decision": decision.id, "version": verdict.version}
        event = (event_id or f"tournament-{decision.id}", event_kind, payload)
        stored = self.workspace.meta.controller.transition(
            self.app.name, replace(new, applying=verdict.change.to_json()).to_json(), expected_revision=revision,
            decisions=[decision], events=[event],
        )  # fmt: skip
        return decision, self._finish_change(ControllerState.from_json(dict(stored.state)), stored.revision)

    def _finish_change(self, state: ControllerState, revision: int) -> str | None:
        """Apply the stored tournament change and clear it."""
        assert state.applying is not None
        change = Change.from_json(dict(state.applying))
        status = None if self.tournament is None else self.tournament.apply(change)
        self.workspace.meta.controller.transition(self.app.name, replace(state, applying=None).to_json(),
                                                  expected_revision=revision)  # fmt: skip
        return status

    def _failed(
        self, state: ControllerState, revision: int, job: JSONObject, history: History, exc: Exception
    ) -> Action:
        """A job whose training refused its data: recorded with the error, and the loop goes on (the champion
        keeps serving; the rows count as seen, so the volume rule waits for new ones)."""
        job_id = str(job["id"])
        summary = f"training job {job_id} failed: {exc}"
        evidence: JSONObject = {"job": job_id, "kind": str(job["kind"]), "error": type(exc).__name__,
                                "message": str(exc), "rows": history.rows}  # fmt: skip
        decision = self._decision("train", "failed", summary, evidence, self.clock.now())
        new = replace(state, job=None, trained_rows=history.rows, trigger=state.trigger.rearmed())
        if job["kind"] == "first":
            new = replace(new, first_tried=[str(i) for i in job["datasets"]])  # type: ignore[union-attr]
        self.workspace.meta.controller.transition(self.app.name, new.to_json(), expected_revision=revision,
                                                  decisions=[decision],
                                                  events=[(f"train-failed-{job_id}", "train.failed",
                                                           {"decision": decision.id})])  # fmt: skip
        return Action("train", "failed", summary, decision.id, evidence=evidence)

    # -- pieces ------------------------------------------------------------------------------------------------

    def _train(
        self,
        job: JSONObject,
        history: History,
        champion: Model | None,
        versions: list[Any],
        *,
        estimator: Any = None,
        candidate: int | None = None,
        window: int | None = None,
        live: bool = False,
    ) -> tuple[ModelVersion, Model]:
        """Train, score on the holdout and register one model. ``estimator``/``candidate``: a tournament
        candidate other than the app's model; ``window``: the rows of a sliding window (adaptive refits);
        ``live``: a refit judged on live rows, trained on every row of its window (no holdout kept back); an
        online model also learns the holdout once it was scored, so it has seen every row before serving."""
        ws = self.workspace
        app = self.app
        chosen = app.model if estimator is None else estimator
        strategy = app.training
        if window is not None and isinstance(strategy, SlidingWindow):
            strategy = SlidingWindow(rows=window)
        params: dict[str, JSON] = {"job": str(job["id"]), "kind": str(job["kind"]), "rows": history.rows,
                                   "train_rows": history.split, "holdout": 0.0 if live else app.holdout,
                                   "candidate": candidate, "window": window}  # fmt: skip
        name = f"train-{job['id']}" if candidate is None else f"train-{job['id']}-{candidate}"
        with ws.tracker.start_run(name, app=app.name, kind="train", params=params, seed=app.seed) as run:
            data = history.data if live else history.train
            result = train(strategy, copy.deepcopy(chosen), data, champion=champion, seed=app.seed)
            record_training(ws.meta, run.id, result)
            model = result.model
            hold = history.holdout  # a live refit saw these rows too: its score is only the monitor's baseline
            if not live and model.learns:  # an online model meets the holdout as it will meet live rows:
                # each row predicted, then learned (test-then-train), so it has seen every row before serving
                predictions = self._prequential(model, hold)
            else:
                predictions = model.predict(hold.X, history.data.feature_names)
            truth = np.asarray(hold.y)
            if model.signature.task == "classification":
                # the monitor's baseline: what this model scored on its holdout, before it met live traffic
                score = float(np.mean(np.asarray(predictions) == truth))
                run.log_metrics({"holdout_accuracy": score})
            else:
                score = float(np.abs(np.asarray(predictions, dtype=np.float64) - truth.astype(np.float64)).mean())
                run.log_metrics({"holdout_mae": score})
            used = history.table.slice(result.start, result.stop - result.start)
            meta: JSONObject = {
                "job": str(job["id"]),
                "task": model.signature.task,
                "train_rows": [result.start, result.stop],
                "holdout_rows": [history.split, history.rows],
                "holdout_score": score,
                "holdout_predictions": _json_list(np.asarray(predictions)) if candidate is not None else None,
                "online": model.learns,
                PREDICTION_PROFILE: prediction_reference(_json_list(predictions)),
            }
            if candidate is not None:
                meta["candidate"] = candidate
            if window is not None:
                meta["window"] = window
            registered = ws.registry.register(
                self.model,
                model.to_bytes(),
                app=app.name,
                flavor=model.flavor.name,
                run_id=run.id,
                meta=meta,
                datasets=[v.id for v in versions],
                reference_profile=profile(used).to_json(),
            )
            run.set_tags({"model_version": f"{self.model}/{registered.version}"})
        return registered, model

    @staticmethod
    def _prequential(model: Model, hold: Any, chunk: int = 1) -> np.ndarray:
        """Each row of ``hold`` predicted by ``model`` and then learned into it, in order."""
        out: list[Any] = []
        codes = encode_labels(model.signature, hold.y)
        for i in range(0, len(codes), chunk):
            X = hold.X[i : i + chunk]
            out.extend(model.predict(X).tolist())
            model.learn(np.ascontiguousarray(X, dtype=np.float64), codes[i : i + chunk])
        return np.asarray(out, dtype=object if model.signature.classes is not None else np.float64)

    def _judge(self, model: Model, champion: Model | None, history: History, version: ModelVersion) -> Verdict:
        gate = self.app.gate
        hold = history.holdout
        names = history.data.feature_names
        pred = model.predict(hold.X, names)
        task_cls = model.signature.task == "classification"
        needs = any(METRICS[m].needs_proba for m in ({gate.metric} | set(gate.floors)))
        proba = champion_proba = classes = None
        if task_cls and "proba" in model.flavor.capabilities:
            classes = model.classes
            proba = model.predict_proba(hold.X, names)
        champion_pred = None
        if champion is not None:
            champion_pred = champion.predict(hold.X, names)
            same = champion.classes is not None and classes is not None and list(champion.classes) == list(classes)
            if proba is not None and same and "proba" in champion.flavor.capabilities:
                champion_proba = champion.predict_proba(hold.X, names)
            elif not needs:
                proba = None
        size = len(model.to_bytes()) if gate.max_size_bytes is not None else None
        latency = self._latency(model, hold.X, names) if gate.max_latency_ms is not None else None
        return gate.judge(hold.y, pred, champion_pred, challenger_proba=proba, champion_proba=champion_proba,
                          classes=classes, challenger_latency_ms=latency, challenger_size_bytes=size)  # fmt: skip

    def _latency(self, model: Model, X: np.ndarray, names: Any) -> list[float]:
        out = []
        for row in X[: min(len(X), 200)]:
            began = self.clock.monotonic()
            model.predict(row[None, :], names)
            out.append((self.clock.monotonic() - began) * 1000)
        return out

    def _registered(self, job_id: str, candidate: int | None = None) -> ModelVersion | None:
        try:
            versions = self.workspace.meta.models.versions(self.model, limit=50)
        except NotFoundError:
            return None
        return next((v for v in versions if v.meta.get("job") == job_id and v.meta.get("candidate") == candidate),
                    None)  # fmt: skip

    def _champion(self) -> ModelVersion | None:
        try:
            return self.workspace.registry.resolve(self.model, "champion")
        except NotFoundError:
            return None

    def _load(self, version: int) -> Model:
        found = self.workspace.registry.resolve(self.model, version)
        return Model.from_bytes(self.workspace.registry.load_bytes(self.model, version), digest=found.artifact_digest)

    def _get_monitor(self) -> Monitor:
        if self._monitor is None:
            self._monitor = Monitor(self.workspace.meta, self.app.name, model=self.model, window=self.window,
                                    label_delay=self.label_delay, clock=self.clock)  # fmt: skip
        return self._monitor

    def _job(self, kind: str, cause: Decision, datasets: list[str]) -> JSONObject:
        ids: list[JSON] = list(datasets)
        return {"id": f"job-{cause.id}", "kind": kind, "cause": cause.id, "datasets": ids}

    def _decision(
        self,
        kind: str,
        outcome: str,
        summary: str,
        evidence: JSONObject,
        at: datetime,
        *,
        version: int | None = None,
        run_id: str | None = None,
    ) -> Decision:
        moment = at.replace(microsecond=at.microsecond // 1000 * 1000)
        return Decision(new_id(at), self.app.name, kind, outcome, summary, evidence, run_id, self.model, version,
                        self.actor, moment)  # fmt: skip


def _handled(requests: list[ManualRequest], decision: Decision) -> list[tuple[str, str, JSONObject]]:
    return [(f"handled-{r.id}", HANDLED_KIND, {"request": r.id, "decision": decision.id}) for r in requests]


def _json_list(values: np.ndarray) -> list[JSON]:
    return [v.item() if isinstance(v, np.generic) else v for v in values.tolist()]
