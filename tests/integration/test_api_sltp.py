"""Seed 002's stop-loss / take-profit API over a real database (SQLite and PostgreSQL): the
seed's request and response shapes, long and short triggers, the trailing stop example's
numbers, counterpart cancellation, roles, validation, a restart that keeps the active orders,
and the background monitor (driven by an injected price source and by deployment marks)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from genebot.api.app import create_app
from genebot.api.routes.sltp import desk_of
from genebot.api.security import Tokens
from genebot.persistence.codec import to_json
from genebot.persistence.database import Database
from genebot.persistence.repositories import DeploymentRepository
from genebot.persistence.tables import JournalEntry, RuntimeStatusRow
from genebot.services.sltp import THREAD_NAME, deployment_marks

ADMIN, VIEWER = "admin-token-0123456789", "viewer-token-0123456789"
ENV = {"GENEBOT_API_ADMIN_TOKEN": ADMIN, "GENEBOT_API_VIEWER_TOKEN": VIEWER}
SEED_STOP_LOSS = {
    "position_id": "pos_12345",
    "symbol": "BTC/USDT",
    "side": "buy",
    "quantity": 0.1,
    "entry_price": 50000.0,
    "stop_loss_pct": 0.02,
    "user_id": "user_123",
}


def client(db: Database) -> TestClient:
    return TestClient(create_app(db, Tokens(ENV)))


def auth(token: str = ADMIN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def exact(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return json.loads(response.text, parse_float=Decimal)


def post(api: TestClient, path: str, body: dict[str, Any]) -> Any:
    return exact(api.post(f"/api/sl-tp/{path}", json=body, headers=auth()))


def position(pid: str, side: str = "buy", **more: Any) -> dict[str, Any]:
    base = {"position_id": pid, "symbol": "BTC/USDT", "side": side, "quantity": 0.1}
    return base | {"entry_price": 50000.0} | more


def active(api: TestClient) -> dict[str, Any]:
    got: dict[str, Any] = exact(api.get("/api/sl-tp/active", headers=auth(VIEWER)))
    return {o["order_id"]: o for o in got["orders"]}


def monitor_status(api: TestClient) -> Any:
    return exact(api.get("/api/sl-tp/monitor/status", headers=auth(VIEWER)))


def check(api: TestClient, prices: dict[str, float]) -> Any:
    return post(api, "check-triggers", {"current_prices": prices})


def sltp_kinds(db: Database) -> list[str]:
    with db.reader() as session:
        kinds = session.scalars(select(JournalEntry.kind).order_by(JournalEntry.id))
        return [k for k in kinds if k.startswith("api.sltp_")]


def test_the_seed_stop_loss_call_answers_the_seed_shape(database: Database) -> None:
    api = client(database)
    got = api.post("/api/sl-tp/stop-loss", json=SEED_STOP_LOSS, headers=auth())
    body = exact(got)
    assert set(body) == {"success", "order", "message"}
    assert body["success"] is True
    assert body["message"] == "Stop-loss created at $49000.00"
    order = body["order"]
    assert (order["order_id"], order["trigger_price"], order["status"]) == (
        "sl_pos_12345",
        Decimal("49000.0"),
        "active",
    )
    assert '"trigger_price": 49000.0' in got.text  # a JSON number, as the seed shows it
    assert order["type"] == "stop_loss" and order["user_id"] == "user_123"
    assert order["stop_loss_pct"] == Decimal("0.02") and order["quantity"] == Decimal("0.1")
    assert list(active(api)) == ["sl_pos_12345"]
    assert sltp_kinds(database) == ["api.sltp_created"]


def test_short_positions_mirror_the_triggers(database: Database) -> None:
    api = client(database)
    sl = post(api, "stop-loss", position("s1", "sell"))["order"]
    tp = post(api, "take-profit", position("s1", "sell"))
    long_tp = post(api, "take-profit", position("l1"))["order"]
    assert sl["trigger_price"] == Decimal("51000.0")  # above a short's entry
    assert tp["order"]["trigger_price"] == Decimal("47500.0")  # default 5%, below
    assert tp["message"] == "Take-profit created at $47500.00"
    assert tp["order"]["order_id"] == "tp_s1" and long_tp["trigger_price"] == Decimal("52500.0")
    assert check(api, {"BTC/USDT": 50999})["triggered_count"] == 0
    fired = check(api, {"BTC/USDT": 51000})  # a short's stop triggers on the way up
    assert [(o["order_id"], o["type"]) for o in fired["triggered_orders"]] == [
        ("sl_s1", "stop_loss")
    ]
    assert fired["triggered_orders"][0]["canceled_counterparts"] == ["tp_s1"]
    assert list(active(api)) == ["tp_l1"]
    assert check(api, {"BTC/USDT": 52500})["triggered_orders"][0]["order_id"] == "tp_l1"
    assert active(api) == {}


def test_the_seed_trailing_stop_example(database: Database) -> None:
    api = client(database)
    made = post(api, "trailing-stop", position("pos_t"))
    assert made["order"]["order_id"] == "ts_pos_t"
    assert made["order"]["trigger_price"] == Decimal("48500.0")  # 3% under the entry
    assert made["order"]["trailing_pct"] == Decimal("0.03")
    for price, stop in ((52000, "50440.0"), (55000, "53350.0"), (54000, "53350.0")):
        assert check(api, {"BTC/USDT": price})["triggered_count"] == 0
        assert active(api)["ts_pos_t"]["trigger_price"] == Decimal(stop)  # never loosens
    assert active(api)["ts_pos_t"]["best_price"] == Decimal("55000.0")
    fired = check(api, {"BTC/USDT": 53350})
    assert fired["triggered_count"] == 1
    order = fired["triggered_orders"][0]
    assert (order["type"], order["status"]) == ("trailing_stop", "triggered")
    assert order["triggered_price"] == Decimal("53350.0")
    assert active(api) == {}
    assert sltp_kinds(database).count("api.sltp_trailed") == 2  # only real moves journaled
    short = post(api, "trailing-stop", position("pos_s", "sell"))["order"]
    assert short["trigger_price"] == Decimal("51500.0")  # a short's trails above the price
    assert check(api, {"BTC/USDT": 48000})["triggered_count"] == 0
    assert active(api)["ts_pos_s"]["trigger_price"] == Decimal("49440.0")
    assert check(api, {"BTC/USDT": 49440})["triggered_orders"][0]["order_id"] == "ts_pos_s"


def test_check_triggers_counts_and_cancels_the_counterpart(database: Database) -> None:
    api = client(database)
    post(api, "stop-loss", SEED_STOP_LOSS)
    post(api, "take-profit", SEED_STOP_LOSS | {"take_profit_pct": 0.05})
    eth = position("pos_eth", symbol="ETH/USDT", entry_price=3000.0)
    post(api, "stop-loss", eth)  # stop at 2940
    got = check(api, {"BTC/USDT": 48900.0, "ETH/USDT": 2950.0})  # the seed's call
    assert set(got) == {"triggered_count", "triggered_orders"}
    assert got["triggered_count"] == 1
    order = got["triggered_orders"][0]
    assert {k: order[k] for k in ("order_id", "type", "triggered_price", "status")} == {
        "order_id": "sl_pos_12345",
        "type": "stop_loss",
        "triggered_price": Decimal("48900.0"),
        "status": "triggered",
    }
    assert order["canceled_counterparts"] == ["tp_pos_12345"]
    assert list(active(api)) == ["sl_pos_eth"]
    assert check(api, {"BTC/USDT": 40000.0})["triggered_count"] == 0  # nothing left on BTC
    kinds = sltp_kinds(database)
    assert kinds.count("api.sltp_triggered") == 1 and kinds.count("api.sltp_canceled") == 1


def test_cancel_then_list_and_the_errors_of_cancel(database: Database) -> None:
    api = client(database)
    post(api, "stop-loss", SEED_STOP_LOSS)
    post(api, "take-profit", SEED_STOP_LOSS)
    done = exact(api.delete("/api/sl-tp/sl_pos_12345", headers=auth()))
    assert done["success"] is True and done["order"]["status"] == "canceled"
    assert list(active(api)) == ["tp_pos_12345"]
    again = api.delete("/api/sl-tp/sl_pos_12345", headers=auth())
    assert again.status_code == 409 and "canceled, not active" in again.json()["detail"]
    unknown = api.delete("/api/sl-tp/sl_nope", headers=auth())
    assert unknown.status_code == 404 and "sl_nope" in unknown.json()["detail"]
    remade = post(api, "stop-loss", SEED_STOP_LOSS | {"stop_loss_pct": 0.01})  # id reusable
    assert remade["order"]["trigger_price"] == Decimal("49500.0")
    twice = api.post("/api/sl-tp/stop-loss", json=SEED_STOP_LOSS, headers=auth())
    assert twice.status_code == 409 and "already active" in twice.json()["detail"]


def test_roles_and_tokens(database: Database) -> None:
    api = client(database)
    mutating = [
        ("post", "stop-loss", SEED_STOP_LOSS),
        ("post", "take-profit", SEED_STOP_LOSS),
        ("post", "trailing-stop", SEED_STOP_LOSS),
        ("post", "check-triggers", {"current_prices": {"BTC/USDT": 1.0}}),
        ("post", "monitor/start", None),
        ("post", "monitor/stop", None),
        ("delete", "sl_pos_12345", None),
    ]
    for method, path, body in mutating:
        kwargs: dict[str, Any] = {"json": body} if body is not None else {}
        call: Callable[..., Any] = getattr(api, method)
        assert call(f"/api/sl-tp/{path}", headers=auth(VIEWER), **kwargs).status_code == 403
        assert call(f"/api/sl-tp/{path}", **kwargs).status_code == 401
    for path in ("active", "health", "monitor/status"):
        assert api.get(f"/api/sl-tp/{path}").status_code == 401
        assert api.get(f"/api/sl-tp/{path}", headers=auth(VIEWER)).status_code == 200
    assert active(api) == {} and sltp_kinds(database) == []  # nothing was done
    health = exact(api.get("/api/sl-tp/health", headers=auth(VIEWER)))
    assert health["status"] == "healthy" and health["active_orders"] == 0
    assert health["monitor_running"] is False


@pytest.mark.parametrize(
    ("path", "change", "field"),
    [
        ("stop-loss", {"quantity": -1}, "quantity"),
        ("stop-loss", {"entry_price": 0}, "entry_price"),
        ("stop-loss", {"side": "hold"}, "side"),
        ("stop-loss", {"stop_loss_pct": 1.5}, "stop_loss_pct"),
        ("stop-loss", {"stop_loss_pct": "1e-999999"}, "stop_loss_pct"),
        ("stop-loss", {"symbol": ""}, "symbol"),
        ("stop-loss", {"position_id": "a/b"}, "position_id"),
        ("stop-loss", {"entry_price": "NaN"}, "entry_price"),
        ("stop-loss", {"quantity": "1e-999999"}, "quantity"),
        ("stop-loss", {"deployment_id": "nope"}, "deployment_id"),
        ("take-profit", {"side": "sell", "take_profit_pct": 1.5}, "take_profit_pct"),
        ("trailing-stop", {"trailing_pct": 0}, "trailing_pct"),
    ],
)
def test_invalid_bodies_are_422_naming_the_field(
    database: Database, path: str, change: dict[str, Any], field: str
) -> None:
    api = client(database)
    got = api.post(f"/api/sl-tp/{path}", json=SEED_STOP_LOSS | change, headers=auth())
    assert got.status_code == 422, got.text
    assert got.json()["detail"].startswith(field), got.json()
    assert active(api) == {}


def test_other_bad_input_is_never_a_500(database: Database) -> None:
    api = client(database)
    missing = api.post("/api/sl-tp/stop-loss", json={"symbol": "BTC/USDT"}, headers=auth())
    assert missing.status_code == 422 and missing.json()["detail"].startswith("position_id")
    raw = api.post(
        "/api/sl-tp/stop-loss",
        content=b'{"position_id": "p", "symbol": "X", "side": "buy", "quantity": NaN}',
        headers=auth() | {"Content-Type": "application/json"},
    )
    assert raw.status_code == 422
    url = "/api/sl-tp/check-triggers"
    for body in ({"current_prices": {"BTC/USDT": -1}}, {"current_prices": [1]}, {}):
        bad = api.post(url, json=body, headers=auth())
        assert bad.status_code == 422 and bad.json()["detail"].startswith("current_prices")
    assert api.post(url, content=b"not json", headers=auth()).status_code == 422
    for interval in ("0", "3601", "x"):
        got = api.post(f"/api/sl-tp/monitor/start?check_interval={interval}", headers=auth())
        assert got.status_code == 422 and "check_interval" in got.json()["detail"]
    assert exact(api.get("/api/sl-tp/monitor/status", headers=auth()))["running"] is False


def test_a_restarted_api_keeps_the_active_orders(database: Database) -> None:
    dep = DeploymentRepository(database).start("paper-btc", "paper", {})
    api = client(database)
    post(api, "stop-loss", SEED_STOP_LOSS | {"deployment_id": dep})
    post(api, "trailing-stop", position("pos_t"))
    post(api, "take-profit", position("pos_x"))
    check(api, {"BTC/USDT": 52000})  # the trailing stop moves to 50440
    assert exact(api.delete("/api/sl-tp/tp_pos_x", headers=auth()))["success"] is True
    before = active(api)
    url = database.engine.url.render_as_string(hide_password=False)
    reopened = Database(url)  # a new process: a new engine and a new app on the same data
    try:
        again = client(reopened)
        after = active(again)
        assert after == before and list(after) == ["sl_pos_12345", "ts_pos_t"]
        assert after["ts_pos_t"]["trigger_price"] == Decimal("50440.0")
        assert after["sl_pos_12345"]["deployment_id"] == dep
        fired = check(again, {"BTC/USDT": 50000})  # the moved stop, not the original 48500
        assert [o["order_id"] for o in fired["triggered_orders"]] == ["ts_pos_t"]
        gone = again.delete("/api/sl-tp/tp_pos_x", headers=auth())
        assert gone.status_code == 409  # its cancel survived too
    finally:
        reopened.dispose()
    with database.reader() as session:
        rows = session.scalars(select(JournalEntry).where(JournalEntry.subject == "sl_pos_12345"))
        first = next(iter(rows))
    assert (first.kind, first.deployment_id, first.actor) == (
        "api.sltp_created",
        dep,
        "operator:admin#1",
    )


def wait_for(condition: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def monitor_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == THREAD_NAME and t.is_alive()]


def test_the_monitor_triggers_from_an_injected_price_source(database: Database) -> None:
    feed: dict[str, float] = {"BTC/USDT": 50000.0}
    app: FastAPI = create_app(database, Tokens(ENV))
    desk_of(app, prices=lambda: dict(feed))
    with TestClient(app) as api:
        post(api, "stop-loss", SEED_STOP_LOSS)
        started = post(api, "monitor/start?check_interval=1", {})
        assert started["status"]["running"] is True and started["status"]["check_interval"] == 1

        def status() -> Any:
            return monitor_status(api)

        assert wait_for(lambda: status()["checks"] >= 1)
        assert status()["triggered_total"] == 0 and status()["symbols"] == ["BTC/USDT"]
        feed["BTC/USDT"] = 48900.0
        assert wait_for(lambda: status()["triggered_total"] == 1, timeout_s=5)
        assert active(api) == {} and status()["symbols"] == []
        assert status()["last_check"] is not None and status()["last_error"] is None
        stopped = post(api, "monitor/stop", {})
        assert stopped["was_running"] is True and status()["running"] is False
        assert monitor_threads() == []
        checks = status()["checks"]
        time.sleep(1.3)
        assert status()["checks"] == checks  # really stopped
        post(api, "monitor/start?check_interval=3600", {})  # left running: shutdown ends it
        assert len(monitor_threads()) == 1
    assert monitor_threads() == []
    with database.reader() as session:
        actors = session.scalars(
            select(JournalEntry.actor).where(JournalEntry.kind == "api.sltp_triggered")
        )
        assert list(actors) == ["operator:sltp-monitor"]
    assert sltp_kinds(database).count("api.sltp_monitor_started") == 2


def status_row(db: Database, dep: str, marks: dict[str, str], age_s: float = 0.0) -> None:
    positions = [{"symbol": s, "current_price": p, "side": "long"} for s, p in marks.items()]
    with db.session() as session:
        session.add(
            RuntimeStatusRow(
                deployment_id=dep,
                updated_at=datetime.now(UTC) - timedelta(seconds=age_s),
                payload=to_json({"status": "running", "positions": positions}),
            )
        )


def test_the_default_prices_are_the_running_deployments_marks(database: Database) -> None:
    repo = DeploymentRepository(database)
    running, stale, stopped = (repo.start(n, "paper", {}) for n in ("a", "b", "c"))
    repo.stop(stopped)
    status_row(database, running, {"BTC/USDT": "48900.5", "ETH/USDT": "None"})
    status_row(database, stale, {"SOL/USDT": "100"}, age_s=3600)
    status_row(database, stopped, {"XRP/USDT": "1"})
    assert deployment_marks(database) == {"BTC/USDT": Decimal("48900.5")}
    app = create_app(database, Tokens(ENV))
    with TestClient(app) as api:
        post(api, "stop-loss", SEED_STOP_LOSS)
        post(api, "monitor/start?check_interval=1", {})

        def status() -> Any:
            return monitor_status(api)

        assert wait_for(lambda: status()["triggered_total"] == 1, timeout_s=5)
        assert status()["priced_symbols"] == ["BTC/USDT"]
        post(api, "monitor/stop", {})
    assert active(client(database)) == {} and monitor_threads() == []
