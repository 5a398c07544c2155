"""Pages over the replayed workspace through the ASGI app, and the pieces they are made of (charts, reports)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from ctml.bench.ui import UiWorkload, bench_ui, markdown_section, populate
from ctml.config import Settings
from ctml.dashboard import create_dashboard, standalone
from ctml.dashboard._charts import Line, LineageNode, Mark, line_chart, lineage_graph, nice_ticks
from ctml.dashboard._queries import Queries
from ctml.dashboard._reports import find_reports, get_report
from ctml.errors import NotFoundError
from ctml.workspace import Workspace

from .history import APP, Populated


@pytest.fixture(scope="module")
def client(populated: Populated) -> Iterator[TestClient]:
    with Workspace(populated.settings) as ws:
        yield TestClient(standalone(create_dashboard(ws)))


def test_every_page_answers_with_its_data(client: TestClient, populated: Populated) -> None:
    overview = client.get("/ui/")
    assert overview.status_code == 200
    assert f'data-app="{APP}"' in overview.text
    app = client.get(f"/ui/apps/{APP}").text
    assert app.count('<svg class="chart"') == 3
    assert "labels pending" in app
    assert 'data-kind="retrain"' in app
    model = client.get(f"/ui/models/{APP}").text
    assert '<svg class="lineage"' in model
    assert "Alias history" in model
    run = client.get(f"/ui/runs/{populated.failed_run}").text
    assert "refusing a mean" in run
    assert client.get("/ui/backtests/elec2-slice").status_code == 200
    report = client.get("/ui/backtests/elec2-slice/report.html")
    assert report.headers["content-security-policy"] == "script-src 'none'"
    assert "<svg" in report.text


def test_lists_are_paged_and_counted_in_the_database(tmp_path: Path) -> None:
    settings = Settings.local(tmp_path, "t")
    populate(settings, UiWorkload(runs=300, versions=60, observations=50, decisions=120, predictions=10))
    with Workspace(settings) as ws:
        client = TestClient(standalone(create_dashboard(ws)))
        run = re.compile(r'href="/ui/runs/(run\d+)"')
        first = run.findall(client.get("/ui/runs?kind=train").text)
        second_page = client.get("/ui/runs?kind=train&page=2").text
        second = run.findall(second_page)
        assert len(first) == 50
        assert len(second) == 50
        assert not set(first) & set(second)
        assert first[0] == "run0000000299"  # newest first
        assert "Page 2 of 6" in second_page
        assert "kind=train&amp;page=3" in second_page  # the filter survives paging
        rows, page = Queries(ws.meta).runs_page(kind="train", page=6, size=50)
        assert page.total == 300
        assert rows[-1].id == "run0000000000"
        assert (rows[-1].steps, rows[-1].cached) == (3, 1)  # run 0: three steps, the first a cache hit
        versions = re.findall(
            r'<a href="/ui/models/bench\?v=(\d+)&page=2">', client.get("/ui/models/bench?page=2").text
        )
        assert versions == [str(v) for v in range(10, 0, -1)]


def test_unknown_things_get_a_404_page_and_bad_parameters_a_400(client: TestClient) -> None:
    for path in ("/ui/apps/nope", "/ui/models/nope", "/ui/runs/nope", "/ui/decisions/nope", "/ui/nowhere",
                 "/ui/backtests/nope", "/ui/backtests/..%2Fmeta/report.html"):  # fmt: skip
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert "Not found" in answer.text
    bad = client.get("/ui/runs?page=-1")
    assert bad.status_code == 400
    assert "whole number" in bad.text


def test_series_are_thinned_in_the_database(populated: Populated) -> None:
    with Workspace(populated.settings) as ws:
        queries = Queries(ws.meta)
        run = queries.monitor_run(APP)
        assert run is not None
        full = queries.series(run, ["monitor.accuracy"])[0].points
        thin = queries.series(run, ["monitor.accuracy"], limit=max(2, len(full) // 3))[0].points
    assert len(full) > 6
    assert len(thin) <= max(2, len(full) // 3) + 1
    mean_full = sum(v for _, v in full) / len(full)
    mean_thin = sum(v for _, v in thin) / len(thin)
    assert abs(mean_full - mean_thin) < 0.05  # buckets average their points


def test_a_chart_has_axes_legend_lines_and_merged_marks() -> None:
    hour = 3_600_000
    svg = line_chart(
        [Line("accuracy", "#000", [(0, 0.8), (hour, 0.9), (2 * hour, 0.85)])],
        title="perf",
        y_label="accuracy",
        marks=[Mark(hour, "retrain", "a"), Mark(hour + 1, "retrain", "b"), Mark(2 * hour, "rollback", "c")],
        shade=(hour, 2 * hour, "labels pending"),
    )
    assert svg.count("<polyline") == 1
    assert svg.count('class="c-mark"') == 2  # two retrains a millisecond apart are one mark listing both
    assert "a\nb" in svg
    assert "labels pending" in svg
    assert ">accuracy</text>" in svg
    assert "no data yet" in line_chart([], title="t", y_label="y")
    assert nice_ticks(0, 100) == [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]


def test_the_lineage_graph_links_nodes_left_to_right() -> None:
    nodes = [LineageNode("d", 0, "data v1", "10 rows"), LineageNode("r", 1, "train", "finished", "runs/r")]
    svg = lineage_graph(nodes, [("d", "r"), ("d", "missing")], ["datasets", "run"])
    assert svg.count('class="l-edge"') == 1
    assert '<a href="runs/r">' in svg


def test_reports_are_found_by_a_safe_name(tmp_path: Path) -> None:
    (tmp_path / "week-1.json").write_text('{"policies": {"ctml": {}}}')
    (tmp_path / "week-2.html").write_text("<html></html>")
    (tmp_path / "notes.txt").write_text("ignored")
    assert {r.name for r in find_reports(tmp_path)} == {"week-1", "week-2"}
    assert get_report(tmp_path, "week-1").summary() == {"policies": {"ctml": {}}}
    assert get_report(tmp_path, "week-2").summary() is None
    for name in ("../etc", "nope", ""):
        with pytest.raises(NotFoundError):
            get_report(tmp_path, name)
    assert find_reports(tmp_path / "missing") == []


def test_bench_ui_measures_both_pages(tmp_path: Path) -> None:
    small = UiWorkload(runs=300, versions=50, observations=100, decisions=100, predictions=100, requests=3, warmup=1)
    result = bench_ui(small)
    assert {p.page for p in result.pages} >= {"overview", "model"}
    assert all(p.median_ms > 0 for p in result.pages)
    assert all(p.bytes > 1000 for p in result.pages)
    record = result.as_dict()
    assert record["runs"] == 300
    assert record["versions"] == 50
    assert record["overview_ms"] > 0
    section = markdown_section(result, "ctml bench ui")
    assert section.startswith("<!-- ctml bench ui: start -->")
    settings = Settings.local(tmp_path / "ws", "t")
    populate(settings, small)
    with Workspace(settings) as ws:
        assert ws.meta.runs.count() == 301  # the runs and the monitor's
        assert len(ws.meta.models.versions("bench", limit=1000)) == 50
