"""A year of 1-minute bars written without holding it whole: equity.csv in chunks, the report
in pieces (plotly.js inlined once, in slices), the equity line and month ends without groupings
as long as the series. Each gives what the whole-series form gives; and the heap hands freed
large blocks back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from plotly.offline import get_plotlyjs

from genebot.backtest.result import TRADE_COLUMNS, iso_times, write_equity_csv
from genebot.core.memory import release_memory, steady_heap
from genebot.reporting import report_sections as rs
from genebot.reporting.report import MAX_POINTS, downsample_equity, render_report, write_report


def equity_frame(n: int, step: str, seed: int = 0, tz: str | None = "UTC") -> pd.DataFrame:
    index = pd.date_range("2023-12-30 22:00", periods=n, freq=step, tz=tz, unit="ns")
    rng = np.random.default_rng(seed)
    equity = 1e5 * np.exp(np.cumsum(rng.normal(0, 1e-3, n)))
    return pd.DataFrame(
        {
            "equity": equity,
            "drawdown": equity / np.maximum.accumulate(equity) - 1 if n else equity,
            "in_market": rng.random(n) > 0.5,
        },
        index=index,
    )


def whole_csv(equity: pd.DataFrame) -> str:
    """equity.csv as one ``to_csv`` of the whole frame (how it was written before)."""
    out = equity.copy()
    out.index = pd.Index(iso_times(out.index.asi8), name="timestamp")
    return out.to_csv(lineterminator="\n", float_format="%.8f")


@pytest.mark.parametrize(
    ("n", "step", "chunk"),
    [(0, "1min", 7), (1, "1min", 7), (1000, "1min", 7), (1000, "1min", 1000), (999, "1500ms", 64)],
)
def test_equity_csv_in_chunks_is_the_whole_frames_csv(
    tmp_path: Path, n: int, step: str, chunk: int
) -> None:
    equity = equity_frame(n, step)
    path = tmp_path / "equity.csv"
    write_equity_csv(equity, path, chunk=chunk)
    assert path.read_text() == whole_csv(equity)


def test_one_time_unit_for_the_whole_file(tmp_path: Path) -> None:
    """A fraction of a second in the last chunk: every row has microseconds, as one call gives."""
    equity = equity_frame(20, "1min")
    ns = equity.index.asi8.copy()
    ns[-1] += 1_000_000  # one millisecond
    equity.index = pd.to_datetime(ns, utc=True)
    path = tmp_path / "equity.csv"
    write_equity_csv(equity, path, chunk=5)
    lines = path.read_text().splitlines()
    assert lines[1].startswith("2023-12-30T22:00:00.000000Z")
    assert path.read_text() == whole_csv(equity)


def grouped_month_ends(values: pd.Series) -> pd.Series:
    return values.groupby([values.index.year, values.index.month]).last()


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 3000),
    step=st.sampled_from(["1min", "17min", "1h", "1D", "5D"]),
    tz=st.sampled_from(["UTC", None, "US/Eastern", "Asia/Tokyo"]),
    seed=st.integers(0, 10_000),
)
def test_month_ends_equal_pandas_groupby(n: int, step: str, tz: str | None, seed: int) -> None:
    values = equity_frame(n, step, seed, tz)["equity"]
    mine = rs._month_ends(values)
    assert mine.equals(grouped_month_ends(values))
    assert list(mine.index.dtypes) == list(grouped_month_ends(values).index.dtypes)


def test_month_ends_with_a_gap_in_the_values_fall_back_to_groupby() -> None:
    values = equity_frame(2000, "1h")["equity"]
    values.iloc[-3:] = np.nan  # the month's last value is its last non-missing one
    assert rs._month_ends(values).equals(grouped_month_ends(values))


def grouped_downsample(equity: pd.DataFrame, max_points: int = MAX_POINTS) -> pd.DataFrame:
    """The equity line's rows as the pandas groupby form chose them."""
    frame = equity[["equity", "drawdown"]].astype(float)
    n = len(frame)
    group = np.arange(n) * max(1, max_points // 5) // n
    rows = pd.DataFrame(
        {"g": group, "e": frame["equity"].to_numpy(), "d": frame["drawdown"].to_numpy()}
    )
    by = rows.groupby("g")
    keep = np.concatenate(
        [
            by["e"].idxmin().to_numpy(),
            by["e"].idxmax().to_numpy(),
            by["d"].idxmin().to_numpy(),
            np.flatnonzero(np.diff(group, prepend=-1)),
            np.flatnonzero(np.diff(group, append=group[-1] + 1)),
        ]
    )
    return frame.iloc[np.unique(keep)]


@pytest.mark.parametrize(("n", "seed"), [(MAX_POINTS + 1, 0), (20_000, 1), (525_600, 2)])
def test_downsampled_equity_keeps_the_same_rows_as_the_groupby(n: int, seed: int) -> None:
    equity = equity_frame(n, "1min", seed)
    equity.iloc[n // 3, 0] = equity["equity"].min() / 2  # ties and a crash
    equity.iloc[n // 2 : n // 2 + 50, 0] = equity["equity"].iloc[n // 2]
    assert downsample_equity(equity).equals(grouped_downsample(equity))


def report_inputs() -> dict[str, object]:
    equity = equity_frame(3000, "1min")
    close = equity["equity"] / 1000
    bars = pd.DataFrame(
        {"open": close, "high": close * 1.001, "low": close * 0.999, "close": close, "volume": 1.0},
        index=equity.index,
    )
    return {
        "title": "t",
        "bars": {"X/USDT": bars},
        "trades": pd.DataFrame(columns=TRADE_COLUMNS),
        "equity": equity,
        "stats": {"trades": 0},
    }


def test_written_report_is_the_rendered_page_with_plotlyjs_inlined_once(tmp_path: Path) -> None:
    inputs = report_inputs()
    page = write_report(tmp_path / "r.html", **inputs).read_text(encoding="utf-8")  # type: ignore[arg-type]
    assert page == render_report(**inputs)  # type: ignore[arg-type]
    script = get_plotlyjs()
    assert page.count(script) == 1  # whole, from its slices
    assert page.index(script) < page.index("Plotly.newPlot")  # loaded before any chart draws
    assert "<script src=" not in page


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096 / 2**20


def test_a_steady_heap_gives_freed_large_blocks_back() -> None:
    np.ones(3_000_000)  # a 24 MB block freed: glibc would now keep smaller ones in its heap
    steady_heap()
    release_memory()
    before = rss_mb()
    blocks, pins = [], []
    for _ in range(20):  # 320 MB in 16 MB blocks, each followed by a small block that stays
        blocks.append(np.ones(2_000_000))
        pins.append(np.ones(1_000))
    assert rss_mb() > before + 250
    del blocks  # no trim: unmapped as they are freed, though the small blocks stay between
    assert rss_mb() < before + 30
    assert len(pins) == 20


def test_a_released_result_writes_the_same_files_and_lets_its_order_log_go(
    tmp_path: Path,
) -> None:
    import genebot.backtest as bt
    from genebot.testkit import gbm_bars

    cfg = {
        "risk_management": {"enabled": False},
        "strategies": {
            "moving_average": {
                "parameters": {"short_period": 5, "long_period": 12},
                "symbols": ["SYN/USDT"],
                "timeframes": ["1m"],
            }
        },
    }
    kept, released = (bt.run(cfg, {"SYN/USDT": gbm_bars(3000)}) for _ in range(2))
    assert len(kept.order_log) > 20
    kept.write(tmp_path / "kept")
    released.write(tmp_path / "released", release=True)
    assert released.order_log == [] and len(kept.order_log) > 20
    for name in ("orders.csv", "trades.csv", "equity.csv", "stats.json", "report.html"):
        assert (tmp_path / "kept" / name).read_bytes() == (
            tmp_path / "released" / name
        ).read_bytes()
