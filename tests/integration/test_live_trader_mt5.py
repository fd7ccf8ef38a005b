"""Seed 003's example as written, on an MT5 demo account: ``LiveTradingConfig`` with
``config.mode = config.mode.DEMO``, SwingTrendMomentum on EURUSD, the account from MT5_LOGIN /
MT5_PASSWORD / MT5_SERVER. ``LiveTrader.start()`` trades it through the live runtime (orders
through ``order_send``, journaled, reconciled) against the MetaTrader5 stand-in; DEMO on a
real-money account is refused before anything is sent."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from genebot.live import LiveTrader, LiveTradingConfig, RiskLevel, StrategyConfig
from genebot.persistence.database import Database
from genebot.persistence.tables import Deployment, OrderRow
from genebot.testkit.mt5_standin import Mt5Standin

NS = 1_000_000_000
START = "2018-02-01T00:00:30Z"


@pytest.fixture
def mt5(monkeypatch: pytest.MonkeyPatch) -> Mt5Standin:
    terminal = Mt5Standin.with_eurusd(balance=100_000.0)
    terminal.set_time(START)
    monkeypatch.setitem(sys.modules, "MetaTrader5", terminal.as_module())
    monkeypatch.setenv("MT5_LOGIN", str(terminal.login_id))
    monkeypatch.setenv("MT5_PASSWORD", terminal.password)
    monkeypatch.setenv("MT5_SERVER", terminal.server)
    return terminal


def seed_config(db_url: str) -> LiveTradingConfig:
    config = LiveTradingConfig()
    config.mode = config.mode.DEMO
    config.account_name = "Demo Account"
    strategy_config = StrategyConfig(
        name="SwingTrendMomentum",
        enabled=True,
        symbols=["EURUSD"],
        parameters={"timeframe": "H1", "bars": 300},
        risk_level=RiskLevel.MEDIUM,
    )
    config.add_strategy(strategy_config)
    config.database_url = db_url
    config.base = {"live": {"warmup_bars": 300, "poll_delay_s": 1, "staged_sizing": False}}
    return config


def trader(mt5: Mt5Standin, config: LiveTradingConfig, bars: int) -> LiveTrader:
    def sleep(seconds: float) -> None:  # the terminal's clock jumps to the next bar's close
        mt5.set_time((mt5.now // 3600 + 1) * 3600 + 2)

    return LiveTrader(config, max_bars=bars, clock=lambda: mt5.now * NS, sleep=sleep)


def test_the_seed_example_trades_an_mt5_demo_account(
    mt5: Mt5Standin, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    live_trader = trader(mt5, seed_config(url), 24 * 30)
    assert live_trader.start(), live_trader.last_error
    seen: list[Any] = []
    deadline = time.monotonic() + 120
    while live_trader.get_status().value in ["running", "paused", "starting"]:
        seen.append(live_trader.get_statistics())
        assert time.monotonic() < deadline, "the run did not end"
        time.sleep(0.05)
    assert live_trader.last_error is None
    stats = live_trader.get_statistics()
    outcome = live_trader.wait(10)
    assert outcome is not None and outcome.bars == 24 * 30 and outcome.sent > 0
    sent = [r for name, r in mt5.calls if name == "order_send" and "comment" in r]
    assert sent and stats.orders >= len(sent)  # through the terminal, each journaled
    assert stats.equity > 0 and any(s.status.value == "running" for s in seen)
    db = Database(url)
    with db.session() as session:
        (deployment,) = session.scalars(select(Deployment)).all()
        comments = {r.client_order_id for r in session.scalars(select(OrderRow))}
    assert deployment.mode == "live" and deployment.name == "live-trader"
    # every order the terminal got carries a journaled client order id in its comment
    assert all(any(r["comment"].endswith(coid) for coid in comments) for r in sent)
    assert mt5.password not in caplog.text  # the password: in no log line, no stored row
    assert mt5.password.encode() not in (tmp_path / "demo.db").read_bytes()
    assert live_trader.position_manager is not None and live_trader.execution_engine is not None


def test_demo_mode_on_a_real_account_is_refused(mt5: Mt5Standin, tmp_path: Path) -> None:
    mt5.trade_mode = 2  # ACCOUNT_TRADE_MODE_REAL
    live_trader = trader(mt5, seed_config(f"sqlite:///{tmp_path / 'real.db'}"), 24)
    assert live_trader.start() is False
    assert "is a real account" in str(live_trader.last_error)
    assert "genebot run --live" in str(live_trader.last_error)
    assert live_trader.get_status().value == "error"
    assert not [name for name, _ in mt5.calls if name == "order_send"]


def test_without_an_account_demo_is_a_paper_replay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MT5_LOGIN", raising=False)
    config = seed_config("sqlite://")
    assert config.account() is None and config.to_config().dry_run is True
    monkeypatch.setenv("MT5_LOGIN", "5012345")
    cfg = config.to_config()
    assert cfg.dry_run is False and cfg.strategies["swing_trend_momentum"].venue == "mt5"
    assert cfg.exchanges["mt5"].login == 5012345
