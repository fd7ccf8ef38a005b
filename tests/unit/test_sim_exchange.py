"""Matching rules of the simulated exchange, one scenario row per rule, and protective orders.

Every scenario decides on bar 0 (close 100, the mark) and matches against bar 1 onwards.
Bars are (open, high, low, close); bar ``i`` opens at ``i`` minutes and is known (closes) at
``i + 1``. As in a backtest, the venue stamps commands with the engine's decision time.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genebot.domain.instrument import AccountType
from genebot.domain.orders import Order, OrderStatus
from genebot.execution.engine import Protection
from genebot.testkit.venue import MIN, Bar
from genebot.testkit.venue import SimVenue as Venue
from genebot.venues.sim.models import FixedBpsSlippage, VolumeParticipation

D = Decimal
S = OrderStatus
FLAT = (100, 100, 100, 100)


# -- fill rules -----------------------------------------------------------------------------
FILL_RULES = [
    # id, order, bar 1, outcome after bar 1: status [fill price, liquidity]
    ("market-buy-next-open", "BUY", (101, 102, 99, 100), "FILLED 101 TAKER"),
    ("market-sell-next-open", "SELL", (99, 102, 98, 100), "FILLED 99 TAKER"),
    ("buy-limit-touched", "BUY LIMIT px=95", (100, 101, 94, 98), "FILLED 95 MAKER"),
    ("buy-limit-low-equals", "BUY LIMIT px=95", (100, 101, 95, 98), "FILLED 95 MAKER"),
    ("sell-limit-touched", "SELL LIMIT px=105", (100, 106, 99, 104), "FILLED 105 MAKER"),
    ("buy-limit-gap-better-open", "BUY LIMIT px=95", (90, 96, 89, 92), "FILLED 90 MAKER"),
    ("sell-limit-gap-better-open", "SELL LIMIT px=105", (110, 111, 104, 108), "FILLED 110 MAKER"),
    ("buy-limit-untouched", "BUY LIMIT px=95", (100, 101, 96, 99), "ACCEPTED"),
    ("sell-limit-untouched", "SELL LIMIT px=105", (100, 104, 99, 101), "ACCEPTED"),
    ("buy-stop-touched", "BUY STOP_MARKET stop=105", (100, 106, 99, 104), "FILLED 105 TAKER"),
    ("sell-stop-touched", "SELL STOP_MARKET stop=95", (100, 101, 94, 96), "FILLED 95 TAKER"),
    ("buy-stop-gap-open", "BUY STOP_MARKET stop=105", (110, 111, 108, 109), "FILLED 110 TAKER"),
    ("sell-stop-gap-open", "SELL STOP_MARKET stop=95", (90, 92, 88, 91), "FILLED 90 TAKER"),
    ("buy-stop-untouched", "BUY STOP_MARKET stop=105", (100, 104, 99, 101), "ACCEPTED"),
    ("stoplim-trigger", "BUY STOP_LIMIT stop=105 px=106", (100, 107, 99, 106), "FILLED 105 TAKER"),
    ("stoplim-at-limit", "BUY STOP_LIMIT stop=105 px=104", (100, 106, 99, 103), "FILLED 104 MAKER"),
    ("stoplim-triggered-only", "BUY STOP_LIMIT stop=105 px=104", (106, 107, 105, 106), "TRIGGERED"),
    ("sell-stoplim-triggered-only", "SELL STOP_LIMIT stop=95 px=96", (94, 95, 93, 94), "TRIGGERED"),
    ("stoplim-untouched", "BUY STOP_LIMIT stop=105 px=104", (100, 104, 99, 101), "ACCEPTED"),
    ("ioc-limit-unfillable", "BUY LIMIT px=95 tif=IOC", (100, 101, 96, 99), "EXPIRED"),
    ("ioc-limit-fillable", "BUY LIMIT px=95 tif=IOC", (100, 101, 94, 99), "FILLED 95 MAKER"),
]
FEE_RATE = {"MAKER": D("0.0002"), "TAKER": D("0.001")}  # the instrument's maker and taker fee


@pytest.mark.parametrize(
    ("spec", "bar", "outcome"), [r[1:] for r in FILL_RULES], ids=[r[0] for r in FILL_RULES]
)
def test_fill_rule(spec: str, bar: Bar, outcome: str) -> None:
    """Limits pay the maker fee, every other fill the taker fee (2 units: fee = 2 × px × rate)."""
    status, *fill_at = outcome.split()
    venue = Venue([FLAT, bar])
    order = venue.place(f"{spec} qty=2")
    assert order.status is S.ACCEPTED  # nothing fills on the bar the order was decided on
    venue.step()
    assert order.status is S[status]
    fills = [(f.last_px, f.liquidity, f.last_qty, f.fee) for _, f in venue.fills(order)]
    if fill_at:
        px, liquidity = D(fill_at[0]), fill_at[1]
        assert fills == [(px, liquidity, 2, 2 * px * FEE_RATE[liquidity])]
        assert venue.ex.account.totals_by_kind("USDT")["fee"] == -2 * px * FEE_RATE[liquidity]
    else:
        assert fills == []
    assert venue.working() == ([order] if order.is_open else [])


def test_fill_timing_close_fills_at_the_current_mark() -> None:
    venue = Venue([(99, 101, 98, 100.5), (103, 104, 102, 103)], fill_timing="close")
    order = venue.place("BUY")
    assert order.status is S.FILLED
    [(row, fill)] = venue.fills()
    assert (row, fill.last_px, fill.liquidity) == (0, D("100.5"), "TAKER")


def test_cancel_removes_a_working_order() -> None:
    venue = Venue([FLAT, (100, 101, 90, 95)])
    order = venue.place("BUY LIMIT px=95")
    venue.engine.cancel(order)
    assert (order.status, order.reason) == (S.CANCELED, "canceled")
    venue.step()  # a bar that would have filled it
    assert venue.fills() == [] and venue.working() == []


def test_spot_buy_unaffordable_at_the_fill_is_canceled_and_books_nothing() -> None:
    """Accepted at a mark of 100 (9,000 × 100 × 1.001 fits 1,000,000), the order meets a gap
    to 200 at the next open: the ledger refuses, the order is canceled, nothing is booked."""
    venue = Venue([FLAT, (200, 201, 199, 200)], account=AccountType.SPOT)
    order = venue.place("BUY qty=9000")
    assert order.status is S.ACCEPTED
    venue.step()
    assert (order.status, order.reason) == (S.CANCELED, "insufficient funds at fill")
    assert venue.fills() == [] and venue.working() == []
    assert venue.ex.account.balances == {"USDT": D("1000000")}
    assert [e.kind for e in venue.ex.account.entries] == ["deposit"]


# -- slippage ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "px"),
    [
        ("BUY", "100.14"),  # 100.03 + 0.10003 = 100.13003, up to the tick
        ("SELL", "99.92"),  # 100.03 − 0.10003 = 99.92997, down to the tick
        ("BUY STOP_MARKET stop=101", "101.11"),  # 101.101, up
        ("SELL STOP_MARKET stop=99", "98.9"),  # 98.901, down
        ("BUY LIMIT px=99", "99"),  # maker: no slippage
        ("SELL LIMIT px=101", "101"),
    ],
    ids=["market-buy", "market-sell", "stop-buy", "stop-sell", "limit-buy", "limit-sell"],
)
def test_fixed_bps_slippage_hits_takers_only_rounded_adversely(spec: str, px: str) -> None:
    venue = Venue([FLAT, (100.03, 102, 98, 100)], slippage=FixedBpsSlippage(D(10)))
    venue.place(spec)
    venue.step()
    [(_, fill)] = venue.fills()
    assert fill.last_px == D(px)


# -- volume participation and latency -------------------------------------------------------
def test_participation_fills_across_bars() -> None:
    bars = [FLAT, (101, 102, 100, 101), (102, 103, 101, 102), (103, 104, 102, 103)]
    venue = Venue(bars, volume=5, participation=VolumeParticipation(D("0.1")))  # 0.5 a bar
    order = venue.place("BUY qty=1.2")
    seen = []
    for _ in range(3):
        venue.step()
        seen.append((order.status, order.filled_qty))
    assert seen == [(S.PARTIALLY_FILLED, D("0.5")), (S.PARTIALLY_FILLED, 1), (S.FILLED, D("1.2"))]
    assert [(r, f.last_qty, f.last_px) for r, f in venue.fills()] == [
        (1, D("0.5"), 101), (2, D("0.5"), 102), (3, D("0.2"), 103)
    ]  # fmt: skip
    assert order.avg_px == D("101.75")  # (50.5 + 51 + 20.6) / 1.2


def test_participation_is_shared_by_the_orders_of_a_bar_and_ioc_expires_the_rest() -> None:
    share = VolumeParticipation(D("0.1"))  # of volume 5: 0.5 a bar
    venue = Venue([FLAT, (101, 102, 100, 101)], volume=5, participation=share)
    first = venue.place("BUY qty=0.4 tif=IOC")
    second = venue.place("BUY qty=0.4 tif=IOC")
    venue.step()
    assert (first.status, first.filled_qty) == (S.FILLED, D("0.4"))
    assert (second.status, second.filled_qty) == (S.EXPIRED, D("0.1"))
    assert venue.working() == []


@pytest.mark.parametrize(
    ("latency_s", "row"),
    [(0, 1), (30, 2), (60, 2), (61, 3), (120, 3)],
    ids=["none", "half-a-bar", "exactly-one-bar", "just-over-one-bar", "two-bars"],
)
def test_latency_fills_on_the_first_bar_opening_at_or_after_submit_plus_latency(
    latency_s: int, row: int
) -> None:
    bars = [FLAT] + [(100 + i, 110, 90, 100) for i in range(1, 5)]
    venue = Venue(bars, latency_ns=latency_s * 1_000_000_000)
    venue.place("BUY")  # sent at 1 min, when bar 0 closes and bar 1 opens
    assert venue.ex.next_event_row(venue.inst.id, 1) == row
    venue.step(4)
    [(filled_row, fill)] = venue.fills()
    assert (filled_row, fill.last_px, fill.ts_event) == (row, 100 + row, row * MIN)


def test_latency_counts_from_the_decision_even_after_bars_with_an_empty_book() -> None:
    bars = [FLAT] + [(100 + i, 110, 90, 100) for i in range(1, 8)]
    venue = Venue(bars, latency_ns=90 * 1_000_000_000)
    venue.step(3)  # nothing working: the venue matches nothing
    order = venue.place("BUY")  # sent at 4 min: active from 5.5 min → bar 6
    assert order.events[-1].ts_event == 4 * MIN  # accepted at the decision time
    venue.step(4)
    assert [row for row, _ in venue.fills()] == [6]


# -- protective orders through the execution engine -----------------------------------------
BRACKET = Protection(stop_loss=D("0.02"), take_profit=D("0.05"))


def children(venue: Venue, entry: Order) -> dict[str, Order]:
    return {o.order_type: o for o in venue.engine.order_log if o.parent_id == entry.client_order_id}


@pytest.mark.parametrize(
    ("account", "side", "exit_side", "stop", "target"),
    [
        (AccountType.SPOT, "BUY", "SELL", "98.00", "105.00"),
        (AccountType.MARGIN, "SELL", "BUY", "102.00", "95.00"),
    ],
    ids=["long-spot", "short-margin"],
)
def test_bracket_children_follow_the_entry_fill(
    account: AccountType, side: str, exit_side: str, stop: str, target: str
) -> None:
    venue = Venue([FLAT, (100, 100.5, 99.5, 100)], account=account)
    entry = venue.place(f"{side} qty=2", protection=BRACKET)
    assert children(venue, entry) == {}  # nothing is attached before the entry fills
    venue.step()
    kids = children(venue, entry)
    assert set(kids) == {"STOP_MARKET", "LIMIT"}
    sl, tp = kids["STOP_MARKET"], kids["LIMIT"]
    assert (sl.trigger_price, sl.tag) == (D(stop), "stop_loss")
    assert (tp.price, tp.tag) == (D(target), "take_profit")
    for child in (sl, tp):
        assert (child.side, child.quantity, child.reduce_only, child.status) == (
            exit_side, 2, True, S.ACCEPTED
        )  # fmt: skip
    assert set(venue.working()) == {sl, tp}


EXITS = [
    # id, venue, entry side, bar 2, the child that fills at which price, the one canceled
    ("long-both-stop-first", "SPOT", "BUY", (100, 106, 97, 100), "STOP_MARKET 98", "LIMIT"),
    ("short-both-stop-first", "MARGIN", "SELL", (100, 103, 94, 100), "STOP_MARKET 102", "LIMIT"),
    ("long-take-profit", "SPOT", "BUY", (101, 106, 99, 104), "LIMIT 105", "STOP_MARKET"),
    ("short-take-profit", "MARGIN", "SELL", (99, 101, 94, 96), "LIMIT 95", "STOP_MARKET"),
    # The open is the bar's first trade: gapping through the target fills it there, even when
    # the bar then falls (rises) through the stop too.
    ("long-gap-through-target", "SPOT", "BUY", (110, 111, 90, 95), "LIMIT 110", "STOP_MARKET"),
    ("short-gap-through-target", "MARGIN", "SELL", (90, 111, 89, 105), "LIMIT 90", "STOP_MARKET"),
    ("long-gap-through-stop", "SPOT", "BUY", (96, 111, 90, 95), "STOP_MARKET 96", "LIMIT"),
]


@pytest.mark.parametrize(
    ("account", "side", "bar", "filled", "canceled"),
    [r[1:] for r in EXITS],
    ids=[r[0] for r in EXITS],
)
def test_one_exit_fills_and_cancels_the_other(
    account: str, side: str, bar: Bar, filled: str, canceled: str
) -> None:
    venue = Venue([FLAT, (100, 100.5, 99.5, 100), bar], account=AccountType[account])
    entry = venue.place(side, protection=BRACKET)
    venue.step(2)
    kids = children(venue, entry)
    kind, px = filled.split()
    [(_, fill)] = venue.fills(kids[kind])
    assert (kids[kind].status, fill.last_px) == (S.FILLED, D(px))
    assert fill.liquidity == ("MAKER" if kind == "LIMIT" else "TAKER")
    assert (kids[canceled].status, kids[canceled].reason) == (S.CANCELED, "one-cancels-other")
    assert venue.portfolio.position("s", venue.inst.id).is_flat
    assert venue.portfolio.trades[-1].exit_reason == kids[kind].tag
    assert venue.working() == []


def test_children_also_match_the_rest_of_the_entry_bar() -> None:
    venue = Venue([FLAT, (100, 100.5, 97, 99)], account=AccountType.SPOT)
    entry = venue.place("BUY", protection=BRACKET)
    venue.step()
    assert children(venue, entry)["STOP_MARKET"].status is S.FILLED
    assert [(row, f.last_px) for row, f in venue.fills()] == [(1, 100), (1, 98)]


# -- trailing stop --------------------------------------------------------------------------
TRAIL_BARS = [
    (50_000, 50_000, 50_000, 50_000),
    (50_000, 50_000, 49_800, 49_900),  # entry fills at 50,000
    (50_000, 52_000, 49_900, 51_500),  # high 52,000 → stop 52,000 × 0.97 = 50,440
    (51_500, 55_000, 51_000, 54_500),  # high 55,000 → stop 53,350
    (54_000, 54_500, 53_000, 53_200),  # low reaches 53,350 from above: exit there
]


def test_trailing_stop_seed_example() -> None:
    venue = Venue(TRAIL_BARS, account=AccountType.SPOT)
    entry = venue.place("BUY", protection=Protection(trailing=D("0.03")))
    venue.step()
    [stop] = children(venue, entry).values()
    assert (stop.order_type, stop.trigger_price) == ("TRAILING_STOP_MARKET", D("48500"))
    triggers = []
    for _ in range(2):
        venue.step()
        triggers.append(stop.trigger_price)
    assert triggers == [D("50440"), D("53350")]
    assert stop.status is S.ACCEPTED
    venue.step()
    [(row, fill)] = venue.fills(stop)
    assert (row, fill.last_px, fill.liquidity) == (4, D("53350"), "TAKER")
    assert venue.portfolio.trades[-1].exit_reason == "trailing_stop"


# -- the fast-mode scan ---------------------------------------------------------------------
SCAN_BARS = [FLAT, (100, 101, 99, 100), (100, 102, 97, 101), (101, 103, 96, 102)]
SCAN_BARS += [(102, 106, 94, 104), (104, 104, 93, 94)]
SCAN_RULES = [
    ("market", "BUY", 1),
    ("ioc-limit", "BUY LIMIT px=50 tif=IOC", 1),
    ("buy-limit", "BUY LIMIT px=95", 4),
    ("buy-limit-exact-low", "BUY LIMIT px=96", 3),
    ("sell-limit", "SELL LIMIT px=103", 3),
    ("buy-stop", "BUY STOP_MARKET stop=104", 4),
    ("sell-stop", "SELL STOP_MARKET stop=97", 2),
    ("stop-limit", "BUY STOP_LIMIT stop=105 px=104", 4),
    ("limit-never", "BUY LIMIT px=50", None),
    ("stop-never", "SELL STOP_MARKET stop=10", None),
]


@pytest.mark.parametrize(
    ("spec", "row"), [r[1:] for r in SCAN_RULES], ids=[r[0] for r in SCAN_RULES]
)
def test_next_event_row_is_where_the_order_first_acts(spec: str, row: int | None) -> None:
    venue = Venue(SCAN_BARS)
    order = venue.place(spec)
    assert venue.ex.next_event_row(venue.inst.id, 1) == row
    acted = None
    while acted is None and venue.row < len(SCAN_BARS) - 1:
        before = len(order.events)
        venue.step()
        acted = venue.row if len(order.events) > before else None
    assert acted == row


def trailing_exit(bars: list[Bar], side: str, offset: str, fast: bool) -> tuple[object, ...]:
    """Enter on bar 1 with a trailing stop; play every bar, or in ``fast`` mode only the rows
    ``next_event_row`` names. Returns (first row scanned after the entry bar, exit row, price)."""
    venue = Venue(bars)
    entry = venue.place(side, protection=Protection(trailing=D(offset)))
    venue.step()
    [stop] = children(venue, entry).values()
    first = venue.ex.next_event_row(venue.inst.id, 2) if stop.is_open else None
    while stop.is_open and venue.row < len(bars) - 1:
        if fast:
            row = venue.ex.next_event_row(venue.inst.id, venue.row + 1)
            if row is None:
                break
            venue.row = row - 1
        venue.step()
    if stop.status is S.FILLED:
        return first, venue.row, stop.avg_px
    return first, None, None


def test_trailing_scan_names_the_exit_row_of_the_seed_example() -> None:
    assert trailing_exit(TRAIL_BARS, "BUY", "0.03", fast=False) == (4, 4, D("53350"))
    assert trailing_exit(TRAIL_BARS, "BUY", "0.03", fast=True) == (4, 4, D("53350"))


def test_trailing_scan_sees_a_stop_rounded_up_to_the_tick() -> None:
    bars = [
        (50_000, 50_000, 50_000, 50_000),
        (50_000, 50_000.02, 49_990, 50_000),  # watermark 50,000.02 → stop 48,500.0194 → 48,500.02
        (49_000, 49_000, 48_500.02, 48_600),  # the low touches the rounded stop
    ]
    assert trailing_exit(bars, "BUY", "0.03", fast=False) == (2, 2, D("48500.02"))
    assert trailing_exit(bars, "BUY", "0.03", fast=True) == (2, 2, D("48500.02"))


@st.composite
def cent_walks(draw: st.DrawFn) -> list[Bar]:
    """Random bars with prices on the 0.01 tick."""
    price, bars = 100_000, [(1000.0, 1000.0, 1000.0, 1000.0)]
    for _ in range(draw(st.integers(2, 40))):
        o = price + draw(st.integers(-2_000, 2_000))
        c = o + draw(st.integers(-4_000, 4_000))
        h, low = max(o, c) + draw(st.integers(0, 3_000)), min(o, c) - draw(st.integers(0, 3_000))
        bars.append((o / 100, h / 100, low / 100, c / 100))
        price = c
    return bars


@settings(max_examples=200, deadline=None)
@given(cent_walks(), st.sampled_from(["BUY", "SELL"]), st.sampled_from(["0.01", "0.03", "0.07"]))
def test_trailing_stop_exits_alike_per_bar_and_in_fast_mode(
    bars: list[Bar], side: str, offset: str
) -> None:
    first, row, px = trailing_exit(bars, side, offset, fast=False)
    assert trailing_exit(bars, side, offset, fast=True)[1:] == (row, px)
    if row is not None and row > 1:
        assert first is not None and first <= row  # the scan may wake early, never late


def test_a_partly_filled_stop_limit_goes_on_as_its_limit() -> None:
    """Triggered at 105 with room for 0.5 a bar: the rest is a buy limit at 106, whatever the
    price does after (it used to be re-triggered and crash the run)."""
    bars = [FLAT, (100, 107, 99, 106), (106, 107, 105, 106), (104, 104.5, 103, 104)]
    venue = Venue(bars, volume=5, participation=VolumeParticipation(D("0.1")))
    order = venue.place("BUY STOP_LIMIT stop=105 px=106 qty=1.2")
    venue.step(3)
    fills = [(row, f.last_qty, f.last_px, f.liquidity) for row, f in venue.fills(order)]
    assert fills == [
        (1, D("0.5"), 105, "TAKER"),
        (2, D("0.5"), 106, "MAKER"),
        (3, D("0.2"), 104, "MAKER"),
    ]
    assert order.status is S.FILLED


def test_a_partly_filled_stop_goes_on_as_a_market_order() -> None:
    bars = [FLAT, (100, 101, 94, 96), (97, 98, 96, 97), (98, 99, 97, 98)]
    venue = Venue(bars, volume=5, participation=VolumeParticipation(D("0.1")))
    order = venue.place("SELL STOP_MARKET stop=95 qty=1.2")
    venue.step(3)
    assert [(row, f.last_px) for row, f in venue.fills(order)] == [(1, 95), (2, 97), (3, 98)]


def test_participation_in_the_entry_bar_is_shared_with_its_protective_orders() -> None:
    """0.5 may trade in bar 1: the entry takes it all, its stop (reached in the same bar) waits."""
    venue = Venue([FLAT, (100, 100, 97, 98), (98, 99, 97, 98)], volume=5,
                  participation=VolumeParticipation(D("0.1")))  # fmt: skip
    entry = venue.place("BUY qty=0.5", protection=BRACKET)
    venue.step()
    assert [(row, f.last_qty) for row, f in venue.fills()] == [(1, D("0.5"))]
    venue.step()
    assert children(venue, entry)["STOP_MARKET"].status is S.FILLED


def test_protective_orders_end_with_the_position_whoever_closes_it() -> None:
    """Long 2 with a bracket; a plain sell of 1, then the stop closes the last 1 (capped: it
    was for 2). Both children end with the position: a new long of 3 is not hit by the old
    target."""
    bars = [FLAT, (100, 100.5, 99.5, 100), (100, 100.5, 99.5, 100), (99, 99, 97, 97.5),
            (99, 99.5, 98.5, 99), (106, 107, 105.5, 106)]  # fmt: skip
    venue = Venue(bars)
    entry = venue.place("BUY qty=2", protection=BRACKET)
    venue.step()
    venue.place("SELL qty=1")
    venue.step(2)  # the sell fills at bar 2's open, the stop at 98 in bar 3
    kids = children(venue, entry)
    assert venue.portfolio.position("s", venue.inst.id).is_flat
    assert (kids["STOP_MARKET"].filled_qty, kids["STOP_MARKET"].status) == (1, S.CANCELED)
    assert (kids["LIMIT"].status, kids["LIMIT"].reason) == (S.CANCELED, "position closed")
    venue.place("BUY qty=3")
    venue.step(2)
    assert venue.portfolio.position("s", venue.inst.id).quantity == 3


def test_reduce_only_reduces_its_own_strategys_position_on_a_shared_margin_venue() -> None:
    """Strategy a long 10, b short 10: the venue nets to 0, yet each close closes its own."""
    venue = Venue([FLAT, FLAT, (101, 101, 101, 101)])
    for sid in ("a", "b"):
        venue.portfolio.add_sleeve(sid, D("500000"))
    venue.engine.create("a", venue.inst, "BUY", D(10))
    venue.engine.create("b", venue.inst, "SELL", D(10))
    venue.step()
    closes = [
        venue.engine.create(sid, venue.inst, side, D(10), reduce_only=True)
        for sid, side in (("a", "SELL"), ("b", "BUY"))
    ]
    venue.step()
    assert [o.status for o in closes] == [S.FILLED, S.FILLED]
    assert len(venue.portfolio.trades) == 2


def test_a_quantity_off_the_lot_is_denied_with_the_rounded_one() -> None:
    venue = Venue([FLAT, FLAT])
    order = venue.place("BUY qty=1.0005")  # the lot is 0.001
    assert order.status is S.DENIED
    assert order.reason == (
        "quantity 1.0005 is not a whole number of lots of 0.001 BTC; round it down to 1.000"
    )


def test_working_orders_hold_margin() -> None:
    """Margin 0.5 on 1,000,000: 20,000 units at 100 at most, however the orders are split."""
    venue = Venue([FLAT, (100, 101, 94, 100)], margin_requirement=D("0.5"))
    assert venue.place("BUY qty=20001").status is S.REJECTED
    first, second = venue.place("BUY qty=15000"), venue.place("BUY LIMIT px=95 qty=15000")
    assert first.status is S.ACCEPTED
    assert (second.status, second.reason[:20]) == (S.REJECTED, "insufficient margin:")


def test_an_exit_resting_on_the_other_side_holds_no_margin() -> None:
    """Long 15,000 at 100 with a take-profit sell of 15,000 resting: adding 4,000 (19,000 at
    100 × 0.5 = 950,000 of 1,000,000) is allowed; the exit would only shrink the position."""
    venue = Venue([FLAT, FLAT, FLAT], margin_requirement=D("0.5"))
    venue.place("BUY qty=15000")
    venue.step()
    venue.place("SELL LIMIT px=150 qty=15000")
    assert venue.place("BUY qty=4000").status is S.ACCEPTED
    assert venue.place("BUY qty=2000").status is S.REJECTED  # 21,000 would need 1,050,000


def test_triggered_stop_limit_rests_as_a_limit() -> None:
    venue = Venue([FLAT, (106, 107, 105, 106), (104.5, 104.8, 103, 104)])
    order = venue.place("BUY STOP_LIMIT stop=105 px=104")
    venue.step()
    assert order.status is S.TRIGGERED
    assert venue.ex.next_event_row(venue.inst.id, 2) == 2
    venue.step()  # never reaches 105 again, but trades through the 104 limit
    assert (order.status, order.avg_px) == (S.FILLED, 104)
