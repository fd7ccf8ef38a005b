"""The seed's Python API (seed 003): LiveTrader(config).start() → bool, get_status(),
get_statistics(), pause(), resume(), stop(), its named components, the seed's config shape."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from genebot.backtest import run
from genebot.live import LiveTrader, LiveTradingConfig, RiskLevel, StrategyConfig
from genebot.live.trader import TradingStatus
from genebot.live.trading_config import TradingMode, symbol, timeframe

ROOT = Path(__file__).resolve().parents[2]
DATA = str(ROOT / "data" / "sample")


def _seed_config(tmp_path: Path, speed: float | None = None) -> LiveTradingConfig:
    config = LiveTradingConfig()
    config.mode = config.mode.DEMO  # the seed's spelling
    config.account_name = "Demo Account"
    config.add_strategy(
        StrategyConfig(
            name="MovingAverage",
            enabled=True,
            symbols=["BTCUSDT"],
            parameters={"timeframe": "M5", "bars": 300, "short_period": 10, "long_period": 20},
            risk_level=RiskLevel.MEDIUM,
            max_positions=3,
        )
    )
    config.data_dir, config.start_date, config.end_date = DATA, "2021-05-01", "2021-05-10"
    config.database_url = f"sqlite:///{tmp_path / 'live.db'}"
    config.speed = speed
    return config


def _until(predicate, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_seed_config_maps_onto_genebot() -> None:
    assert symbol("USDJPY") == "USD/JPY" and symbol("BTC/USDT") == "BTC/USDT"
    assert timeframe("M5") == "5m" and timeframe("H1") == "1h" and timeframe("D1") == "1d"
    config = LiveTradingConfig()
    config.add_strategy(
        StrategyConfig(name="SwingTrendMomentum", symbols=["USDJPY", "EURUSD"],
                       parameters={"timeframe": "M5", "bars": 300, "update_interval": 60.0},
                       risk_level=RiskLevel.HIGH, max_drawdown=5.0)
    )  # fmt: skip
    config.risk.max_total_positions = 4
    cfg = config.to_config()
    strategy = cfg.strategies["swing_trend_momentum"]
    assert strategy.symbols == ("USD/JPY", "EUR/USD") and strategy.timeframes == ("5m",)
    rm = cfg.risk_management
    assert rm.global_.max_portfolio_risk == 0.02 and rm.global_.max_drawdown == 0.05
    assert rm.position_limits.max_positions == 4
    config.strategies[0].parameters["no_such"] = 1
    with pytest.raises(Exception, match="unknown parameters no_such"):
        config.to_config()


def test_live_trader_runs_pauses_resumes_and_ends_as_the_backtest(tmp_path: Path) -> None:
    config = _seed_config(tmp_path, speed=None)
    backtest = run(config.to_config())
    trader = LiveTrader(config)
    assert trader.get_status() is TradingStatus.STOPPED
    assert trader.start() is True
    assert trader.strategy_runner is not None and trader.execution_engine is not None
    assert trader.position_manager is trader.execution_engine.portfolio
    assert trader.risk_monitor is not None  # the default risk profile is on
    outcome = trader.wait(120)
    assert outcome is not None and outcome.finished
    assert trader.get_status() is TradingStatus.STOPPED
    stats = trader.get_statistics()
    assert stats.status is TradingStatus.STOPPED
    assert stats.trades == len(backtest.trades) > 0
    assert stats.total_pnl == pytest.approx(float(backtest.final_equity_exact) - 100_000, abs=1e-6)
    assert outcome.result.orders.equals(backtest.orders)
    assert trader.system_monitor.latest is not None and trader.system_monitor.latest.cpu >= 0
    for key in ("total_return", "sharpe", "max_drawdown", "final_equity"):  # the backtest's
        assert stats.metrics[key] == pytest.approx(backtest.stats[key], rel=1e-9, abs=1e-12)


def test_pause_resume_and_stop_are_journaled_commands(tmp_path: Path) -> None:
    config = _seed_config(tmp_path, speed=20_000.0)  # ~2 minutes of data a second
    trader = LiveTrader(config, name="paced")
    assert trader.start()
    _until(lambda: trader.get_statistics().uptime > 0.3)
    assert trader.get_status() is TradingStatus.RUNNING
    assert trader.pause("test pause")
    assert trader.get_status() is TradingStatus.PAUSED
    assert trader.resume()
    assert trader.get_status() is TradingStatus.RUNNING
    assert trader.stop()
    assert trader.get_status() is TradingStatus.STOPPED
    from genebot.live.control import applied

    assert trader.db is not None and trader.runtime is not None
    outcomes = [o for _, _, o in applied(trader.db, trader.runtime.deployment_id or "")]
    assert any(o.startswith("paused") for o in outcomes)
    assert any(o.startswith("resumed") for o in outcomes)


def test_live_mode_and_bad_config_do_not_start_and_say_why(tmp_path: Path) -> None:
    config = _seed_config(tmp_path)
    config.mode = TradingMode.LIVE
    trader = LiveTrader(config)
    assert trader.start() is False and "genebot run --live" in (trader.last_error or "")
    config = _seed_config(tmp_path)
    config.strategies[0].name = "NoSuchStrategy"
    trader = LiveTrader(config)
    assert trader.start() is False
    assert trader.get_status() is TradingStatus.ERROR
    assert "NoSuchStrategy" in (trader.last_error or "")
