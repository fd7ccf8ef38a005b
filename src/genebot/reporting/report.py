"""Self-contained HTML backtest report: stats table, candles with trades, equity and drawdown.

The report is one HTML file that opens without a network: plotly.js is embedded inline once
(``include_plotlyjs=True`` on the first figure only). Every figure gets a fixed div id, so
the same inputs give a byte-identical file. Long series are downsampled to at most
``MAX_POINTS`` buckets (candles: first/max/min/last; equity and drawdown: the rows holding each
run's first, last, highest, lowest and deepest values, so extremes survive) which keeps a year
of 1-minute bars to a few megabytes.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from genebot.reporting.formatting import format_stat
from genebot.reporting.report_sections import (
    SORT_SCRIPT,
    monthly_heatmap,
    risk_section,
    shade_halts,
    trader_sections,
)

MAX_POINTS = 5_000
"""Most candles per symbol and points per equity/drawdown line drawn in a report."""

_NICE_STEPS: tuple[pd.Timedelta, ...] = tuple(
    pd.Timedelta(step)
    for step in ("1min", "5min", "15min", "30min", "1h", "2h", "4h", "6h", "12h", "1D")
)
_LABELS = {"cagr": "CAGR", "sqn": "SQN", "bars": "Bars"}
_TEMPLATE = "plotly_white"
_CANDLE_HEIGHT = 520
_EQUITY_HEIGHT = 620
_JS_SLICE = 1 << 20  # characters of plotly.js written at a time
_CSS = """
body { font-family: system-ui, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 28px; }
table { border-collapse: collapse; margin-bottom: 12px; }
th, td { border: 1px solid #ddd; padding: 3px 10px; text-align: left; font-size: 0.9em; }
th { background: #f5f5f5; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.chart { margin-top: 8px; }
.warning { background: #fff4e5; border-left: 4px solid #f39c12; padding: 6px 10px; }
input.filter { margin: 4px 0 8px; padding: 3px 6px; width: 320px; }
th[data-dir=asc]::after { content: " ▲"; } th[data-dir=desc]::after { content: " ▼"; }
"""


def write_report(path: str | Path, **inputs: Any) -> Path:
    """Write the backtest report as one self-contained HTML file and return its path
    (``path``: parent folders are created; ``inputs``: as for :func:`report_parts`). Each
    piece is written as it is made: the page is never whole in memory."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", encoding="utf-8", newline="\n") as fh:
        for part in report_parts(**inputs):
            fh.write(part)
    return target


def render_report(**inputs: Any) -> str:
    """The report HTML as one string (``inputs``: as for :func:`report_parts`)."""
    return "".join(report_parts(**inputs))


def report_parts(
    *,
    title: str,
    bars: Mapping[str, pd.DataFrame],
    trades: pd.DataFrame,
    equity: pd.DataFrame,
    stats: Mapping[str, object],
    extra_counts: Mapping[str, int] | None = None,
    extra_sections: Sequence[tuple[str, object]] = (),
    risk_summary: Mapping[str, object] | None = None,
) -> Iterator[str]:
    """The report's HTML in pieces, in order; each chart is built and serialized only when
    its turn comes, so a long run never holds every figure and the whole page at once.

    Args:
        title: Page title and heading.
        bars: Symbol -> OHLCV frame (UTC DatetimeIndex, open/high/low/close/volume).
        trades: Closed trades (symbol, side, entry_time, entry_price, exit_time, exit_price,
            pnl, exit_reason, ...), and open ones without exit columns; drawn as markers on
            their symbol's candles.
        equity: Backtest equity frame with ``equity`` and ``drawdown`` columns.
        stats: Output of ``compute_stats`` (any mapping of name -> value), shown as a table.
        extra_counts: Optional name -> count table shown under the stats (e.g. risk events).
        extra_sections: (heading, plotly figure or HTML text) shown after the equity chart.
        risk_summary: ``BacktestResult.risk_summary``: the risk table, its warnings, and the
            halted/reducing periods shaded on the equity chart.
    """
    yield (
        '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
    )
    sections = [f"<h1>{html.escape(title)}</h1>", "<h2>Statistics</h2>", _stats_table(stats)]
    sections += ["<h2>Risk</h2>", risk_section(risk_summary)]
    if extra_counts:
        sections += ["<h2>Counts</h2>", _counts_table(extra_counts)]
    yield "\n".join(sections)
    for number, (heading, div_id, build, height) in enumerate(
        _figures(bars, trades, equity, risk_summary)
    ):
        yield f"\n<h2>{html.escape(heading)}</h2>\n"
        yield from _chart_parts(build(), div_id, height or _EQUITY_HEIGHT, number == 0)
    for heading, table in trader_sections(trades):
        yield f"\n<h2>{html.escape(heading)}</h2>\n{table}"
    for number, (heading, content) in enumerate(extra_sections):
        yield f"\n<h2>{html.escape(heading)}</h2>\n"
        if isinstance(content, go.Figure):
            yield _figure_html(content, f"genebot-extra-{number}", 420, False)
        else:
            yield str(content)
    yield f"\n{SORT_SCRIPT}\n</body>\n</html>\n"


_FigureSpec = tuple[str, str, Callable[[], go.Figure], int]


def _figures(
    bars: Mapping[str, pd.DataFrame],
    trades: pd.DataFrame,
    equity: pd.DataFrame,
    risk_summary: Mapping[str, object] | None,
) -> list[_FigureSpec]:
    """(heading, div id, how to build the figure, height) of each chart, in order."""
    specs: list[_FigureSpec] = [
        (
            f"Candles {symbol}",
            f"genebot-candles-{number}",
            lambda s=symbol, f=frame: _candles_figure(s, f, trades),
            _CANDLE_HEIGHT,
        )
        for number, (symbol, frame) in enumerate(bars.items())
    ]

    def equity_figure() -> go.Figure:
        figure = _equity_figure(equity)
        if len(equity):
            shade_halts(figure, risk_summary, _utc(equity.index)[-1])
        return figure

    specs.append(("Equity and drawdown", "genebot-equity", equity_figure, 0))
    if len(equity):
        specs.append(
            (
                "Monthly returns",
                "genebot-monthly",
                lambda: monthly_heatmap(equity["equity"]),
                360,
            )
        )
    return specs


def downsample_ohlcv(frame: pd.DataFrame, max_points: int = MAX_POINTS) -> pd.DataFrame:
    """Return ``frame`` unchanged if short, else candles of a coarser period (<= max_points).

    Buckets keep the first open, the highest high, the lowest low, the last close and the
    summed volume; each bucket is labeled with its start time.
    """
    rules = {"open": "first", "high": "max", "low": "min", "close": "last"}
    if "volume" in frame.columns:
        rules["volume"] = "sum"
    return _downsample(frame, rules, max_points)


def downsample_equity(equity: pd.DataFrame, max_points: int = MAX_POINTS) -> pd.DataFrame:
    """Return at most ``max_points`` rows of the equity frame that keep the line's shape: per
    run of consecutive rows, its first and last, its highest and lowest equity and its
    deepest drawdown, each at its own time (a one-bar crash or peak stays visible)."""
    frame = equity[["equity"]].astype(float)
    if "drawdown" in equity.columns:
        frame["drawdown"] = equity["drawdown"].astype(float)
    else:
        frame["drawdown"] = frame["equity"] / frame["equity"].cummax() - 1.0
    n = len(frame)
    if n <= max_points:
        return frame
    group = np.arange(n) * max(1, max_points // 5) // n  # runs of about equal length
    starts = np.flatnonzero(np.diff(group, prepend=-1))  # first of each run
    ends = np.append(starts[1:], n)
    e, d = frame["equity"].to_numpy(), frame["drawdown"].to_numpy()
    keep = np.concatenate(
        [
            _extreme_rows(e, starts, ends, np.nanargmin),
            _extreme_rows(e, starts, ends, np.nanargmax),
            _extreme_rows(d, starts, ends, np.nanargmin),
            starts,
            ends - 1,  # last of each run
        ]
    )
    return frame.iloc[np.unique(keep)]


def _extreme_rows(
    values: np.ndarray, starts: np.ndarray, ends: np.ndarray, pick: Callable[..., Any]
) -> np.ndarray:
    """Per run [start, end): the row of its first lowest (or highest) value; a run of NaN
    only has none. A slice at a time: no temporary as long as the series."""
    rows = []
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        run = values[start:end]
        if not np.isnan(run).all():
            rows.append(start + int(pick(run)))
    return np.asarray(rows, dtype=np.int64)


def _downsample(frame: pd.DataFrame, rules: dict[str, str], max_points: int) -> pd.DataFrame:
    if len(frame) <= max_points:
        return frame
    index = pd.DatetimeIndex(frame.index)
    span = index[-1] - index[0]
    for step in _bucket_steps(span, max_points):
        sampled = frame.resample(step).agg(rules).dropna(how="all")
        if len(sampled) <= max_points:
            return sampled
    raise AssertionError("unreachable: a bucket as long as the span gives one row")


def _bucket_steps(span: pd.Timedelta, max_points: int) -> Iterator[pd.Timedelta]:
    """Yield ever coarser bucket sizes, starting from the first nice one that could fit."""
    smallest = span / max_points
    yield from (step for step in _NICE_STEPS if step >= smallest)
    days = max(2, math.ceil(smallest / pd.Timedelta("1D")))
    while True:
        yield pd.Timedelta(days=days)
        days *= 2


def _candles_figure(symbol: str, frame: pd.DataFrame, trades: pd.DataFrame) -> go.Figure:
    candles = downsample_ohlcv(frame)
    figure = go.Figure(
        go.Candlestick(
            x=_utc(candles.index),
            open=candles["open"].to_numpy(dtype=float),
            high=candles["high"].to_numpy(dtype=float),
            low=candles["low"].to_numpy(dtype=float),
            close=candles["close"].to_numpy(dtype=float),
            name=symbol,
        )
    )
    mine = trades[trades["symbol"] == symbol] if len(trades) else trades
    for marker in _trade_markers(mine):
        figure.add_trace(marker)
    figure.update_layout(
        template=_TEMPLATE,
        height=_CANDLE_HEIGHT,
        margin={"l": 60, "r": 20, "t": 30, "b": 40},
        xaxis_rangeslider_visible=False,
        yaxis_title="price",
        legend={"orientation": "h"},
    )
    return figure


def _trade_markers(trades: pd.DataFrame) -> list[go.Scatter]:
    """Return marker traces: long entries (green up), short entries (red down), exits."""
    if len(trades) == 0:
        return []
    side = trades["side"].astype(str).str.lower()
    specs = (
        ("Long entries", trades[side == "long"], "entry", "triangle-up", "#2ca02c"),
        ("Short entries", trades[side == "short"], "entry", "triangle-down", "#d62728"),
        ("Exits", trades, "exit", "triangle-down", "#444444"),
    )
    markers = []
    for name, rows, kind, symbol, color in specs:
        rows = rows.dropna(subset=[f"{kind}_time", f"{kind}_price"])
        if len(rows) == 0:
            continue
        markers.append(
            go.Scatter(
                x=_utc(rows[f"{kind}_time"]),
                y=rows[f"{kind}_price"].to_numpy(dtype=float),
                mode="markers",
                name=f"{name} ({len(rows)})",
                marker={"symbol": symbol, "color": color, "size": 10},
                hovertext=_marker_text(rows, kind),
                hoverinfo="x+y+text",
            )
        )
    return markers


def _marker_text(rows: pd.DataFrame, kind: str) -> list[str]:
    if kind == "entry":
        still_open = rows["exit_time"].isna() if "exit_time" in rows else [False] * len(rows)
        return [
            f"{side} entry" + (" (open at the end)" if is_open else "")
            for side, is_open in zip(rows["side"].astype(str), still_open, strict=True)
        ]
    reasons = rows.get("exit_reason", pd.Series(["exit"] * len(rows), index=rows.index))
    return [
        f"{reason} pnl {pnl:.2f}"
        for reason, pnl in zip(reasons.astype(str), rows["pnl"].astype(float), strict=True)
    ]


def _equity_figure(equity: pd.DataFrame) -> go.Figure:
    sampled = downsample_equity(equity)
    x = _utc(sampled.index)
    figure = make_subplots(
        rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.04
    )
    figure.add_trace(
        go.Scatter(
            x=x,
            y=sampled["equity"].to_numpy(dtype=float),
            mode="lines",
            name="equity",
            line={"color": "#1f77b4"},
        ),
        row=1,
        col=1,
    )
    figure.add_trace(
        go.Scatter(
            x=x,
            y=sampled["drawdown"].to_numpy(dtype=float),
            mode="lines",
            name="drawdown",
            fill="tozeroy",
            line={"color": "#d62728"},
        ),
        row=2,
        col=1,
    )
    figure.update_layout(
        template=_TEMPLATE,
        height=_EQUITY_HEIGHT,
        margin={"l": 60, "r": 20, "t": 30, "b": 40},
        legend={"orientation": "h"},
    )
    figure.update_yaxes(title_text="equity", row=1, col=1)
    figure.update_yaxes(title_text="drawdown", tickformat=".1%", row=2, col=1)
    return figure


def _utc(values: pd.Index | pd.Series) -> pd.DatetimeIndex:
    index = pd.DatetimeIndex(pd.to_datetime(values, utc=True))
    return index.tz_convert("UTC")


def _figure_html(figure: go.Figure, div_id: str, height: int, include_plotlyjs: bool) -> str:
    return "".join(_chart_parts(figure, div_id, height, include_plotlyjs))


def _chart_parts(
    figure: go.Figure, div_id: str, height: int, include_plotlyjs: bool
) -> Iterator[str]:
    """A chart's HTML in pieces. With ``include_plotlyjs``, plotly.js (5 MB of text) is
    inlined before it in slices, once the figure's JSON is made: never both whole in memory."""
    fragment = pio.to_html(
        figure,
        full_html=False,
        include_plotlyjs=False,
        div_id=div_id,
        default_height=f"{height}px",
        config={"displaylogo": False},
    )
    yield '<div class="chart">'
    if include_plotlyjs:
        yield "<script>window.PlotlyConfig = {MathJaxConfig: 'local'};</script>\n<script>"
        script = get_plotlyjs()
        for start in range(0, len(script), _JS_SLICE):
            yield script[start : start + _JS_SLICE]
        del script
        yield "</script>\n"
    yield f"{fragment}</div>"


def _stats_table(stats: Mapping[str, object]) -> str:
    rows = [
        f'<tr><th>{html.escape(_label(key))}</th><td class="num">'
        f"{html.escape(format_stat(key, value))}</td></tr>"
        for key, value in stats.items()
    ]
    return '<table class="stats">\n' + "\n".join(rows) + "\n</table>"


def _counts_table(counts: Mapping[str, int]) -> str:
    rows = [
        f'<tr><th>{html.escape(str(name))}</th><td class="num">{int(count)}</td></tr>'
        for name, count in counts.items()
    ]
    return '<table class="counts">\n' + "\n".join(rows) + "\n</table>"


def _label(key: str) -> str:
    return _LABELS.get(key, key.replace("_", " ").capitalize())
