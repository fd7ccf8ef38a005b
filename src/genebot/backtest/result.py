"""What a backtest returns: stats, trades, orders, equity, and the files they are written to."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pandas as pd

from genebot.domain.orders import Order
from genebot.domain.position import ClosedTrade
from genebot.reporting.report import write_report

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
    """Result of :func:`genebot.backtest.run`. ``write(dir)`` produces the output files."""

    stats: dict[str, object]
    trades: pd.DataFrame
    orders: pd.DataFrame
    equity: pd.DataFrame
    bars: dict[str, pd.DataFrame] = field(repr=False)
    final_equity_exact: Decimal = Decimal(0)
    strategy_errors: dict[str, list[str]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    extra_counts: dict[str, int] = field(default_factory=dict)
    title: str = "genebot backtest"

    def write(self, output_dir: str | Path) -> list[Path]:
        """Write stats.json, trades.csv, orders.csv, equity.csv and report.html."""
        out = Path(output_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = [out / n for n in ("stats.json", "trades.csv", "orders.csv", "equity.csv")]
        paths[0].write_text(json.dumps(self.stats, indent=2, allow_nan=False) + "\n")
        self.trades.to_csv(paths[1], index=False, lineterminator="\n")
        self.orders.to_csv(paths[2], index=False, lineterminator="\n")
        equity = self.equity.copy()
        equity.index = iso_times(equity.index.asi8)
        equity.index.name = "timestamp"
        equity.to_csv(paths[3], lineterminator="\n", float_format="%.8f")
        paths.append(
            write_report(
                out / "report.html",
                title=self.title,
                bars=self.bars,
                trades=self.trades,
                equity=self.equity,
                stats=self.stats,
                extra_counts=self.extra_counts or None,
            )
        )
        return paths


def iso_times(ns: object) -> list[str]:
    """ISO-8601 UTC text with a Z suffix for many nanosecond timestamps at once."""
    index = pd.DatetimeIndex(pd.to_datetime(ns, utc=True))  # type: ignore[arg-type]
    whole = (index.asi8 % 1_000_000_000 == 0).all()
    fmt = "%Y-%m-%dT%H:%M:%SZ" if whole else "%Y-%m-%dT%H:%M:%S.%fZ"
    return list(index.strftime(fmt))


def _symbol(iid: str) -> str:
    return iid.split("@", 1)[0]


def trades_frame(trades: list[ClosedTrade]) -> pd.DataFrame:
    rows = [
        [
            t.strategy_id,
            _symbol(t.instrument_id),
            t.side,
            t.entry_ts,
            float(t.entry_price),
            t.exit_ts,
            float(t.exit_price),
            float(t.quantity),
            float(t.pnl),
            float(t.pnl_pct),
            float(t.fees),
            t.exit_reason,
        ]
        for t in trades
    ]
    return _with_iso(pd.DataFrame(rows, columns=TRADE_COLUMNS), ("entry_time", "exit_time"))


def orders_frame(orders: list[Order]) -> pd.DataFrame:
    def text(value: Decimal | None) -> str:
        return "" if value is None else str(value)

    rows = [
        [
            o.client_order_id,
            o.strategy_id,
            _symbol(o.instrument_id),
            o.instrument_id.split("@", 1)[1],
            o.side,
            o.order_type,
            str(o.quantity),
            text(o.price),
            text(o.trigger_price),
            o.time_in_force,
            o.status.value,
            str(o.filled_qty),
            f"{o.avg_px.normalize():f}" if o.filled_qty else "",
            o.tag,
            o.parent_id or "",
            o.ts_init,
            o.ts_last,
            o.reason,
        ]
        for o in orders
    ]
    return _with_iso(pd.DataFrame(rows, columns=ORDER_COLUMNS), ("created", "updated"))


def _with_iso(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    for col in columns:
        frame[col] = iso_times(frame[col].to_numpy(dtype="int64")) if len(frame) else []
    return frame
