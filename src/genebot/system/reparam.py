"""New parameters for a running strategy, from the next bar on (``PUT
/api/strategies/{name}/parameters`` → the journaled ``set_parameters`` command).

The strategy's parameters are replaced (checked against its declared bounds and its own
``validate_parameters``; a refusal leaves the old ones), then its indicators and signals are
rebuilt over the bars known so far: a precomputed replay recomputes the whole feed, a growing
kernel restarts the strategy's incremental signals from the bars it holds. Bars already handled
stay as they were traded; prefix invariance (``genebot check lookahead``) makes the rows from
the next bar on what a run started with the new parameters would compute.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from genebot.core.errors import GenebotError, ParameterError
from genebot.system.kernel import Kernel, StrategySlot
from genebot.trading.data import BarData
from genebot.trading.params import resolve_params


def slot_of(kernel: Kernel, name: str) -> StrategySlot | None:
    """The slot whose strategy id, config key or class name is ``name``."""
    for slot in kernel.slots:
        strategy = slot.strategy
        if name in (strategy.strategy_id, strategy.name, type(strategy).__name__):
            return slot
    return None


def set_parameters(slot: StrategySlot, given: Mapping[str, Any]) -> dict[str, Any]:
    """Replace the slot's strategy parameters with ``given`` over the current ones; the
    parameters now in force. Raises ParameterError (the old ones kept) when refused."""
    strategy = slot.strategy
    before = dict(strategy.params)
    where = f"strategies.{strategy.strategy_id}.parameters"
    merged = resolve_params(strategy.parameters, {**before, **dict(given)}, where)
    strategy.params = merged
    try:
        strategy.validate_parameters()
    except GenebotError:
        strategy.params = before
        raise
    except Exception as exc:  # the strategy's own check: its message, the old ones kept
        strategy.params = before
        raise ParameterError(f"{where}: {exc}") from None
    return dict(merged)


def reprepare(kernel: Kernel, slot: StrategySlot) -> None:
    """Recompute a precomputed kernel's indicators and signals of ``slot`` over its feeds."""
    for feed in slot.feeds:
        view = kernel._views.get((id(slot), feed.index))
        if view is None:  # quotes: callbacks only
            continue
        data = BarData.of(feed)
        ind = dict(slot.strategy.indicators(data))
        view._ind = ind
        kernel._prepare_signals(slot, feed, data, ind)
