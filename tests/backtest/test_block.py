"""Block replay and per-request replay are the same replay: the same answers, promotions and retrains.

The block path (`ModelServer.answer_block`) is how a backtest reaches the server; the per-request path
(`/predict` and `/feedback` over ASGI, one row a request) is how a live client does. Both run the production
controller, learners and log, so on a real stream slice they must agree row for row, with labels at once and
with labels several rows late (a label arriving in a later block than its row).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from _elec2 import ELEC2_10K
from ctml.backtest import BacktestConfig, PolicyResult, run_backtest

pytest.importorskip("river")

BIKES = Path(str(resources.files("ctml.demo").joinpath("data", "bike_sharing_hourly.csv.gz")))


def _both(data: Path, target: str, **config: object) -> tuple[PolicyResult, PolicyResult]:
    found = []
    for per_request in (False, True):
        cfg = BacktestConfig(policies=("ctml",), per_request=per_request, **config)  # type: ignore[arg-type]
        found.append(run_backtest(data, target, config=cfg).policies["ctml"])
    return found[0], found[1]


def _events(policy: PolicyResult) -> list[tuple[int, str, str]]:
    return [(m.row, m.kind, m.reason) for m in policy.markers]


@pytest.mark.parametrize("delay", [0, 7])
def test_block_and_per_request_replays_agree_on_bike_sharing(delay: int) -> None:
    block, requests = _both(BIKES, "cnt", limit=1500, window_rows=100, label_delay=delay,
                            drop=("casual", "registered"))  # fmt: skip
    assert block.details["replay"] == "blocks"
    assert requests.details["replay"] == "requests"
    assert np.array_equal(block.scores, requests.scores)  # the same answer to every row
    assert _events(block) == _events(requests)  # the same retrains, verdicts and promotions, at the same rows
    assert block.retrains == requests.retrains >= 1
    assert block.promotions == requests.promotions >= 1  # a challenger won live and took over
    assert block.details["learned"] == requests.details["learned"]  # every online candidate learned the same labels
    assert block.details["served_by"] == requests.details["served_by"]
    assert block.details["logged_predictions"] == requests.details["logged_predictions"]


def test_block_and_per_request_replays_agree_on_elec2_with_late_labels() -> None:
    block, requests = _both(ELEC2_10K, "class", limit=1200, window_rows=100, label_delay=30)
    assert np.array_equal(block.scores, requests.scores)
    assert _events(block) == _events(requests)
    assert block.retrains >= 1
    assert block.details["learned"] == requests.details["learned"]


def test_the_block_replay_says_where_its_time_went() -> None:
    block = run_backtest(ELEC2_10K, "class", config=BacktestConfig(limit=600, policies=("ctml",))).policies["ctml"]
    time = block.details["time"]
    assert {"batch fits", "log and store", "controller and gate", "model loads", "other", "total"} <= set(time)
    assert any(k.startswith("predict and learn v") for k in time)  # the online candidates
    assert any(k.startswith("predict v") for k in time)  # the batch candidate
    parts = sum(v for k, v in time.items() if k != "total")
    assert parts == pytest.approx(time["total"], rel=0.01)
    assert time["total"] == pytest.approx(block.seconds, rel=0.05)
