"""The report's trader sections: the risk summary (and the halted periods shaded on the
equity chart), a sortable, filterable trades table, the monthly returns heatmap, and per-symbol
and per-strategy breakdowns. Pure functions of the result's frames; HTML escaped; no network."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from decimal import Decimal

import numpy as np
import pandas as pd
import plotly.graph_objects as go

MAX_TRADE_ROWS = 2_000
"""Rows of the trades table in the page (the first and last halves beyond that: trades.csv
holds every one)."""
_SHADE = {"halted": "rgba(214, 39, 40, 0.14)", "reducing": "rgba(255, 159, 28, 0.16)"}
_TRADE_COLUMNS = (
    "strategy", "symbol", "side", "entry_time", "entry_price", "exit_time", "exit_price",
    "quantity", "pnl", "pnl_pct", "fees", "exit_reason",
)  # fmt: skip
_NUMERIC = {"entry_price", "exit_price", "quantity", "pnl", "pnl_pct", "fees"}
SORT_SCRIPT = """
<script>
(function () {
  function cell(row, i) {
    return row.children[i].getAttribute('data-v') || row.children[i].textContent;
  }
  document.querySelectorAll('table.sortable').forEach(function (table) {
    table.querySelectorAll('th').forEach(function (th, i) {
      th.style.cursor = 'pointer';
      th.addEventListener('click', function () {
        var body = table.tBodies[0], rows = Array.from(body.rows);
        var asc = th.getAttribute('data-dir') !== 'asc';
        table.querySelectorAll('th').forEach(function (h) { h.removeAttribute('data-dir'); });
        th.setAttribute('data-dir', asc ? 'asc' : 'desc');
        var numeric = th.classList.contains('num');
        rows.sort(function (a, b) {
          var x = cell(a, i), y = cell(b, i);
          var d = numeric ? parseFloat(x) - parseFloat(y) : x.localeCompare(y);
          return asc ? d : -d;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
  document.querySelectorAll('input.filter').forEach(function (box) {
    var table = document.getElementById(box.getAttribute('data-table'));
    box.addEventListener('input', function () {
      var q = box.value.toLowerCase();
      Array.from(table.tBodies[0].rows).forEach(function (r) {
        r.style.display = r.textContent.toLowerCase().indexOf(q) >= 0 ? '' : 'none';
      });
    });
  });
})();
</script>
"""


# -- risk -------------------------------------------------------------------------------------
def risk_section(summary: Mapping[str, object] | None) -> str:
    """The risk summary: warnings first, then one row per rule that halted, resized or denied."""
    rules = list(summary.get("rules") or []) if summary else []  # type: ignore[call-overload]
    if not rules:
        return "<p>The risk engine denied, resized and halted nothing.</p>"
    parts = [
        f'<p class="warning"><strong>Warning:</strong> {html.escape(str(w))}</p>'
        for w in summary.get("warnings") or []  # type: ignore[union-attr]
    ]
    total, denied = summary.get("orders_total", 0), summary.get("orders_denied", 0)  # type: ignore[union-attr]
    parts.append(f"<p>{denied} of {total} orders that add exposure were denied.</p>")
    head = ("rule", "first fired", "fired", "denied", "resized", "reset", "resets", "reset by")
    keys = (
        "rule",
        "first_fired",
        "fired",
        "denied",
        "resized",
        "reset_policy",
        "resets",
        "reset_by",
    )
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(r.get(k)))}</td>" for k in keys) + "</tr>"
        for r in rules
    )
    header = "".join(f"<th>{h}</th>" for h in head)
    parts.append(
        f'<table id="genebot-risk"><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>'
    )
    return "\n".join(parts)


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def shade_halts(figure: go.Figure, summary: Mapping[str, object] | None, end: object) -> int:
    """Shade each halted (red) or reducing (amber) period on ``figure``; returns how many."""
    periods = list(summary.get("halted_periods") or []) if summary else []  # type: ignore[call-overload]
    for p in periods:
        figure.add_vrect(
            x0=pd.Timestamp(p["start"]),
            x1=pd.Timestamp(p["end"]) if p["end"] else end,
            fillcolor=_SHADE.get(p["state"], _SHADE["halted"]),
            line_width=0,
            layer="below",
            annotation_text=f"{p['state']}: {p['rule']}",
            annotation_position="top left",
            annotation_font_size=10,
        )
    return len(periods)


# -- trades -----------------------------------------------------------------------------------
def _text(value: object, col: str = "") -> str:
    if col == "pnl_pct" and isinstance(value, Decimal | float):
        return f"{Decimal(str(value)) * 100:.4f}%"  # a fraction, shown in percent
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value)


def trades_table(trades: pd.DataFrame) -> str:
    """Every closed trade (up to ``MAX_TRADE_ROWS``), sortable by any column, filterable."""
    closed = trades[trades["exit_time"].notna()] if "exit_time" in trades else trades
    if closed.empty:
        return "<p>No closed trades.</p>"
    cols = [c for c in _TRADE_COLUMNS if c in closed.columns]
    shown = closed
    note = ""
    if len(closed) > MAX_TRADE_ROWS:
        half = MAX_TRADE_ROWS // 2
        shown = pd.concat([closed.iloc[:half], closed.iloc[-half:]])
        note = (
            f"<p>{len(closed):,} trades: the first and last {half:,} are shown "
            "(all are in trades.csv).</p>"
        )
    header = "".join(
        f'<th class="num">{c}</th>' if c in _NUMERIC else f"<th>{c}</th>" for c in cols
    )
    rows = []
    for values in shown[cols].itertuples(index=False):
        cells = []
        for col, value in zip(cols, values, strict=True):
            text = html.escape(_text(value, col))
            raw = html.escape(_text(value))
            cls = ' class="num"' if col in _NUMERIC else ""
            cells.append(f'<td{cls} data-v="{raw}">{text}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (
        note + '<input class="filter" data-table="genebot-trades" placeholder="filter: symbol, '
        'strategy, reason…">\n'
        + f'<table id="genebot-trades" class="sortable"><thead><tr>{header}</tr></thead>'
        + f"<tbody>{''.join(rows)}</tbody></table>"
    )


# -- monthly returns --------------------------------------------------------------------------
def monthly_returns(equity: pd.Series) -> pd.DataFrame:
    """Year × month returns from month-end equity (the first month against the first equity),
    plus a ``year`` column: the compounded year."""
    values = equity.astype(float)
    ends = _month_ends(values)
    previous = ends.shift(1)
    previous.iloc[0] = float(values.iloc[0])
    returns = ends / previous - 1.0
    table = returns.unstack(level=1).reindex(columns=range(1, 13))
    table.index.name, table.columns.name = "year", "month"
    table["year"] = (1 + table[list(range(1, 13))].fillna(0.0)).prod(axis=1) - 1
    return table


def _month_ends(values: pd.Series) -> pd.Series:
    """Each (year, month)'s last value. A sorted series without gaps in its values (equity
    curves) is cut where the month changes, without a grouping as long as the series; anything
    else goes through pandas' groupby (its last non-missing value)."""
    index = pd.DatetimeIndex(values.index)
    data = values.to_numpy()
    if not (index.is_monotonic_increasing and len(data)) or np.isnan(data).any():
        return values.groupby([index.year, index.month]).last()
    months = index.tz_localize(None) if index.tz is not None else index  # its wall time
    month = months.to_numpy().astype("datetime64[M]").astype(np.int64)
    last = np.append(np.flatnonzero(month[1:] != month[:-1]), len(month) - 1)
    keys = month[last]
    levels = pd.MultiIndex.from_arrays(
        [(1970 + keys // 12).astype(np.int32), (keys % 12 + 1).astype(np.int32)]
    )
    return pd.Series(data[last], index=levels, name=values.name)


def monthly_heatmap(equity: pd.Series) -> go.Figure:
    table = monthly_returns(equity)
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    z = table[list(range(1, 13))].to_numpy() * 100
    text = [[("" if np.isnan(v) else f"{v:.2f}%") for v in row] for row in z]
    figure = go.Figure(
        go.Heatmap(
            z=z,
            x=months,
            y=[str(y) for y in table.index],
            text=text,
            texttemplate="%{text}",
            colorscale="RdYlGn",
            zmid=0,
            colorbar={"title": "%"},
            hoverongaps=False,
        )
    )
    totals = ", ".join(f"{y}: {v:.2%}" for y, v in table["year"].items())
    figure.update_layout(title=f"Monthly returns (year: {totals})", template="plotly_white")
    return figure


# -- breakdowns -------------------------------------------------------------------------------
def breakdown(trades: pd.DataFrame, by: str) -> pd.DataFrame:
    """Per ``by`` (symbol or strategy): trades, win rate, net pnl, fees, avg pnl %, profit
    factor, best and worst trade %."""
    closed = trades[trades["exit_time"].notna()] if "exit_time" in trades else trades
    rows = []
    for key, group in closed.groupby(by, sort=True):
        pnl = group["pnl"].astype(float)
        wins, losses = pnl[pnl > 0].sum(), -pnl[pnl < 0].sum()
        pct = group["pnl_pct"].astype(float)
        rows.append(
            {
                by: key,
                "trades": len(group),
                "win_rate": float((pnl > 0).mean()),
                "net_pnl": float(pnl.sum()),
                "fees": float(group["fees"].astype(float).sum()),
                "avg_pnl_pct": float(pct.mean()),
                "profit_factor": float(wins / losses) if losses > 0 else None,
                "best_pct": float(pct.max()),
                "worst_pct": float(pct.min()),
            }
        )
    return pd.DataFrame(rows)


def breakdown_table(trades: pd.DataFrame, by: str) -> str:
    frame = breakdown(trades, by)
    if frame.empty:
        return "<p>No closed trades.</p>"
    fmt = {
        "win_rate": "{:.2%}", "net_pnl": "{:,.2f}", "fees": "{:,.2f}", "avg_pnl_pct": "{:.3%}",
        "profit_factor": "{:.3f}", "best_pct": "{:.2%}", "worst_pct": "{:.2%}",
    }  # fmt: skip
    header = "".join(f"<th>{c}</th>" for c in frame.columns)
    body = []
    for row in frame.to_dict("records"):
        cells = []
        for col, value in row.items():
            text = "" if value is None else fmt.get(col, "{}").format(value)
            cells.append(f"<td>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table class="sortable" id="genebot-by-{by}"><thead><tr>{header}</tr></thead><tbody>{"".join(body)}</tbody></table>'  # noqa: E501


def trader_sections(trades: pd.DataFrame) -> Sequence[tuple[str, str]]:
    return [
        ("Trades", trades_table(trades)),
        ("By symbol", breakdown_table(trades, "symbol")),
        ("By strategy", breakdown_table(trades, "strategy")),
    ]
