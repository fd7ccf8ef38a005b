"""Sleeves are in the account currency even for instruments quoted in another currency."""

from __future__ import annotations

from decimal import Decimal

from genebot.domain.events import OrderFilled
from genebot.domain.instrument import Instrument
from genebot.portfolio.portfolio import CrossBooks, Portfolio

D = Decimal
ETHBTC = "ETH/BTC@sim"


def fill(side: str, qty: str, px: str, fee: str) -> OrderFilled:
    return OrderFilled("O-1", "T-1", ETHBTC, side, D(qty), D(px), D(fee), "BTC", "TAKER", 1, 1)


def test_eth_btc_pnl_and_fees_are_converted_to_usdt() -> None:
    btc_usdt = {"rate": D("50000")}
    marks = {ETHBTC: 0.06}
    portfolio = Portfolio(
        lambda iid: marks.get(iid),
        quotes={ETHBTC: "BTC"},
        rate=lambda c: D(1) if c == "USDT" else btc_usdt["rate"],
    )
    sleeve = portfolio.add_sleeve("s", D("10000"))
    portfolio.on_fill("s", fill("BUY", "1", "0.05", "0.00005"), "signal")
    assert sleeve.fees == D("2.5")  # 0.00005 BTC × 50,000
    # unrealized: 1 ETH × (0.06 − 0.05) BTC = 0.01 BTC = 500 USDT
    assert sleeve.equity(portfolio.mark) == D("10000") - D("2.5") + D("500")
    btc_usdt["rate"] = D("40000")  # BTC falls: the same BTC profit is worth less
    portfolio.on_fill("s", fill("SELL", "1", "0.06", "0.00006"), "signal")
    assert sleeve.realized_pnl == D("400")  # 0.01 BTC × 40,000
    assert sleeve.fees == D("2.5") + D("2.4")
    assert sleeve.equity(portfolio.mark) == D("10000") + D("400") - D("4.9")


def test_account_currency_instruments_are_unchanged() -> None:
    portfolio = Portfolio(lambda iid: 110.0, quotes={"X/USDT@sim": "USDT"}, rate=lambda c: D(1))
    assert portfolio.to_account("X/USDT@sim", D("12.34")) == D("12.34")


# -- spot accounts hold currencies: a cross pair is booked as trades of its two currencies ---
INSTRUMENTS = {
    i.id: i
    for i in (
        Instrument.create("BTC/USDT", "sim", tick_size="0.01", lot_size="0.00001"),
        Instrument.create("ETH/USDT", "sim", tick_size="0.01", lot_size="0.0001"),
        Instrument.create("ETH/BTC", "sim", tick_size="0.000001", lot_size="0.0001"),
        Instrument.create("ETH/BTC", "margin", tick_size="0.000001", lot_size="0.0001"),
        Instrument.create("XRP/BTC", "sim", tick_size="0.00000001", lot_size="1"),
    )
}


def spot_fill(iid: str, side: str, qty: str, px: str, fee: str) -> OrderFilled:
    quote = INSTRUMENTS[iid].quote
    return OrderFilled("O", "T", iid, side, D(qty), D(px), D(fee), quote, "TAKER", 1, 1)


def spot_portfolio(marks: dict[str, float]) -> Portfolio:
    portfolio = Portfolio(
        marks.get,
        {k: i.money_quantum for k, i in INSTRUMENTS.items()},
        {k: i.quote for k, i in INSTRUMENTS.items()},
    )
    portfolio.book_spot_currencies(INSTRUMENTS, {"sim"}, "USDT")
    portfolio.add_sleeve("s", D("100000"))
    return portfolio


def test_only_spot_cross_pairs_with_both_currencies_priced_are_booked() -> None:
    portfolio = spot_portfolio({})
    # ETH/BTC on margin keeps its position; XRP/BTC has no XRP/USDT to value XRP.
    assert portfolio.books == {
        "ETH/BTC@sim": CrossBooks("ETH/USDT@sim", "BTC/USDT@sim", D("0.0001"), D("0.00001"))
    }
    assert portfolio.booked_as("ETH/BTC@sim") == "ETH/USDT@sim"
    assert portfolio.booked_as("ETH/BTC@margin") == "ETH/BTC@margin"


def test_a_cycle_through_a_cross_pair_is_two_currency_round_trips_in_usdt() -> None:
    marks = {"BTC/USDT@sim": 50000.0, "ETH/USDT@sim": 2600.0, "ETH/BTC@sim": 0.05}
    portfolio = spot_portfolio(marks)
    sleeve = portfolio.sleeves["s"]
    portfolio.on_fill("s", spot_fill("BTC/USDT@sim", "BUY", "1", "50000", "50"), "leg1")
    marks["BTC/USDT@sim"] = 52000.0  # BTC gains before it is spent on ETH
    # 0.5 BTC for 10 ETH, fee 0.0005 BTC: at 52,000 that is 26,000 USDT and a 26 USDT fee.
    portfolio.on_fill("s", spot_fill("ETH/BTC@sim", "BUY", "10", "0.05", "0.0005"), "leg2")
    assert "ETH/BTC@sim" not in sleeve.positions  # no position of the pair itself
    eth, btc = sleeve.positions["ETH/USDT@sim"], sleeve.positions["BTC/USDT@sim"]
    assert (eth.quantity, eth.cost, eth.fees) == (10, 26000, 26)
    # 0.5005 BTC left the holding for 26,026 USDT of value; it had cost 25,025.
    assert (btc.quantity, btc.cost, btc.realized_pnl) == (D("0.4995"), 24975, 1001)
    assert portfolio.position("s", "ETH/BTC@sim") is eth
    [trade] = portfolio.on_fill("s", spot_fill("ETH/USDT@sim", "SELL", "10", "2700", "27"), "x")
    assert (trade.instrument_id, trade.side, trade.entry_price, trade.exit_price) == (
        "ETH/USDT@sim", "long", 2600, 2700
    )  # fmt: skip
    assert (trade.pnl, trade.fees) == (947, 53)  # 27,000 − 26,000 − 26 − 27
    assert (sleeve.realized_pnl, sleeve.fees) == (2001, 103)
    # The USDT ledger: 100,000 − 50,050 + 26,973 = 76,923 = allocated + realized − fees − cost
    assert sleeve.allocated + sleeve.realized_pnl - sleeve.fees - btc.cost == 76923
    marks["BTC/USDT@sim"] = 51000.0
    assert sleeve.equity(portfolio.mark) == 76923 + D("0.4995") * 51000
    assert portfolio.open_count == 1  # BTC still held; ETH's round trip is over


def test_the_remainder_a_cross_pair_leaves_under_a_lot_ends_the_round_trip() -> None:
    marks = {"BTC/USDT@sim": 50000.0, "ETH/USDT@sim": 2500.0, "ETH/BTC@sim": 0.05}
    portfolio = spot_portfolio(marks)
    # USDT → ETH → BTC → USDT; the BTC received (0.4995 less a fee of 0.0004995) is sold in
    # whole lots of 0.00001, which leaves 0.0000005 BTC.
    portfolio.on_fill("s", spot_fill("ETH/USDT@sim", "BUY", "10", "2500", "25"), "leg1")
    portfolio.on_fill("s", spot_fill("ETH/BTC@sim", "SELL", "10", "0.04995", "0.0004995"), "leg2")
    [trade] = portfolio.on_fill(
        "s", spot_fill("BTC/USDT@sim", "SELL", "0.49900", "50100", "24.99990"), "leg3"
    )
    btc = portfolio.sleeves["s"].positions["BTC/USDT@sim"]
    assert trade.instrument_id == "BTC/USDT@sim" and trade.quantity == D("0.4990005")
    assert btc.quantity == D("0.0000005") and not btc.in_trade
    assert portfolio.open_count == 0
    assert len(portfolio.trades) == 2 and {t.side for t in portfolio.trades} == {"long"}
