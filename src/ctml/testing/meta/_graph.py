"""Checks of lineage and dataset versions."""

from __future__ import annotations

from ctml.errors import ConfigError, NotFoundError
from ctml.meta import Edge, Node
from ctml.testing._assertions import expect as _expect
from ctml.testing._assertions import raises as _raises
from ctml.testing.meta._expect import (
    DIGEST_A,
    DIGEST_B,
    MetaStoreFactory,
    _expect_fields,
    _show,
)

# --- lineage and datasets ----------------------------------------------------------------------------------


def check_lineage_walks(factory: MetaStoreFactory) -> None:
    """Edges are walked upstream and downstream over several hops, bounded by depth; an edge recorded twice
    is stored once; cycles end."""
    with factory() as store:
        lineage = store.lineage
        data, run, model, deploy = (
            Node("dataset_version", "ds1"),
            Node("run", "r1"),
            Node("model_version", "m/1"),
            Node("deployment", "dep1"),
        )
        code = Node("artifact", DIGEST_A)
        lineage.add(data, run, "input")
        lineage.add(code, run, "input")
        lineage.add(run, model, "produced")
        lineage.add(model, deploy, "deployed")
        lineage.add(run, model, "produced")  # the same edge again: stored once
        everything = {
            (data, run, "input"),
            (code, run, "input"),
            (run, model, "produced"),
            (model, deploy, "deployed"),
        }

        def walk(found: list[Edge], what: str) -> set[tuple[Node, Node, str]]:
            edges = [(e.src, e.dst, e.relation) for e in found]
            _expect(len(edges) == len(set(edges)), f"{what} returned an edge twice: {edges}")
            return set(edges)

        cases = {
            "upstream(deployment)": (lineage.upstream(deploy), everything),
            "upstream(deployment, depth=1)": (lineage.upstream(deploy, depth=1), {(model, deploy, "deployed")}),
            "upstream(model_version, depth=2)": (
                lineage.upstream(model, depth=2),
                {(run, model, "produced"), (data, run, "input"), (code, run, "input")},
            ),
            "downstream(dataset_version)": (
                lineage.downstream(data),
                {(data, run, "input"), (run, model, "produced"), (model, deploy, "deployed")},
            ),
            "downstream(artifact, depth=2)": (
                lineage.downstream(code, depth=2),
                {(code, run, "input"), (run, model, "produced")},
            ),
            "downstream(deployment)": (lineage.downstream(deploy), set()),
            "upstream(dataset_version)": (lineage.upstream(data), set()),
        }
        for what, (found, expected) in cases.items():
            edges = walk(found, what)
            _expect(edges == expected, f"lineage.{what} gave {_show(edges)}, expected {_show(expected)}")

        first, second = Node("run", "loop-a"), Node("run", "loop-b")
        lineage.add(first, second)
        lineage.add(second, first)
        loop = walk(lineage.downstream(first), "downstream in a cycle")
        _expect(loop == {(first, second, "input"), (second, first, "input")}, f"a cycle walked to {_show(loop)}")
        for call in (lambda: lineage.add(Node("bogus", "x"), run), lambda: lineage.upstream(Node("bogus", "x"))):
            with _raises(ConfigError, "a lineage node of unknown kind"):
                call()


def check_model_version_lineage(factory: MetaStoreFactory) -> None:
    """create_version(run_id, sources) links the run ('produced') and each source ('input') to the version."""
    with factory() as store:
        run_id = store.runs.create("train")
        dataset, _ = store.datasets.add_version("sales", DIGEST_A, 10)
        data = Node("dataset_version", dataset.id)
        store.models.create_version("m", run_id=run_id, sources=[data])
        first = Node("model_version", "m/1")
        edges = {(e.src, e.dst, e.relation) for e in store.lineage.upstream(first)}
        expected = {(Node("run", run_id), first, "produced"), (data, first, "input")}
        _expect(edges == expected, f"upstream of m/1 is {_show(edges)}, expected {_show(expected)}")
        down = {e.dst for e in store.lineage.downstream(data)}
        _expect(first in down, f"downstream of the dataset version must reach m/1, got {sorted(down)}")

        other = store.runs.create("train-2")
        store.models.create_version("m", run_id=other, sources=[Node("run", other), data, data])
        second = Node("model_version", "m/2")
        edges = {(e.src, e.dst, e.relation) for e in store.lineage.upstream(second)}
        expected = {(Node("run", other), second, "produced"), (data, second, "input")}
        _expect(edges == expected, f"sources repeating the run or a node must add each edge once: {_show(edges)}")
        store.models.create_version("m")
        _expect(store.lineage.upstream(Node("model_version", "m/3")) == [], "a version with no sources has no edges")


def check_datasets(factory: MetaStoreFactory) -> None:
    """Dataset versions are numbered per dataset; the same digest returns the stored version (not new);
    parents become 'derived' lineage edges."""
    with factory() as store:
        datasets = store.datasets
        first, new = datasets.add_version(
            "sales",
            DIGEST_A,
            100,
            artifact_digest=DIGEST_B,
            schema={"x": "float"},
            source={"glob": "data/*.parquet"},
            time_min="2024-01-01",
            time_max="2024-01-31",
        )
        _expect(new, "the first add_version of a digest must say it is new")
        _expect_fields(
            first,
            "datasets.add_version",
            dataset="sales",
            version=1,
            digest=DIGEST_A,
            artifact_digest=DIGEST_B,
            rows=100,
            schema={"x": "float"},
            profile=None,
            source={"glob": "data/*.parquet"},
            time_min="2024-01-01",
            time_max="2024-01-31",
        )
        again, new = datasets.add_version("sales", DIGEST_A, 999)
        _expect(not new, "add_version of a digest already stored must say it is not new")
        _expect(
            again.id == first.id and again.version == 1 and again.rows == 100,
            f"add_version of a stored digest must return the stored version unchanged, got {again}",
        )
        second, new = datasets.add_version("sales", "c" * 64, 50, parents=[first.id, first.id])
        _expect(new and second.version == 2, f"a new digest must be version 2 and new, got v{second.version}, {new}")
        elsewhere, new = datasets.add_version("other", DIGEST_A, 100)
        _expect(
            new and elsewhere.version == 1 and elsewhere.id != first.id,
            f"numbering and identity are per dataset; 'other' got v{elsewhere.version}, new={new}",
        )

        up = [(e.src, e.dst, e.relation) for e in store.lineage.upstream(Node("dataset_version", second.id))]
        derived = [(Node("dataset_version", first.id), Node("dataset_version", second.id), "derived")]
        _expect(up == derived, f"parents must become one 'derived' edge each: {up}")
        down = {e.dst.id for e in store.lineage.downstream(Node("dataset_version", first.id))}
        _expect(down == {second.id}, f"downstream of the parent gave {down}")

        got = datasets.get(first.id)
        _expect(got.id == first.id and got.digest == DIGEST_A and got.rows == 100, f"datasets.get gave {got}")
        listed = [(d.dataset, d.version) for d in datasets.list("sales")]
        _expect(listed == [("sales", 2), ("sales", 1)], f"datasets.list('sales') gave {listed}, newest first")
        _expect(len(datasets.list()) == 3, f"datasets.list() gave {len(datasets.list())} versions, expected 3")
        _expect(len(datasets.list("sales", limit=1)) == 1, "datasets.list(limit=1) must return one version")
        datasets.set_profile(first.id, {"columns": {"x": {"mean": 1.5}}})
        profile = datasets.get(first.id).profile
        _expect(profile == {"columns": {"x": {"mean": 1.5}}}, f"set_profile stored {profile}")
        with _raises(NotFoundError, "datasets.get of an unknown id"):
            datasets.get("no-such-version")
        with _raises(NotFoundError, "datasets.set_profile of an unknown id"):
            datasets.set_profile("no-such-version", {})
        with _raises(ConfigError, "datasets.add_version with an empty name"):
            datasets.add_version("", DIGEST_A, 1)
