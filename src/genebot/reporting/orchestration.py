"""Report pieces of an orchestrated backtest: sleeves over time, allocation over time, the
strategy correlation heatmap and the attribution table; and the CSV files behind them."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Protocol

import pandas as pd
import plotly.graph_objects as go

from genebot.reporting.report import downsample_equity

_TEMPLATE = "plotly_white"


class OrchestrationFrames(Protocol):
    allocations: pd.DataFrame
    attribution: pd.DataFrame
    sleeves: pd.DataFrame
    correlation: pd.DataFrame
    interventions: pd.DataFrame


def write_orchestration(out: Path, frames: OrchestrationFrames) -> list[Path]:
    """allocations.csv, attribution.csv, sleeves.csv, correlation.csv, interventions.csv."""
    paths = []
    for name, frame, index in (
        ("allocations.csv", frames.allocations, False),
        ("attribution.csv", frames.attribution, False),
        ("correlation.csv", frames.correlation, True),
        ("interventions.csv", frames.interventions, False),
    ):
        path = out / name
        frame.to_csv(path, index=index, lineterminator="\n", float_format="%.10g")
        paths.append(path)
    sleeves = frames.sleeves.copy()
    sleeves.index = _iso(sleeves.index)
    sleeves.index.name = "timestamp"
    path = out / "sleeves.csv"
    sleeves.to_csv(path, lineterminator="\n", float_format="%.8f")
    paths.append(path)
    return paths


def orchestration_sections(frames: OrchestrationFrames) -> list[tuple[str, object]]:
    """(heading, figure or HTML) for the report, in order."""
    return [
        ("Attribution", _attribution_table(frames.attribution)),
        ("Sleeves (equity per strategy)", _sleeves_figure(frames.sleeves)),
        ("Allocation over time", _allocation_figure(frames.allocations)),
        ("Strategy correlation (daily returns)", _heatmap(frames.correlation)),
    ]


def _sleeves_figure(sleeves: pd.DataFrame) -> go.Figure:
    figure = go.Figure()
    for name in sleeves.columns:
        sampled = downsample_equity(sleeves[[name]].rename(columns={name: "equity"}))
        figure.add_trace(
            go.Scatter(x=sampled.index, y=sampled["equity"], mode="lines", name=str(name))
        )
    figure.update_layout(template=_TEMPLATE, legend={"orientation": "h"}, yaxis_title="equity")
    return figure


def _allocation_figure(allocations: pd.DataFrame) -> go.Figure:
    figure = go.Figure()
    if not allocations.empty:
        wide = allocations.pivot_table(
            index="timestamp", columns="strategy", values="weight", aggfunc="last"
        ).sort_index()
        x = pd.to_datetime(wide.index, utc=True)
        for name in wide.columns:
            figure.add_trace(
                go.Scatter(
                    x=x, y=wide[name], mode="lines", stackgroup="w", name=str(name),
                    line={"shape": "hv"},
                )
            )  # fmt: skip
    figure.update_layout(
        template=_TEMPLATE, legend={"orientation": "h"}, yaxis={"tickformat": ".0%"}
    )
    return figure


def _heatmap(correlation: pd.DataFrame) -> go.Figure:
    names = [str(c) for c in correlation.columns]
    figure = go.Figure(
        go.Heatmap(
            z=correlation.to_numpy(dtype=float), x=names, y=names, zmin=-1, zmax=1,
            colorscale="RdBu", reversescale=True, texttemplate="%{z:.2f}",
        )
    )  # fmt: skip
    figure.update_layout(template=_TEMPLATE)
    return figure


def _attribution_table(attribution: pd.DataFrame) -> str:
    columns = ["strategy", "pnl", "contribution", "return_on_capital", "sharpe", "trades"]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    rows = []
    for _, row in attribution.iterrows():
        cells = [
            html.escape(str(row["strategy"])),
            f"{float(row['pnl']):,.2f}",
            f"{float(row['contribution']):.2%}",
            f"{float(row['return_on_capital']):.2%}",
            f"{float(row['sharpe']):.2f}",
            str(int(row["trades"])),
        ]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f'<table class="counts"><tr>{head}</tr>' + "".join(rows) + "</table>"


def _iso(index: pd.Index) -> list[str]:
    utc = pd.DatetimeIndex(pd.to_datetime(index, utc=True))
    return [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in utc]
