"""Operator actions through the ASGI app: tokens and roles, registry moves, stored decisions, the audit log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from ctml.config import Settings
from ctml.dashboard import COOKIE, create_dashboard, standalone
from ctml.evaluate import Verdict, record_verdict
from ctml.serve import create_token
from ctml.workspace import Workspace


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    with Workspace(Settings.local(tmp_path, "tester")) as workspace:
        for n in range(3):
            workspace.registry.register("churn", f"model-{n}".encode(), app="churn", flavor="sklearn")
        workspace.registry.promote("churn", 1, reason="first")
        workspace.registry.promote("churn", 2, reason="second")
        yield workspace


@pytest.fixture
def client(ws: Workspace) -> TestClient:
    return TestClient(standalone(create_dashboard(ws)), follow_redirects=False)


def _pending(ws: Workspace, version: int = 3) -> str:
    verdict = Verdict("needs_approval", "Needs approval: effect +0.01 is small.", {"checks": []})
    return record_verdict(ws.meta, verdict, app="churn", model="churn", version=version, actor="controller").id


def _token(ws: Workspace, role: str, name: str) -> str:
    return create_token(ws.meta, role, name)[1]


def test_approve_needs_a_token_of_role_operate(ws: Workspace, client: TestClient) -> None:
    decision = _pending(ws)
    reader = _token(ws, "read", "viewer")  # made before the first miss: unknown tokens re-read the store once a second
    url = f"/ui/decisions/{decision}/approve"
    assert client.post(url, data={"reason": "ok"}).status_code == 401
    answer = client.post(url, data={"reason": "ok"}, headers={"authorization": "Bearer ctml_nope"})
    assert answer.status_code == 401
    assert "unknown or revoked" in answer.text
    answer = client.post(url, data={"reason": "ok"}, headers={"authorization": f"Bearer {reader}"})
    assert answer.status_code == 403
    assert "needs the role" in answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert ws.meta.models.get_alias("churn", "champion").version == 2  # nothing moved


def test_approve_moves_the_champion_and_records_who_and_why(ws: Workspace, client: TestClient) -> None:
    decision = _pending(ws)
    client.cookies.set(COOKIE, _token(ws, "operate", "ana"))
    answer = client.post(f"/ui/decisions/{decision}/approve", data={"reason": "slices look fine"})
    assert answer.status_code == 303
    assert answer.headers["location"].startswith(f"/ui/decisions/{decision}?done=approved")
    champion = ws.meta.models.get_alias("churn", "champion")
    assert champion.version == 3
    move = ws.meta.models.alias_history("churn", "champion", limit=1)[0]
    assert move.actor.startswith("ana (token ")
    assert "slices look fine" in move.reason
    approval = ws.meta.decisions.list(app="churn", kind="approval", limit=1)[0]
    assert approval.outcome == "approved"
    assert approval.evidence["gate_decision"] == decision
    actions = [(e.action, e.actor.split(" ")[0]) for e in ws.meta.audit.list(limit=2)]
    assert actions == [("decision.approval", "ana"), ("alias.move", "ana")]
    again = client.post(f"/ui/decisions/{decision}/approve", data={"reason": "twice"})
    assert again.status_code == 409
    assert ws.meta.models.get_alias("churn", "champion").revision == champion.revision


def test_decline_records_and_moves_nothing(ws: Workspace, client: TestClient) -> None:
    decision = _pending(ws)
    client.cookies.set(COOKIE, _token(ws, "admin", "root"))
    answer = client.post(f"/ui/decisions/{decision}/decline", data={"reason": "too small"})
    assert answer.status_code == 303
    assert ws.meta.models.get_alias("churn", "champion").version == 2
    assert ws.meta.decisions.list(kind="approval", limit=1)[0].outcome == "declined"
    assert client.get(f"/ui/decisions/{decision}").text.count("This verdict awaits a human") == 0


def test_guarded_approval_starts_a_rollout_instead(ws: Workspace, client: TestClient) -> None:
    decision = _pending(ws)
    client.cookies.set(COOKIE, _token(ws, "operate", "ana"))
    answer = client.post(f"/ui/decisions/{decision}/approve", data={"reason": "canary it", "mode": "rollout"})
    assert answer.status_code == 303
    assert ws.meta.models.get_alias("churn", "champion").version == 2  # not yet: the roll-out moves it at full
    started = ws.meta.rollouts.get("churn")
    assert started is not None
    assert started.state["candidate"] == 3
    assert started.state["status"] == "active"


def test_bad_input_gets_a_page_not_a_traceback(ws: Workspace, client: TestClient) -> None:
    secret = _token(ws, "operate", "ana")
    client.cookies.set(COOKIE, secret)
    decision = _pending(ws)
    empty = client.post(f"/ui/decisions/{decision}/approve", data={"reason": "  "})
    assert empty.status_code == 400
    assert "Say why" in empty.text
    assert client.post("/ui/decisions/nope/approve", data={"reason": "x"}).status_code == 404
    not_pending = ws.meta.decisions.record("gate", "promote", "promoted", {}, app="churn", model="churn", version=3)
    conflict = client.post(f"/ui/decisions/{not_pending.id}/approve", data={"reason": "x"})
    assert conflict.status_code == 409
    bad_version = client.post("/ui/models/churn/promote", data={"version": "v-three", "reason": "x"})
    assert bad_version.status_code == 400
    assert "version number" in bad_version.text
    missing = client.post("/ui/models/churn/promote", data={"version": "99", "reason": "x"})
    assert missing.status_code == 404
    foreign = client.post("/ui/models/churn/rollback", data={"reason": "x"}, headers={"origin": "https://evil.example"})
    assert foreign.status_code == 403
    assert ws.meta.models.get_alias("churn", "champion").version == 2


def test_promote_and_rollback_through_the_registry(ws: Workspace, client: TestClient) -> None:
    client.cookies.set(COOKIE, _token(ws, "operate", "ana"))
    promoted = client.post("/ui/models/churn/promote", data={"version": "3", "reason": "hotfix"})
    assert promoted.status_code == 303
    assert ws.meta.models.get_alias("churn", "champion").version == 3
    rolled = client.post("/ui/models/churn/rollback", data={"reason": "errors up"})
    assert rolled.status_code == 303
    assert ws.meta.models.get_alias("churn", "champion").version == 2
    kinds = [d.kind for d in ws.meta.decisions.list(app="churn", limit=2)]
    assert kinds == ["rollback", "promotion"]


def test_sign_in_sets_an_http_only_cookie_and_a_revoked_token_stops_working(ws: Workspace, client: TestClient) -> None:
    secret = _token(ws, "operate", "ana")
    bad = client.post("/ui/login", data={"token": "ctml_wrong"})
    assert bad.status_code == 401
    good = client.post("/ui/login", data={"token": secret})
    assert good.status_code == 303
    cookie = good.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    token_id = next(t.id for t in ws.meta.tokens.list() if t.name == "ana")
    ws.meta.tokens.revoke(token_id)
    app = create_dashboard(ws)
    fresh = TestClient(standalone(app), follow_redirects=False)  # a fresh cache: revocation reaches it at once
    fresh.cookies.set(COOKIE, secret)
    answer = fresh.post(f"/ui/decisions/{_pending(ws)}/approve", data={"reason": "x"})
    assert answer.status_code == 401
