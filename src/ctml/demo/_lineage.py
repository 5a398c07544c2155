"""Read a model version's lineage back from the metadata store: the run that produced it and its datasets.

The demo prints what the store says, not what it remembers having written, so the output proves the
lineage was recorded.
"""

from __future__ import annotations

from ctml.demo._result import LineageDataset
from ctml.errors import NotFoundError
from ctml.meta import DatasetVersion, MetaStore, Node

__all__ = ["champion_lineage"]


def champion_lineage(meta: MetaStore, model: str, version: int) -> tuple[str, tuple[LineageDataset, ...]]:
    """(the id of the run that produced ``model`` v``version``, the dataset versions that run used)."""
    lineage = meta.lineage
    runs = [
        e.src for e in lineage.upstream(Node("model_version", f"{model}/{version}"), depth=1) if e.src.kind == "run"
    ]
    if not runs:
        raise NotFoundError(f"{model} v{version} has no producing run in the lineage graph.")
    run = runs[0]
    relations: dict[str, list[str]] = {}
    for edge in lineage.upstream(run, depth=1):
        if edge.src.kind == "dataset_version":
            relations.setdefault(edge.src.id, []).append(edge.relation)
    found = []
    for dataset_id, kinds in relations.items():
        record = meta.datasets.get(dataset_id)
        parents = tuple(
            e.src.id for e in lineage.upstream(Node("dataset_version", dataset_id), depth=1) if e.relation == "derived"
        )
        start, end = _span(record)
        found.append(
            LineageDataset(
                id=record.id,
                version=record.version,
                relation="+".join(sorted(kinds)),
                rows=record.rows,
                start=start,
                end=end,
                time_min=record.time_min,
                time_max=record.time_max,
                parent_ids=parents,
                parent_versions=tuple(meta.datasets.get(p).version for p in parents),
            )
        )
    return run.id, tuple(sorted(found, key=lambda d: d.version))


def _span(record: DatasetVersion) -> tuple[int | None, int | None]:
    """The stream rows a dataset version holds, from its recorded source."""
    match (record.source or {}).get("rows"):
        case [int(start), int(end)]:
            return start, end
    return None, None
