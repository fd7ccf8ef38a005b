"""The API's safety routes over a real database (SQLite and PostgreSQL): tokens and roles,
seed 002's status shape and its reset-kill-switch call, errors as one line, no secret ever in a
response."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from genebot.api.app import create_app
from genebot.api.security import Tokens, check_bind
from genebot.core.errors import ConfigError
from genebot.persistence.database import Database
from genebot.persistence.journal import TradingStore
from genebot.persistence.repositories import DeploymentRepository, RiskRepository

ADMIN, VIEWER = "admin-token-0123456789", "viewer-token-0123456789"
ENV = {
    "GENEBOT_API_ADMIN_TOKEN": ADMIN,
    "GENEBOT_API_VIEWER_TOKEN": f"{VIEWER}, other-viewer-0123456",
}


def client(db: Database) -> TestClient:
    return TestClient(create_app(db, Tokens(ENV)))


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def deployment(db: Database) -> str:
    config = {"risk_management": {"limits": {"max_consecutive_losses": 4}}}
    dep = DeploymentRepository(db).start("paper-btc", "paper", config)
    TradingStore(db, dep).record_kill_switch("activated", "daily_loss", "engine", "loss 5.5%")
    return dep


def test_status_has_the_seed_fields_and_needs_a_token(database: Database) -> None:
    dep = deployment(database)
    api = client(database)
    assert api.get("/health").status_code == 200  # the only route without a token
    assert api.get("/api/trading-safety/status").status_code == 401
    assert (
        api.get("/api/trading-safety/status", headers=auth("wrong-token-xxxxxxxx")).status_code
        == 401
    )
    got = api.get("/api/trading-safety/status", headers=auth(VIEWER))
    assert got.status_code == 200
    body = json.loads(got.text, parse_float=Decimal)
    assert set(body) >= {"kill_switch_active", "kill_switch_reason", "daily_pnl", "trades_today",
                         "consecutive_losses", "last_reset", "configuration"}  # fmt: skip
    assert body["deployment_id"] == dep and body["kill_switch_active"] is True
    assert body["kill_switch_reason"] == "daily_loss: loss 5.5%"
    assert body["configuration"]["max_consecutive_losses"] == 4
    assert body["configuration"]["max_position_size_pct"] == Decimal("0.1")


def test_reset_needs_admin_the_override_and_a_reason_and_is_journaled(database: Database) -> None:
    dep = deployment(database)
    api = client(database)
    url = "/api/trading-safety/reset-kill-switch"
    assert api.post(url + "?admin_override=true&reason=x", headers=auth(VIEWER)).status_code == 403
    assert api.post(url + "?reason=x", headers=auth(ADMIN)).status_code == 422
    no_reason = api.post(url + "?admin_override=true", headers=auth(ADMIN))
    assert no_reason.status_code == 422 and "reason" in no_reason.text
    done = api.post(
        url + "?admin_override=true", json={"reason": "fills reviewed"}, headers=auth(ADMIN)
    )
    assert done.status_code == 200, done.text
    assert done.json()["success"] is True and done.json()["reset_by"] == "admin#1"
    last = RiskRepository(database).kill_switch_history(dep)[-1]
    assert (last.kind, last.who, last.reason) == ("reset", "admin#1", "fills reviewed")
    status = api.get("/api/trading-safety/status", headers=auth(VIEWER)).json()
    assert status["kill_switch_active"] is False and status["last_reset"] is not None
    for response in (done, no_reason, status and done):
        assert ADMIN not in response.text and VIEWER not in response.text


def test_no_deployment_is_a_clear_404(database: Database) -> None:
    got = client(database).get(
        "/api/trading-safety/status?deployment_id=nope", headers=auth(VIEWER)
    )
    assert got.status_code == 404 and "no deployment 'nope'" in got.json()["detail"]


@pytest.mark.parametrize(
    ("host", "ok"), [("127.0.0.1", True), ("::1", True), ("localhost", True), ("0.0.0.0", False)]
)
def test_listening_beyond_loopback_needs_tokens(host: str, ok: bool) -> None:
    if ok:
        check_bind(host, Tokens({}))
    else:
        with pytest.raises(ConfigError, match="refusing to listen beyond loopback"):
            check_bind(host, Tokens({}))
    check_bind("0.0.0.0", Tokens(ENV))  # with tokens: allowed


def test_short_tokens_are_refused_without_echoing_them() -> None:
    with pytest.raises(ConfigError, match="token 1 is shorter") as caught:
        Tokens({"GENEBOT_API_ADMIN_TOKEN": "short"})
    assert "short" not in str(caught.value).replace("shorter", "")
