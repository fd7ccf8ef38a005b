"""The trader's dashboard in real headless Chromium over a real API and real paper runners
(seed 004's integration checklist): sign in, deploy from the dialog, see the card, a position
pushed over the websocket, a trade in the history, pause, resume, stop, deploy again and
emergency stop, reset a kill switch through the safety widget, a viewer without a single
control; the alerts panel; the orchestration page; phone width, dark and light (screenshots
in artifacts/)."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

import pytest

Server = Any  # conftest.Server: url, db, admin and viewer tokens, speed, data, root
CONTROLS = [
    "open-deploy",
    "emergency-stop",
    "card-stop",
    "card-pause",
    "card-resume",
    "reset-kill-switch",
    "position-close",
]
RUN_TIMEOUT = 45_000  # ms: a deploy starts a `genebot run` process; a stop waits for its bar


def expect() -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect


def sign_in(page: Any, token: str) -> None:
    page.goto("/")
    expect()(page.get_by_test_id("signin-token")).to_be_focused()
    page.get_by_test_id("signin-token").fill(token)
    page.get_by_test_id("signin-submit").click()
    expect()(page.get_by_test_id("app-view")).to_be_visible()
    expect()(page.get_by_test_id("connection")).to_have_attribute("data-state", "live")


def deploy(page: Any, speed: int) -> Any:
    """Deploy moving_average on BTC/USDT (paper) from the dialog; the new card."""
    e = expect()
    before = page.get_by_test_id("deployment-card").count()
    page.get_by_test_id("open-deploy").click()
    dialog = page.get_by_test_id("deploy-dialog")
    e(dialog).to_be_visible()
    e(page.get_by_test_id("deploy-mode-paper")).to_be_focused()  # the first field
    e(page.get_by_test_id("deploy-strategy")).to_have_value("moving_average")
    page.get_by_test_id("deploy-mode-paper").check()
    page.get_by_test_id("deploy-symbols").fill("BTC/USDT")
    page.get_by_test_id("deploy-timeframe").select_option("5m")
    page.get_by_test_id("deploy-speed").fill(str(speed))
    page.get_by_test_id("deploy-capital").fill("100000")
    page.get_by_test_id("risk-max-position-size").fill("0.2")
    page.get_by_test_id("risk-stop-loss").fill("0.01")
    page.get_by_test_id("risk-take-profit").fill("0.03")
    page.get_by_test_id("deploy-submit").click()
    e(dialog).to_be_hidden(timeout=RUN_TIMEOUT)
    e(page.get_by_test_id("deployment-card")).to_have_count(before + 1)
    card = page.get_by_test_id("deployment-card").first  # newest first
    e(card).to_have_class(re.compile(r"\bselected\b"))
    e(card).to_have_attribute("data-status", "active")
    return card


def confirm(page: Any, reason: str | None = None) -> None:
    e = expect()
    dialog = page.get_by_test_id("confirm-dialog")
    e(dialog).to_be_visible()
    if reason is not None:
        e(page.get_by_test_id("confirm-reason")).to_be_focused()
        page.get_by_test_id("confirm-reason").fill(reason)
    page.get_by_test_id("confirm-ok").click()
    e(dialog).to_be_hidden(timeout=RUN_TIMEOUT)


def no_controls(page: Any) -> None:
    for testid in CONTROLS:
        assert page.get_by_test_id(testid).count() == 0, f"a viewer sees {testid}"


def test_trader_journey(open_page: Any, shot: Any, server: Server) -> None:
    """Seed 004's checklist end to end, with a viewer watching beside the admin."""
    e = expect()
    page, watch = open_page(scheme="dark")
    sign_in(page, server.admin)
    e(page.get_by_test_id("whoami")).to_have_text("admin#1 · admin")
    assert page.evaluate("sessionStorage.getItem('genebot.token')") == server.admin
    assert server.admin not in page.evaluate("JSON.stringify(localStorage)")
    e(page.get_by_test_id("emergency-stop")).to_be_hidden()  # nothing runs yet

    # the deploy dialog: live shows the risk warning, needs the account name, and the API's
    # refusal is shown next to the form; a bad field's 422 names the field
    page.get_by_test_id("open-deploy").click()
    e(page.get_by_test_id("deploy-dialog")).to_be_visible()
    e(page.get_by_test_id("deploy-strategy")).to_have_value("moving_average")  # the configured
    e(page.get_by_test_id("live-warning")).to_be_hidden()
    page.get_by_test_id("deploy-mode-live").check()
    e(page.get_by_test_id("live-warning")).to_be_visible()
    e(page.get_by_test_id("deploy-account")).to_be_focused()
    page.get_by_test_id("deploy-submit").click()  # no account typed: refused in the page
    e(page.get_by_test_id("deploy-error")).to_contain_text("Account name")
    page.get_by_test_id("deploy-account").fill("main")
    watch.expect_failure(422, "/api/trading/deploy")
    page.get_by_test_id("deploy-submit").click()
    e(page.get_by_test_id("deploy-error")).to_contain_text(
        "live deployments start from the terminal"
    )
    page.get_by_test_id("deploy-mode-paper").check()
    e(page.get_by_test_id("live-warning")).to_be_hidden()
    page.get_by_test_id("deploy-capital").fill("0")
    page.get_by_test_id("deploy-submit").click()
    e(page.get_by_test_id("deploy-error")).to_contain_text("capital:")
    page.get_by_test_id("deploy-capital").fill("")
    page.keyboard.press("Escape")  # Esc closes a dialog
    e(page.get_by_test_id("deploy-dialog")).to_be_hidden()

    card = deploy(page, server.speed)
    dep = card.get_attribute("data-id")
    assert dep
    e(card.get_by_test_id("card-badge")).to_have_text("PAPER TRADING")
    e(card.get_by_test_id("card-badge")).to_have_class(re.compile("badge-paper"))
    e(card.get_by_test_id("card-status")).to_have_text("active")
    e(page.get_by_test_id("emergency-stop")).to_be_visible()
    page.evaluate("window.__sameDocument = true")

    # a position, pushed over the websocket (the page is never reloaded)
    page.wait_for_selector("[data-testid=position-row]", timeout=RUN_TIMEOUT)
    row = page.get_by_test_id("position-row").first
    assert row.get_attribute("data-symbol") == "BTC/USDT"
    assert row.get_by_test_id("position-close").count() == 1  # the admin may close it by hand
    pushed = [f for f in watch.frames_of("status") if f.get("deployment_id") == dep]
    assert any(f["positions"] for f in pushed), "no position arrived over the websocket"
    assert watch.frames_of("hello") and watch.frames_of("event")
    # a closed trade reaches the history; the equity curve and the chart have data
    page.wait_for_selector("[data-testid=history-row]", timeout=RUN_TIMEOUT)
    e(page.get_by_test_id("card-trades").first).not_to_have_text("0")
    e(page.get_by_test_id("equity-chart")).to_have_attribute("data-points", re.compile(r"^[1-9]"))
    e(page.get_by_test_id("candle-chart")).to_have_attribute("data-candles", re.compile(r"^[1-9]"))
    e(page.get_by_test_id("candle-chart")).to_have_attribute("data-markers", re.compile(r"^[1-9]"))
    assert page.evaluate("window.__sameDocument") is True

    # a viewer, signed in beside the admin, watches the same deployment and has no control
    viewer, viewer_watch = open_page(scheme="light")
    sign_in(viewer, server.viewer)
    e(viewer.get_by_test_id("whoami")).to_have_text("viewer#1 · viewer")
    e(viewer.locator(f"[data-testid=deployment-card][data-id='{dep}']")).to_have_attribute(
        "data-status", "active"
    )
    no_controls(viewer)
    shot(viewer, "desktop-light-viewer")
    shot(page, "desktop-dark-admin")

    # pause, then resume (each asks first in an in-page dialog)
    card.get_by_test_id("card-pause").click()
    e(page.get_by_test_id("confirm-title")).to_contain_text("Pause")
    confirm(page, "a look at the chart")
    e(card).to_have_attribute("data-status", "paused", timeout=RUN_TIMEOUT)
    e(card.get_by_test_id("card-status")).to_have_text("paused")
    e(viewer.locator(f"[data-testid=deployment-card][data-id='{dep}']")).to_have_attribute(
        "data-status", "paused"
    )
    no_controls(viewer)
    card.get_by_test_id("card-resume").click()
    confirm(page, "resume")
    e(card).to_have_attribute("data-status", "active", timeout=RUN_TIMEOUT)

    # the history filters: by reason, by symbol; and a cancelled confirmation does nothing
    page.get_by_test_id("filter-reason").select_option("signal")
    page.wait_for_selector("[data-testid=history-row][data-reason=signal]")
    e(page.locator("[data-testid=history-row]:not([data-reason=signal])")).to_have_count(0)
    page.get_by_test_id("filter-symbol").fill("ETH/USDT")
    e(page.get_by_test_id("history-row")).to_have_count(0)
    e(page.get_by_test_id("history-empty")).to_be_visible()
    page.get_by_test_id("filter-symbol").fill("")
    page.get_by_test_id("filter-reason").select_option("")
    page.wait_for_selector("[data-testid=history-row]")
    card.get_by_test_id("card-stop").click()
    page.get_by_test_id("confirm-cancel").click()
    e(page.get_by_test_id("confirm-dialog")).to_be_hidden()
    e(card).to_have_attribute("data-status", "active")

    # stop: the card goes grey, its positions close, nothing runs: no emergency button
    card.get_by_test_id("card-stop").click()
    e(page.get_by_test_id("confirm-title")).to_contain_text("Stop")
    confirm(page, "done for today")
    e(card).to_have_attribute("data-status", "stopped", timeout=RUN_TIMEOUT)
    e(card.get_by_test_id("card-status")).to_have_text("stopped")
    e(card.get_by_test_id("card-stop")).to_have_count(0)
    e(page.get_by_test_id("position-row")).to_have_count(0)
    e(page.get_by_test_id("emergency-stop")).to_be_hidden()
    server.wait(lambda: not server.runner_up(), 30.0)  # its runner ended

    # deploy again, then the emergency stop (a reason is required)
    second = deploy(page, server.speed)
    dep2 = second.get_attribute("data-id")
    assert dep2 and dep2 != dep
    e(page.get_by_test_id("emergency-stop")).to_be_visible()
    page.get_by_test_id("emergency-stop").click()
    e(page.get_by_test_id("confirm-reason")).to_be_focused()
    page.get_by_test_id("confirm-ok").click()
    e(page.get_by_test_id("confirm-error")).to_contain_text("say why")
    confirm(page, "exchange looks wrong")
    e(second).to_have_attribute("data-status", "stopped", timeout=RUN_TIMEOUT)
    e(page.get_by_test_id("toast").filter(has_text="emergency stop")).to_have_count(1)
    e(page.get_by_test_id("emergency-stop")).to_be_hidden()
    server.wait(lambda: not server.runner_up(), 30.0)

    # a kill switch trips (written by the engine's store): the widget shows it at once;
    # the admin resets it with a reason and the state clears
    from genebot.persistence.journal import TradingStore

    TradingStore(server.db, dep2).record_kill_switch(
        "activated", "daily_loss", "engine", "loss 5.5%"
    )
    state = page.get_by_test_id("kill-switch-state")
    e(state).to_have_attribute("data-state", "active")
    e(page.get_by_test_id("kill-switch-reason")).to_contain_text("daily_loss")
    page.get_by_test_id("reset-kill-switch").click()
    e(page.get_by_test_id("confirm-title")).to_contain_text("kill switch")
    page.get_by_test_id("confirm-ok").click()
    e(page.get_by_test_id("confirm-error")).to_contain_text("say why")
    confirm(page, "losses reviewed, limits fine")
    e(state).to_have_attribute("data-state", "clear")
    e(page.get_by_test_id("reset-kill-switch")).to_be_hidden()
    e(page.get_by_test_id("safety-last-reset")).not_to_have_text("—")
    shot(page, "desktop-dark-stopped")

    # the viewer followed all of it live, still without a control
    e(viewer.locator("[data-testid=deployment-card]")).to_have_count(2)
    e(viewer.locator(f"[data-testid=deployment-card][data-id='{dep2}']")).to_have_attribute(
        "data-status", "stopped"
    )
    no_controls(viewer)
    assert viewer_watch.frames_of("status")

    # a hard refresh keeps the tab signed in, on the same deployment
    page.reload()
    e(page.get_by_test_id("app-view")).to_be_visible()
    e(page.locator(f"[data-testid=deployment-card][data-id='{dep2}']")).to_have_class(
        re.compile(r"\bselected\b")
    )
    e(page.get_by_test_id("kill-switch-state")).to_have_attribute("data-state", "clear")

    # sign out: the token leaves the tab
    page.get_by_test_id("sign-out").click()
    e(page.get_by_test_id("signin-view")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('genebot.token')") is None


def test_a_dropped_websocket_reconnects_and_resyncs(open_page: Any, server: Server) -> None:
    """The socket drops: the page says so, reconnects with ``since`` = the last event id it
    saw, gets what it missed replayed (a kill switch tripped meanwhile) and refetches the grid.
    A crashed live deployment shows red, with the LIVE TRADING badge (not pulsing: it is not
    running)."""
    import json

    from genebot.persistence.journal import TradingStore
    from genebot.persistence.repositories import DeploymentRepository

    e = expect()
    repo = DeploymentRepository(server.db)
    crashed = repo.start("live-demo", "live", {"config": {"strategies": {}}})
    repo.stop(crashed, "crashed")
    server.wait(  # written behind the API's back: wait out its grid cache
        lambda: crashed in [d["id"] for d in server.get("/api/trading/deployments")["deployments"]]
    )
    sockets: list[Any] = []
    sent: list[dict[str, Any]] = []

    def route(ws: Any) -> None:
        if sockets:  # the reconnect: something happened while the page was away
            TradingStore(server.db, crashed).record_kill_switch(
                "activated", "max_drawdown", "engine", "drawdown 21%"
            )
        upstream = ws.connect_to_server()
        ws.on_message(lambda m: (sent.append(json.loads(m)), upstream.send(m)))
        sockets.append(ws)

    page, watch = open_page()
    page.route_web_socket("**/api/ws", route)
    sign_in(page, server.admin)
    card = page.locator(f"[data-testid=deployment-card][data-id='{crashed}']")
    card.get_by_test_id("card-select").click()
    e(card).to_have_attribute("data-status", "error")
    e(card.get_by_test_id("card-badge")).to_have_text("LIVE TRADING")
    e(card.get_by_test_id("card-badge")).not_to_have_class(re.compile(r"\bon\b"))
    e(page.get_by_test_id("kill-switch-state")).to_have_attribute("data-state", "clear")
    assert sent and sent[0]["type"] == "auth" and "since" not in sent[0]  # no replay at first
    grid_calls: list[str] = []
    page.on(
        "request",
        lambda r: "/api/trading/deployments" in r.url and grid_calls.append(r.url),
    )
    seen = page.evaluate("1")  # (a round trip: the first socket's frames are in)
    assert seen == 1
    sockets[0].close(code=4000, reason="network drop")
    e(page.get_by_test_id("connection")).to_have_attribute("data-state", "live", timeout=20000)
    e(page.get_by_test_id("kill-switch-state")).to_have_attribute("data-state", "active")
    e(page.get_by_test_id("kill-switch-reason")).to_contain_text("max_drawdown")
    assert len(sockets) == 2
    again = [m for m in sent if m.get("type") == "auth"]
    assert len(again) == 2 and isinstance(again[1].get("since"), int)
    assert again[1]["since"] >= 0
    e(page.get_by_test_id("deployments-grid")).to_be_visible()
    server.wait(lambda: grid_calls, 10.0)  # the grid refetched after the reconnect
    assert watch.requests


def test_a_wrong_token_is_refused_and_nothing_is_shown(open_page: Any) -> None:
    e = expect()
    page, watch = open_page()
    page.goto("/")
    watch.expect_failure(401, "/api/whoami")
    page.get_by_test_id("signin-token").fill("not-a-token-at-all-000")
    page.keyboard.press("Enter")
    e(page.get_by_test_id("signin-error")).to_have_text("that token is not valid")
    e(page.get_by_test_id("app-view")).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('genebot.token')") is None


@pytest.mark.parametrize("scheme", ["dark", "light"])
def test_phone_width(open_page: Any, shot: Any, server: Server, scheme: str) -> None:
    """390 px wide: one column, nothing wider than the screen; the dialogs fit too."""
    e = expect()
    page, _ = open_page(width=390, height=844, scheme=scheme, is_mobile=True, has_touch=True)
    sign_in(page, server.admin)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, f"phone-{scheme}")
    page.get_by_test_id("open-deploy").click()
    e(page.get_by_test_id("deploy-dialog")).to_be_visible()
    page.get_by_test_id("deploy-mode-live").check()
    e(page.get_by_test_id("live-warning")).to_be_visible()
    box = page.get_by_test_id("deploy-dialog").bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390
    shot(page, f"phone-{scheme}-deploy-live")
    page.keyboard.press("Escape")
    e(page.get_by_test_id("deploy-dialog")).to_be_hidden()


def test_theme_toggle_and_keyboard(open_page: Any, server: Server) -> None:
    e = expect()
    page, _ = open_page(scheme="light")
    sign_in(page, server.admin)
    html = page.locator("html")
    page.get_by_test_id("theme-toggle").click()
    e(html).to_have_attribute("data-theme", "dark")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    page.get_by_test_id("theme-toggle").click()
    e(html).to_have_attribute("data-theme", "light")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") != background
    # the deploy button is reachable by keyboard and its dialog opens on Enter
    page.get_by_test_id("open-deploy").focus()
    page.keyboard.press("Enter")
    e(page.get_by_test_id("deploy-dialog")).to_be_visible()
    e(page.get_by_test_id("deploy-mode-paper")).to_be_focused()
    page.keyboard.press("Escape")
    e(page.get_by_test_id("deploy-dialog")).to_be_hidden()


def test_orchestration_page(open_page: Any, shot: Any, server: Server) -> None:
    """Seed 000's /orchestration/dashboard: allocation, rebalancing history, attribution (from
    the newest orchestrated backtest when no orchestrated deployment runs)."""
    import yaml

    from genebot.backtest import run
    from genebot.backtest.store import store_run
    from genebot.config.loader import load_config

    e = expect()
    config = yaml.safe_load(
        (server.root / "config" / "orchestrator.yaml").read_text(encoding="utf-8")
    )
    config["backtest"].update(
        data_dir=str(server.data), start_date="2021-05-01", end_date="2021-05-20"
    )
    config["backtest"].pop("output_dir", None)
    cfg = load_config(config)
    store_run(server.db, cfg, run(cfg), None)

    page, _ = open_page(scheme="dark")
    page.goto("/orchestration/dashboard")
    page.get_by_test_id("signin-token").fill(server.viewer)
    page.get_by_test_id("signin-submit").click()
    e(page.get_by_test_id("orchestration-view")).to_be_visible()
    e(page.get_by_test_id("orch-source")).to_have_attribute("data-source", "backtest")
    e(page.get_by_test_id("orch-allocation-row")).to_have_count(4)
    assert page.get_by_test_id("orch-history-row").count() >= 4
    e(page.get_by_test_id("orch-attribution-row")).to_have_count(4)
    e(page.get_by_test_id("orch-attribution")).to_contain_text("ma_btc")
    shot(page, "orchestration-dark")
    page.get_by_test_id("theme-toggle").click()
    shot(page, "orchestration-light")
    # the trading page shares the sign-in of the tab
    page.get_by_role("link", name="Trading").click()
    e(page.get_by_test_id("app-view")).to_be_visible()
    e(page.get_by_test_id("whoami")).to_have_text("viewer#1 · viewer")


def test_pages_need_no_token_and_files_stay_in_the_package(server: Server) -> None:
    import httpx

    with httpx.Client(base_url=server.url) as client:
        for path in ("/", "/orchestration/dashboard", "/static/app.js", "/static/style.css"):
            got = client.get(path)
            assert got.status_code == 200, path
            csp = got.headers["content-security-policy"]
            assert "default-src 'self'" in csp and "unsafe-inline" not in csp
            assert got.headers["x-content-type-options"] == "nosniff"
        assert client.get("/static/app.js").headers["content-type"].startswith("text/javascript")
        vendor = client.get("/static/vendor/lightweight-charts.standalone.production.js")
        assert vendor.status_code == 200 and "Lightweight Charts" in vendor.text[:400]
        assert "Apache License" in client.get("/static/vendor/lightweight-charts.LICENSE").text
        for bad in ("/static/../routes/dashboard.py", "/static/%2e%2e/app.py", "/static/nope.js"):
            assert client.get(bad).status_code == 404, bad
        spec = client.get("/openapi.json").json()["paths"]
        assert "/" not in spec and "/static/{path}" not in spec
        assert "/orchestration/dashboard" not in spec
        assert client.get("/api/trading/deployments").status_code == 401  # the API still needs one


# -- the alerts panel: listed, pushed over the websocket, acknowledged --------------------
def fire(server: Server, rule: str, severity: str, message: str) -> int:
    """What a runner does when an alert fires: the alerts row, then ``alert.fired``."""
    from genebot.persistence.repositories import AlertRepository
    from genebot.persistence.tables import JournalEntry

    alert_id = AlertRepository(server.db).add(rule, severity, message)
    with server.db.session() as session:
        session.add(
            JournalEntry(
                deployment_id=None, recorded_at=datetime.now(UTC), ts_event=time.time_ns(),
                kind="alert.fired", actor="runner", subject=rule, payload="{}",
            )
        )  # fmt: skip
    return alert_id


def test_alerts_are_listed_pushed_and_acknowledged(open_page: Any, server: Server) -> None:
    e = expect()
    first = fire(server, "kill_switch_tripped", "CRITICAL", "kill switch tripped: daily loss")
    page, _ = open_page()
    sign_in(page, server.admin)
    row = page.locator(f'[data-testid="alert-row"][data-id="{first}"]')
    e(row).to_be_visible()
    e(row.get_by_test_id("alert-severity")).to_have_text("CRITICAL")
    e(row.get_by_test_id("alert-message")).to_have_text("kill switch tripped: daily loss")
    pushed = fire(server, "memory_high", "WARNING", "memory usage 91% is over the limit")
    e(page.locator(f'[data-testid="alert-row"][data-id="{pushed}"]')).to_be_visible()
    row.get_by_test_id("alert-ack").click()
    e(row).to_have_attribute("data-acknowledged", "true")
    from genebot.persistence.repositories import AlertRepository

    acked = [a for a in AlertRepository(server.db).recent() if a.id == first]
    assert acked and acked[0].acknowledged
    page.get_by_test_id("alerts-open-only").check()
    e(row).to_have_count(0)  # the open-only filter hides the acknowledged one
    e(page.locator(f'[data-testid="alert-row"][data-id="{pushed}"]')).to_be_visible()


def test_a_viewer_sees_alerts_without_a_button(open_page: Any, server: Server) -> None:
    e = expect()
    alert_id = fire(server, "stale_data", "ERROR", "market data stale: BTC/USDT")
    page, _ = open_page()
    sign_in(page, server.viewer)
    row = page.locator(f'[data-testid="alert-row"][data-id="{alert_id}"]')
    e(row).to_be_visible()
    e(row.get_by_test_id("alert-ack")).to_have_count(0)
    assert page.get_by_test_id("alert-ack").count() == 0  # no alert has a button for a viewer


# -- the Hall of Fame panel: an entry's rules and held-out curve, Deploy fills the dialog ------
def keep_entry(server: Server) -> int:
    """A Hall of Fame entry as `genebot evolve` keeps one (evolved on the bundled 1h bars)."""
    import json as _json

    from genebot.persistence.tables import HallOfFameRow

    parameters = {"entry": "RSI(14) < 30", "exit": "RSI(14) > 70", "stop_loss": 0.0,
                  "take_profit": 0.0, "trailing": 0.0}  # fmt: skip
    row = HallOfFameRow(
        created_at=datetime.now(UTC), strategy="evolved",
        rules="entry: RSI(14) < 30 | exit: RSI(14) > 70", parameters=_json.dumps(parameters),
        in_sample="{}", walk_forward="[]",
        held_out=_json.dumps({"sharpe": 1.25, "max_drawdown": -0.04, "trades": 9}),
        deflated_sharpe=0.42, candidates=120, seed=7,
        data=_json.dumps({"symbol": "BTC/USDT", "timeframe": "1h", "bars": 5482,
                          "source": str(server.data / "crypto" / "binance_BTC-USDT_1h.csv")}),
        periods=_json.dumps({"held_out_start": "2021-06-02T04:00:00+00:00"}),
        settings=_json.dumps({"base": {}}),
    )  # fmt: skip
    with server.db.session() as session:
        session.add(row)
        session.flush()
        return int(row.id)


def test_hall_of_fame_entry_curve_and_deploy_dialog(open_page: Any, server: Server) -> None:
    e = expect()
    entry_id = keep_entry(server)
    page, _ = open_page()
    sign_in(page, server.admin)
    row = page.locator(f'[data-testid="hof-row"][data-id="{entry_id}"]')
    e(row.get_by_test_id("hof-rules")).to_have_text("entry: RSI(14) < 30 | exit: RSI(14) > 70")
    row.click()
    e(page.get_by_test_id("hof-detail-stats")).to_contain_text("deflated Sharpe 0.420")
    e(page.get_by_test_id("hof-equity")).to_have_attribute("data-points", re.compile(r"^[1-9]\d+$"))
    page.get_by_test_id("hof-deploy").click()
    e(page.get_by_test_id("deploy-dialog")).to_be_visible()
    e(page.get_by_test_id("deploy-strategy")).to_have_value("evolved")
    e(page.get_by_test_id("param-entry")).to_have_value("RSI(14) < 30")
    e(page.get_by_test_id("deploy-timeframe")).to_have_value("1h")
    assert page.get_by_test_id("param-exit").input_value() == "RSI(14) > 70"
    page.get_by_test_id("deploy-cancel").click()
    e(page.get_by_test_id("deploy-dialog")).to_be_hidden()


def test_stored_backtests_list_and_open_their_report(open_page: Any, server: Server) -> None:
    """A viewer sees the stored runs with their figures; Report opens the run's HTML report in
    a new tab (a signed link: no token in the URL), whose charts draw under its own CSP."""
    from genebot.backtest.runner import run
    from genebot.backtest.store import store_run
    from genebot.config.loader import load_config
    from genebot.testkit import ma_config

    e = expect()
    cfg = load_config(ma_config("BTC/USDT", "5m", 0.1, end_date="2021-05-04"))
    result = run(cfg)
    out = server.tmp / "stored-run"
    result.write(out)
    run_id = store_run(server.db, cfg, result, out)
    page, _ = open_page()
    sign_in(page, server.viewer)
    row = page.locator(f'[data-testid="backtest-row"][data-id="{run_id}"]')
    e(row).to_contain_text(str(result.stats["trades"]))
    e(row).to_contain_text("2021-05-01")
    problems: list[str] = []  # the report tab's errors (a CSP refusal is one), from its start
    page.context.on("console", lambda m: m.type == "error" and problems.append(m.text))
    page.context.on("weberror", lambda err: problems.append(str(err.error)))
    with page.context.expect_page() as opened:
        row.get_by_test_id("backtest-report").click()
    report = opened.value
    report.wait_for_url(re.compile(rf"/reports/backtests/{run_id}\?ticket=\d+\.[0-9a-f]+$"))
    report.wait_for_selector(".plotly .main-svg", timeout=15_000)  # plotly drew a chart
    assert server.viewer not in report.url and report.title() != ""
    assert not problems, problems


def test_go_live_readiness_report_on_the_dashboard(open_page: Any, server: Server) -> None:
    """Seed 001's readiness score, as `genebot validate` prints it, from the dashboard: the
    score, the verdict, the three parts and every criterion with its figure."""
    e = expect()
    page, _ = open_page()
    sign_in(page, server.viewer)  # a report, not a control: viewers may run it
    e(page.get_by_test_id("readiness-strategy")).to_have_value("moving_average")
    page.get_by_test_id("readiness-check").click()
    e(page.get_by_test_id("readiness-score")).to_have_text(
        re.compile(r"^\d+(\.\d)? / 100$"), timeout=60_000
    )
    items = page.get_by_test_id("readiness-item")
    e(items).to_have_count(15)  # five criteria out of sample, five system, five paper
    verdict = page.get_by_test_id("readiness-verdict").inner_text()
    score = float(page.get_by_test_id("readiness-score").inner_text().split(" /")[0])
    assert verdict in ("READY", "NOT READY") and (verdict == "READY") == (
        score >= 80 and "Critical" not in page.get_by_test_id("readiness-notes").inner_text()
    )
    db_row = page.locator('[data-testid="readiness-item"][data-name="database"]')
    assert db_row.get_attribute("data-passed") == "1"  # the server's database answers
    e(page.get_by_test_id("readiness-parts")).to_contain_text("Out of sample:")
