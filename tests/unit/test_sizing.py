"""Position sizers: fixed-fractional, ATR risk and the staged ramp, with numbers done by hand."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genebot.core.errors import InputError
from genebot.domain.instrument import Instrument
from genebot.domain.position import ClosedTrade
from genebot.trading.sizing import (
    AtrRisk,
    FixedAmount,
    FixedFractional,
    FixedQuantity,
    PercentEquity,
    SizingContext,
    risk_quantity,
)
from genebot.trading.staged import (
    DAY_NS,
    DEFAULT_SCHEDULE,
    RampGates,
    Stage,
    StagedRamp,
    drawdown,
    trade_sharpe,
    win_rate,
)

D = Decimal
BTC = Instrument.create("BTC/USDT", "sim", tick_size="0.01", lot_size="0.001")
T0 = 1_700_000_000_000_000_000


def ctx(**kw: object) -> SizingContext:
    base: dict[str, object] = {"instrument": BTC, "price": D(50_000), "equity": D(10_000)}
    base.update(kw)
    return SizingContext(**base)  # type: ignore[arg-type]


def trade(pnl: str, i: int) -> ClosedTrade:
    """A 1-unit trade at 100 (so pnl_pct = pnl / 100), entered on day i, closed half a day later."""
    entry = T0 + i * DAY_NS
    return ClosedTrade("s", BTC.id, "long", entry, D(100), entry + DAY_NS // 2, D(100), D(1),
                       D(pnl), D(0), "signal")  # fmt: skip


def trades(pnls: list[str], start: int = 0) -> list[ClosedTrade]:
    return [trade(p, start + i) for i, p in enumerate(pnls)]


GOOD = trades(["2"] * 6 + ["-1"] * 4)  # win rate 0.6, Sharpe ≈ 9.9
LOW_WIN = ["10"] * 3 + ["-1"] * 7  # win rate 0.3; mean +2.3 %, Sharpe well above 0.5
LOW_SHARPE = ["1"] * 6 + ["-2"] * 4  # win rate 0.6; mean −0.2 %: Sharpe < 0


# -- the plain sizers ------------------------------------------------------------------------
def test_existing_sizers_size_delegates_to_quantity() -> None:
    c = ctx(stop_distance=D(1000), atr=D(5))
    for sizer in (FixedQuantity(D("0.0125")), PercentEquity(D("0.1")), FixedAmount(D(1000))):
        assert sizer.size(c) == sizer.quantity(BTC, c.price, c.equity)
    assert FixedQuantity(D("0.0125")).size(c) == D("0.012")  # floored to the 0.001 lot
    assert PercentEquity(D("0.1")).size(c) == D("0.02")  # 1,000 / 50,000
    assert FixedAmount(D(1000)).size(c) == D("0.02")


def test_fixed_fractional_by_hand() -> None:
    # 10,000 × 0.02 = 200 at risk; a stop 1,000 away → 0.2 units
    assert FixedFractional(D("0.02")).size(ctx(stop_distance=D(1000))) == D("0.2")
    # 200 / 3,000 = 0.0666… → 0.066 on a 0.001 lot
    assert FixedFractional(D("0.02")).size(ctx(stop_distance=D(3000))) == D("0.066")
    # 10,000 × 0.01 / 40 = 2.5 units
    assert FixedFractional(D("0.01")).size(ctx(stop_distance=D(40))) == D("2.5")


@pytest.mark.parametrize("stop", [None, D(0), D(-5)])
def test_fixed_fractional_without_stop_is_zero(stop: Decimal | None) -> None:
    assert FixedFractional(D("0.02")).size(ctx(stop_distance=stop)) == 0


def test_fixed_fractional_lot_flooring_and_short_call() -> None:
    coarse = Instrument.create("ETH/USDT", "sim", lot_size="0.5")
    sizer = FixedFractional(D("0.02"))
    assert sizer.size(ctx(instrument=coarse, stop_distance=D(100))) == D(2)  # exactly 2
    assert sizer.size(ctx(instrument=coarse, stop_distance=D(90))) == D("2.0")  # 2.22 → 2.0
    assert sizer.size(ctx(instrument=coarse, stop_distance=D(1000))) == 0  # 0.2 → 0
    assert sizer.quantity(BTC, D(50_000), D(10_000)) == 0  # no stop in the short call
    assert sizer.size(ctx(equity=D(0), stop_distance=D(10))) == 0
    assert sizer.size(ctx(equity=D(-10), stop_distance=D(10))) == 0


def test_atr_risk_by_hand() -> None:
    sizer = AtrRisk(D("0.02"), D(2))
    c = ctx(atr=D(500))
    assert sizer.stop_distance(c) == D(1000)  # 2 × 500
    assert sizer.size(c) == D("0.2")  # 200 / 1,000
    assert AtrRisk(D("0.01"), D("1.5")).size(ctx(atr=D(20))) == D("3.333")  # 100 / 30
    assert sizer.size(ctx(atr=D(500), stop_distance=D(1))) == D("0.2")  # ctx stop is ignored


@pytest.mark.parametrize("atr", [None, D(0), D(-1)])
def test_atr_risk_without_atr_is_zero(atr: Decimal | None) -> None:
    sizer = AtrRisk(D("0.02"), D(2))
    assert sizer.stop_distance(ctx(atr=atr)) is None
    assert sizer.size(ctx(atr=atr)) == 0


def test_bad_parameters_are_input_errors() -> None:
    for bad in (D(0), D(-1), D("1.5")):
        with pytest.raises(InputError, match="risk_fraction"):
            FixedFractional(bad)
    with pytest.raises(InputError, match="atr_multiple"):
        AtrRisk(D("0.02"), D(0))
    with pytest.raises(InputError, match="last has no end"):
        StagedRamp(schedule=(Stage(DAY_NS, D("0.01")),))
    with pytest.raises(InputError, match="increasing"):
        StagedRamp(schedule=(Stage(2 * DAY_NS, D("0.01")), Stage(DAY_NS, D("0.02")),
                             Stage(None, D("0.03"))))  # fmt: skip
    with pytest.raises(InputError, match="lookback"):
        RampGates(lookback=1)


def test_risk_quantity_backs_off_when_rounding_overshoots() -> None:
    # budget / stop is 17.99…, but 28-digit division rounds it up to 18; 18 × stop > budget,
    # so the sizer backs off one lot rather than risk more than asked
    lot1 = Instrument.create("X/USDT", "sim", lot_size="1")
    budget, stop = D("0.7508630556517657521678037559"), D("0.041714614202875875120433542")
    assert lot1.round_quantity(budget / stop) == 18 and 18 * stop > budget
    assert risk_quantity(lot1, budget, D(1), stop) == 17
    assert risk_quantity(lot1, D(10), D("0.3"), D(1)) == 3


# -- gate statistics -------------------------------------------------------------------------
def test_gate_statistics_by_hand() -> None:
    assert win_rate(GOOD) == D("0.6")
    assert win_rate([]) == 0
    # returns 0.02 ×6, −0.01 ×4: mean 0.008, sample var 0.00216 / 9 = 0.00024, std ≈ 0.015492;
    # span 9.5 days → 10 × 365 / 9.5 ≈ 384.2 trades a year, sqrt ≈ 19.60 → Sharpe ≈ 10.12
    assert abs(trade_sharpe(GOOD) - D("10.12")) < D("0.01")
    assert trade_sharpe(trades(["1"] * 5)) == D("Infinity")
    assert trade_sharpe(trades(["-1"] * 5)) == 0
    assert trade_sharpe(trades(LOW_SHARPE)) < 0
    assert drawdown(D(9_000), D(10_000)) == D("0.1")
    assert drawdown(D(11_000), D(10_000)) == 0
    assert drawdown(D(9_000), None) == 0


# -- staged ramp -----------------------------------------------------------------------------
def test_default_schedule_is_half_one_one_and_a_half_two_percent() -> None:
    assert [s.fraction for s in DEFAULT_SCHEDULE] == [D("0.005"), D("0.01"), D("0.015"), D("0.02")]
    assert [s.until_ns for s in DEFAULT_SCHEDULE] == [7 * DAY_NS, 14 * DAY_NS, 28 * DAY_NS, None]


def test_schedule_steps_exactly_at_day_7_14_28() -> None:
    ramp = StagedRamp()
    expected = [  # (days after start, ns offset, stage)
        (0, 0, 1), (7, -1, 1), (7, 0, 2), (7, 1, 2), (14, -1, 2), (14, 0, 3), (14, 1, 3),
        (28, -1, 3), (28, 0, 4), (28, 1, 4), (400, 0, 4),
    ]  # fmt: skip
    for days, offset, stage in expected:
        now = T0 + days * DAY_NS + offset
        ramp.update(ctx(now_ns=now, trades=GOOD))
        assert (ramp.stage, ramp.scheduled_stage(now)) == (stage, stage), (days, offset)
    assert ramp.fraction == D("0.02")
    assert [(h.ts - T0, h.stage) for h in ramp.history] == [
        (0, 1),
        (7 * DAY_NS, 2),
        (14 * DAY_NS, 3),
        (28 * DAY_NS, 4),
    ]
    assert ramp.history[0].reason == "start"
    assert "gates hold" in ramp.history[1].reason


def test_ramp_sizes_fixed_fractionally_at_the_stage_fraction() -> None:
    ramp = StagedRamp()
    # stage 1: 10,000 × 0.005 / 100 = 0.5 units
    assert ramp.size(ctx(now_ns=T0, trades=GOOD, stop_distance=D(100))) == D("0.5")
    # stage 2 on day 7: 10,000 × 0.01 / 100 = 1 unit
    assert ramp.size(ctx(now_ns=T0 + 7 * DAY_NS, trades=GOOD, stop_distance=D(100))) == 1
    assert ramp.size(ctx(now_ns=T0 + 7 * DAY_NS, trades=GOOD)) == 0  # no stop: no order
    assert ramp.quantity(BTC, D(50_000), D(10_000)) == 0  # short call: no stop, no clock
    assert ramp.stage == 2


def test_ramp_takes_the_stop_from_its_base() -> None:
    ramp = StagedRamp(base=AtrRisk(D("0.02"), D(2)))
    # stop 2 × 25 = 50; stage 1 risks 10,000 × 0.005 = 50 → 1 unit (the base's 2 % is unused)
    assert ramp.size(ctx(now_ns=T0, atr=D(25), stop_distance=D(1))) == 1


def test_clock_starts_at_the_first_call_not_at_zero() -> None:
    ramp = StagedRamp()
    assert ramp.start_ns is None and ramp.scheduled_stage(T0) == 1
    ramp.update(ctx(now_ns=T0 + 3 * DAY_NS, trades=GOOD))
    assert ramp.start_ns == T0 + 3 * DAY_NS
    ramp.update(ctx(now_ns=T0 + 9 * DAY_NS, trades=GOOD))  # 6 days in: still week 1
    assert ramp.stage == 1


def test_too_few_trades_hold_stage_1() -> None:
    ramp = StagedRamp()
    nine = GOOD[:9]
    for days in (0, 7, 14, 28, 60):
        ramp.update(ctx(now_ns=T0 + days * DAY_NS, trades=nine))
        assert ramp.stage == 1
    assert "9 closed trades; 10 needed" in ramp.reason
    assert len(ramp.history) == 1  # only the start: it never moved


def climbed_to_stage_3() -> StagedRamp:
    ramp = StagedRamp()
    for days in (0, 7, 14):
        ramp.update(ctx(now_ns=T0 + days * DAY_NS, trades=GOOD))
    assert ramp.stage == 3
    return ramp


@pytest.mark.parametrize(
    ("pnls", "extra", "why"),
    [
        (LOW_WIN, {}, "win rate 0.30 < 0.40"),
        (LOW_SHARPE, {}, "Sharpe -"),
        (["2"] * 6 + ["-1"] * 4, {"equity": D(8_900), "equity_peak": D(10_000)}, "drawdown 0.1100"),
    ],
)
def test_failing_gate_steps_down_one_stage_never_below_1(
    pnls: list[str], extra: dict[str, Decimal], why: str
) -> None:
    ramp = climbed_to_stage_3()
    now = T0 + 20 * DAY_NS
    history = [*GOOD, *trades(pnls, start=10)]  # the last 10 are the failing ones
    ramp.update(ctx(now_ns=now, trades=history, **extra))
    assert ramp.stage == 2
    assert ramp.history[-1] == (now, 2, ramp.reason)
    assert ramp.reason.startswith("gate failed") and why in ramp.reason
    ramp.update(ctx(now_ns=now + 1, trades=history, **extra))  # same evidence: no second drop
    assert ramp.stage == 2
    history.append(trade(pnls[-1], 20))
    ramp.update(ctx(now_ns=now + 2, trades=history, **extra))  # a new trade, still failing
    assert ramp.stage == 1
    history.append(trade(pnls[-1], 21))
    ramp.update(ctx(now_ns=now + 3, trades=history, **extra))
    assert ramp.stage == 1  # never below stage 1
    assert ramp.fraction == D("0.005")
    assert why.split()[0] in ramp.reason  # still failing the same gate
    assert len(ramp.history) == 5  # start, 2, 3, down to 2, down to 1


def test_drawdown_at_the_limit_holds() -> None:
    ramp = climbed_to_stage_3()
    ramp.update(ctx(now_ns=T0 + 28 * DAY_NS, trades=GOOD, equity=D(9_000), equity_peak=D(10_000)))
    assert ramp.stage == 4  # exactly 10 % drawdown is allowed


def test_recovers_one_stage_per_call_when_gates_hold_again() -> None:
    ramp = climbed_to_stage_3()
    bad = [*GOOD, *trades(LOW_WIN, start=10)]
    ramp.update(ctx(now_ns=T0 + 30 * DAY_NS, trades=bad))
    assert ramp.stage == 2
    good_again = [*bad, *trades(["2"] * 6 + ["-1"] * 4, start=20)]
    ramp.update(ctx(now_ns=T0 + 31 * DAY_NS, trades=good_again))
    assert ramp.stage == 3
    ramp.update(ctx(now_ns=T0 + 31 * DAY_NS, trades=good_again))
    assert ramp.stage == 4
    assert ramp.reason.endswith("schedule allows 4, gates hold")


def test_fewer_trades_than_lookback_after_climbing_returns_to_stage_1() -> None:
    ramp = climbed_to_stage_3()
    ramp.update(ctx(now_ns=T0 + 15 * DAY_NS, trades=GOOD[:3]))
    assert ramp.stage == 1
    assert ramp.history[-1].reason.startswith("3 closed trades")


def test_ramp_is_deterministic() -> None:
    calls = [(d, GOOD if d < 20 else [*GOOD, *trades(LOW_WIN, 10)]) for d in range(0, 40, 3)]
    runs = []
    for _ in range(2):
        ramp = StagedRamp()
        runs.append([ramp.size(ctx(now_ns=T0 + d * DAY_NS, trades=t, stop_distance=D(7)))
                     for d, t in calls])  # fmt: skip
        runs.append(list(ramp.history))
    assert runs[0] == runs[2] and runs[1] == runs[3]


# -- properties ------------------------------------------------------------------------------
money = st.decimals(min_value=D(0), max_value=D(10_000_000), places=2)
stops = st.one_of(st.none(), st.decimals(min_value=D(-10), max_value=D(100_000), places=4))
fractions = st.decimals(min_value=D("0.0001"), max_value=D(1), places=4)
lots = st.sampled_from([D("0.00000001"), D("0.001"), D("0.1"), D(1), D(5)])


@settings(max_examples=300, deadline=None)
@given(equity=money, stop=stops, fraction=fractions, lot=lots)
def test_fixed_fractional_never_negative_nor_over_budget(
    equity: Decimal, stop: Decimal | None, fraction: Decimal, lot: Decimal
) -> None:
    inst = Instrument.create("X/USDT", "sim", lot_size=lot)
    qty = FixedFractional(fraction).size(ctx(instrument=inst, equity=equity, stop_distance=stop))
    assert qty >= 0
    assert qty % lot == 0
    if stop is not None and stop > 0:
        assert qty * stop <= equity * fraction
    else:
        assert qty == 0


@settings(max_examples=300, deadline=None)
@given(equity=money, atr=stops, fraction=fractions, multiple=fractions, lot=lots)
def test_atr_risk_never_negative_nor_over_budget(
    equity: Decimal, atr: Decimal | None, fraction: Decimal, multiple: Decimal, lot: Decimal
) -> None:
    inst = Instrument.create("X/USDT", "sim", lot_size=lot)
    sizer = AtrRisk(fraction, multiple * 10)
    c = ctx(instrument=inst, equity=equity, atr=atr)
    qty = sizer.size(c)
    assert qty >= 0
    stop = sizer.stop_distance(c)
    assert qty == 0 if stop is None else qty * stop <= equity * fraction


@settings(max_examples=150, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=10 * DAY_NS),  # time since the last call
            st.lists(st.sampled_from(["3", "1", "-1", "-2"]), max_size=4),  # trades closed since
            money,
            stops,
        ),
        min_size=1,
        max_size=25,
    ),
    lot=lots,
)
def test_staged_ramp_never_negative_nor_over_its_fraction(
    steps: list[tuple[int, list[str], Decimal, Decimal | None]], lot: Decimal
) -> None:
    inst = Instrument.create("X/USDT", "sim", lot_size=lot)
    ramp = StagedRamp()
    now, closed, peak = T0, [], D(0)
    for gap, pnls, equity, stop in steps:
        now += gap
        closed += trades(pnls, start=len(closed))
        peak = max(peak, equity)
        before = ramp.stage
        c = ctx(instrument=inst, equity=equity, stop_distance=stop, now_ns=now,
                trades=list(closed), equity_peak=peak)  # fmt: skip
        qty = ramp.size(c)
        assert qty >= 0
        assert 1 <= ramp.stage <= len(DEFAULT_SCHEDULE)
        assert ramp.stage <= before + 1  # one stage at a time
        assert ramp.stage <= ramp.scheduled_stage(now)
        if stop is not None and stop > 0:
            assert qty * stop <= equity * ramp.fraction
        else:
            assert qty == 0
