"""The API over a real runner: deploy from the API (a `genebot run` process on the same
database), watch its card and positions, pause, resume, stop, emergency stop; the auth matrix
generated from the OpenAPI spec (a new route cannot skip it); control without a runner is 409."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from genebot.api.app import create_app
from genebot.api.context import ApiSettings
from genebot.api.security import Tokens
from genebot.persistence.database import Database
from genebot.persistence.journal import TradingStore
from genebot.persistence.migrate import ensure_current
from genebot.persistence.repositories import DeploymentRepository
from genebot.services.launcher import Launcher

ROOT = Path(__file__).resolve().parents[2]
ADMIN, VIEWER = "admin-token-0123456789", "viewer-token-0123456789"
TOKENS = {"GENEBOT_API_ADMIN_TOKEN": ADMIN, "GENEBOT_API_VIEWER_TOKEN": VIEWER}
A = {"Authorization": f"Bearer {ADMIN}"}
V = {"Authorization": f"Bearer {VIEWER}"}
BASE = f"""
backtest:
  data_dir: {ROOT / "data" / "sample"}
  start_date: "2021-05-01"
  end_date: "2021-05-04"
strategies:
  moving_average:
    parameters: {{short_period: 10, long_period: 20}}
    symbols: [BTC/USDT]
    timeframes: [5m]
"""


def wait_for(probe: Callable[[], Any], timeout_s: float = 60.0, every_s: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = probe()
        if got:
            return got
        time.sleep(every_s)
    raise AssertionError(f"not within {timeout_s} s")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[TestClient, Database, Launcher]]:
    db = Database(f"sqlite:///{tmp_path / 'g.db'}")
    ensure_current(db)
    base = tmp_path / "base.yaml"
    base.write_text(BASE, encoding="utf-8")
    launcher = Launcher(db, str(base), tmp_path)
    settings = ApiSettings(base_config=str(base), command_wait_s=20.0)
    app = create_app(db, Tokens(TOKENS), settings=settings, launcher=launcher)
    with TestClient(app) as client:
        yield client, db, launcher
    launcher.close()


def _deploy(client: TestClient, speed: str = "1500", *, sl_tp: bool = True) -> str:
    body = {
        "strategy": "moving_average",
        "symbols": "BTC/USDT",
        "speed": speed,
        "risk_parameters": {"max_position_size": 0.2, "stop_loss_pct": 0.01},
        "sl_tp_enabled": sl_tp,
    }
    got = client.post("/api/trading/deploy", headers=A, json=body)
    assert got.status_code == 200, got.text
    return str(got.json()["deployment_id"])


def test_deploy_watch_pause_resume_stop(served: tuple[TestClient, Database, Launcher]) -> None:
    client, db, _ = served
    dep = _deploy(client)
    card = client.get(f"/api/trading/deployment/{dep}", headers=V).json()
    assert card["mode"] == "paper" and card["symbols"] == ["BTC/USDT"]
    assert card["status"] == "active" and card["strategies"] == ["moving_average"]

    def a_position() -> list[dict[str, Any]]:
        return client.get(f"/api/trading/positions/{dep}", headers=V).json()["positions"]

    position = wait_for(a_position)[0]
    assert position["symbol"] == "BTC/USDT" and position["side"] in ("long", "short")
    assert Decimal(str(position["quantity"])) > 0 and position["current_price"] is not None
    # the deploy dialog's risk parameters reached the runner's config
    config = json.loads(DeploymentRepository(db).get(dep).config)["config"]  # type: ignore[union-attr]
    assert config["risk_management"]["position_limits"]["max_position_size"] == 0.2
    assert config["risk_management"]["stop_loss"]["default_percentage"] == 0.01
    paused = client.post(f"/api/trading/pause/{dep}", headers=A, json={"reason": "look"})
    assert paused.status_code == 200 and "paused" in paused.json()["outcome"]
    assert wait_for(
        lambda: client.get(f"/api/trading/deployment/{dep}", headers=V).json()["status"] == "paused"
    )
    resumed = client.post(f"/api/trading/resume/{dep}", headers=A)
    assert "resumed" in resumed.json()["outcome"]
    # seed 000's parameter body reaches the running deployment: in force from its next bar
    url = "/api/strategies/moving_average/parameters"
    changed = client.put(url, headers=A, json={"short_period": 12, "long_period": 24}).json()
    assert changed["success"] and changed["applied"] == {
        dep: "moving_average: parameters long_period=24, short_period=12 from the next bar"
    }
    stopped = client.post(f"/api/trading/stop/{dep}", headers=A, json={"reason": "done"})
    assert stopped.status_code == 200 and "stopping" in stopped.json()["outcome"]
    assert wait_for(
        lambda: (
            client.get(f"/api/trading/deployment/{dep}", headers=V).json()["status"] == "stopped"
        )
    )
    assert client.get(f"/api/trading/positions/{dep}", headers=V).json()["count"] == 0
    history = client.get(f"/api/trading/history/{dep}?per_page=5", headers=V).json()
    assert history["total"] >= 1 and len(history["items"]) <= 5
    assert {t["reason"] for t in history["items"]} <= {
        "signal",
        "stop_loss",
        "take_profit",
        "trailing_stop",
        "manual",
        "emergency_stop",
    }
    kinds = [e.kind for e in _journal(db, dep)]
    assert "operator.pause" in kinds and "operator.stop" in kinds and "api.deploy" in kinds
    # a stopped deployment is not controllable; a second deploy works once the runner is gone
    assert client.post(f"/api/trading/stop/{dep}", headers=A).status_code == 409


def _journal(db: Database, dep: str) -> list[Any]:
    from genebot.persistence.repositories import JournalRepository

    return JournalRepository(db).read(dep, limit=100000)


def test_several_deployments_side_by_side_and_one_emergency_stop(
    served: tuple[TestClient, Database, Launcher],
) -> None:
    """Each paper deployment runs in its own runner: another one (another name) trades beside
    the first, the same one twice is refused, and the emergency stop ends them all."""
    client, db, launcher = served
    dep = _deploy(client, speed="800")
    again = client.post(
        "/api/trading/deploy",
        headers=A,
        json={"strategy": "moving_average", "symbols": ["BTC/USDT"]},
    )
    assert again.status_code == 422 and "already trading" in again.json()["detail"]
    body = {"strategy": "moving_average", "symbols": ["BTC/USDT"], "speed": "800",
            "name": "second", "parameters": {"short_period": 5, "long_period": 30}}  # fmt: skip
    other = client.post("/api/trading/deploy", headers=A, json=body)
    assert other.status_code == 200, other.text
    dep2 = other.json()["deployment_id"]
    wait_for(lambda: client.get(f"/api/trading/positions/{dep}", headers=V).json()["count"])

    def statuses() -> dict[str, str]:
        cards = client.get("/api/trading/deployments", headers=V).json()["deployments"]
        return {c["id"]: c["status"] for c in cards}

    assert wait_for(lambda: statuses() == {dep: "active", dep2: "active"})
    paused = client.post(f"/api/trading/pause/{dep2}", headers=A, json={"reason": "one only"})
    assert paused.status_code == 200 and "paused" in paused.json()["outcome"]
    assert wait_for(lambda: statuses() == {dep: "active", dep2: "paused"})
    got = client.post("/api/trading/emergency-stop", headers=A, json={"reason": "drill"})
    assert got.status_code == 200 and sorted(got.json()["stopped"]) == sorted([dep, dep2])
    assert wait_for(lambda: DeploymentRepository(db).get(dep).status == "stopped")  # type: ignore[union-attr]
    assert wait_for(lambda: DeploymentRepository(db).get(dep2).status == "stopped")  # type: ignore[union-attr]
    entry = next(e for e in _journal(db, dep) if e.kind == "operator.emergency_stop")
    assert entry.actor == "operator:admin#1" and json.loads(entry.payload)["reason"] == "drill"
    history = client.get(f"/api/trading/history/{dep}", headers=V).json()["items"]
    assert history and history[0]["reason"] == "manual"  # closed by the operator's exit
    # nothing runs now: control calls answer 409 "no runner"
    launcher.processes[dep].wait(30)
    launcher.processes[dep2].wait(30)
    time.sleep(0.6)  # the runner check is cached for half a second
    none = client.post("/api/trading/emergency-stop", headers=A, json={"reason": "again"})
    assert none.status_code == 409 and "no runner" in none.json()["detail"]


def test_control_without_runner_is_409_and_reads_work(database: Database) -> None:
    dep = DeploymentRepository(database).start("paper-x", "paper", {"strategies": {}})
    client = TestClient(create_app(database, Tokens(TOKENS)))
    assert client.get("/api/trading/deployments", headers=V).json()["count"] == 1
    card = client.get(f"/api/trading/deployment/{dep[:8]}", headers=V).json()
    assert card["id"] == dep and card["status"] == "error"  # running, but no runner holds it
    for path in (f"/api/trading/stop/{dep}", f"/api/trading/pause/{dep}"):
        got = client.post(path, headers=A)
        assert got.status_code == 409 and "no runner" in got.json()["detail"]
    assert client.get("/api/trading/deployment/nope", headers=V).status_code == 404
    deploy = client.post(
        "/api/trading/deploy",
        headers=A,
        json={"strategy": "moving_average", "symbols": ["BTC/USDT"]},
    )
    assert deploy.status_code == 409  # this app has no launcher (a runner's own API)
    live = client.post(
        "/api/trading/deploy",
        headers=A,
        json={"mode": "live", "strategy": "x", "symbols": ["BTC/USDT"]},
    )
    assert live.status_code == 422 and "genebot run --live" in live.json()["detail"]


def test_invalid_bodies_name_the_field(database: Database) -> None:
    client = TestClient(create_app(database, Tokens(TOKENS)))
    bad = client.post(
        "/api/trading/deploy",
        headers=A,
        json={"strategy": "moving_average", "symbols": [], "speed": "fast"},
    )
    assert bad.status_code == 422
    fields = {e["field"] for e in bad.json()["errors"]}
    assert {"symbols", "speed"} <= fields
    hist = client.get("/api/trading/history/x?per_page=100000", headers=V)
    assert hist.status_code == 422 and hist.json()["detail"].startswith("per_page")


# -- the auth matrix, from the OpenAPI spec ---------------------------------------------------
def _routes(client: TestClient) -> list[tuple[str, str]]:
    spec = client.get("/openapi.json").json()
    return [(method.upper(), path) for path, ops in spec["paths"].items() for method in ops]


def _fill(path: str) -> str:
    return (
        path.replace("{deployment_id}", "nope")
        .replace("{name}", "moving_average")
        .replace("{order_id}", "nope")
        .replace("{id}", "1")
        .replace("{symbol}", "BTC/USDT")
    )


def test_every_route_needs_a_token_and_mutations_need_admin(database: Database) -> None:
    client = TestClient(create_app(database, Tokens(TOKENS)))
    routes = _routes(client)
    assert len(routes) >= 55  # the seeds' endpoints are all there
    for method, path in routes:
        url = _fill(path)
        if path == "/health":
            assert client.request(method, url).status_code in (200, 503)
            continue
        assert client.request(method, url).status_code == 401, (method, path)
        bad = {"Authorization": "Bearer not-a-token-at-all-xx"}
        assert client.request(method, url, headers=bad).status_code == 401, (method, path)
        if method != "GET":
            got = client.request(method, url, headers=V, json={})
            assert got.status_code == 403, (method, path, got.text)
        else:
            got = client.request(method, url, headers=V)
            assert got.status_code not in (401, 403, 500), (method, path, got.text)


def test_mutations_are_rate_limited_per_token(database: Database) -> None:
    settings = ApiSettings(rate_limit_per_minute=3)
    client = TestClient(create_app(database, Tokens(TOKENS), settings=settings))
    codes = [client.post("/api/trading/emergency-stop", headers=A).status_code for _ in range(5)]
    assert codes[:3] == [409, 409, 409] and codes[3:] == [429, 429]
    got = client.post("/api/trading/emergency-stop", headers=A)
    assert int(got.headers["Retry-After"]) >= 1
    assert client.get("/api/trading/deployments", headers=A).status_code == 200  # reads are not


def test_cors_is_closed_unless_configured(database: Database) -> None:
    origin = {"Origin": "http://127.0.0.1:9999", "Access-Control-Request-Method": "GET"}
    closed = TestClient(create_app(database, Tokens(TOKENS)))
    got = closed.options("/api/trading/deployments", headers=origin)
    assert "access-control-allow-origin" not in got.headers
    settings = ApiSettings(cors_origins=["http://127.0.0.1:9999"])
    opened = TestClient(create_app(database, Tokens(TOKENS), settings=settings))
    got = opened.options("/api/trading/deployments", headers=origin)
    assert got.headers["access-control-allow-origin"] == "http://127.0.0.1:9999"


def test_no_token_ever_in_a_response_or_the_journal(database: Database) -> None:
    client = TestClient(create_app(database, Tokens(TOKENS)))
    dep = DeploymentRepository(database).start("paper-y", "paper", {"strategies": {}})
    TradingStore(database, dep).record_kill_switch("activated", "daily_loss", "engine", "x")
    bodies = [client.get(_fill(p), headers=A).text for m, p in _routes(client) if m == "GET"]
    bodies.append(
        client.post(
            "/api/trading-safety/reset-kill-switch?admin_override=true",
            headers=A,
            json={"reason": "ok", "deployment_id": dep},
        ).text
    )
    for text in [*bodies, *(e.payload + e.actor for e in _journal(database, dep))]:
        assert ADMIN not in text and VIEWER not in text


def _stop_and_trigger(client: TestClient, dep: str, p: dict[str, Any], n: int) -> dict[str, Any]:
    """A stop-loss on the runner's position ``p``, then a price far beyond it."""
    long = p["side"] == "long"
    order = {"position_id": f"runner-{n}", "symbol": p["symbol"], "side": "buy" if long else "sell"}
    order |= {"quantity": p["quantity"], "entry_price": p["entry_price"]}
    order |= {"deployment_id": dep, "strategy": p["strategy"], "stop_loss_pct": 0.02}
    made = client.post("/api/sl-tp/stop-loss", headers=A, json=order)
    assert made.status_code == 200, made.text
    crash = Decimal(str(p["entry_price"])) * (Decimal("0.5") if long else Decimal("1.5"))
    prices = {"current_prices": {p["symbol"]: str(crash)}}
    fired = client.post("/api/sl-tp/check-triggers", headers=A, json=prices).json()
    assert fired["triggered_count"] == 1
    sent: dict[str, Any] = fired["triggered_orders"][0]["position_close"]
    assert sent["status"] == "sent" and sent["deployment_id"] == dep
    return sent


def test_a_triggered_stop_and_a_manual_close_close_the_runner_position(
    served: tuple[TestClient, Database, Launcher],
) -> None:
    """An /api/sl-tp order naming a deployment closes that runner's position at market when
    it triggers (trade reason stop_loss); the dashboard's Close button does it by hand. The
    replay trades on while the test acts, so a position its strategy closed a moment before
    is "no open position": the test then takes the next position."""
    from genebot.live import control

    client, db, _ = served
    dep = _deploy(client, speed="600", sl_tp=False)  # no stop-losses of its own

    def a_position() -> list[dict[str, Any]]:
        return client.get(f"/api/trading/positions/{dep}", headers=V).json()["positions"]

    outcomes = []
    for n in range(5):
        sent = _stop_and_trigger(client, dep, wait_for(a_position)[0], n)
        outcome = control.wait_applied(db, dep, int(sent["command_id"]), 20)
        outcomes.append(outcome)
        if outcome is None or not outcome.startswith("no open"):
            break
    assert outcome is not None and outcome.startswith("stop_loss: closing "), outcomes
    # nothing to close in a symbol the deployment does not trade: said, not an error
    none = client.post(
        f"/api/trading/positions/{dep}/close", headers=A, json={"symbol": "XRP/USDT"}
    )
    assert none.status_code == 200 and none.json() == {
        "success": False,
        "outcome": "no open position in 'XRP/USDT' to close",
    }
    assert client.post(
        f"/api/trading/positions/{dep}/close", headers=V, json={"symbol": "BTC/USDT"}
    ).status_code == 403  # fmt: skip
    for _ in range(5):
        q = wait_for(a_position)[0]  # the strategy enters again on a later signal
        closed = client.post(
            f"/api/trading/positions/{dep}/close",
            headers=A,
            json={"symbol": q["symbol"], "strategy": q["strategy"], "reason": "taking profit"},
        )
        assert closed.status_code == 200, closed.text
        if closed.json()["success"]:
            break
    assert closed.json()["outcome"].startswith("manual: closing "), closed.text
    client.post(f"/api/trading/stop/{dep}", headers=A, json={"reason": "done"})
    assert wait_for(lambda: DeploymentRepository(db).get(dep).status == "stopped")  # type: ignore[union-attr]
    reasons = [
        t["reason"]
        for t in client.get(f"/api/trading/history/{dep}?per_page=500", headers=V).json()["items"]
    ]
    assert reasons.count("stop_loss") == 1 and "manual" in reasons
    tags = [json.loads(e.payload)["tag"] for e in _journal(db, dep)
            if e.kind == "operator.close_position"]  # fmt: skip
    assert tags[: len(outcomes)] == ["stop_loss"] * len(outcomes) and tags[-1] == "manual"


def test_a_hall_of_fame_deploy_runs_under_the_entrys_risk_settings(
    served: tuple[TestClient, Database, Launcher],
) -> None:
    """The dashboard's Deploy from a Hall of Fame entry sends its id: the deployment runs under
    the risk and cost settings the entry's statistics were computed with, not the server's."""
    from datetime import UTC, datetime

    from genebot.persistence.tables import HallOfFameRow

    client, db, _ = served
    base = {"risk_management": {"limits": {"max_consecutive_losses": 7}},
            "backtest": {"fee": 0.0004}}  # fmt: skip
    row = HallOfFameRow(
        created_at=datetime.now(UTC), strategy="moving_average", rules="-", parameters="{}",
        in_sample="{}", walk_forward="[]", held_out="{}", deflated_sharpe=0.1, candidates=3,
        seed=1, data="{}", periods="{}", settings=json.dumps({"base": base}),
    )  # fmt: skip
    with db.session() as session:
        session.add(row)
        session.flush()
        entry_id = row.id
    assert client.get(f"/api/halloffame/{entry_id}", headers=V).json()["deploy"][
        "halloffame_id"
    ] == entry_id  # fmt: skip
    body = {"strategy": "moving_average", "symbols": ["BTC/USDT"], "halloffame_id": entry_id,
            "risk_parameters": {"max_position_size": 0.3}}  # fmt: skip
    got = client.post("/api/trading/deploy", headers=A, json=body)
    assert got.status_code == 200, got.text
    dep = got.json()["deployment_id"]
    config = json.loads(DeploymentRepository(db).get(dep).config)["config"]  # type: ignore[union-attr]
    assert config["risk_management"]["limits"]["max_consecutive_losses"] == 7  # the entry's
    assert config["risk_management"]["position_limits"]["max_position_size"] == 0.3  # dialog's
    assert config["backtest"]["fee"] == 0.0004
    client.post(f"/api/trading/stop/{dep}", headers=A, json={"reason": "done"})
    assert wait_for(lambda: DeploymentRepository(db).get(dep).status == "stopped")  # type: ignore[union-attr]
    unknown = client.post("/api/trading/deploy", headers=A, json={**body, "halloffame_id": 999})
    assert unknown.status_code == 422 and "halloffame_id" in unknown.json()["detail"]
