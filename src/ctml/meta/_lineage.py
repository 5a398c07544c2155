"""Lineage: a graph of what was made from what, walked both ways.

Nodes are ``kind:id`` pairs (run, step, dataset_version, model_version, artifact, deployment). An edge says
``src`` went into ``dst``. ``upstream(model_version)`` answers "what produced this model";
``downstream(dataset_version)`` answers "what was produced from this dataset".
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError

from ctml.errors import ConfigError
from ctml.meta._records import Edge, Node, must_ms
from ctml.meta._schema import lineage_edges
from ctml.meta._tx import Repo, short_text

__all__ = ["LineageRepo"]

_KINDS = {"run", "step", "dataset_version", "model_version", "artifact", "deployment", "app"}


def _check(node: Node) -> Node:
    if node.kind not in _KINDS:
        raise ConfigError(f"A lineage node kind must be one of {', '.join(sorted(_KINDS))}. Got {node.kind!r}.")
    return node


class LineageRepo(Repo):
    def add(self, src: Node, dst: Node, relation: str = "input") -> None:
        """Record that ``src`` went into ``dst``; recording the same edge twice is a no-op."""
        _check(src)
        _check(dst)
        short_text("lineage relation", relation, 64)
        row = {
            "src_kind": src.kind,
            "src_id": src.id,
            "dst_kind": dst.kind,
            "dst_id": dst.id,
            "relation": relation,
            "created_ms": self._now_ms(),
        }
        stmt = self._upsert(lineage_edges).on_conflict_do_nothing()
        try:
            with self._write() as conn:
                conn.execute(stmt, [row])
        except IntegrityError:  # pragma: no cover - on_conflict_do_nothing covers it
            pass

    def upstream(self, node: Node, depth: int = 10) -> list[Edge]:
        """Edges into ``node`` and, transitively, into its sources, up to ``depth`` hops."""
        return self._walk(node, depth, forward=False)

    def downstream(self, node: Node, depth: int = 10) -> list[Edge]:
        """Edges out of ``node`` and, transitively, out of what it went into, up to ``depth`` hops."""
        return self._walk(node, depth, forward=True)

    def _walk(self, start: Node, depth: int, *, forward: bool) -> list[Edge]:
        _check(start)
        seen = {start}
        frontier = [start]
        found: list[Edge] = []
        with self._read() as conn:
            for _ in range(depth):
                if not frontier:
                    break
                edges = list(self._edges(conn, frontier, forward))
                frontier = []
                for edge in edges:
                    found.append(edge)
                    nxt = edge.dst if forward else edge.src
                    if nxt not in seen:
                        seen.add(nxt)
                        frontier.append(nxt)
        return found

    def _edges(self, conn: object, nodes: list[Node], forward: bool) -> Iterable[Edge]:
        kind_col, id_col = (
            (lineage_edges.c.src_kind, lineage_edges.c.src_id)
            if forward
            else (lineage_edges.c.dst_kind, lineage_edges.c.dst_id)
        )
        for start in range(0, len(nodes), 200):
            chunk = nodes[start : start + 200]
            query = (
                select(lineage_edges)
                .where(or_(*(and_(kind_col == n.kind, id_col == n.id) for n in chunk)))
                .order_by(lineage_edges.c.seq)
            )
            for r in conn.execute(query):  # type: ignore[attr-defined]
                yield Edge(Node(r.src_kind, r.src_id), Node(r.dst_kind, r.dst_id), r.relation, must_ms(r.created_ms))
