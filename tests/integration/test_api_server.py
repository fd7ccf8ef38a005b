"""The API as users start it: `genebot serve` (tokens, the loopback rule, the session token
file) and `genebot run` serving it while it trades (a stop from the API ends the run); the
websocket (auth first, journal events pushed, a reconnect resyncs from `since`); the strategies
and orchestration routes over a real database."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from genebot.api.app import create_app
from genebot.api.security import Tokens
from genebot.persistence.database import Database
from genebot.persistence.journal import TradingStore
from genebot.persistence.migrate import ensure_current
from genebot.persistence.repositories import DeploymentRepository

ROOT = Path(__file__).resolve().parents[2]
ADMIN, VIEWER = "admin-token-0123456789", "viewer-token-0123456789"
TOKENS = {"GENEBOT_API_ADMIN_TOKEN": ADMIN, "GENEBOT_API_VIEWER_TOKEN": VIEWER}
A = {"Authorization": f"Bearer {ADMIN}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def genebot(*args: str, env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "genebot.cli.main", *args],
        cwd=cwd,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_http(url: str, headers: dict[str, str] | None = None, timeout_s: float = 30) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            got = httpx.get(url, headers=headers, timeout=2)
            if got.status_code < 500:
                return got
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer")


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENEBOT_API_")}
    env.pop("GENEBOT_NO_API", None)
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'g.db'}"
    return {**env, **extra}


def test_serve_on_loopback_without_tokens_writes_a_session_token(tmp_path: Path) -> None:
    port = free_port()
    proc = genebot("serve", "--port", str(port), env=_env(tmp_path), cwd=tmp_path)
    try:
        health = wait_http(f"http://127.0.0.1:{port}/health")
        assert health.status_code == 200 and health.json()["status"] == "ok"
        token_file = tmp_path / ".genebot" / "api_token"
        assert oct(token_file.stat().st_mode & 0o777) == "0o600"
        token = token_file.read_text().strip()
        who = httpx.get(
            f"http://127.0.0.1:{port}/api/whoami", headers={"Authorization": f"Bearer {token}"}
        )
        assert who.json() == {"name": "admin#1", "role": "admin"}
        assert httpx.get(f"http://127.0.0.1:{port}/api/whoami").status_code == 401
        docs = httpx.get(f"http://127.0.0.1:{port}/docs")
        assert docs.status_code == 200 and "swagger" in docs.text.lower()
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert token not in out + err  # the token is in its file, never on the console


def test_serve_beyond_loopback_without_tokens_refuses(tmp_path: Path) -> None:
    proc = genebot(
        "serve", "--host", "0.0.0.0", "--port", str(free_port()), env=_env(tmp_path), cwd=tmp_path
    )
    out, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and "refusing to listen beyond loopback" in out + err
    assert "Traceback" not in out + err


def test_run_serves_the_api_and_a_stop_from_it_ends_the_run(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "c.yaml"
    config.write_text(
        f"""
backtest: {{data_dir: {ROOT / "data" / "sample"}, start_date: "2021-05-01", end_date: "2021-05-06"}}
strategies:
  moving_average:
    parameters: {{short_period: 10, long_period: 20}}
    symbols: [BTC/USDT]
    timeframes: [5m]
api: {{port: {port}}}
""",
        encoding="utf-8",
    )
    env = _env(tmp_path, **TOKENS)
    proc = genebot(
        "run", "--config", str(config), "--speed", "300", "--quiet", env=env, cwd=tmp_path
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/health")

        def running() -> list[dict[str, Any]]:
            got = httpx.get(f"{base}/api/trading/deployments?active=true", headers=A).json()
            return list(got["deployments"])

        deadline = time.monotonic() + 30
        while not running() and time.monotonic() < deadline:
            time.sleep(0.2)
        card = running()[0]
        assert card["status"] == "active" and card["mode"] == "paper"
        # this process is a runner: it cannot start another deployment
        deploy = httpx.post(
            f"{base}/api/trading/deploy",
            headers=A,
            json={"strategy": "moving_average", "symbols": ["BTC/USDT"]},
        )
        assert deploy.status_code == 409
        stop = httpx.post(
            f"{base}/api/trading/stop/{card['id']}",
            headers=A,
            json={"reason": "from the API"},
            timeout=30,
        )
        assert stop.status_code == 200 and "stopping" in stop.json()["outcome"]
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert f"API and dashboard on http://127.0.0.1:{port}" in out
    assert ADMIN not in out + err


# -- the websocket ----------------------------------------------------------------------------
def _ws_app(tmp_path: Path) -> tuple[TestClient, Database, str]:
    db = Database(f"sqlite:///{tmp_path / 'w.db'}")
    ensure_current(db)
    dep = DeploymentRepository(db).start("paper-ws", "paper", {"strategies": {}})
    return TestClient(create_app(db, Tokens(TOKENS))), db, dep


def _next_event(ws: Any, kind: str) -> dict[str, Any]:
    for _ in range(50):
        message = json.loads(ws.receive_text())
        if message["type"] == "event" and message["kind"] == kind:
            return dict(message)
    raise AssertionError(f"no {kind} event")


def test_websocket_needs_auth_first(tmp_path: Path) -> None:
    client, _, _ = _ws_app(tmp_path)
    with client.websocket_connect("/api/ws") as ws:
        ws.send_text(json.dumps({"type": "auth", "token": "wrong-token-xxxxxxxxxx"}))
        assert json.loads(ws.receive_text())["type"] == "error"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    assert closed.value.code == 4401


def test_websocket_pushes_journal_events_and_resyncs(tmp_path: Path) -> None:
    client, db, dep = _ws_app(tmp_path)
    store = TradingStore(db, dep)
    with client.websocket_connect("/api/ws") as ws:
        ws.send_text(json.dumps({"type": "auth", "token": VIEWER, "since": 0}))
        hello = json.loads(ws.receive_text())
        assert hello["type"] == "hello" and hello["role"] == "viewer"
        store.record_kill_switch("activated", "daily_loss", "engine", "loss 5.5%")
        event = _next_event(ws, "kill_switch.activated")
        assert event["deployment_id"] == dep and event["payload"]["reason"] == "loss 5.5%"
        seen = event["id"]
    # while disconnected, more happens; the reconnect with `since` gets it, in order
    store.operator_action("alice", "pause", dep, {"reason": "lunch"})
    store.operator_action("alice", "resume", dep, {"reason": "back"})
    with client.websocket_connect("/api/ws") as ws:
        ws.send_text(json.dumps({"type": "auth", "token": ADMIN, "since": seen}))
        assert json.loads(ws.receive_text())["type"] == "hello"
        first = _next_event(ws, "operator.pause")
        second = _next_event(ws, "operator.resume")
        assert seen < first["id"] < second["id"] and first["actor"] == "operator:alice"


# -- strategies and orchestration -------------------------------------------------------------
def test_strategies_list_their_parameters_and_updates_are_checked(database: Database) -> None:
    client = TestClient(create_app(database, Tokens(TOKENS)))
    listed = client.get("/api/strategies", headers=A).json()["strategies"]
    ma = next(s for s in listed if s["name"] == "moving_average")
    names = {p["name"] for p in ma["parameters"]}
    assert {"short_period", "long_period"} <= names and len(listed) >= 10
    url = "/api/strategies/moving_average/parameters"
    ok = client.put(url, headers=A, json={"short_period": 12, "long_period": 24})  # seed 000
    assert ok.status_code == 200 and ok.json()["parameters"]["short_period"] == 12
    again = client.get("/api/strategies", headers=A).json()["strategies"]
    value = {
        p["name"]: p["value"]
        for p in next(s for s in again if s["name"] == "moving_average")["parameters"]
    }
    assert value["short_period"] == 12 and value["long_period"] == 24
    bad = client.put(url, headers=A, json={"short_period": -5})
    assert bad.status_code == 422 and "short_period" in bad.json()["detail"]
    unknown = client.put(url, headers=A, json={"speed": 3})
    assert unknown.status_code == 422 and "speed" in unknown.json()["detail"]
    nope = client.post("/api/strategies/nope/disable", headers=A)
    assert nope.status_code == 422 and "not a known strategy" in nope.json()["detail"]
    idle = client.post("/api/strategies/moving_average/disable", headers=A)
    assert idle.status_code == 409 and "no runner" in idle.json()["detail"]


def test_orchestration_routes_without_a_running_orchestrator(database: Database) -> None:
    client = TestClient(create_app(database, Tokens(TOKENS)))
    status = client.get("/api/orchestration/status", headers=A).json()
    assert status["source"] == "none" and "genebot backtest orchestration" in status["message"]
    assert client.get("/api/v1/status", headers=A).json()["status"] == "idle"
    body = {"moving_average": 0.15, "rsi_strategy": 0.20}  # seed 000's body as written
    got = client.put("/api/orchestration/allocation", headers=A, json=body)
    assert got.status_code == 409 and "no runner" in got.json()["detail"]
    over = client.put("/api/orchestration/allocation", headers=A, json={"a": 0.7, "b": 0.6})
    assert over.status_code == 422 and "add up to 1.3" in over.json()["detail"]
    bad = client.post(
        "/api/orchestration/intervention",
        headers=A,
        json={"command": "pause_strategy", "reason": "x"},
    )
    assert bad.status_code == 422 and bad.json()["detail"].startswith("strategy")
