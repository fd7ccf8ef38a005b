"""The seed's Python configuration of a live trader (``LiveTradingConfig``, ``StrategyConfig``,
``RiskLevel``), turned into the one genebot config every mode runs (:meth:`to_config`).

The seed's names and units are kept: percentages as percent (``max_risk_per_trade = 1.0`` is
1 %), MT5 timeframes (``M5``, ``H1``) and forex symbols without a slash (``USDJPY``). What has
a genebot equivalent maps onto it (listed in :data:`MAPPED`); what does not yet is kept on the
object and named by :meth:`LiveTradingConfig.unmapped` — never silently dropped.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from genebot.config.loader import GenebotConfig, load_config
from genebot.core.errors import InputError
from genebot.strategies.registry import strategy_class


class RiskLevel(Enum):
    """Risk per trade when ``risk.max_risk_per_trade`` is not set: 0.5 %, 1 %, 2 %."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


RISK_PER_TRADE = {RiskLevel.LOW: 0.005, RiskLevel.MEDIUM: 0.01, RiskLevel.HIGH: 0.02}


class TradingMode(Enum):
    DEMO = "demo"  # the broker's demo account (MT5), else a paper replay
    PAPER = "paper"
    LIVE = "live"  # real money: `genebot run --live` (a typed confirmation)


@dataclass
class StrategyConfig:
    name: str
    enabled: bool = True
    symbols: list[str] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)
    risk_level: RiskLevel = RiskLevel.MEDIUM
    max_positions: int | None = None
    max_daily_trades: int | None = None
    max_daily_loss: float | None = None  # account currency
    max_drawdown: float | None = None  # percent


@dataclass
class RiskSettings:
    max_risk_per_trade: float | None = None  # percent of equity
    max_portfolio_risk: float | None = None  # percent
    max_correlation: float | None = None
    max_positions_per_symbol: int = 1
    max_total_positions: int = 10
    stop_loss_atr_multiplier: float | None = None
    trailing_stop_enabled: bool = False
    trailing_stop_atr_multiplier: float | None = None


@dataclass
class ExecutionSettings:
    max_slippage: float = 3
    max_deviation: float = 5
    retry_attempts: int = 3
    retry_delay: float = 1.0
    execution_timeout: float = 30.0
    use_market_orders: bool = True
    confirm_trades: bool = False


@dataclass
class MonitoringSettings:
    health_check_interval: float = 60.0  # seconds
    performance_update_interval: float = 300.0
    position_update_interval: float = 30.0
    connection_check_interval: float = 30.0
    max_cpu_usage: float = 80.0  # percent
    max_memory_usage: float = 80.0
    max_disk_usage: float = 90.0


@dataclass
class NotificationSettings:
    enabled: bool = False
    services: list[str] = field(default_factory=list)
    trade_notifications: bool = True
    error_notifications: bool = True
    performance_notifications: bool = True
    system_notifications: bool = True
    notification_levels: list[str] = field(default_factory=lambda: ["WARNING", "ERROR", "CRITICAL"])


# Seed fields with a genebot equivalent (the rest: LiveTradingConfig.unmapped()).
MAPPED = (
    "strategies[].name, enabled, symbols, parameters (timeframe → timeframes; the strategy's "
    "declared parameters), risk_level (risk per trade), max_positions, max_drawdown",
    "risk.max_risk_per_trade, max_positions_per_symbol, max_total_positions, "
    "trailing_stop_enabled, trailing_stop_atr_multiplier",
    "execution.max_slippage (basis points of slippage in the paper venue)",
    "monitoring.max_cpu_usage, max_memory_usage, max_disk_usage, health_check_interval, "
    "performance_update_interval (SystemMonitor, PerformanceTracker)",
    "notifications.* (the notifications: section; channels from the environment)",
    "mode DEMO with an MT5 account (mt5, or MT5_LOGIN/MT5_PASSWORD/MT5_SERVER): the live "
    "runtime on that demo account",
)
_TIMEFRAME = re.compile(r"^(M|H|D|W|MN)(\d*)$")
_UNIT = {"M": "m", "H": "h", "D": "d", "W": "w", "MN": "M"}
_RUNTIME_KEYS = {"timeframe", "bars", "update_interval"}


@dataclass
class LiveTradingConfig:
    mode: TradingMode = TradingMode.DEMO
    account_name: str = "Demo Account"
    strategies: list[StrategyConfig] = field(default_factory=list)
    risk: RiskSettings = field(default_factory=RiskSettings)
    execution: ExecutionSettings = field(default_factory=ExecutionSettings)
    monitoring: MonitoringSettings = field(default_factory=MonitoringSettings)
    notifications: NotificationSettings = field(default_factory=NotificationSettings)
    # Where the paper trader's bars come from (a replay of files, as `genebot run` does) and
    # where its deployment is journaled.
    data_dir: str | None = None
    start_date: str | None = None
    end_date: str | None = None
    initial_balance: float = 100_000.0
    speed: float | None = None  # × real time; None: as fast as possible
    database_url: str | None = None  # default: DATABASE_URL, else sqlite genebot.db
    base: dict[str, Any] = field(default_factory=dict)  # any genebot config keys on top
    # The MT5 account DEMO trades on (an ``exchanges.mt5`` entry); by default from the
    # environment when MT5_LOGIN is set: MT5_LOGIN, MT5_PASSWORD, MT5_SERVER.
    mt5: dict[str, Any] | None = None

    def add_strategy(self, strategy: StrategyConfig) -> None:
        self.strategies.append(strategy)

    def to_config(self) -> GenebotConfig:
        """The genebot config this describes (validated: bad values name the field)."""
        enabled = [s for s in self.strategies if s.enabled]
        if not enabled:
            raise InputError("LiveTradingConfig: add an enabled StrategyConfig (add_strategy)")
        strategies = {}
        for sc in enabled:
            cls = strategy_class(_class_name(sc.name))
            key, body = cls.name, _strategy_body(sc, cls)
            strategies[key] = body
        backtest: dict[str, Any] = {"initial_cash": self.initial_balance}
        for name in ("data_dir", "start_date", "end_date"):
            if getattr(self, name) is not None:
                backtest[name] = getattr(self, name)
        backtest["slippage_bps"] = float(self.execution.max_slippage)
        config = {
            **self.base,
            "strategies": strategies,
            "backtest": {**self.base.get("backtest", {}), **backtest},
            "risk_management": _risk(self, enabled),
        }
        n = self.notifications
        config["notifications"] = {"enabled": n.enabled} | (
            {"services": list(n.services), "notification_levels": list(n.notification_levels),
             "trade_notifications": n.trade_notifications,
             "error_notifications": n.error_notifications,
             "performance_notifications": n.performance_notifications,
             "system_notifications": n.system_notifications}
            if n.enabled else {}
        )  # fmt: skip
        account = self.account()
        if account is not None:  # orders go to the broker's demo server
            config["exchanges"] = {**self.base.get("exchanges", {}), "mt5": account}
            config["dry_run"] = False
            for body in strategies.values():
                body["venue"] = "mt5"
        return load_config(config)

    def account(self) -> dict[str, Any] | None:
        """The MT5 account entry DEMO trades on, or None (PAPER, or no account: a replay)."""
        if self.mode is not TradingMode.DEMO:
            return None
        if self.mt5 is not None:
            return {"account_type": "margin", **self.mt5}
        if not os.environ.get("MT5_LOGIN"):
            return None
        return {"login": "${MT5_LOGIN}", "password": "${MT5_PASSWORD:-}",
                "server": "${MT5_SERVER:-}", "account_type": "margin"}  # fmt: skip

    def unmapped(self) -> list[str]:
        """Seed fields set to something genebot does not act on yet."""
        out = []
        risk = self.risk
        for name in ("max_portfolio_risk", "max_correlation", "stop_loss_atr_multiplier"):
            if getattr(risk, name) is not None:
                out.append(f"risk.{name}")
        for sc in self.strategies:
            for name in ("max_daily_trades", "max_daily_loss"):
                if getattr(sc, name) is not None:
                    out.append(f"{sc.name}.{name}")
        return out


def _class_name(name: str) -> str:
    """``SwingTrendMomentum`` (the seed) finds ``SwingTrendMomentumStrategy``."""
    try:
        strategy_class(name)
        return name
    except InputError:
        if not name.endswith("Strategy"):
            return name + "Strategy"
        raise


_QUOTES = ("FDUSD", "USDT", "USDC", "BUSD", "USD", "EUR", "GBP", "JPY", "CHF", "AUD", "CAD",
           "NZD", "BTC", "ETH", "BNB")  # fmt: skip


def symbol(name: str) -> str:
    """``USDJPY`` → ``USD/JPY``, ``BTCUSDT`` → ``BTC/USDT`` (MT5 and exchange spellings);
    names with a separator stay."""
    if "/" in name or not name.isalnum():
        return name
    upper = name.upper()
    for quote in sorted(_QUOTES, key=len, reverse=True):
        if upper.endswith(quote) and len(upper) > len(quote):
            return f"{upper[: -len(quote)]}/{quote}"
    if len(upper) == 6:
        return f"{upper[:3]}/{upper[3:]}"
    return name


def timeframe(value: str) -> str:
    """MT5's ``M5`` / ``H1`` / ``D1`` → ``5m`` / ``1h`` / ``1d``; genebot's spellings stay."""
    found = _TIMEFRAME.match(value.upper())
    if found is None:
        return value
    unit, count = found.groups()
    return f"{count or 1}{_UNIT[unit]}"


def _strategy_body(sc: StrategyConfig, cls: Any) -> dict[str, Any]:
    declared = set(getattr(cls, "parameters", {}))
    params = {k: v for k, v in sc.parameters.items() if k in declared}
    unknown = set(sc.parameters) - declared - _RUNTIME_KEYS
    if unknown:
        raise InputError(
            f"StrategyConfig {sc.name}: unknown parameters {', '.join(sorted(unknown))}; "
            f"{cls.name} declares: {', '.join(sorted(declared)) or 'none'}"
        )
    body: dict[str, Any] = {"parameters": params, "symbols": [symbol(s) for s in sc.symbols]}
    tf = sc.parameters.get("timeframe")
    if tf is not None:
        body["timeframes"] = [timeframe(str(tf))]
    elif cls.default_data is not None:
        body["timeframes"] = [cls.default_data[1]]
    if not sc.symbols and cls.default_data is not None:
        body["symbols"] = [cls.default_data[0]]
    return body


def _risk(cfg: LiveTradingConfig, enabled: list[StrategyConfig]) -> dict[str, Any]:
    risk = cfg.risk
    per_trade = (
        risk.max_risk_per_trade / 100
        if risk.max_risk_per_trade is not None
        else min(RISK_PER_TRADE[s.risk_level] for s in enabled)
    )
    positions = [s.max_positions for s in enabled if s.max_positions is not None]
    drawdowns = [s.max_drawdown / 100 for s in enabled if s.max_drawdown is not None]
    out: dict[str, Any] = {
        "global": {"max_portfolio_risk": per_trade},
        "position_limits": {
            "max_positions": min([risk.max_total_positions, *positions]),
            "max_positions_per_symbol": risk.max_positions_per_symbol,
        },
    }
    if drawdowns:
        out["global"]["max_drawdown"] = min(drawdowns)
    if risk.trailing_stop_enabled:
        stop: dict[str, Any] = {"trailing_stop": True}
        if risk.trailing_stop_atr_multiplier is not None:
            stop["trailing_atr_multiple"] = risk.trailing_stop_atr_multiplier
        out["stop_loss"] = stop
    return out
