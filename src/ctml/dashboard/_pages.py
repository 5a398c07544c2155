"""Each page's data: a template name and its context, read through :class:`Queries` (paged, aggregated)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ctml.dashboard._charts import Line, LineageNode, Mark, line_chart, lineage_graph
from ctml.dashboard._overview import app_charts, marks_for, rollout_view, summarize
from ctml.dashboard._queries import Queries
from ctml.dashboard._reports import find_reports, get_report
from ctml.errors import NotFoundError
from ctml.meta import MetaStore, Node
from ctml.store import ArtifactStore

__all__ = ["PageData", "Pages"]

_LOG_BYTES = 64_000


@dataclass(frozen=True)
class PageData:
    template: str
    context: dict[str, Any]


class Pages:
    def __init__(self, meta: MetaStore, artifacts: ArtifactStore, reports: Path) -> None:
        self.meta = meta
        self.artifacts = artifacts
        self.queries = Queries(meta)
        self.reports = reports

    def overview(self) -> PageData:
        apps = [summarize(self.queries, app) for app in self.queries.apps()]
        pending = self.queries.pending(limit=20)
        return PageData("overview.html", {"apps": apps, "pending": pending})

    def app(self, name: str) -> PageData:
        if name not in self.queries.apps():
            raise NotFoundError(f"No app named {name!r}. The overview lists every app.")
        summary = summarize(self.queries, name)
        decisions, _ = self.queries.decisions_page(app=name, size=12)
        return PageData(
            "app.html",
            {
                "app": summary,
                "charts": app_charts(self.queries, name),
                "decisions": decisions,
                "pending": self.queries.pending(name),
                "models": self.queries.app_models(name),
            },
        )

    def models(self) -> PageData:
        return PageData("models.html", {"models": self.queries.models()})

    def model(self, name: str, page: int, selected: int | None) -> PageData:
        versions, where = self.queries.versions_page(name, page=page, size=50)
        if where.total == 0:
            raise NotFoundError(f"No model named {name!r}. The models page lists every model.")
        aliases = self.queries.aliases(name)
        by_version: dict[int, list[str]] = {}
        for alias, number in aliases.items():
            by_version.setdefault(number, []).append(alias)
        run_metrics = self.queries.run_metrics([v.run_id for v in versions if v.run_id])
        focus = selected or aliases.get("champion") or versions[0].version
        version = self.queries.version(name, focus)
        if version is None:
            raise NotFoundError(f"Model {name!r} has no version {focus}.")
        history = self.queries.alias_moves(name, limit=50)
        trend_key = next((k for m in run_metrics.values() for k in sorted(m) if k.startswith("holdout_")), None)
        return PageData(
            "model.html",
            {
                "model": name,
                "versions": versions,
                "page": where,
                "aliases": aliases,
                "by_version": by_version,
                "run_metrics": run_metrics,
                "focus": version,
                "lineage": self._lineage(name, focus),
                "history": history,
                "trend": self._trend(name, trend_key) if trend_key else None,
                "app": self.queries.version_app(name) or name,
            },
        )

    def _trend(self, model: str, key: str) -> str:
        points = self.queries.metric_trend(model, key)
        versions = {v.version: v for v in self.queries.versions_page(model, size=200)[0]}
        timed = [(int(versions[v].created_at.timestamp() * 1000), x) for v, x in points if v in versions]
        moves = [
            Mark(
                int(m.at_ms),
                "promote" if m.alias == "champion" else "start",
                f"{m.alias}: v{m.from_version or '-'} -> v{m.to_version or '-'} ({m.reason})",
            )
            for m in self.queries.alias_moves(model, limit=200)
        ]
        return line_chart(
            [Line(key, "#0969da", timed, width=2.0)],
            title=f"{key} of each new version (newest 200)",
            y_label=key,
            marks=moves,
        )

    def _lineage(self, model: str, version: int) -> str:
        focus = Node("model_version", f"{model}/{version}")
        edges = self.meta.lineage.upstream(focus, depth=3)
        nodes: dict[str, LineageNode] = {}
        links: list[tuple[str, str]] = []
        columns = {"dataset_version": 0, "run": 1, "model_version": 2}
        for edge in edges:
            for node in (edge.src, edge.dst):
                key = str(node)
                if key in nodes or node.kind not in columns:
                    continue
                nodes[key] = self._lineage_node(node, columns[node.kind], focus)
            links.append((str(edge.src), str(edge.dst)))
        nodes.setdefault(str(focus), self._lineage_node(focus, 2, focus))
        for move in self.queries.alias_moves(model, version=version, limit=8):
            if move.to_version != version:
                continue
            key = f"deploy:{move.alias}:{move.revision}"
            nodes[key] = LineageNode(
                key, 3, f"{move.alias} (rev {move.revision})", f"since {_ms(move.at_ms)}", None, "live"
            )
            links.append((str(focus), key))
        rollout = self.queries.rollout(self.queries.version_app(model) or model)
        view = rollout_view(rollout)
        if view is not None and view["candidate"] == version and view["model"] == model:
            key = "deploy:rollout"
            nodes[key] = LineageNode(key, 3, f"roll-out: {view['status']}", f"stage {view['stage']}", None, "live")
            links.append((str(focus), key))
        return lineage_graph(list(nodes.values()), links, ["dataset versions", "run", "model version", "deployments"])

    def _lineage_node(self, node: Node, column: int, focus: Node) -> LineageNode:
        if node.kind == "dataset_version":
            try:
                found = self.meta.datasets.get(node.id)
                return LineageNode(str(node), column, f"{found.dataset} v{found.version}", f"{found.rows:,} rows")
            except NotFoundError:
                return LineageNode(str(node), column, "dataset version", node.id, tone="muted")
        if node.kind == "run":
            try:
                run = self.meta.runs.get(node.id)
                return LineageNode(str(node), column, run.name, f"{run.kind} · {run.status}", f"runs/{node.id}")
            except NotFoundError:
                return LineageNode(str(node), column, "run", node.id, tone="muted")
        model, _, number = node.id.rpartition("/")
        tone = "focus" if node == focus else "default"
        return LineageNode(str(node), column, f"{model} v{number}", "model version", f"models/{model}?v={number}", tone)

    def runs(self, app: str | None, kind: str | None, status: str | None, page: int) -> PageData:
        rows, where = self.queries.runs_page(app=app, kind=kind, status=status, page=page, size=50)
        return PageData(
            "runs.html",
            {
                "runs": rows,
                "page": where,
                "kinds": self.queries.run_kinds(),
                "apps": self.queries.apps(),
                "filters": {"app": app, "kind": kind, "status": status},
            },
        )

    def run(self, run_id: str) -> PageData:
        run = self.meta.runs.get(run_id)
        steps = self.meta.steps.list(run_id)
        artifacts = self.meta.artifacts.list(run_id=run_id)
        logs = []
        for ref in artifacts:
            if (ref.media_type.startswith("text/") or ref.name.endswith(".log")) and ref.size <= _LOG_BYTES:
                text = self.artifacts.get_bytes(ref.digest).decode("utf-8", "replace")
                logs.append((ref.name, text))
        monitor = run.kind == "monitor"
        metrics = {} if monitor else run.metrics
        return PageData(
            "run.html",
            {
                "run": run,
                "steps": steps,
                "artifacts": artifacts,
                "logs": logs,
                "metrics": metrics,
                "monitor": monitor,
                "environment": json.dumps(run.environment, indent=2) if run.environment else "",
            },
        )

    def decisions(self, app: str | None, kind: str | None, outcome: str | None, page: int) -> PageData:
        rows, where = self.queries.decisions_page(app=app, kind=kind, outcome=outcome, page=page, size=50)
        return PageData(
            "decisions.html",
            {
                "decisions": rows,
                "page": where,
                "apps": self.queries.apps(),
                "pending": self.queries.pending(app),
                "filters": {"app": app, "kind": kind, "outcome": outcome},
            },
        )

    def decision(self, decision_id: str) -> PageData:
        found = self.queries.decision(decision_id)
        if found is None:
            raise NotFoundError(f"No decision with id {decision_id!r}.")
        evidence = found.evidence if isinstance(found.evidence, dict) else {"value": found.evidence}
        checks = evidence.get("checks") if isinstance(evidence.get("checks"), list) else None
        rest = {k: v for k, v in evidence.items() if k != "checks"}
        approvals = [
            d
            for d in self.queries.decisions_page(app=found.app, kind="approval", size=200)[0]
            if isinstance(d.evidence, dict) and d.evidence.get("gate_decision") == found.id
        ]
        pending = found.kind == "gate" and found.outcome == "needs_approval" and not approvals
        audit, _ = self.queries.audit_page(entity=decision_id, size=20)
        return PageData(
            "decision.html",
            {
                "d": found,
                "checks": checks,
                "evidence": rest,
                "evidence_json": json.dumps(rest, indent=2, default=str),
                "approvals": approvals,
                "pending": pending,
                "audit": audit,
                "marks": marks_for([found]),
            },
        )

    def audit(self, entity: str | None, page: int) -> PageData:
        rows, where = self.queries.audit_page(entity=entity, page=page, size=50)
        return PageData("audit.html", {"rows": rows, "page": where, "entity": entity})

    def backtests(self) -> PageData:
        found = find_reports(self.reports)
        return PageData("backtests.html", {"reports": [(r, r.summary()) for r in found], "folder": self.reports})

    def backtest(self, name: str) -> PageData:
        report = get_report(self.reports, name)
        return PageData("backtest.html", {"report": report, "summary": report.summary()})


def _ms(at_ms: int) -> str:
    return f"{datetime.fromtimestamp(at_ms / 1000, tz=UTC):%Y-%m-%d %H:%M}"
