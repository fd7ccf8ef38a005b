"""Quote (top-of-book) data: ``timestamp,bid,bid_size,ask,ask_size``, validated like bars."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from genebot.core.errors import DataError

QUOTE_COLUMNS = ("bid", "bid_size", "ask", "ask_size")


@dataclass(frozen=True)
class QuoteData:
    frame: pd.DataFrame  # UTC DatetimeIndex "timestamp"; bid, bid_size, ask, ask_size (float64)
    source: str


def read_quotes(path: str | Path) -> QuoteData:
    """Read a quote CSV; one clear line naming the file and rows for any problem."""
    file = Path(path)
    if not file.is_file():
        raise DataError(f"{file}: quote file not found")
    try:
        raw = pd.read_csv(file)
    except (ValueError, OSError) as exc:
        raise DataError(f"{file}: cannot be read as CSV: {exc}") from None
    return quotes_from_frame(raw, name=str(file))


def quotes_from_frame(df: pd.DataFrame, *, name: str) -> QuoteData:
    frame = df.copy()
    frame.columns = [str(c).lower() for c in frame.columns]
    if "timestamp" in frame.columns:
        frame = frame.set_index("timestamp")
    missing = [c for c in QUOTE_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(
            f"{name}: missing columns {', '.join(missing)}; expected "
            "timestamp,bid,bid_size,ask,ask_size"
        )
    try:
        index = pd.DatetimeIndex(pd.to_datetime(frame.index, utc=True, format="ISO8601")).as_unit(
            "ns"
        )  # pandas may parse at µs resolution; the engine counts nanoseconds
    except (ValueError, TypeError) as exc:
        raise DataError(f"{name}: timestamps must be ISO-8601 UTC: {exc}") from None
    values = frame[list(QUOTE_COLUMNS)].apply(pd.to_numeric, errors="coerce").astype("float64")
    values.index = index.rename("timestamp")
    _validate(values, name)
    return QuoteData(values, name)


def _validate(frame: pd.DataFrame, name: str) -> None:
    problems = []
    ts = frame.index.asi8
    unsorted = np.flatnonzero(np.diff(ts) < 0) + 2
    if unsorted.size:
        problems.append(f"{unsorted.size} rows out of time order (rows {_rows(unsorted)})")
    bad = (
        np.flatnonzero(
            frame[["bid", "ask"]].isna().any(axis=1).to_numpy()
            | (frame["bid"] <= 0).to_numpy()
            | (frame["ask"] <= 0).to_numpy()
        )
        + 1
    )
    if bad.size:
        problems.append(f"{bad.size} rows with a missing or non-positive price (rows {_rows(bad)})")
    crossed = np.flatnonzero((frame["bid"] > frame["ask"]).to_numpy()) + 1
    if crossed.size:
        problems.append(f"{crossed.size} crossed quotes, bid > ask (rows {_rows(crossed)})")
    if problems:
        raise DataError(f"{name}: " + "; ".join(problems) + " (row 1 is the first data row)")


def _rows(rows: np.ndarray) -> str:
    return ", ".join(str(int(r)) for r in rows[:5]) + (" ..." if rows.size > 5 else "")
