"""End to end in a real headless Chromium (Debian's, driven by Playwright) against a live ``ctml serve``.

Every page must render with data and draw its charts; an approval clicked in the browser must move the
registry's champion and land in the audit log with the operator's name. Screenshots are saved under
tests/artifacts/dashboard/.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from _services import unreachable
from ctml.workspace import Workspace

from .history import APP, DEMO_APP, Populated, free_port

CHROMIUM = Path("/usr/bin/chromium")
RUN_PAGE = re.compile(r".*/ui/runs/[0-9A-Z]+$")
DECISION_PAGE = re.compile(r".*/ui/decisions/[0-9A-Z]+$")
SHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "dashboard"


@pytest.fixture(scope="module")
def live(populated: Populated) -> Iterator[str]:
    """``ctml serve`` (the real command, in its own process) serving the app, with the dashboard at /ui."""
    port = free_port()
    code = "import sys; from ctml.cli._main import main; sys.argv[0] = 'ctml'; main()"
    args = [
        sys.executable,
        "-c",
        code,
        "--home",
        str(populated.home),
        "serve",
        "--app",
        f"{APP}={APP}",
        "--port",
        str(port),
        "--poll",
        "0.5",
    ]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "CTML_ACTOR": "server"}
    child = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if child.poll() is not None:
                pytest.fail(f"ctml serve exited with {child.returncode}: {child.stdout.read() if child.stdout else ''}")
            try:
                if httpx.get(f"{url}/ui/", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("ctml serve did not answer /ui/ within 60 s")
            time.sleep(0.2)
        yield url
    finally:
        child.terminate()
        try:
            child.wait(20)
        except subprocess.TimeoutExpired:
            child.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unreachable("playwright is not installed (pip install 'ctml[dev]')")
    if not CHROMIUM.exists():
        unreachable(f"{CHROMIUM} is missing (apt-get install chromium)")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        launched = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    opened.on("requestfailed", lambda request: errors.append(f"request failed: {request.url}"))
    yield opened
    context.close()
    assert errors == [], errors


def _shot(page: Any, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _polyline_points(page: Any, selector: str) -> list[int]:
    return list(page.eval_on_selector_all(f"{selector} polyline", "els => els.map(e => e.points.numberOfItems)"))


def test_every_page_renders_with_data_and_charts(live: str, page: Any, populated: Populated) -> None:
    page.goto(f"{live}/ui/")
    card = page.locator(f'section.app-card[data-app="{APP}"]')
    assert card.count() == 1
    assert f"{APP} v" in card.locator(".kpi").first.inner_text()  # the champion
    assert "accuracy" in card.inner_text().lower()
    assert page.locator("section.app-card svg.spark polyline").count() == 2  # elec2 and the demo's app
    assert "awaiting approval" in page.inner_text("body").lower()
    _shot(page, "01-overview")

    page.click(f"text={APP} >> nth=0")
    page.wait_for_url(f"**/ui/apps/{APP}")
    charts = page.locator("svg.chart")
    assert charts.count() == 3
    points = _polyline_points(page, "svg.chart")
    assert len(points) >= 3, points  # performance, overall drift, 8 features
    assert all(n >= 2 for n in points), points
    kinds = set(page.eval_on_selector_all("svg.chart g.c-mark", "els => els.map(e => e.dataset.kind)"))
    assert "retrain" in kinds, kinds
    assert kinds & {"promote", "complete"}, kinds
    assert page.locator("svg.chart rect.c-shade").count() == 1  # labels still pending at the end
    assert "label delay" in page.inner_text("body")
    _shot(page, "02-app")

    page.goto(f"{live}/ui/models/{APP}")
    assert page.locator("table.versions tbody tr").count() >= 3
    lineage = page.locator("svg.lineage")
    titles = lineage.locator("text.l-title").all_text_contents()
    assert any(t.startswith("train-job") for t in titles), titles
    assert any("champion" in t for t in titles), titles
    assert any(APP in t and " v" in t for t in titles), titles  # dataset versions and the model version
    assert page.locator("text=Alias history").count() == 1
    _shot(page, "03-model")

    page.goto(f"{live}/ui/runs")
    assert page.locator("table.grid tbody tr").count() >= 5
    page.goto(f"{live}/ui/runs/{populated.cached_run}")
    assert page.locator("span.badge.cached").count() == 2  # both steps were cache hits
    _shot(page, "04-run-cached")
    page.goto(f"{live}/ui/runs/{populated.failed_run}")
    traceback = page.locator("pre.traceback").first.inner_text()
    assert "ValueError" in traceback
    assert "refusing a mean" in traceback
    _shot(page, "05-run-failed")
    page.goto(f"{live}/ui/runs?kind=report")
    page.click("text=nightly-report")
    page.wait_for_url(RUN_PAGE)
    assert "fitted in 1.2 s" in page.locator("pre.log").first.inner_text()

    page.goto(f"{live}/ui/decisions?kind=gate")
    page.locator("table.grid td.summary a", has_text="vs champion").first.click()
    page.wait_for_url(DECISION_PAGE)
    assert page.locator("table.checks tbody tr").count() >= 1  # the gate's checks, with values and limits
    _shot(page, "06-decision")

    page.goto(f"{live}/ui/decisions?kind=trigger&outcome=retrain")
    page.locator("table.grid td.summary a").first.click()
    page.wait_for_url(DECISION_PAGE)
    assert "fired" in page.locator("dl.tree").first.inner_text()

    page.goto(f"{live}/ui/backtests")
    page.click("text=elec2-slice")
    page.wait_for_url("**/ui/backtests/elec2-slice")
    assert page.locator("table.grid tbody tr").count() == 2  # ctml and never
    frame = page.frame_locator("iframe")
    assert frame.locator("svg polyline").count() >= 2  # the report's own chart, one line per policy
    _shot(page, "07-backtest")

    page.goto(f"{live}/ui/audit")
    assert page.locator("table.audit tbody tr").count() >= 10
    _shot(page, "08-audit")


def test_the_demo_renders_with_its_charts_and_report(live: str, page: Any, populated: Populated) -> None:
    page.goto(f"{live}/ui/")
    card = page.locator(f'section.app-card[data-app="{DEMO_APP}"]')
    assert card.count() == 1
    assert f"{DEMO_APP} v" in card.locator(".kpi").first.inner_text()
    assert "mae" in card.inner_text().lower()

    page.goto(f"{live}/ui/apps/{DEMO_APP}")
    assert page.locator("svg.chart").count() == 3
    points = _polyline_points(page, "svg.chart")
    assert all(n >= 2 for n in points), points
    kinds = set(page.eval_on_selector_all("svg.chart g.c-mark", "els => els.map(e => e.dataset.kind)"))
    assert {"retrain", "promote"} <= kinds, kinds  # the demo's retrain and its promotion, on the time axis
    _shot(page, "13-demo-app")

    page.goto(f"{live}/ui/models/{DEMO_APP}")
    assert page.locator("table.versions tbody tr").count() >= 2
    assert any("champion" in t for t in page.locator("svg.lineage text.l-title").all_text_contents())

    page.goto(f"{live}/ui/backtests")
    page.click(f"text=demo-{DEMO_APP}")
    page.wait_for_url(f"**/ui/backtests/demo-{DEMO_APP}")
    assert page.frame_locator("iframe").locator("svg polyline").count() >= 2  # the loop and never-retrained
    _shot(page, "14-demo-report")


def test_tokens_guard_the_actions(live: str, page: Any, populated: Populated) -> None:
    page.goto(f"{live}/ui/login")
    page.fill("input[name=token]", "ctml_not-a-real-token")
    page.click("button.primary")
    assert "Unknown or revoked token" in page.inner_text("body")
    page.fill("input[name=token]", populated.read_token)
    page.click("button.primary")
    page.wait_for_url(f"{live}/ui/")
    page.goto(f"{live}/ui/decisions/{populated.pending_decision}")
    page.fill("form[data-action=approve] input[name=reason]", "looks fine")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.click("form[data-action=approve] button.primary")
    assert answer.value.status == 403
    assert "needs the role 'operate'" in page.inner_text("body")
    _shot(page, "09-forbidden")
    status = httpx.post(f"{live}/ui/decisions/{populated.pending_decision}/approve", data={"reason": "x"}).status_code
    assert status == 401


def test_an_approval_click_moves_the_champion_and_is_audited(live: str, page: Any, populated: Populated) -> None:
    with Workspace(populated.settings) as ws:
        before = ws.meta.models.get_alias(APP, "champion")
    assert before.version != populated.pending_version
    page.goto(f"{live}/ui/login")
    page.fill("input[name=token]", populated.operate_token)
    page.click("button.primary")
    page.wait_for_url(f"{live}/ui/")
    assert "ana · operate" in page.inner_text("header")
    page.goto(f"{live}/ui/decisions/{populated.pending_decision}")
    _shot(page, "10-pending")
    page.fill("form[data-action=approve] input[name=reason]", "reviewed the holdout slices")
    page.click("form[data-action=approve] button.primary")
    page.wait_for_url("**approved*")
    assert "approved by ana" in page.inner_text(".flash")
    _shot(page, "11-approved")

    with Workspace(populated.settings) as ws:
        after = ws.meta.models.get_alias(APP, "champion")
        moves = ws.meta.models.alias_history(APP, "champion", limit=1)
        audit = ws.meta.audit.list(limit=5)
        approvals = ws.meta.decisions.list(app=APP, kind="approval", limit=5)
    assert after.version == populated.pending_version
    assert after.revision == before.revision + 1
    assert moves[0].actor.startswith("ana (token ")
    assert "reviewed the holdout slices" in moves[0].reason
    assert approvals[0].evidence["gate_decision"] == populated.pending_decision
    assert {e.action for e in audit} >= {"alias.move", "decision.approval"}
    assert all(e.actor.startswith("ana (token ") for e in audit[:2])

    page.goto(f"{live}/ui/audit")
    first = page.locator("table.audit tbody tr").first.inner_text()
    assert "ana (token" in first
    page.goto(f"{live}/ui/")
    card = page.locator(f'section.app-card[data-app="{APP}"] .kpi').first
    assert f"{APP} v{populated.pending_version}" in card.inner_text()
    _shot(page, "12-overview-after")
