"""The store ``ctml bench ui`` times the dashboard over: bulk inserts through the metadata schema, the same
tables the tracker, registry, controller and monitor write, in a handful of transactions."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from ctml.config import Settings

if TYPE_CHECKING:
    from ctml.bench.ui import UiWorkload

__all__ = ["APP", "FEATURES", "populate"]

APP = "bench"
FEATURES = tuple(f"f{i}" for i in range(10))
_T0 = 1_700_000_000_000
_HOUR = 3_600_000


def populate(settings: Settings, workload: UiWorkload, seed: int = 0) -> None:
    """Fill the workspace of ``settings`` with the workload's rows, by bulk inserts in a few transactions."""
    from sqlalchemy import insert

    from ctml.hashing import canonical_json as dump
    from ctml.meta import open_meta
    from ctml.meta._schema import (
        alias_history,
        aliases,
        decisions,
        feedback,
        latest_metrics,
        lineage_edges,
        metrics,
        model_versions,
        models,
        predictions,
        rollouts,
        runs,
        steps,
    )

    rng = random.Random(seed)
    w = workload
    meta = open_meta(settings.meta_url)
    step_ms = 10 * 60_000
    run_ids = [f"run{i:010d}" for i in range(w.runs)]
    first_version_run = w.runs - w.versions
    with meta.engine.begin() as conn:
        run_rows: list[dict[str, Any]] = []
        step_rows: list[dict[str, Any]] = []
        metric_rows: list[dict[str, Any]] = []
        for i, rid in enumerate(run_ids):
            at = _T0 + i * step_ms
            failed = i % 97 == 13
            run_rows.append(
                {
                    "id": rid,
                    "app": APP,
                    "name": f"train-{i}",
                    "kind": "train",
                    "status": "failed" if failed else "finished",
                    "actor": "bench",
                    "parent_id": None,
                    "created_ms": at,
                    "ended_ms": at + 40_000,
                    "code_fingerprint": None,
                    "git_commit": None,
                    "environment": None,
                    "seed": i,
                    "error": "Traceback: ValueError" if failed else None,
                }
            )
            for s in range(w.steps_per_run):
                bad = failed and s == w.steps_per_run - 1
                step_rows.append(
                    {
                        "id": f"s{i:010d}{s:02d}",
                        "run_id": rid,
                        "name": f"step{s}",
                        "status": "failed" if bad else "finished",
                        "attempt": 1,
                        "started_ms": at + s * 10_000,
                        "ended_ms": at + s * 10_000 + 9_000,
                        "cache_key": f"{i % 50:032d}{s:032d}",
                        "cached": s == 0 and i % 3 == 0,
                        "error": "Traceback (most recent call last): ValueError" if bad else None,
                    }
                )
            accuracy = 0.8 + 0.1 * rng.random()
            metric_rows.append({"run_id": rid, "key": "holdout_accuracy", "value": accuracy, "step": 0, "at_ms": at})
            metric_rows.append({"run_id": rid, "key": "loss", "value": 1 - accuracy, "step": 0, "at_ms": at})
        conn.execute(insert(runs), run_rows)
        conn.execute(insert(steps), step_rows)
        conn.execute(insert(metrics), metric_rows)
        conn.execute(insert(latest_metrics), metric_rows)
        conn.execute(
            insert(models),
            [{"name": APP, "app": APP, "description": None, "created_ms": _T0, "next_version": w.versions + 1}],
        )
        version_rows: list[dict[str, Any]] = []
        edges: list[dict[str, Any]] = []
        for v in range(1, w.versions + 1):
            rid = run_ids[first_version_run + v - 1]
            at = _T0 + (first_version_run + v - 1) * step_ms + 60_000
            version_rows.append(
                {
                    "id": f"mv{v:010d}",
                    "model": APP,
                    "version": v,
                    "run_id": rid,
                    "artifact_digest": f"{v:064x}",
                    "flavor": "sklearn",
                    "metrics": dump({}),
                    "meta": dump({"job": f"job-{v}"}),
                    "actor": "controller",
                    "created_ms": at,
                }
            )
            edges.append(
                {
                    "src_kind": "run",
                    "src_id": rid,
                    "dst_kind": "model_version",
                    "dst_id": f"{APP}/{v}",
                    "relation": "produced",
                    "created_ms": at,
                }
            )
            edges.append(
                {
                    "src_kind": "dataset_version",
                    "src_id": f"ds{v:08d}",
                    "dst_kind": "model_version",
                    "dst_id": f"{APP}/{v}",
                    "relation": "input",
                    "created_ms": at,
                }
            )
        conn.execute(insert(model_versions), version_rows)
        conn.execute(insert(lineage_edges), edges)
        moves = list(range(1, w.versions + 1, max(1, w.versions // 200)))
        champion = moves[-1]
        conn.execute(
            insert(alias_history),
            [
                {
                    "model": APP,
                    "alias": "champion",
                    "revision": n + 1,
                    "from_version": moves[n - 1] if n else None,
                    "to_version": v,
                    "actor": "controller",
                    "reason": "roll-out reached full traffic",
                    "at_ms": version_rows[v - 1]["created_ms"] + _HOUR,
                }
                for n, v in enumerate(moves)
            ],
        )
        conn.execute(
            insert(aliases),
            [
                {
                    "model": APP,
                    "alias": "champion",
                    "version": champion,
                    "revision": len(moves),
                    "updated_ms": version_rows[champion - 1]["created_ms"] + _HOUR,
                }
            ],
        )
        conn.execute(
            insert(rollouts),
            [
                {
                    "app": APP,
                    "state": dump(
                        {
                            "app": APP,
                            "model": APP,
                            "candidate": champion,
                            "previous": moves[-2],
                            "stage": 3,
                            "stage_started": "2023-11-14T22:13:20+00:00",
                            "status": "completed",
                            "history": [],
                        }
                    ),
                    "plan": dump({"shadow_s": 600, "canary": [5, 25], "bake_s": 1800}),
                    "revision": 4,
                    "updated_ms": _T0,
                }
            ],
        )
    _monitor(meta, w, rng, runs, metrics, latest_metrics, insert)
    with meta.engine.begin() as conn:
        kinds = [
            ("trigger", "retrain"),
            ("trigger", "hold"),
            ("gate", "promote"),
            ("gate", "reject"),
            ("rollout", "advance"),
            ("rollout", "complete"),
            ("rollout", "rollback"),
        ]
        end = _T0 + w.runs * step_ms
        conn.execute(
            insert(decisions),
            [
                {
                    "id": f"d{i:030d}",
                    "app": APP,
                    "kind": kinds[i % len(kinds)][0],
                    "outcome": kinds[i % len(kinds)][1],
                    "summary": f"decision {i}",
                    "evidence": dump({"checks": [], "rule": {"fired": i % 2 == 0}}),
                    "run_id": None,
                    "model": APP,
                    "version": 1 + i % w.versions,
                    "actor": "controller",
                    "created_ms": _T0 + (end - _T0) * i // w.decisions,
                }
                for i in range(w.decisions)
            ],
        )
        conn.execute(
            insert(predictions),
            [
                {
                    "id": f"p{i:030d}",
                    "app": APP,
                    "model": APP,
                    "version": champion,
                    "route": "champion",
                    "rows": 1,
                    "inputs": "[[0]]",
                    "output": "[1]",
                    "latency_ms": 1.0,
                    "at_ms": end - (w.predictions - i) * 60_000,
                }
                for i in range(w.predictions)
            ],
        )
        conn.execute(
            insert(feedback),
            [
                {
                    "prediction_id": f"p{i:030d}-0",
                    "batch_id": f"p{i:030d}",
                    "row": 0,
                    "app": APP,
                    "label": "1",
                    "at_ms": end - (w.predictions - i) * 60_000 + 2 * _HOUR,
                    "received_ms": end,
                }
                for i in range(w.predictions)
            ],
        )
    meta.close()


def _monitor(meta: Any, w: UiWorkload, rng: random.Random, runs: Any, metrics: Any, latest: Any, insert: Any) -> None:
    end = _T0 + w.runs * 10 * 60_000
    gap = max(60_000, (end - _T0) // max(1, w.observations))
    rows: list[dict[str, Any]] = []
    drift = {f: 0.05 for f in FEATURES}
    for step in range(w.observations):
        at = _T0 + step * gap
        for f in FEATURES:
            drift[f] = min(1.0, max(0.0, drift[f] + rng.gauss(0, 0.01)))
        values = {
            "monitor.rows": 500.0,
            "monitor.accuracy": 0.85 + 0.05 * rng.random(),
            "monitor.baseline": 0.87,
            "monitor.label_coverage": 1.0,
            "monitor.drift.share": sum(v > 0.1 for v in drift.values()) / 10,
            "monitor.prediction_drift": 0.05 * rng.random(),
            "monitor.version": 1.0,
        }
        values.update({f"monitor.drift.{f}": v for f, v in drift.items()})
        rows.extend(
            {"run_id": "monitor-run", "key": k, "value": v, "step": step, "at_ms": at} for k, v in values.items()
        )
    with meta.engine.begin() as conn:
        conn.execute(
            insert(runs),
            [
                {
                    "id": "monitor-run",
                    "app": APP,
                    "name": "monitor",
                    "kind": "monitor",
                    "status": "running",
                    "actor": "ctml-monitor",
                    "parent_id": None,
                    "created_ms": _T0 - 1,
                    "ended_ms": None,
                    "code_fingerprint": None,
                    "git_commit": None,
                    "environment": None,
                    "seed": None,
                    "error": None,
                }
            ],
        )
        conn.execute(insert(metrics), rows)
        last = {r["key"]: r for r in rows}
        conn.execute(insert(latest), list(last.values()))
