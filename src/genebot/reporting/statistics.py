"""Backtest statistics: pure functions over an equity curve and a trades table.

Everything here is pandas/numpy arithmetic with no I/O, so the same figures come out of a
backtest, an optimization run or a report re-rendered later.

Definitions
-----------
Returns (volatility, Sharpe, Sortino)
    DAILY returns: the ``equity`` column is resampled to the last value of each UTC day, days
    without a bar are dropped (weekends of an equity market), and each day-end value is
    compared with the previous one. The first day is compared with ``initial_equity``, so a
    two-day backtest already has two daily returns. Using day-end values means the bar size
    (1 minute or 4 hours) does not change the figures. They are annualized with
    ``periods_per_year``; a backtest passes :func:`trading_days_per_year` of its bars (365 for
    crypto markets that trade every day, about 252 for an equity market's weekdays less its
    holidays, about 52 for weekly bars). The equity is taken to 1e-8 first: float noise in a
    flat account is no volatility.
Excess return
    ``r - rf_daily`` with ``rf_daily = (1 + risk_free_rate) ** (1 / periods_per_year) - 1``.
annual_volatility
    ``std(daily, ddof=1) * sqrt(periods_per_year)``.
sharpe
    ``mean(excess) / std(daily, ddof=1) * sqrt(periods_per_year)``.
sortino
    ``mean(excess) / downside * sqrt(periods_per_year)`` where the downside deviation is
    ``sqrt(mean(min(excess, 0) ** 2))`` taken over all days (the risk-free rate is the target;
    with the default rate of 0 this is ``min(r, 0)``).
total_return
    ``final_equity / initial_equity - 1`` (a fraction: 0.0523 is +5.23 %).
cagr
    ``(final_equity / initial_equity) ** (1 / years) - 1``, ``years`` being the time from the
    first to the last timestamp in years of 365.25 days (at least a day: a shorter backtest has
    none). -1.0 when the account is wiped out.
calmar
    ``cagr / |max_drawdown|``.
max_drawdown, avg_drawdown
    The minimum of ``equity / peak - 1`` (a negative fraction), the peak being the highest
    equity so far and never less than ``initial_equity`` (a loss on the first bar counts), and
    the mean of the deepest point of each underwater period (0.0 when never underwater). Below
    -1.0 when a margin account lost more than it had (genebot does not liquidate).
max_drawdown_duration
    The longest time underwater: from the last bar at a peak to the first bar back at a peak,
    or to the last bar when the equity never recovers.
Durations (duration, max_drawdown_duration, avg_trade_duration)
    Whole seconds (``int``), rounded half-even: ``avg_trade_duration`` is the mean holding
    time of the closed trades rounded to the second. Shown as ``"3 days 04:05:00"`` by
    :func:`genebot.reporting.formatting.format_stat`.
Trade statistics
    A trade wins when its net ``pnl`` is > 0. ``best_trade``, ``worst_trade`` and ``avg_trade``
    are the max, min and arithmetic mean of ``pnl_pct``. ``expectancy`` is the mean ``pnl``
    per trade in quote currency. ``profit_factor`` is gross profit / gross loss.
    ``sqn`` (system quality number) is ``sqrt(n) * mean(pnl) / std(pnl, ddof=1)``.
exposure
    The fraction of bars with any position open.

Degenerate cases
----------------
A figure that is undefined is ``None``, never NaN or inf, so the result always passes
``json.dumps(stats, allow_nan=False)``:

- no trades: win_rate, best/worst/avg_trade, profit_factor, expectancy, sqn and
  avg_trade_duration are ``None`` (``trades`` is 0);
- profit_factor with no losing trade is ``None``: gross profit / 0 is infinite and no finite
  number would rank correctly against other runs (it is 0.0 when there are only losers);
- fewer than 2 daily returns or a zero standard deviation (flat equity): sharpe and
  annual_volatility are ``None``; no losing day: sortino is ``None``;
- an account wiped out (equity <= 0 at some day's end): sharpe, sortino and
  annual_volatility are ``None`` (returns of negative equity change sign and would rank a
  bankrupt run high);
- no drawdown: calmar is ``None``; a backtest shorter than a day: cagr is ``None``;
- sqn needs 2 trades and a non-zero spread of pnl.

All floats are plain Python floats rounded to 10 significant digits so that the output is
stable across platforms; timestamps are ISO-8601 UTC strings ending in ``Z`` and durations
are whole seconds. (The money figures here are floats for ranking and analysis; the written
``stats.json`` takes them from the exact ledger: see ``BacktestResult.exact_stats``.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

StatValue = float | int | str | None


STAT_KEYS: tuple[str, ...] = (
    "start",
    "end",
    "duration",
    "bars",
    "initial_equity",
    "final_equity",
    "total_return",
    "cagr",
    "annual_volatility",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown",
    "max_drawdown_duration",
    "avg_drawdown",
    "trades",
    "win_rate",
    "best_trade",
    "worst_trade",
    "avg_trade",
    "profit_factor",
    "expectancy",
    "sqn",
    "avg_trade_duration",
    "exposure",
    "fees",
)

_SIGNIFICANT_DIGITS = 10
# Money passed in (not computed here) stays the float it came as: its shortest text is the
# exact Decimal it was made from while that has at most 15 significant digits.
_UNROUNDED = frozenset({"initial_equity", "fees"})
_EQUITY_DECIMALS = 8
_SECONDS_PER_YEAR = 365.25 * 86_400.0
_SECONDS_PER_DAY = 86_400.0
_NS_PER_DAY = 86_400_000_000_000
_NAT = np.iinfo(np.int64).min  # NaT as epoch nanoseconds


def trading_days_per_year(index: pd.DatetimeIndex) -> float:
    """365 × the share of the calendar days from the first bar to the last (UTC) that have a
    bar: 365 for a market that trades every day, about 252 for an equity market's weekdays
    less its holidays, about 52 for weekly bars — what the daily returns are annualized by."""
    return trading_days_per_year_ns(_epoch_ns(index))


def trading_days_per_year_ns(ns: npt.NDArray[np.int64]) -> float:
    """:func:`trading_days_per_year` of epoch-nanosecond bar times."""
    if len(ns) == 0:
        return 365.0
    day = ns // _NS_PER_DAY
    if np.all(day[1:] >= day[:-1]):  # in time order: count the changes, no sort
        with_bars = 1 + int(np.count_nonzero(day[1:] != day[:-1]))
    else:
        with_bars = len(np.unique(day))
    span = int(day.max() - day.min()) + 1
    return 365.0 * with_bars / span


@dataclass(frozen=True)
class TradeFigures:
    """What the statistics read of the closed trades: net pnl and pnl_pct as floats, and the
    holding time (int64 nanoseconds) of each trade with both times known."""

    pnl: npt.NDArray[np.float64]
    pnl_pct: npt.NDArray[np.float64]
    held_ns: npt.NDArray[np.int64]

    @classmethod
    def of_frame(cls, trades: pd.DataFrame) -> TradeFigures:
        """The figures of a trades table (``pnl``, ``pnl_pct``, ``entry_time``, ``exit_time``)."""
        if len(trades) == 0:
            return cls(np.empty(0), np.empty(0), np.empty(0, dtype=np.int64))
        entry, exit_ = _utc_ns(trades["entry_time"]), _utc_ns(trades["exit_time"])
        known = (entry != _NAT) & (exit_ != _NAT)  # a trade without both times has none
        return cls(
            trades["pnl"].to_numpy(dtype=float),
            trades["pnl_pct"].to_numpy(dtype=float),
            exit_[known] - entry[known],
        )


def _utc_ns(times: pd.Series) -> npt.NDArray[np.int64]:
    """Timestamps (or text) as epoch nanoseconds, naive ones taken as UTC; NaT as ``_NAT``."""
    if not isinstance(times.dtype, pd.DatetimeTZDtype) and times.dtype.kind != "M":
        times = pd.to_datetime(pd.Series(times), utc=True)
    return _epoch_ns(pd.DatetimeIndex(times))


def compute_stats(
    equity: pd.DataFrame,
    trades: pd.DataFrame,
    *,
    initial_equity: float,
    fees: float,
    in_market: np.ndarray,
    periods_per_year: float = 365.0,
    risk_free_rate: float = 0.0,
) -> dict[str, StatValue]:
    """Compute the backtest statistics, keyed and ordered as ``STAT_KEYS``.

    Args:
        equity: One row per bar of the backtest clock, indexed by UTC timestamps, with columns
            ``equity``, ``cash`` and ``drawdown`` (``equity / cummax - 1``).
        trades: Closed trades with at least ``entry_time``, ``exit_time``, ``pnl`` and
            ``pnl_pct`` columns; may have zero rows.
        initial_equity: Account value before the first bar.
        fees: Total fees paid over the backtest, in quote currency.
        in_market: Bool per equity row, true when any position is open.
        periods_per_year: Trading days per year used to annualize daily figures.
        risk_free_rate: Annual risk-free rate as a fraction, subtracted for Sharpe/Sortino.

    Returns:
        A JSON-serializable dict; see the module docstring for every definition.

    Raises:
        ValueError: If ``equity`` is empty, ``initial_equity`` is not positive or
            ``in_market`` does not have one value per equity row.
    """
    if equity.empty:
        raise ValueError("equity has no rows: a backtest needs at least one bar")
    return stats_of_arrays(
        _epoch_ns(equity.index),
        equity["equity"].to_numpy(dtype=float),
        TradeFigures.of_frame(trades),
        initial_equity=initial_equity,
        fees=fees,
        in_market=in_market,
        periods_per_year=periods_per_year,
        risk_free_rate=risk_free_rate,
    )


def stats_of_arrays(
    ns: npt.NDArray[np.int64],
    equity: npt.NDArray[np.float64],
    trades: TradeFigures,
    *,
    initial_equity: float,
    fees: float,
    in_market: np.ndarray,
    periods_per_year: float = 365.0,
    risk_free_rate: float = 0.0,
) -> dict[str, StatValue]:
    """:func:`compute_stats` of plain arrays: the bar times (epoch ns, UTC), the equity per bar
    and the trades' figures (no frames: what an optimization scores)."""
    _validate(len(equity), initial_equity, in_market, periods_per_year)
    values = np.round(equity, _EQUITY_DECIMALS)
    stats: dict[str, StatValue] = {
        "start": _iso(int(ns[0])),
        "end": _iso(int(ns[-1])),
        "duration": _round_div(int(ns[-1]) - int(ns[0]), 1_000_000_000),
        "bars": len(values),
        "initial_equity": float(initial_equity),
        "final_equity": values[-1],
        "total_return": values[-1] / initial_equity - 1.0,
    }
    stats.update(_return_stats(values, ns, initial_equity, periods_per_year, risk_free_rate))
    stats.update(_drawdown_stats(values, ns, initial_equity))
    stats["calmar"] = _calmar(stats["cagr"], stats["max_drawdown"])
    stats.update(_trade_stats(trades))
    stats["exposure"] = float(np.count_nonzero(in_market)) / len(in_market)
    stats["fees"] = float(fees)
    return {key: _clean(stats[key], key not in _UNROUNDED) for key in STAT_KEYS}


def _validate(
    rows: int, initial_equity: float, in_market: np.ndarray, periods_per_year: float
) -> None:
    if rows == 0:
        raise ValueError("equity has no rows: a backtest needs at least one bar")
    if not initial_equity > 0:
        raise ValueError(f"initial_equity must be > 0, got {initial_equity}")
    if not periods_per_year > 0:
        raise ValueError(f"periods_per_year must be > 0, got {periods_per_year}")
    if len(in_market) != rows:
        raise ValueError(
            f"in_market has {len(in_market)} values, equity has {rows} rows; "
            "they must match one per bar"
        )


def _utc_index(index: pd.Index) -> pd.DatetimeIndex:
    """Return the index as a UTC DatetimeIndex (naive timestamps are taken as UTC)."""
    dt_index = pd.DatetimeIndex(index)
    if dt_index.tz is None:
        return dt_index.tz_localize("UTC")
    return dt_index.tz_convert("UTC")


def _epoch_ns(index: pd.Index) -> npt.NDArray[np.int64]:
    """The index as epoch nanoseconds (UTC; naive timestamps are taken as UTC)."""
    return np.asarray(_utc_index(index).as_unit("ns").asi8, dtype=np.int64)


def _iso(ns: int) -> str:
    text = pd.Timestamp(ns, tz="UTC").isoformat()
    return text.removesuffix("+00:00") + "Z"


def daily_closes(equity: pd.Series) -> pd.Series:
    """The last value of ``equity`` in each UTC day that has a bar."""
    index = equity.index
    utc = isinstance(index, pd.DatetimeIndex) and str(index.tz) == "UTC"
    if not (utc and equity.dtype == np.float64):  # else use it as it is: no copy
        equity = pd.Series(equity.to_numpy(dtype=float), index=_utc_index(index))
    return equity.resample("1D").last().dropna()


def daily_returns(equity: pd.Series, initial_equity: float) -> pd.Series:
    """Return the day-over-day returns of ``equity`` sampled at the last value of each UTC day.

    The first day is measured against ``initial_equity``; days without a bar are skipped.
    """
    return _returns(daily_closes(equity), initial_equity)


def _returns(closes: pd.Series, initial_equity: float) -> pd.Series:
    """Each day-end against the one before, the first against ``initial_equity``."""
    return closes / closes.shift(1, fill_value=initial_equity) - 1.0


def _day_closes(values: npt.NDArray[np.float64], ns: npt.NDArray[np.int64]) -> np.ndarray:
    """The last non-NaN value of each UTC day that has one, in day order: what
    :func:`daily_closes` gives (``resample("1D").last().dropna()``), on arrays."""
    day = ns // _NS_PER_DAY
    if len(day) > 1 and not np.all(day[1:] >= day[:-1]):
        order = np.argsort(day, kind="stable")  # a day's last row stays its last
        day, values = day[order], values[order]
    known = ~np.isnan(values)
    if not known.all():
        day, values = day[known], values[known]
    last = np.ones(len(day), dtype=bool)
    last[:-1] = day[1:] != day[:-1]
    return values[last]


def _return_stats(
    values: npt.NDArray[np.float64],
    ns: npt.NDArray[np.int64],
    initial_equity: float,
    periods_per_year: float,
    risk_free_rate: float,
) -> dict[str, StatValue]:
    closes = _day_closes(values, ns)
    with np.errstate(divide="ignore", invalid="ignore"):  # as pandas: x / 0 is inf
        returns = closes / np.concatenate(([initial_equity], closes[:-1])) - 1.0
    rf_daily = (1.0 + risk_free_rate) ** (1.0 / periods_per_year) - 1.0
    excess = returns - rf_daily
    root = math.sqrt(periods_per_year)
    solvent = bool(np.all(closes > 0.0))
    std = float(np.std(returns, ddof=1)) if len(returns) >= 2 and solvent else 0.0
    downside = math.sqrt(float(np.mean(np.minimum(excess, 0.0) ** 2))) if solvent else 0.0
    has_spread = len(returns) >= 2 and std > 0.0
    seconds = pd.Timedelta(int(ns[-1]) - int(ns[0])).total_seconds()
    last_bar = pd.Timedelta(int(ns[-1]) - int(ns[-2])).total_seconds() if len(ns) > 1 else 0.0
    covered = seconds + last_bar >= _SECONDS_PER_DAY  # a day of 1-minute bars ends 23:59
    years = seconds / _SECONDS_PER_YEAR if covered else 0.0
    return {
        "cagr": _cagr(float(values[-1]) / initial_equity, years),
        "annual_volatility": std * root if has_spread else None,
        "sharpe": float(np.mean(excess)) / std * root if has_spread else None,
        "sortino": (
            float(np.mean(excess)) / downside * root
            if len(returns) >= 2 and downside > 0.0
            else None
        ),
    }


def _cagr(growth: float, years: float) -> float | None:
    if years <= 0.0:
        return None
    if growth <= 0.0:
        return -1.0
    try:
        return math.exp(math.log(growth) / years) - 1.0
    except OverflowError:
        return None


def _calmar(cagr: StatValue, max_drawdown: StatValue) -> float | None:
    if not isinstance(cagr, float) or not isinstance(max_drawdown, float) or max_drawdown == 0:
        return None
    return cagr / abs(max_drawdown)


def drawdown_series(values: np.ndarray, initial_equity: float) -> np.ndarray:
    """``equity / peak - 1`` per bar, the peak never below ``initial_equity``."""
    out: np.ndarray = np.maximum(values, initial_equity)  # one n-sized array: peak, then dd
    np.maximum.accumulate(out, out=out)
    np.divide(values, out, out=out)
    out -= 1.0
    return out


def _drawdown_stats(
    values: np.ndarray, ns: npt.NDArray[np.int64], initial_equity: float
) -> dict[str, StatValue]:
    drawdown = drawdown_series(values, initial_equity)
    periods = _underwater_periods(drawdown)
    if periods:
        starts = np.fromiter((start for start, _ in periods), dtype=np.intp, count=len(periods))
        stops = np.fromiter((stop for _, stop in periods), dtype=np.intp, count=len(periods))
        # each period's deepest point: from its start to the next one's, the rows between
        # (recovered: >= 0, or NaN, which fmin skips) never below the period's own rows
        troughs = np.fmin.reduceat(drawdown, starts)
        began = ns[np.maximum(starts - 1, 0)]
        ended = ns[np.minimum(stops, len(ns) - 1)]
        longest = int(np.max(ended - began))
    else:
        troughs, longest = np.empty(0), 0
    return {
        "max_drawdown": min(float(drawdown.min()), 0.0),
        "max_drawdown_duration": _round_div(longest, 1_000_000_000),
        "avg_drawdown": float(np.mean(troughs)) if len(troughs) else 0.0,
    }


def _underwater_periods(drawdown: np.ndarray) -> list[tuple[int, int]]:
    """Return ``(start, stop)`` row ranges where drawdown < 0; ``stop`` is the recovery row.

    ``stop`` equals ``len(drawdown)`` for a period still open at the end.
    """
    underwater = np.concatenate(([False], drawdown < 0.0, [False]))
    edges = np.flatnonzero(np.diff(underwater.astype(np.int8)))
    return [(int(start), int(stop)) for start, stop in zip(edges[::2], edges[1::2], strict=True)]


def _trade_stats(trades: TradeFigures) -> dict[str, StatValue]:
    count = len(trades.pnl)
    empty: dict[str, StatValue] = {
        "trades": count,
        "win_rate": None,
        "best_trade": None,
        "worst_trade": None,
        "avg_trade": None,
        "profit_factor": None,
        "expectancy": None,
        "sqn": None,
        "avg_trade_duration": None,
    }
    if count == 0:
        return empty
    pnl, pnl_pct = trades.pnl, trades.pnl_pct
    return {
        "trades": count,
        "win_rate": float(np.count_nonzero(pnl > 0.0)) / count,
        "best_trade": float(np.max(pnl_pct)),
        "worst_trade": float(np.min(pnl_pct)),
        "avg_trade": float(np.mean(pnl_pct)),
        "profit_factor": _profit_factor(pnl),
        "expectancy": float(np.mean(pnl)),
        "sqn": _sqn(pnl),
        "avg_trade_duration": _mean_duration(trades.held_ns),
    }


def _profit_factor(pnl: np.ndarray) -> float | None:
    gross_loss = -float(pnl[pnl < 0.0].sum())
    if gross_loss == 0.0:
        return None
    return float(pnl[pnl > 0.0].sum()) / gross_loss


def _sqn(pnl: np.ndarray) -> float | None:
    if len(pnl) < 2:
        return None
    std = float(np.std(pnl, ddof=1))
    if std == 0.0:
        return None
    return math.sqrt(len(pnl)) * float(np.mean(pnl)) / std


def _mean_duration(held_ns: npt.NDArray[np.int64]) -> int | None:
    """Mean holding time in whole seconds (exact integer mean of the nanoseconds, rounded)."""
    if not len(held_ns):
        return None
    total = int(held_ns.astype(object).sum())  # Python ints: no overflow, exact
    return _round_div(total, len(held_ns) * 1_000_000_000)


def _round_div(num: int, den: int) -> int:
    """``num / den`` rounded half-even, in exact integers (``den`` > 0)."""
    units, rest = divmod(num, den)
    if 2 * rest > den or (2 * rest == den and units % 2):
        units += 1
    return units


def _clean(value: object, round_floats: bool = True) -> StatValue:
    """Turn numpy scalars into Python values, NaN/inf into None and round floats."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return int(value)
    if isinstance(value, int | np.integer):
        return int(value)
    number = float(value)  # type: ignore[arg-type]
    if not math.isfinite(number):
        return None
    return float(f"{number:.{_SIGNIFICANT_DIGITS}g}") if round_floats else number
