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
    assert set(body) >= {
        "kill_switch_active",
        "kill_switch_reason",
        "daily_pnl",
        "trades_today",
        "consecutive_losses",
        "last_reset",
        "configuration",
    }
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


# -- seed 002's pre-trade checks over the deployment's limits -----------------------------------
def _quiet_deployment(db: Database) -> str:
    return DeploymentRepository(db).start("paper-q", "paper", {"risk_management": {}})


@pytest.mark.parametrize(
    ("setup", "trade", "denied_by", "adjusted"),
    [
        ("none", {"quantity": "0.01", "price": "50000"}, None, "0.01"),
        ("none", {"quantity": "0.5", "price": "50000"}, None, "0.02"),  # seed: 10% of 10,000
        ("kill", {"quantity": "0.01", "price": "50000"}, "kill_switch", "0"),
        ("losses", {"quantity": "0.01", "price": "50000"}, "consecutive_losses", "0"),
        ("poor", {"quantity": "0.001", "price": "50000"}, "min_account_balance", "0"),
    ],
)
def test_validate_says_which_rule_denies_and_resizes(
    database: Database, setup: str, trade: dict[str, str], denied_by: str | None, adjusted: str
) -> None:
    dep = _quiet_deployment(database)
    api = client(database)
    if setup == "kill":
        TradingStore(database, dep).record_kill_switch("activated", "daily_loss", "engine", "-6%")
    for _ in range(3 if setup == "losses" else 0):
        api.post(
            "/api/trading-safety/record-trade",
            headers=auth(ADMIN),
            json={"symbol": "BTC/USDT", "pnl": -100, "deployment_id": dep},
        )
    balance = 50 if setup == "poor" else 10000
    body = {
        "symbol": "BTC/USDT",
        "side": "buy",
        "account_balance": balance,
        "deployment_id": dep,
        **trade,
    }
    got = api.post("/api/trading-safety/validate", headers=auth(ADMIN), json=body)
    assert got.status_code == 200, got.text
    out = json.loads(got.text, parse_float=Decimal)
    assert out["denied_by"] == denied_by and out["valid"] is (denied_by is None)
    assert Decimal(str(out["adjusted_quantity"])) == Decimal(adjusted)
    assert {c["rule"] for c in out["checks"]} >= {"kill_switch", "daily_loss", "position_size"}


def test_record_trade_counts_in_the_status(database: Database) -> None:
    dep = _quiet_deployment(database)
    api = client(database)
    for pnl in (50, -20, -30):
        done = api.post(
            "/api/trading-safety/record-trade",
            headers=auth(ADMIN),
            json={"symbol": "ETH/USDT", "side": "sell", "pnl": pnl, "deployment_id": dep},
        )
        assert done.status_code == 200
    status = json.loads(done.text, parse_float=Decimal)["status"]
    assert status["trades_today"] == 3 and status["consecutive_losses"] == 2
    assert Decimal(str(status["daily_pnl"])) == Decimal(0)
    assert (
        api.post(
            "/api/trading-safety/record-trade", headers=auth(VIEWER), json={"symbol": "X", "pnl": 1}
        ).status_code
        == 403
    )


def test_check_slippage_against_the_tolerance(database: Database) -> None:
    dep = _quiet_deployment(database)
    api = client(database)
    url = "/api/trading-safety/check-slippage"
    ok = api.post(
        url,
        headers=auth(ADMIN),
        json={"side": "buy", "expected_price": 100, "actual_price": 100.4, "deployment_id": dep},
    )
    assert ok.json()["acceptable"] is True and abs(ok.json()["slippage_pct"] - 0.004) < 1e-12
    bad = api.post(
        url,
        headers=auth(ADMIN),
        json={"side": "sell", "expected_price": 100, "actual_price": 99, "deployment_id": dep},
    )
    assert bad.json()["acceptable"] is False and "exceeds" in bad.json()["message"]
    assert api.post(url, headers=auth(ADMIN), json={"side": "buy"}).status_code == 422


def test_patch_configuration_validates_like_the_yaml_and_shows_in_status(
    database: Database,
) -> None:
    dep = _quiet_deployment(database)
    api = client(database)
    url = "/api/trading-safety/configuration"
    seed = {
        "max_position_size_pct": 0.15,
        "daily_loss_limit_pct": 0.08,
        "max_consecutive_losses": 5,
        "max_slippage_pct": 0.01,
    }  # seed 002's body
    done = api.patch(url, headers=auth(ADMIN), json={**seed, "deployment_id": dep})
    assert done.status_code == 200, done.text
    status = api.get(f"/api/trading-safety/status?deployment_id={dep}", headers=auth(VIEWER))
    config = status.json()["configuration"]
    assert config["max_position_size_pct"] == 0.15 and config["max_consecutive_losses"] == 5
    assert config["daily_loss_limit_pct"] == 0.08 and config["max_slippage_pct"] == 0.01
    bad = api.patch(url, headers=auth(ADMIN), json={"max_position_size_pct": 3})
    assert bad.status_code == 422 and bad.json()["detail"].startswith("max_position_size_pct")
    unknown = api.patch(url, headers=auth(ADMIN), json={"max_leverage": 3})
    assert unknown.status_code == 422 and "max_leverage" in unknown.json()["detail"]
    journaled = [e for e in RiskRepository(database).events(dep)]
    assert journaled == []  # a limit change is not a risk event ...
    from genebot.persistence.repositories import JournalRepository

    kinds = [(e.kind, e.actor) for e in JournalRepository(database).read(dep)]
    assert ("api.safety.configuration", "operator:admin#1") in kinds  # ... it is journaled
