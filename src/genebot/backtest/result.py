"""What a backtest returns: stats, trades, orders, equity, and the files they are written to."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd

from genebot.core.errors import ConfigError
from genebot.core.exactjson import dumps_exact
from genebot.core.memory import release_memory
from genebot.core.precision import precision_quantum, quantize, to_decimal
from genebot.data.timeindex import utc_index
from genebot.domain.events import OrderFilled
from genebot.domain.orders import Order
from genebot.domain.position import DEFAULT_QUANTUM, ClosedTrade, average_price
from genebot.reporting.orchestration import orchestration_sections, write_orchestration
from genebot.reporting.report import write_report
from genebot.reporting.statistics import TradeFigures
from genebot.risk.types import RiskEvent

if TYPE_CHECKING:
    from genebot.backtest.orchestration import OrchestrationResult

TRADE_COLUMNS = [
    "strategy",
    "symbol",
    "side",
    "entry_time",
    "entry_price",
    "exit_time",
    "exit_price",
    "quantity",
    "pnl",
    "pnl_pct",
    "fees",
    "exit_reason",
]
PNL_PCT_DECIMALS = 10
"""trades.csv's ``pnl_pct`` (a fraction: 0.0123 is +1.23 %) is rounded half-even to this many
decimals."""
EXACT_TRADE_COLUMNS = ("entry_price", "exit_price", "quantity", "pnl", "pnl_pct", "fees")
"""Columns held as exact Decimals (``BacktestResult.exact_trades``); ``trades`` has floats."""
MONEY_STATS = ("initial_equity", "final_equity", "fees", "expectancy")
"""Statistics written to stats.json from the exact ledger (JSON numbers printed from the
Decimal's text: ``json.load(f, parse_float=Decimal)`` reads them back exactly)."""
EQUITY_CHUNK = 16_384  # equity.csv rows formatted and written at a time
RISK_COLUMNS = ["timestamp", "strategy", "symbol", "rule", "action", "detail"]
ORDER_COLUMNS = [
    "client_order_id",
    "strategy",
    "symbol",
    "venue",
    "side",
    "type",
    "quantity",
    "price",
    "trigger_price",
    "time_in_force",
    "status",
    "filled_qty",
    "avg_price",
    "tag",
    "parent_id",
    "created",
    "updated",
    "reason",
]


@dataclass
class BacktestResult:
    """Result of :func:`genebot.backtest.run`. ``write(dir)`` produces the output files.

    ``trades`` has UTC datetime columns ``entry_time``/``exit_time`` and float prices,
    quantities and money, for analysis; ``exact_trades`` is the same table with exact Decimals
    (``EXACT_TRADE_COLUMNS``), from which trades.csv and the report are written. ``orders``
    (one row per order, exact values as text) is built on first use, so an optimizer that reads
    only the stats does not pay for it. ``stats`` holds floats; ``exact_stats()`` (what
    stats.json holds) has the money figures from the exact ledger.
    """

    stats: dict[str, object]
    trades: pd.DataFrame
    order_log: list[Order] = field(repr=False)
    equity: pd.DataFrame
    bars: dict[str, pd.DataFrame] = field(repr=False)
    final_equity_exact: Decimal = Decimal(0)
    strategy_errors: dict[str, list[str]] = field(default_factory=dict)
    # Per strategy, its first attempt to read a future bar (however many errors came before).
    lookahead_reads: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    extra_counts: dict[str, int] = field(default_factory=dict)
    title: str = "genebot backtest"
    risk_events: list[RiskEvent] = field(default_factory=list, repr=False)
    closed_trades: list[ClosedTrade] = field(default_factory=list, repr=False)
    orchestration: OrchestrationResult | None = field(default=None, repr=False)
    # Round trips still open after the last bar (marked to the last close in the equity):
    # strategy, symbol, side, entry_time, entry_price, quantity.
    open_trades: pd.DataFrame = field(default_factory=lambda: open_trades_frame([]), repr=False)
    # What the risk engine did, per rule (see genebot.risk.summary): {"rules": [{"rule",
    # "first_fired", "fired", "denied", "resized", "reset_policy", "resets", "reset_by"}],
    # "halted_periods": [{"rule", "state", "start", "end"}], "orders_total", "orders_denied",
    # "warnings": [...]}; times are ISO-8601 UTC text, "end" None while still halted at the end.
    risk_summary: dict[str, object] = field(default_factory=dict, repr=False)
    # Total fees in the account currency, exact (stats["fees"] is its float); None: taken
    # from the float, which is exact as text while it has at most 15 significant digits.
    fees_exact: Decimal | None = field(default=None, repr=False)
    _orders: pd.DataFrame | None = field(default=None, repr=False)
    _exact_trades: pd.DataFrame | None = field(default=None, repr=False)
    _exact_open_trades: pd.DataFrame | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        # trades_frame / open_trades_frame give exact Decimal columns: keep them for the files
        # and the report, and show floats (pandas arithmetic, plots) in the public frames.
        if _has_exact(self.trades):
            self._exact_trades, self.trades = self.trades, float_trades(self.trades)
        if _has_exact(self.open_trades):
            self._exact_open_trades = self.open_trades
            self.open_trades = float_trades(self.open_trades)

    @property
    def exact_trades(self) -> pd.DataFrame:
        """``trades`` with exact Decimal prices, quantities, pnl, pnl_pct and fees."""
        return self.trades if self._exact_trades is None else self._exact_trades

    @property
    def exact_open_trades(self) -> pd.DataFrame:
        """``open_trades`` with exact Decimal entry prices and quantities."""
        return self.open_trades if self._exact_open_trades is None else self._exact_open_trades

    def exact_stats(self) -> dict[str, object]:
        """``stats`` as stats.json holds them: the money figures (``MONEY_STATS``) exact
        Decimals — final equity from the ledger, expectancy the exact mean trade pnl on the
        money quantum, initial equity as configured, fees from ``fees_exact`` — and
        ``risk_summary`` when there is one. Ratios stay floats rounded to 10 significant
        digits, durations whole seconds."""
        stats = dict(self.stats)
        final = self.final_equity_exact
        step = self._money_exponent()
        initial = stats.get("initial_equity")
        if isinstance(initial, float):
            stats["initial_equity"] = _on_grid(to_decimal(initial), step)
        if final or stats.get("final_equity") == 0:
            # Holdings valued at rates can have more decimals than the account's money.
            grid = None if step is None else Decimal(1).scaleb(step)
            stats["final_equity"] = _on_grid(final if grid is None else quantize(final, grid), step)
        fees = stats.get("fees")
        if self.fees_exact is not None:
            stats["fees"] = self.fees_exact
        elif isinstance(fees, float):  # exact while it has at most 15 significant digits
            stats["fees"] = _on_grid(to_decimal(fees), step)
        pnl = self.exact_trades["pnl"]
        if len(pnl) and stats.get("expectancy") is not None and _is_decimal(pnl.iloc[0]):
            stats["expectancy"] = _mean_money(list(pnl))
        if self.risk_summary:
            stats["risk_summary"] = self.risk_summary
        return stats

    def _money_exponent(self) -> int | None:
        """The account currency's money step (as an exponent): the finest of the exact trades'
        pnl and fees (booked on it), else the final equity's; None when neither says."""
        trades = self.exact_trades
        values = [v for col in ("pnl", "fees") for v in trades[col] if isinstance(v, Decimal)]
        if values:
            return min(int(v.as_tuple().exponent) for v in values)
        final = self.final_equity_exact
        return int(final.as_tuple().exponent) if final else None

    @property
    def risk_table(self) -> pd.DataFrame:
        """Every risk decision: timestamp, strategy, symbol, rule, action, detail."""
        events = self.risk_events
        return pd.DataFrame(
            {
                "timestamp": iso_times([e.ts for e in events]),
                "strategy": [e.strategy for e in events],
                "symbol": [e.symbol for e in events],
                "rule": [e.rule for e in events],
                "action": [e.action for e in events],
                "detail": [e.detail for e in events],
            },
            columns=RISK_COLUMNS,
        )

    def risk_counts(self) -> dict[str, int]:
        """Decisions per rule and action (approvals summed), for the report."""
        counts: dict[str, int] = {}
        for e in self.risk_events:
            key = "approved orders" if e.action == "approve" else f"{e.rule}: {e.action}"
            counts[key] = counts.get(key, 0) + 1
        return dict(sorted(counts.items()))

    @property
    def orders(self) -> pd.DataFrame:
        if self._orders is None:
            self._orders = orders_frame(self.order_log)
        return self._orders

    def write(self, output_dir: str | Path, *, release: bool = False) -> list[Path]:
        """Write stats.json, trades.csv, orders.csv, equity.csv and report.html. ``release``:
        for a process done with the result once it is written (the CLI): the order log is let
        go after orders.csv, so the charts are drawn without it (``order_log`` is then empty)."""
        out = output_folder(output_dir)
        try:
            return self._write(out, release)
        except OSError as exc:
            raise ConfigError(f"output_dir {out}: cannot write: {exc.strerror or exc}") from None

    def _write(self, out: Path, release: bool = False) -> list[Path]:
        names = ("stats.json", "trades.csv", "orders.csv", "equity.csv", "risk_events.csv")
        paths = [out / n for n in names]
        stats = self.exact_stats()
        paths[0].write_text(stats_json(stats) + "\n")
        write_trades_csv(self.exact_trades, paths[1])
        # made for the file and let go (``orders`` keeps the frame for a caller who asks)
        orders = self._orders if self._orders is not None else orders_frame(self.order_log)
        orders.to_csv(paths[2], index=False, lineterminator="\n")
        del orders
        if release:
            self.order_log, self._orders = [], None
            release_memory()
        write_equity_csv(self.equity, paths[3])
        self.risk_table.to_csv(paths[4], index=False, lineterminator="\n")
        sections: list[tuple[str, object]] = []
        if self.orchestration is not None:
            paths += write_orchestration(out, self.orchestration)
            sections = orchestration_sections(self.orchestration)
        paths.append(
            write_report(
                out / "report.html",
                title=self.title,
                bars=self.bars,
                trades=pd.concat([self.exact_trades, self.exact_open_trades])
                if len(self.open_trades)
                else self.exact_trades,
                equity=self.equity,
                stats={k: v for k, v in stats.items() if k != "risk_summary"},
                extra_counts={**self.risk_counts(), **self.extra_counts} or None,
                extra_sections=sections,
                risk_summary=self.risk_summary,
            )
        )
        return paths


def write_trades_csv(trades: pd.DataFrame, path: Path) -> None:
    """trades.csv from exact trades (``exact_trades``): times ISO-8601 UTC, every exact column
    as its Decimal's plain text (prices on the tick or as ``average_price`` rounds them,
    quantities on the lot, pnl and fees on the money quantum), ``pnl_pct`` rounded half-even
    to ``PNL_PCT_DECIMALS``."""
    out = trades.copy()
    for col in ("entry_time", "exit_time"):
        out[col] = iso_times(out[col].to_numpy(dtype="datetime64[ns]").view("int64"))
    pct_step = precision_quantum(PNL_PCT_DECIMALS)
    out["pnl_pct"] = [v.quantize(pct_step) if isinstance(v, Decimal) else v for v in out["pnl_pct"]]
    for col in EXACT_TRADE_COLUMNS:
        out[col] = [_decimal_text(v) for v in out[col]]
    out.to_csv(path, index=False, lineterminator="\n")


def write_equity_csv(equity: pd.DataFrame, path: Path, chunk: int = EQUITY_CHUNK) -> None:
    """equity.csv: ISO-8601 UTC times and the columns at 8 decimals, written ``chunk`` rows at
    a time, so a year of 1-minute bars never holds half a million timestamp strings (the same
    bytes as one ``to_csv`` of the whole frame)."""
    stamps = pd.DatetimeIndex(equity.index).as_unit("ns").asi8
    unit = _time_unit(stamps)  # one unit for the whole file, as a single call would choose
    with path.open("w", newline="") as fh:
        for start in range(0, max(len(equity), 1), chunk):
            part = equity.iloc[start : start + chunk].copy()
            part.index = pd.Index(iso_times(stamps[start : start + chunk], unit), name="timestamp")
            part.to_csv(fh, header=start == 0, lineterminator="\n", float_format="%.8f")


def _time_unit(values: npt.NDArray[np.int64]) -> str:
    return "s" if not np.any(values % 1_000_000_000) else "us"


def iso_times(ns: Sequence[int] | npt.NDArray[np.int64], unit: str | None = None) -> list[str]:
    """ISO-8601 UTC text with a Z suffix for many nanosecond timestamps at once; whole seconds
    unless one has a fraction (``unit``: "s" or "us", as chosen for a larger whole)."""
    values = np.asarray(ns, dtype=np.int64)
    if not values.size:
        return []
    unit = unit or _time_unit(values)
    text = np.datetime_as_string(
        values.view("datetime64[ns]").astype(f"datetime64[{unit}]"), unit=unit
    )
    return [t + "Z" for t in text.tolist()]


def check_output_folder(path: str | Path) -> None:
    """Raise the error :func:`output_folder` would, without creating anything (checked before a
    run, so a long backtest never ends unable to write its results)."""
    out = Path(path).absolute()
    existing = next(p for p in (out, *out.parents) if p.exists())
    if not existing.is_dir():
        raise ConfigError(f"output_dir {path}: cannot create the folder: a file is in the way")
    if not os.access(existing, os.W_OK | os.X_OK):
        what = "the folder is not writable" if existing == out else f"{existing} is not writable"
        raise ConfigError(f"output_dir {path}: {what}")


def output_folder(path: str | Path) -> Path:
    """The results folder, created if missing; a clear error if it cannot be."""
    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocked = isinstance(exc, FileExistsError | NotADirectoryError)
        what = "a file is in the way" if blocked else (exc.strerror or str(exc))
        raise ConfigError(f"output_dir {out}: cannot create the folder: {what}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise ConfigError(f"output_dir {out}: the folder is not writable")
    return out


def _symbol(iid: str) -> str:
    return iid.split("@", 1)[0]


def display_names(instrument_ids: Iterable[str]) -> dict[str, str]:
    """How results name each instrument: its symbol, or ``SYMBOL@venue`` when the run trades
    the symbol on several venues (the candles, markers and trades of each venue stay apart)."""
    ids = sorted(set(instrument_ids))
    symbols = [_symbol(iid) for iid in ids]
    return {
        iid: sym if symbols.count(sym) == 1 else iid for iid, sym in zip(ids, symbols, strict=True)
    }


def trades_frame(
    trades: list[ClosedTrade],
    names: Mapping[str, str] | None = None,
    rates: Sequence[Decimal] | None = None,
    money_quantum: Decimal = DEFAULT_QUANTUM,
) -> pd.DataFrame:
    """One row per closed round trip (column-wise: much faster than row lists), with exact
    Decimals in ``EXACT_TRADE_COLUMNS`` (``BacktestResult`` keeps them and shows floats).
    ``rates`` (one per trade) turn pnl and fees into the account currency, rounded half-even
    to ``money_quantum``; prices stay the pair's. ``pnl_pct`` is the exact quotient (trades.csv
    rounds it to ``PNL_PCT_DECIMALS``)."""
    if not trades:
        empty: dict[str, object] = {c: [] for c in TRADE_COLUMNS}
        empty["entry_time"] = empty["exit_time"] = _utc([])
        return pd.DataFrame(empty, columns=TRADE_COLUMNS)
    # ClosedTrade is a tuple: transpose once, convert whole columns.
    (strategy, iids, side, entry_ts, entry_px, exit_ts, exit_px, qty, pnl, fees, reason) = zip(
        *trades, strict=True
    )
    shown = {iid: (names or {}).get(iid) or _symbol(iid) for iid in set(iids)}
    pnl = _in_account(pnl, rates, money_quantum)
    fees = _in_account(fees, rates, money_quantum)
    columns: dict[str, object] = {
        "strategy": strategy,
        "symbol": [shown[iid] for iid in iids],
        "side": side,
        "entry_time": utc_index(entry_ts),
        "entry_price": _objects(entry_px),
        "exit_time": utc_index(exit_ts),
        "exit_price": _objects(exit_px),
        "quantity": _objects(qty),
        "pnl": _objects(pnl),
        "pnl_pct": _objects(t.pnl_pct for t in trades),
        "fees": _objects(fees),
        "exit_reason": reason,
    }
    return pd.DataFrame(columns, columns=TRADE_COLUMNS)


def _in_account(
    amounts: Sequence[Decimal], rates: Sequence[Decimal] | None, quantum: Decimal
) -> Sequence[Decimal]:
    """Amounts in the account currency: each times its trade's rate, rounded half-even to
    ``quantum`` (an amount already in it, rate 1, as it is)."""
    if rates is None or all(rate == 1 for rate in rates):
        return amounts
    return tuple(
        a if rate == 1 else quantize(a * rate, quantum)
        for a, rate in zip(amounts, rates, strict=True)
    )


def trade_figures(
    trades: Sequence[ClosedTrade],
    rates: Sequence[Decimal] | None = None,
    money_quantum: Decimal = DEFAULT_QUANTUM,
) -> TradeFigures:
    """What the statistics read of ``trades_frame(trades, rates=rates)`` (its pnl and pnl_pct
    as floats, the holding times), without building the frame."""
    if not trades:
        return TradeFigures(np.empty(0), np.empty(0), np.empty(0, dtype=np.int64))
    columns = list(zip(*trades, strict=True))  # ClosedTrade is a tuple: transpose once
    pnl = _in_account(columns[8], rates, money_quantum)
    held = np.array(columns[5], dtype=np.int64) - np.array(columns[3], dtype=np.int64)
    n = len(trades)
    return TradeFigures(  # float() of each Decimal, as the frame's to_numpy(dtype=float)
        np.fromiter(map(float, pnl), dtype=np.float64, count=n),
        np.fromiter((float(t.pnl_pct) for t in trades), dtype=np.float64, count=n),
        held,
    )


OPEN_TRADE_COLUMNS = ["strategy", "symbol", "side", "entry_time", "entry_price", "quantity"]


def open_trades_frame(
    rows: Sequence[tuple[str, str, str, int, Decimal, Decimal]],
    names: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """One row per round trip still open: (strategy, instrument id, side, entry ns, entry
    price, quantity) tuples; entry price and quantity exact Decimals (as ``trades_frame``)."""
    return pd.DataFrame(
        {
            "strategy": [r[0] for r in rows],
            "symbol": [(names or {}).get(r[1]) or _symbol(r[1]) for r in rows],
            "side": [r[2] for r in rows],
            "entry_time": utc_index([r[3] for r in rows]),
            "entry_price": _objects(r[4] for r in rows),
            "quantity": _objects(r[5] for r in rows),
        },
        columns=OPEN_TRADE_COLUMNS,
    )


def float_trades(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its exact Decimal columns as float64 (for analysis and plots)."""
    out = frame.copy(deep=False)
    for col in EXACT_TRADE_COLUMNS:
        if col in out.columns:
            out[col] = out[col].to_numpy(dtype=np.float64)
    return out


def _objects(values: Iterable[Decimal]) -> npt.NDArray[np.object_]:
    """An object array of Decimals (no dtype inference: pandas keeps them as they are)."""
    return np.fromiter(values, dtype=object)


def _on_grid(value: Decimal, exponent: int | None) -> Decimal:
    """``value`` written with ``exponent``'s decimals when that only adds zeros."""
    if exponent is None or int(value.as_tuple().exponent) <= exponent:
        return value
    return value.quantize(Decimal(1).scaleb(exponent))


def _is_decimal(value: object) -> bool:
    return isinstance(value, Decimal)


def _has_exact(frame: pd.DataFrame) -> bool:
    """Whether ``frame`` holds the exact Decimal columns (object dtype) of trades_frame."""
    cols = [c for c in EXACT_TRADE_COLUMNS if c in frame.columns]
    return bool(cols) and all(frame[c].dtype == object for c in cols)


def _decimal_text(value: object) -> str:
    """A Decimal as plain text with every digit it has (never an exponent: 1E-7 is 0.0000001);
    anything else (a float of a hand-built frame, NaN) as pandas would write it."""
    if isinstance(value, Decimal):
        return f"{value:f}"
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return repr(value) if isinstance(value, float) else str(value)


def _mean_money(values: Sequence[Decimal]) -> Decimal:
    """The exact mean, rounded half-even to the finest money step among ``values``."""
    exponent = min(int(v.as_tuple().exponent) for v in values)
    return average_price(sum(values, Decimal(0)), Decimal(len(values)), exponent + 4).quantize(
        Decimal(1).scaleb(exponent)
    )


def stats_json(stats: Mapping[str, object]) -> str:
    """``stats`` as indented JSON, Decimals written as JSON numbers from their exact text
    (``100532.88883000``, never through a float)."""
    return dumps_exact(stats, indent=2)


def _utc(ns: list[int]) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(np.asarray(ns, dtype="datetime64[ns]"), tz="UTC")


def _text(value: Decimal | None) -> str:
    return "" if value is None else str(value)


def _avg_price_text(order: Order) -> str:
    """The order's fill-weighted average price, computed as a trade's (``ClosedTrade``): one
    fill (or one price) is that price, several are rounded by ``average_price``."""
    if not order.filled_qty:
        return ""
    px = order.avg_px
    fills = [e for e in order.events if type(e) is OrderFilled] if order.filled_qty else []
    if len(fills) > 1 and any(f.last_px != fills[0].last_px for f in fills):
        exponent = min(int(f.last_px.as_tuple().exponent) for f in fills)
        value = sum((f.last_px * f.last_qty for f in fills), Decimal(0))
        px = average_price(value, sum((f.last_qty for f in fills), Decimal(0)), exponent)
    return f"{px.normalize():f}"


def orders_frame(orders: list[Order]) -> pd.DataFrame:
    """One row per order with its final state (exact values written as text)."""
    ids = {o.instrument_id for o in orders}
    symbol = {iid: _symbol(iid) for iid in ids}
    venue = {iid: iid.split("@", 1)[1] for iid in ids}
    columns: dict[str, list[object]] = {
        "client_order_id": [o.client_order_id for o in orders],
        "strategy": [o.strategy_id for o in orders],
        "symbol": [symbol[o.instrument_id] for o in orders],
        "venue": [venue[o.instrument_id] for o in orders],
        "side": [o.side for o in orders],
        "type": [o.order_type for o in orders],
        "quantity": [str(o.quantity) for o in orders],
        "price": [_text(o.price) for o in orders],
        "trigger_price": [_text(o.trigger_price) for o in orders],
        "time_in_force": [o.time_in_force for o in orders],
        "status": [o.status.value for o in orders],
        "filled_qty": [str(o.filled_qty) for o in orders],
        "avg_price": [_avg_price_text(o) for o in orders],
        "tag": [o.tag for o in orders],
        "parent_id": [o.parent_id or "" for o in orders],
        "created": iso_times([o.ts_init for o in orders]),
        "updated": iso_times([o.ts_last for o in orders]),
        "reason": [o.reason for o in orders],
    }
    return pd.DataFrame(columns, columns=ORDER_COLUMNS)
