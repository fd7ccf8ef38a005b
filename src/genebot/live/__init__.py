"""The paper and live runtime: the kernel on time that arrives.

The seed's Python API (``from genebot.live import LiveTrader, LiveTradingConfig,
StrategyConfig, RiskLevel``) is imported lazily, so ``genebot.live.runtime`` and the CLI do not
pay for it."""

from __future__ import annotations

from typing import Any

_API = {
    "LiveTrader": "genebot.live.trader",
    "TradingStatus": "genebot.live.trader",
    "TradingStatistics": "genebot.live.trader",
    "LiveTradingConfig": "genebot.live.trading_config",
    "StrategyConfig": "genebot.live.trading_config",
    "RiskLevel": "genebot.live.trading_config",
    "TradingMode": "genebot.live.trading_config",
}
__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'genebot.live' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
