"""Replay the Elec2 stream through ingest -> train -> gate -> promote, recording every step in a workspace.

For each window, in time order:

1. its rows become an immutable dataset version (Parquet in the artifact store, parent = previous window);
2. the champion, loaded from the registry by its alias, predicts the window *before* its labels are used;
   then the labels arrive and its live accuracy is logged on the replay's monitor run;
3. a challenger is trained on a sliding window of the most recent rows, ending where the window's held-out
   tail begins, and registered as a new version;
4. the gate compares challenger and champion on that held-out tail (McNemar exact + minimum effect), records
   a decision with its evidence and, if the challenger wins, moves the champion alias with compare-and-set.

The first model, trained on the first window, is never retrained: it predicts the same windows as the
champion so the run measures what continuous training is worth.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ctml.config import Settings
from ctml.demo._data import (
    FEATURES,
    SOURCE_PATH,
    STREAM_ROWS,
    Stream,
    Window,
    content_digest,
    cut_windows,
    load_stream,
    row_time,
    schema_of,
    to_parquet,
)
from ctml.demo._gate import GateResult, compare
from ctml.demo._lineage import champion_lineage
from ctml.demo._model import hyperparameters, make_model, small_data_threads
from ctml.demo._result import (
    DemoConfig,
    DemoResult,
    StaticVsRetrained,
    WindowResult,
    check_config,
)
from ctml.drift import profile
from ctml.errors import ConfigError, NotFoundError
from ctml.meta import DatasetVersion, Node
from ctml.tracking import ActiveRun
from ctml.types import JSON, JSONObject
from ctml.workspace import Workspace

__all__ = ["ALIAS", "APP", "DATASET", "MODEL", "OnWindow", "run_demo", "window_count"]

APP = "elec2"
MODEL = "elec2"
DATASET = "elec2"
ALIAS = "champion"

OnWindow = Callable[[WindowResult, int], None]
"""Called after each window with its result and the number of windows in the run (for progress bars)."""


def window_count(config: DemoConfig) -> int:
    """How many windows :func:`run_demo` will replay with ``config`` (for a progress bar drawn up front)."""
    return len(cut_windows(STREAM_ROWS, config.window_rows, config.windows))


def run_demo(settings: Settings, config: DemoConfig | None = None, *, on_window: OnWindow | None = None) -> DemoResult:
    """Replay the stream in the workspace of ``settings`` and return what was measured."""
    config = config or DemoConfig()
    check_config(config)
    stream = load_stream()
    windows = cut_windows(stream.table.num_rows, config.window_rows, config.windows)
    if len(windows) < 2:
        raise ConfigError(
            f"With 'window_rows'={config.window_rows} the {stream.table.num_rows}-row stream makes "
            f"{len(windows)} window; the demo needs at least 2. Use a smaller --window-rows."
        )
    with Workspace.open(settings) as workspace, small_data_threads(config.model):
        return _Replay(workspace, stream, config, on_window).run(windows)


@dataclass(frozen=True)
class _Trained:
    version: int
    run_id: str
    train_rows: tuple[int, int]
    holdout_rows: tuple[int, int]
    holdout_predictions: NDArray[Any]
    holdout_accuracy: float


class _Replay:
    def __init__(self, workspace: Workspace, stream: Stream, config: DemoConfig, on_window: OnWindow | None) -> None:
        self.ws = workspace
        self.stream = stream
        self.config = config
        self.on_window = on_window
        table = stream.table
        self.features = np.column_stack([table.column(c).to_numpy() for c in FEATURES]).astype(np.float64)
        self.labels: NDArray[Any] = np.asarray(table.column(stream.target).to_numpy(zero_copy_only=False))
        self.windows: list[Window] = []
        self.versions: list[DatasetVersion] = []

    # -- the loop ---------------------------------------------------------------------------------------------

    def run(self, windows: Sequence[Window]) -> DemoResult:
        clock = self.ws.meta.clock
        began = clock.monotonic()
        self.ws.meta.apps.put(APP, self._spec())
        total = len(windows)
        with self.ws.tracker.start_run(
            f"{APP}-replay", app=APP, kind="monitor", params=self._replay_params(total), seed=self.config.seed
        ) as monitor:
            first = self._bootstrap(windows[0], monitor)
            results = [first]
            self._notify(first, total)
            static = self._load(first.challenger_version)
            live: list[NDArray[Any]] = []
            frozen: list[NDArray[Any]] = []
            truth: list[NDArray[Any]] = []
            for window in windows[1:]:
                result, predicted, predicted_static, labels = self._step(window, monitor, static)
                results.append(result)
                live.append(predicted)
                frozen.append(predicted_static)
                truth.append(labels)
                self._notify(result, total)
            comparison = self._compare(first, np.concatenate(live), np.concatenate(frozen), np.concatenate(truth))
            promotions = sum(r.decision == "promote" for r in results[1:])
            monitor.log_metrics(
                {
                    "overall_static_accuracy": comparison.static_accuracy,
                    "overall_retrained_accuracy": comparison.retrained_accuracy,
                    "promotions": float(promotions),
                }
            )
        champion = self.ws.meta.models.get_alias(MODEL, ALIAS)
        assert champion.version is not None
        run_id, datasets = champion_lineage(self.ws.meta, MODEL, champion.version)
        return DemoResult(
            app=APP,
            model=MODEL,
            dataset=DATASET,
            windows=tuple(results),
            comparison=comparison,
            champion_version=champion.version,
            champion_run_id=run_id,
            champion_datasets=datasets,
            promotions=promotions,
            monitor_run_id=monitor.id,
            elapsed_s=clock.monotonic() - began,
            config=self.config,
        )

    def _bootstrap(self, window: Window, monitor: ActiveRun) -> WindowResult:
        """Window 0: train the first model and make it champion; there is nothing to compare it with yet."""
        version, reused = self._ingest(window)
        trained = self._train(window, version, monitor, role="first")
        try:
            before = self.ws.meta.models.get_alias(MODEL, ALIAS)
            revision, previous = before.revision, before.version
        except NotFoundError:
            revision, previous = 0, None
        replaces = "" if previous is None else f" (replaces v{previous} from an earlier replay)"
        decision = self.ws.meta.decisions.record(
            "bootstrap",
            "promote",
            f"v{trained.version} is the first model of this replay; promoted without a comparison{replaces}",
            {
                "test": None,
                "reason": "no champion in this replay yet",
                "holdout": {"dataset_version": version.id, "rows": list(trained.holdout_rows)},
                "challenger": {
                    "version": trained.version,
                    "accuracy": trained.holdout_accuracy,
                    "run_id": trained.run_id,
                },
                "previous_champion": previous,
            },
            app=APP,
            run_id=trained.run_id,
            model=MODEL,
            version=trained.version,
            actor=self.ws.settings.actor,
        )
        self.ws.registry.promote(
            MODEL,
            trained.version,
            ALIAS,
            expected_revision=revision,
            reason=f"first model of a replay{replaces}; decision {decision.id}",
        )
        return self._result(window, version, reused, trained, decision_id=decision.id)

    def _step(
        self, window: Window, monitor: ActiveRun, static: Any
    ) -> tuple[WindowResult, NDArray[Any], NDArray[Any], NDArray[Any]]:
        version, reused = self._ingest(window)
        # What the champion alias says now; the promotion below only happens if nobody moved it meanwhile.
        target = self.ws.meta.models.get_alias(MODEL, ALIAS)
        assert target.version is not None
        champion = self._load(target.version)
        rows = slice(window.start, window.end)
        predicted = champion.predict(self.features[rows])  # before the labels of this window are known
        predicted_static = static.predict(self.features[rows])
        labels = self.labels[rows]  # ... and now they arrive
        live_accuracy = float(np.mean(predicted == labels))
        static_accuracy = float(np.mean(predicted_static == labels))
        monitor.log_metrics(
            {
                "live_accuracy": live_accuracy,
                "static_accuracy": static_accuracy,
                "champion_version": float(target.version),
                "rows": float(window.rows),
            },
            step=window.index,
        )
        trained = self._train(window, version, monitor, role="challenger")
        tail = slice(trained.holdout_rows[0] - window.start, trained.holdout_rows[1] - window.start)
        gate = compare(
            trained.holdout_predictions,
            predicted[tail],
            labels[tail],
            alpha=self.config.alpha,
            min_effect=self.config.min_effect,
        )
        decision = self.ws.meta.decisions.record(
            "gate",
            gate.outcome,
            f"v{trained.version} vs champion v{target.version} on {gate.rows} held-out rows: "
            f"{gate.challenger_accuracy:.1%} vs {gate.champion_accuracy:.1%}, {gate.why}",
            _evidence(gate, trained, target.version, target.revision, version.id),
            app=APP,
            run_id=trained.run_id,
            model=MODEL,
            version=trained.version,
            actor=self.ws.settings.actor,
        )
        if gate.outcome == "promote":
            self.ws.registry.promote(
                MODEL,
                trained.version,
                ALIAS,
                expected_revision=target.revision,
                reason=f"gate: v{trained.version} beat v{target.version}, {gate.why}; decision {decision.id}",
            )
        result = self._result(
            window,
            version,
            reused,
            trained,
            champion=target.version,
            live=live_accuracy,
            static=static_accuracy,
            gate=gate,
            decision_id=decision.id,
        )
        return result, predicted, predicted_static, labels

    # -- the steps --------------------------------------------------------------------------------------------

    def _ingest(self, window: Window) -> tuple[DatasetVersion, bool]:
        """Store the window as Parquet and add it as a dataset version; returns (version, already existed)."""
        part = self.stream.table.slice(window.start, window.rows)
        artifact = self.ws.artifacts.put_bytes(to_parquet(part))
        version, is_new = self.ws.meta.datasets.add_version(
            DATASET,
            content_digest(part),
            part.num_rows,
            artifact_digest=artifact,
            schema=schema_of(part, self.stream.target),
            source={"path": SOURCE_PATH, "rows": [window.start, window.end], "sha256": self.stream.sha256},
            time_min=row_time(window.start),
            time_max=row_time(window.end - 1),
            parents=[self.versions[-1].id] if self.versions else None,
        )
        self.windows.append(window)
        self.versions.append(version)
        return version, not is_new

    def _train(self, window: Window, holdout: DatasetVersion, monitor: ActiveRun, *, role: str) -> _Trained:
        """Fit on the most recent rows before ``window``'s held-out tail; register the model as a new version."""
        config = self.config
        hold = (window.end - max(1, int(window.rows * config.holdout_fraction)), window.end)
        train = (max(0, hold[0] - config.sliding_rows), hold[0])
        used = [v for w, v in zip(self.windows, self.versions, strict=True) if w.start < train[1] and w.end > train[0]]
        estimator = make_model(config.model, config.seed)
        params: dict[str, JSON] = {
            "model": config.model,
            "features": list(FEATURES),
            "target": self.stream.target,
            "window": window.index,
            "train_rows": list(train),
            "holdout_rows": list(hold),
            "sliding_rows": config.sliding_rows,
            **hyperparameters(estimator),
        }
        clock = self.ws.meta.clock
        with self.ws.tracker.start_run(
            f"train-w{window.index}",
            app=APP,
            kind="train",
            parent=monitor.id,
            params=params,
            tags={"role": role, "window": str(window.index)},
            seed=config.seed,
        ) as run:
            lineage = self.ws.meta.lineage
            for dataset in used:
                lineage.add(Node("dataset_version", dataset.id), Node("run", run.id), "input")
            lineage.add(Node("dataset_version", holdout.id), Node("run", run.id), "holdout")
            began = clock.monotonic()
            estimator.fit(self.features[slice(*train)], self.labels[slice(*train)])
            fit_seconds = clock.monotonic() - began
            predictions: NDArray[Any] = estimator.predict(self.features[slice(*hold)])
            accuracy = float(np.mean(predictions == self.labels[slice(*hold)]))
            train_accuracy = float(estimator.score(self.features[slice(*train)], self.labels[slice(*train)]))
            run.log_metrics(
                {"holdout_accuracy": accuracy, "train_accuracy": train_accuracy, "fit_seconds": fit_seconds}
            )
            blob = pickle.dumps(estimator, protocol=5)
            run.log_artifact("model.pkl", blob, media_type="application/x-python-pickle")
            registered = self.ws.registry.register(
                MODEL,
                blob,
                app=APP,
                flavor="sklearn",
                run_id=run.id,
                metrics={"holdout_accuracy": accuracy},
                meta={"window": window.index, "train_rows": list(train), "holdout_rows": list(hold), "role": role},
                datasets=[d.id for d in used],
                reference_profile=profile(self.stream.table.slice(train[0], train[1] - train[0])).to_json(),
            )
            run.set_tags({"model_version": f"{MODEL}/{registered.version}"})
        return _Trained(registered.version, run.id, train, hold, predictions, accuracy)

    def _load(self, version: int) -> Any:
        blob = self.ws.registry.load_bytes(MODEL, version)
        # The registry verified these bytes against the digest recorded when the version was registered.
        return pickle.loads(blob)

    def _compare(
        self, first: WindowResult, live: NDArray[Any], static: NDArray[Any], truth: NDArray[Any]
    ) -> StaticVsRetrained:
        paired = compare(live, static, truth, alpha=self.config.alpha, min_effect=0.0)
        seen = self.labels[slice(*first.train_rows)]
        values, counts = np.unique(seen, return_counts=True)
        constant = values[int(np.argmax(counts))]
        return StaticVsRetrained(
            rows=paired.rows,
            static_version=first.challenger_version,
            static_accuracy=paired.champion_accuracy,
            retrained_accuracy=paired.challenger_accuracy,
            retrained_only=paired.challenger_only,
            static_only=paired.champion_only,
            p_value=paired.p_value,
            constant_label=str(constant),
            constant_accuracy=float(np.mean(truth == constant)),
        )

    # -- small pieces -----------------------------------------------------------------------------------------

    def _result(
        self,
        window: Window,
        version: DatasetVersion,
        reused: bool,
        trained: _Trained,
        *,
        decision_id: str,
        champion: int | None = None,
        live: float | None = None,
        static: float | None = None,
        gate: GateResult | None = None,
    ) -> WindowResult:
        return WindowResult(
            index=window.index,
            start=window.start,
            end=window.end,
            time_min=row_time(window.start),
            time_max=row_time(window.end - 1),
            dataset_version_id=version.id,
            dataset_version=version.version,
            dataset_reused=reused,
            champion_version=champion,
            live_accuracy=live,
            static_accuracy=static,
            challenger_version=trained.version,
            train_run_id=trained.run_id,
            train_rows=trained.train_rows,
            holdout_rows=trained.holdout_rows,
            gate=gate,
            decision="promote" if gate is None else gate.outcome,
            decision_id=decision_id,
        )

    def _notify(self, result: WindowResult, total: int) -> None:
        if self.on_window is not None:
            self.on_window(result, total)

    def _spec(self) -> JSONObject:
        config = self.config
        return {
            "source": {"path": SOURCE_PATH, "sha256": self.stream.sha256, "order": "time"},
            "target": self.stream.target,
            "features": list(FEATURES),
            "model": {"kind": config.model, "seed": config.seed},
            "windows": {"rows": config.window_rows},
            "training": {"strategy": "sliding_window", "rows": config.sliding_rows},
            "gate": {
                "test": "mcnemar_exact",
                "alpha": config.alpha,
                "min_effect": config.min_effect,
                "holdout_fraction": config.holdout_fraction,
            },
        }

    def _replay_params(self, total: int) -> dict[str, JSON]:
        config = self.config
        return {
            "windows": total,
            "window_rows": config.window_rows,
            "sliding_rows": config.sliding_rows,
            "holdout_fraction": config.holdout_fraction,
            "model": config.model,
            "alpha": config.alpha,
            "min_effect": config.min_effect,
            "data_sha256": self.stream.sha256,
        }


def _evidence(gate: GateResult, trained: _Trained, champion: int, revision: int, holdout: str) -> JSONObject:
    return {
        "test": "mcnemar_exact_two_sided",
        "alpha": gate.alpha,
        "min_effect": gate.min_effect,
        "holdout": {"dataset_version": holdout, "rows": list(trained.holdout_rows), "n": gate.rows},
        "challenger": {"version": trained.version, "accuracy": gate.challenger_accuracy, "run_id": trained.run_id},
        "champion": {"version": champion, "accuracy": gate.champion_accuracy, "alias_revision": revision},
        "discordant": {"challenger_only": gate.challenger_only, "champion_only": gate.champion_only},
        "effect": gate.effect,
        "p_value": gate.p_value,
    }
