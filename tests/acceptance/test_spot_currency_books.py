"""On a spot account a strategy holds currencies, not pairs: fills of a cross pair (ETH/BTC in a
USDT account) are booked as trades of ETH and of BTC in USDT. At every bar of real runs through
a triangle the books stay exact: each currency's balance is what the positions hold, the USDT
balance is allocated + realized − fees − open cost, and the sleeve's equity is the ledger's."""

from __future__ import annotations

from decimal import Decimal

import pytest
from test_crypto_forex_arbitrage import config as cfx_config
from test_crypto_forex_arbitrage import market

import genebot.backtest as bt
from genebot.backtest.recorder import exact_equity
from genebot.backtest.runner import assemble
from genebot.backtest.setup import DataInput, build
from genebot.config.loader import load_config
from genebot.system.kernel import Kernel
from genebot.venues.sim.exchange import SimulatedExchange

TRIANGLE = ["BTC/USDT", "ETH/USDT", "ETH/BTC"]


def triangle(strategy: dict, fill: str) -> dict:
    return {
        "backtest": {
            "initial_cash": 100_000,
            "fee": 0.001,
            "fill_timing": fill,
            "start_date": "2021-05-19T00:00:00Z",  # the crash: large moves between legs
            "end_date": "2021-05-19T16:00:00Z",
        },
        "risk_management": {"enabled": False},
        "strategies": {"s": {"symbols": TRIANGLE, "timeframes": ["1m"], **strategy}},
    }


def churn(seed: int, fill: str) -> dict:
    return triangle(
        {"type": "strategies_for_tests:CurrencyChurn", "parameters": {"seed": seed}}, fill
    )


def arbitrage(fill: str) -> dict:
    return triangle(
        {
            "type": "TriangularArbitrageStrategy",
            "parameters": {"min_profit_threshold": 0.0},
            "position_sizing": {"method": "fixed_amount", "amount": 10_000},
        },
        fill,
    )


def assert_books(kernel: Kernel, venues: list[SimulatedExchange], currency: str) -> None:
    sleeve = kernel.portfolio.sleeves["s" if "s" in kernel.portfolio.sleeves else "cfx"]
    account = venues[0].account
    for held_currency, balance in account.balances.items():
        if held_currency == currency:
            open_cost = sum((p.cost for p in sleeve.positions.values()), Decimal(0))
            assert balance == sleeve.allocated + sleeve.realized_pnl - sleeve.fees - open_cost
        else:
            held = sum(
                (
                    p.quantity
                    for iid, p in sleeve.positions.items()
                    if kernel.instruments[iid].base == held_currency
                ),
                Decimal(0),
            )
            assert balance == held, held_currency
    assert not set(kernel.portfolio.books) & set(sleeve.positions)  # no cross-pair position
    assert sleeve.equity(kernel.mark) == exact_equity(venues, currency, kernel)


def run_checked(config: dict, data: DataInput | None = None) -> tuple[Kernel, int]:
    """Run bar by bar as the per-bar loop does, checking the books after every bar."""
    cfg = load_config(config)
    setup = build(cfg, data)
    kernel, _ = assemble(cfg, setup)
    currency = kernel.account_currency
    assert currency is not None
    for step in range(len(kernel.timeline)):
        kernel.process_step(step)
        assert_books(kernel, setup.venues, currency)
    kernel.finish()
    cross = sum(
        1
        for o in kernel.execution.order_log
        if o.instrument_id in kernel.portfolio.books and o.filled_qty > 0
    )
    return kernel, cross


@pytest.mark.parametrize("fill", ["close", "next_open"])
@pytest.mark.parametrize("seed", [1, 2])
def test_random_legs_through_a_triangle_keep_the_books_exact(seed: int, fill: str) -> None:
    kernel, cross = run_checked(churn(seed, fill))
    assert cross >= 20  # ETH/BTC was traded both ways, not just the USDT pairs
    assert not any(slot.errors for slot in kernel.slots)
    assert {t.side for t in kernel.portfolio.trades} == {"long"}  # spot holds, never shorts


@pytest.mark.parametrize("fill", ["close", "next_open"])
def test_triangular_arbitrage_keeps_the_books_exact(fill: str) -> None:
    _, cross = run_checked(arbitrage(fill))
    assert cross >= 5


def test_crypto_forex_arbitrage_keeps_the_books_exact_in_usd() -> None:
    kernel, cross = run_checked(cfx_config(), market(n=600))
    assert cross >= 5 and kernel.account_currency == "USD"


def test_a_completed_cycle_leaves_two_currency_round_trips_and_no_position() -> None:
    result = bt.run(arbitrage("close"))
    trades, orders = result.trades, result.orders
    cycles = (orders.tag == "leg3").sum()
    assert cycles >= 5 and (orders.status == "FILLED").all()
    # One round trip of ETH and one of BTC per cycle, both long, both valued in USDT.
    assert trades.symbol.value_counts().to_dict() == {"ETH/USDT": cycles, "BTC/USDT": cycles}
    assert set(trades.side) == {"long"}
    # What remains is BTC under one lot of BTC/USDT: no round trip open, no exposure.
    assert result.stats["exposure"] == 0.0
    gained = result.stats["final_equity"] - 100_000
    assert trades.pnl.sum() == pytest.approx(gained, abs=0.5)
    assert trades.fees.sum() == pytest.approx(result.stats["fees"], rel=1e-9)
