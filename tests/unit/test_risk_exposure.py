"""Exposure checks: scenario tables just under, at and just over each limit, long and short."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from genebot.domain.instrument import Instrument
from genebot.domain.position import ClosedTrade
from genebot.risk.checks.exposure import (
    MaxPositionsCheck,
    MinBalanceCheck,
    MinTradeAmountCheck,
    PortfolioHeatCheck,
    PositionSizeCheck,
    PositionsPerSymbolCheck,
    RiskPerTradeCheck,
    exposure_checks,
)
from genebot.risk.config import RiskManagementConfig
from genebot.risk.engine import RiskEngine
from genebot.risk.types import OrderIntent, Verdict

D = Decimal
TEN_THOUSAND = Decimal(10_000)
BTC = Instrument.create("BTC/USDT", "binance")
BTC_OTHER_VENUE = Instrument.create("BTC/USDT", "kraken")
ETH = Instrument.create("ETH/USDT", "binance")


@dataclass
class FakeView:
    """The RiskView protocol with plain attributes. ``positions`` holds
    (strategy_id, instrument_id, signed quantity, entry price)."""

    equity_value: Decimal = TEN_THOUSAND
    balance: Decimal = TEN_THOUSAND
    positions: list[tuple[str, str, Decimal, Decimal]] = field(default_factory=list)
    marks: dict[str, Decimal] = field(default_factory=dict)
    stops: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    now_ns: int = 1_700_000_000_000_000_000

    def equity(self) -> Decimal:
        return self.equity_value

    def equity_at(self, ts_ns: int) -> Decimal:
        return self.equity_value

    def peak_equity_since(self, since_ns: int | None, now_ns: int) -> Decimal | None:
        return None

    def sleeve_equity(self, strategy_id: str) -> Decimal:
        return self.equity_value

    def position_qty(self, strategy_id: str, instrument_id: str) -> Decimal:
        return sum(
            (q for s, i, q, _ in self.positions if s == strategy_id and i == instrument_id),
            D(0),
        )

    def open_positions(self) -> Sequence[tuple[str, str, Decimal, Decimal]]:
        return self.positions

    def mark(self, instrument_id: str) -> Decimal | None:
        return self.marks.get(instrument_id)

    def quote_balance(self) -> Decimal:
        return self.balance

    def closed_trades(self) -> Sequence[ClosedTrade]:
        return []

    def returns(self, instrument_id: str, bars: int) -> Sequence[float]:
        return []

    def bars_per_day(self, instrument_id: str) -> float:
        return 288.0

    def stop_for(self, strategy_id: str, instrument_id: str) -> Decimal | None:
        return self.stops.get((strategy_id, instrument_id))

    def working_entries(self, strategy_id: str, instrument_id: str) -> int:
        return 0


@dataclass
class FakeState:
    config: RiskManagementConfig = field(default_factory=RiskManagementConfig)
    trades: Sequence[ClosedTrade] = ()
    recent_exits: Sequence[tuple[int, str, str, Decimal]] = ()
    order_times: Sequence[tuple[int, str]] = ()


STATE = FakeState()


def intent(
    side: str = "BUY",
    qty: str | Decimal = "0.1",
    price: str | Decimal = "50000",
    *,
    instrument: Instrument = BTC,
    stop: str | None = None,
    strategy: str = "s1",
) -> OrderIntent:
    return OrderIntent(
        strategy_id=strategy,
        instrument=instrument,
        side=side,
        quantity=D(qty),
        order_type="MARKET",
        price=D(price),
        reduce_only=False,
        tag="entry",
        stop_price=D(stop) if stop is not None else None,
    )


def other_side(side: str) -> str:
    return "SELL" if side == "BUY" else "BUY"


def sign(side: str) -> int:
    return 1 if side == "BUY" else -1


SIDES = pytest.mark.parametrize("side", ["BUY", "SELL"], ids=["long", "short"])


# -- 1. min account balance --------------------------------------------------------------
@SIDES
@pytest.mark.parametrize(
    ("balance", "denied"),
    [("99.99", True), ("100", False), ("100.01", False)],
    ids=["just-under", "at", "just-over"],
)
def test_min_balance(side: str, balance: str, denied: bool) -> None:
    view = FakeView(balance=D(balance))
    verdict = MinBalanceCheck(100.0).check(intent(side), view, STATE)
    if denied:
        assert verdict == Verdict.deny("min_account_balance", "balance 99.99 < minimum 100.00")
    else:
        assert verdict is None


# -- 2. max positions ----------------------------------------------------------------------
def _positions(n: int, side_sign: int = 1) -> list[tuple[str, str, Decimal, Decimal]]:
    return [(f"other{k}", f"X{k}/USDT@binance", D(side_sign), D(10)) for k in range(n)]


@SIDES
@pytest.mark.parametrize(
    ("existing", "denied"),
    [(1, False), (2, False), (3, True)],
    ids=["just-under", "at", "just-over"],
)
def test_max_positions(side: str, existing: int, denied: bool) -> None:
    # Limit 3: with 2 open the new one makes 3 (at the limit); with 3 open it would make 4.
    view = FakeView(positions=_positions(existing, sign(side)))
    verdict = MaxPositionsCheck(3).check(intent(side), view, STATE)
    if denied:
        assert verdict is not None and verdict.action == "deny"
        assert verdict.rule == "max_positions"
        assert verdict.detail == "3 open positions >= limit 3: no new position in BTC/USDT"
    else:
        assert verdict is None


@SIDES
def test_max_positions_adding_to_own_position_is_not_new(side: str) -> None:
    positions = [*_positions(2), ("s1", BTC.id, D("0.1") * sign(side), D(50_000))]
    verdict = MaxPositionsCheck(3).check(intent(side), FakeView(positions=positions), STATE)
    assert verdict is None


# -- 3. positions per symbol ---------------------------------------------------------------
@SIDES
@pytest.mark.parametrize(
    ("existing", "denied"),
    [(0, False), (1, False), (2, True)],
    ids=["just-under", "at", "just-over"],
)
def test_positions_per_symbol(side: str, existing: int, denied: bool) -> None:
    # Limit 2; the existing BTC/USDT positions belong to other strategies, on either venue.
    venues = [BTC.id, BTC_OTHER_VENUE.id]
    positions = [(f"other{k}", venues[k % 2], D("0.1") * sign(side), D(1)) for k in range(existing)]
    positions.append(("other", ETH.id, D(1), D(2_000)))  # another symbol does not count
    verdict = PositionsPerSymbolCheck(2).check(intent(side), FakeView(positions=positions), STATE)
    if denied:
        assert verdict == Verdict.deny(
            "max_positions_per_symbol", "2 open positions in BTC/USDT >= limit 2"
        )
    else:
        assert verdict is None


@SIDES
def test_positions_per_symbol_counts_other_venues(side: str) -> None:
    positions = [("other", BTC_OTHER_VENUE.id, D(1), D(50_000))]
    verdict = PositionsPerSymbolCheck(1).check(intent(side), FakeView(positions=positions), STATE)
    assert verdict is not None and verdict.action == "deny"


@SIDES
def test_positions_per_symbol_adding_to_own_position_is_not_new(side: str) -> None:
    positions = [("s1", BTC.id, D("0.1") * sign(side), D(50_000))]
    verdict = PositionsPerSymbolCheck(1).check(intent(side), FakeView(positions=positions), STATE)
    assert verdict is None


# -- 4. position size ----------------------------------------------------------------------
@SIDES
@pytest.mark.parametrize(
    ("qty", "resized"),
    [
        ("0.01999999", None),
        ("0.02", None),
        ("0.02000001", D("0.02")),
        ("0.5", D("0.02")),
    ],
    ids=["just-under", "at", "just-over", "seed-auto-resize"],
)
def test_position_size(side: str, qty: str, resized: Decimal | None) -> None:
    # Equity 10,000 × 10% = 1,000 = 0.02 BTC at 50,000.
    verdict = PositionSizeCheck(0.10).check(intent(side, qty), FakeView(), STATE)
    if resized is None:
        assert verdict is None
    else:
        assert verdict is not None and verdict.action == "resize"
        assert verdict.rule == "max_position_size"
        assert verdict.quantity == resized


def test_position_size_seed_example_detail() -> None:
    verdict = PositionSizeCheck(0.10).check(intent("BUY", "0.5"), FakeView(), STATE)
    assert verdict == Verdict.resize(
        "max_position_size",
        "position 0.5 BTC/USDT = 25,000.00 = 250.00% of equity 10,000.00 > 10.00%: resized to 0.02",
        D("0.02"),
    )


@SIDES
@pytest.mark.parametrize(
    ("qty", "resized"),
    [("0.00999999", None), ("0.01", None), ("0.01000001", D("0.01"))],
    ids=["just-under", "at", "just-over"],
)
def test_position_size_counts_the_existing_position(
    side: str, qty: str, resized: Decimal | None
) -> None:
    positions = [("s1", BTC.id, D("0.01") * sign(side), D(50_000))]
    verdict = PositionSizeCheck(0.10).check(intent(side, qty), FakeView(positions=positions), STATE)
    assert (verdict.quantity if verdict else None) == resized


@SIDES
def test_position_size_order_that_flips_the_position(side: str) -> None:
    # Holding 0.01 the other way; 0.05 flips it to 0.04 (2,000 > 1,000): 0.03 flips to 0.02.
    positions = [("s1", BTC.id, D("0.01") * -sign(side), D(50_000))]
    verdict = PositionSizeCheck(0.10).check(
        intent(side, "0.05"), FakeView(positions=positions), STATE
    )
    assert verdict is not None and verdict.quantity == D("0.03")


@SIDES
def test_position_size_resize_floors_to_the_lot(side: str) -> None:
    eth = Instrument.create("ETH/USDT", "binance", lot_size="0.001")
    # 1,000 / 3,000 = 0.3333… → 0.333 (never rounded up past the limit).
    verdict = PositionSizeCheck(0.10).check(
        intent(side, "1", "3000", instrument=eth), FakeView(), STATE
    )
    assert verdict is not None and verdict.action == "resize"
    assert verdict.quantity == D("0.333")


@SIDES
def test_position_size_denies_when_the_fitting_size_is_under_the_venue_minimum(side: str) -> None:
    btc = Instrument.create("BTC/USDT", "binance", lot_size="0.00001", min_notional="10")
    # Equity 50 × 10% = 5 of notional fits: under the venue minimum of 10.
    view = FakeView(equity_value=D(50))
    verdict = PositionSizeCheck(0.10).check(intent(side, "0.001", instrument=btc), view, STATE)
    assert verdict is not None and verdict.action == "deny"
    assert "resized to 0.0001 but notional" in verdict.detail
    assert "under the minimum 10" in verdict.detail


@SIDES
def test_position_size_denies_when_nothing_fits_the_lot(side: str) -> None:
    btc = Instrument.create("BTC/USDT", "binance", lot_size="0.01")
    verdict = PositionSizeCheck(0.10).check(intent(side, "0.5", instrument=btc), FakeView(), STATE)
    # 0.02 fits exactly on a 0.01 lot; at equity 4,000 only 0.008 would fit → nothing.
    assert verdict is not None and verdict.quantity == D("0.02")
    view = FakeView(equity_value=D(4_000))
    verdict = PositionSizeCheck(0.10).check(intent(side, "0.5", instrument=btc), view, STATE)
    assert verdict is not None and verdict.action == "deny"
    assert verdict.detail.endswith("no quantity fits")


# -- 5. min trade amount -------------------------------------------------------------------
@SIDES
@pytest.mark.parametrize(
    ("qty", "denied"),
    [("0.00019998", True), ("0.0002", False), ("0.00020002", False)],
    ids=["just-under", "at", "just-over"],
)
def test_min_trade_amount(side: str, qty: str, denied: bool) -> None:
    # Minimum 10: 0.0002 × 50,000 = 10.
    verdict = MinTradeAmountCheck(10.0).check(intent(side, qty), FakeView(), STATE)
    if denied:
        assert verdict is not None and verdict.action == "deny"
        assert verdict.rule == "min_trade_amount"
        assert verdict.detail == "notional 0.00019998 × 50,000.00 = 9.999 < minimum 10.00"
    else:
        assert verdict is None


def test_min_trade_amount_zero_is_off() -> None:
    assert MinTradeAmountCheck(0.0).check(intent("BUY", "0.00000001"), FakeView(), STATE) is None


# -- 6. risk per trade ---------------------------------------------------------------------
def _stop(side: str, distance: int = 1_000) -> str:
    return str(50_000 - distance * sign(side))


@SIDES
@pytest.mark.parametrize(
    ("qty", "resized"),
    [("0.19999999", None), ("0.2", None), ("0.20000001", D("0.2")), ("0.5", D("0.2"))],
    ids=["just-under", "at", "just-over", "far-over"],
)
def test_risk_per_trade(side: str, qty: str, resized: Decimal | None) -> None:
    # Equity 10,000 × 2% = 200; stop 1,000 away → 0.2 BTC.
    verdict = RiskPerTradeCheck(0.02).check(intent(side, qty, stop=_stop(side)), FakeView(), STATE)
    if resized is None:
        assert verdict is None
    else:
        assert verdict is not None and verdict.action == "resize"
        assert verdict.rule == "max_portfolio_risk"
        assert verdict.quantity == resized


def test_risk_per_trade_detail() -> None:
    verdict = RiskPerTradeCheck(0.02).check(intent("BUY", "0.5", stop="49000"), FakeView(), STATE)
    assert verdict is not None
    assert verdict.detail == (
        "risk |50,000.00 − 49,000.00| × 0.5 = 500.00 = 5.00% of equity 10,000.00 > 2.00%: "
        "resized to 0.2"
    )


@SIDES
def test_risk_per_trade_without_a_stop_is_skipped(side: str) -> None:
    assert RiskPerTradeCheck(0.02).check(intent(side, "100"), FakeView(), STATE) is None


@SIDES
def test_risk_per_trade_resize_floors_to_the_lot(side: str) -> None:
    btc = Instrument.create("BTC/USDT", "binance", lot_size="0.001")
    # 200 / 3,000 = 0.0666… → 0.066.
    verdict = RiskPerTradeCheck(0.02).check(
        intent(side, "1", instrument=btc, stop=_stop(side, 3_000)), FakeView(), STATE
    )
    assert verdict is not None and verdict.quantity == D("0.066")


@SIDES
def test_risk_per_trade_denies_under_the_venue_minimum(side: str) -> None:
    btc = Instrument.create("BTC/USDT", "binance", lot_size="0.00001", min_notional="10")
    # Equity 100 × 2% = 2 of risk; stop 25,000 away → 0.00008 BTC = 4 of notional < 10.
    verdict = RiskPerTradeCheck(0.02).check(
        intent(side, "0.01", instrument=btc, stop=_stop(side, 25_000)),
        FakeView(equity_value=D(100)),
        STATE,
    )
    assert verdict is not None and verdict.action == "deny"
    assert "under the minimum 10" in verdict.detail


# -- 7. portfolio heat ---------------------------------------------------------------------
def _heat_view(side_sign: int = 1) -> FakeView:
    """Open heat 1,500: a stopped position risking 500 and an unstopped one marked at 1,000."""
    eth_stop = D(1_800) if side_sign > 0 else D(2_200)
    return FakeView(
        positions=[
            ("s2", ETH.id, D("0.1") * side_sign * 25, D(2_000)),  # 2.5 ETH, stop 200 away
            ("s3", "SOL/USDT@binance", D(10) * side_sign, D(120)),  # no stop, mark 100
        ],
        stops={("s2", ETH.id): eth_stop},
        marks={"SOL/USDT@binance": D(100), ETH.id: D(2_100)},
    )


@SIDES
@pytest.mark.parametrize(
    ("qty", "resized"),
    [("1.49999999", None), ("1.5", None), ("1.50000001", D("1.5")), ("3", D("1.5"))],
    ids=["just-under", "at", "just-over", "far-over"],
)
def test_portfolio_heat(side: str, qty: str, resized: Decimal | None) -> None:
    # Equity 10,000 × 30% = 3,000; 1,500 open; stop 1,000 away → 1.5 BTC more.
    view = _heat_view(sign(side))
    assert PortfolioHeatCheck.open_heat(view) == D(1_500)
    verdict = PortfolioHeatCheck(0.30).check(intent(side, qty, stop=_stop(side)), view, STATE)
    if resized is None:
        assert verdict is None
    else:
        assert verdict is not None and verdict.action == "resize"
        assert verdict.rule == "max_portfolio_heat"
        assert verdict.quantity == resized


def test_portfolio_heat_detail() -> None:
    verdict = PortfolioHeatCheck(0.30).check(intent("BUY", "3", stop="49000"), _heat_view(), STATE)
    assert verdict is not None
    assert verdict.detail == (
        "heat 1,500.00 open + 3,000.00 new = 4,500.00 = 45.00% of equity 10,000.00 > 30.00%: "
        "resized to 1.5"
    )


@SIDES
@pytest.mark.parametrize(
    ("qty", "resized"),
    [("0.02999999", None), ("0.03", None), ("0.03000001", D("0.03"))],
    ids=["just-under", "at", "just-over"],
)
def test_portfolio_heat_order_without_stop_counts_full_notional(
    side: str, qty: str, resized: Decimal | None
) -> None:
    # 1,500 left for a stopless order: its whole notional, 0.03 × 50,000.
    verdict = PortfolioHeatCheck(0.30).check(intent(side, qty), _heat_view(sign(side)), STATE)
    assert (verdict.quantity if verdict else None) == resized


def test_portfolio_heat_position_without_mark_counts_entry_notional() -> None:
    view = FakeView(positions=[("s3", "SOL/USDT@binance", D(-10), D(120))])
    assert PortfolioHeatCheck.open_heat(view) == D(1_200)


@SIDES
def test_portfolio_heat_denies_when_nothing_fits(side: str) -> None:
    view = _heat_view(sign(side))
    verdict = PortfolioHeatCheck(0.15).check(intent(side, "0.1", stop=_stop(side)), view, STATE)
    assert verdict is not None and verdict.action == "deny"
    assert verdict.detail.endswith("no quantity fits")


@SIDES
def test_portfolio_heat_resize_floors_to_the_lot(side: str) -> None:
    btc = Instrument.create("BTC/USDT", "binance", lot_size="0.001")
    view = _heat_view(sign(side))
    # 1,500 left / 700 per BTC = 2.142… → 2.142 on the lot.
    verdict = PortfolioHeatCheck(0.30).check(
        intent(side, "5", instrument=btc, stop=_stop(side, 700)), view, STATE
    )
    assert verdict is not None and verdict.quantity == D("2.142")
    # 0.3 left of the heat budget / 700 per BTC = 0.00043 → nothing on a 0.001 lot.
    view.equity_value = D(5_001)
    verdict = PortfolioHeatCheck(0.30).check(
        intent(side, "5", instrument=btc, stop=_stop(side, 700)), view, STATE
    )
    assert verdict is not None and verdict.action == "deny"
    assert verdict.detail.endswith("no quantity fits")


@SIDES
def test_portfolio_heat_denies_a_fit_under_the_venue_minimum(side: str) -> None:
    cheap = Instrument.create("DOGE/USDT", "binance", lot_size="1", min_notional="10")
    view = _heat_view(sign(side))
    view.equity_value = D("5020")  # 1,506 budget: 6 of heat left
    # A stopless order at 0.1 counts its whole notional: 60 DOGE = 6.00 notional < 10.
    verdict = PortfolioHeatCheck(0.30).check(
        intent(side, "1000", "0.1", instrument=cheap), view, STATE
    )
    assert verdict is not None and verdict.action == "deny"
    assert "resized to 60 but notional" in verdict.detail


# -- the pipeline ------------------------------------------------------------------------
def test_exposure_checks_in_order() -> None:
    checks = exposure_checks(RiskManagementConfig())
    assert [type(c) for c in checks] == [
        MinBalanceCheck,
        MaxPositionsCheck,
        PositionsPerSymbolCheck,
        PositionSizeCheck,
        MinTradeAmountCheck,
        RiskPerTradeCheck,
        PortfolioHeatCheck,
    ]
    assert [c.rule for c in checks] == [
        "min_account_balance",
        "max_positions",
        "max_positions_per_symbol",
        "max_position_size",
        "min_trade_amount",
        "max_portfolio_risk",
        "max_portfolio_heat",
    ]


def test_exposure_checks_take_the_configured_numbers() -> None:
    config = RiskManagementConfig.model_validate(
        {
            "global": {"max_portfolio_risk": 0.01},
            "position_limits": {
                "max_position_size": 0.2,
                "max_positions": 7,
                "max_positions_per_symbol": 2,
                "min_trade_amount": 15,
            },
            "limits": {"min_account_balance": 50, "max_portfolio_heat": 0.25},
        }
    )
    balance, positions, per_symbol, size, trade, risk, heat = exposure_checks(config)
    assert balance.minimum == D(50)
    assert positions.maximum == 7
    assert per_symbol.maximum == 2
    assert size.max_fraction == D("0.2")
    assert trade.minimum == D(15)
    assert risk.max_fraction == D("0.01")
    assert heat.max_fraction == D("0.25")


def test_seed_auto_resize_through_the_engine() -> None:
    config = RiskManagementConfig()
    engine = RiskEngine(config, FakeView(), exposure_checks(config), monitors=[])
    verdict = engine.evaluate(intent("BUY", "0.5"))
    assert verdict is not None and verdict.action == "resize"
    assert verdict.quantity == D("0.02")
    assert [e.action for e in engine.events] == ["resize", "approve"]
