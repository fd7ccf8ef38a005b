"""Pre-trade checks: one small class per rule, each with ``rule`` and ``check(intent, view,
state) -> Verdict | None``. :func:`default_checks` builds the configured pipeline: refusals that
need no arithmetic first (rates, locks, market conditions), then the sizing limits that may
resize the order (position size, risk per trade, heat)."""

from __future__ import annotations

from genebot.risk.checks.exposure import exposure_checks
from genebot.risk.config import RiskManagementConfig
from genebot.risk.types import PreTradeCheck


def default_checks(config: RiskManagementConfig) -> list[PreTradeCheck]:
    checks: list[PreTradeCheck] = []
    try:  # built in parallel; present once the market/protection rules land
        from genebot.risk.checks.market import market_checks
        from genebot.risk.checks.protections import protection_checks
    except ImportError:  # pragma: no cover - transitional
        pass
    else:
        checks += market_checks(config) + protection_checks(config)
    return checks + exposure_checks(config)
