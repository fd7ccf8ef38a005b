"""Checks on OHLCV bars: broken rows, duplicates, ordering and gaps.

Row numbers in every :class:`DataIssue` are the rows as the user sees them: 1 is the first data
row (for a CSV file, the line after the header, so row *n* is line *n + 1*; for a JSON file,
the first candle of the array; for an in-memory frame, the first row).

Broken rows (unreadable, NaN, non-positive price, OHLC inconsistent, negative volume) are found
first; duplicates are then looked for among the remaining rows, keeping the first occurrence in
file order. An unreadable row (a cell or timestamp the reader could not read; only the ``warn``
policy keeps such rows to report them) counts as that kind alone. Rows out of timestamp order
are reported with them (the run stops by default); the ``warn`` policy sorts them rather than
dropping them.

Forex files (every volume is zero) close at weekends. A missing bar whose open time falls in
the weekly window Friday 20:00 UTC to Sunday 23:00 UTC is therefore not counted as a gap in such
a file. The window is one hour wider on each side than the usual Friday 21:00 to Sunday
21:00/22:00 close, so that daylight-saving shifts and broker differences are covered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from genebot.core.errors import DataError
from genebot.core.time import NS_PER_SECOND, ns_to_iso

OHLCV_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "volume")
MAX_ROWS_SHOWN = 5

_HOUR_NS = 3600 * NS_PER_SECOND
_WEEK_NS = 7 * 24 * _HOUR_NS
# The epoch (1970-01-01) was a Thursday: Friday 20:00 is 44 h after it.
_WEEKEND_START_NS = 44 * _HOUR_NS
_WEEKEND_LENGTH_NS = 51 * _HOUR_NS  # Friday 20:00 to Sunday 23:00

_BROKEN_TEXT = {
    "unsorted": "rows out of timestamp order, earlier than a row above them",
    "duplicate": "rows repeating the timestamp of an earlier row",
    "unreadable": "rows with a value or timestamp that cannot be read",
    "nan": "rows with an empty, NaN or infinite value",
    "nonpositive_price": "rows with a price (open, high, low or close) <= 0",
    "ohlc_inconsistent": "rows with high < low, high < max(open, close) or low > min(open, close)",
    "negative_volume": "rows with volume < 0",
}
BROKEN_KINDS: tuple[str, ...] = tuple(_BROKEN_TEXT)

Int64Array = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class DataIssue:
    """One kind of problem found in a data set.

    ``count`` is the number of rows with the problem; for ``gap`` it is the number of missing
    bars. ``rows`` holds the first (up to five) user-visible row numbers (1-based data rows;
    for gaps, the row just after each gap). ``detail`` is a readable sentence without the source.
    """

    kind: str
    count: int
    rows: tuple[int, ...]
    detail: str


@dataclass(frozen=True)
class BrokenRows:
    """Result of :func:`find_broken_rows`: the issues and which rows are usable."""

    issues: list[DataIssue]
    keep: BoolArray  # True for rows that are neither broken nor a later duplicate


def row_note(source: str) -> str:
    """How row numbers count for this source, for error messages."""
    lower = source.lower()
    if lower.endswith((".csv", ".csv.gz")):
        return "row 1 is the first line after the header"
    if lower.endswith((".json", ".json.gz")):
        return "row 1 is the first candle"
    return "row 1 is the first row"


def _rows_text(rows: Sequence[int], count: int) -> str:
    shown = ", ".join(str(r) for r in rows)
    more = ", ..." if count > len(rows) else ""
    word = "row" if count == 1 else "rows"
    return f"{word} {shown}{more}"


def _sentence(kind: str, count: int, rows: Sequence[int], note: str = "") -> str:
    text = _BROKEN_TEXT[kind]
    if count == 1:
        text = text.replace("rows", "row", 1)
    where = _rows_text(rows, count) + (f"; {note}" if note else "")
    return f"{count} {text} ({where})"


def _issue(kind: str, mask: BoolArray, row_numbers: Int64Array) -> DataIssue | None:
    count = int(mask.sum())
    if count == 0:
        return None
    rows = tuple(int(r) for r in row_numbers[mask][:MAX_ROWS_SHOWN])
    return DataIssue(kind, count, rows, _sentence(kind, count, rows))


def find_broken_rows(
    ts: Int64Array,
    values: FloatArray,
    row_numbers: Int64Array | None = None,
    unreadable: BoolArray | None = None,
) -> BrokenRows:
    """Find every broken kind in file order.

    ``ts`` are nanosecond timestamps, ``values`` an (n, 5) array of open, high, low, close,
    volume, ``row_numbers`` the user-visible row of each (default 1..n). ``unreadable`` marks
    rows with a value or timestamp that could not be read: their numbers and time mean nothing,
    so they count as ``unreadable`` only and no other row is out of order behind them.
    """
    n = len(ts)
    if row_numbers is None:
        row_numbers = np.arange(1, n + 1, dtype=np.int64)
    masks = _value_masks(values)
    if unreadable is not None:
        masks = {kind: mask & ~unreadable for kind, mask in masks.items()}
        masks["unreadable"] = unreadable
        ts = np.where(unreadable, np.iinfo(np.int64).min, ts)  # raises no running maximum
    broken = np.zeros(n, dtype=bool)
    for mask in masks.values():
        broken |= mask
    valid = ~broken
    unsorted = np.zeros(n, dtype=bool)
    if n > 1:
        unsorted[1:] = ts[1:] < np.maximum.accumulate(ts)[:-1]
    if unreadable is not None:
        unsorted &= ~unreadable
    duplicate = np.zeros(n, dtype=bool)
    kept = ts[valid]
    if unsorted.any():
        duplicate[valid] = pd.Index(kept).duplicated(keep="first")
    elif len(kept) > 1:  # in time order a repeat follows its first: compare neighbours
        repeat = np.zeros(len(kept), dtype=bool)
        repeat[1:] = kept[1:] == kept[:-1]
        duplicate[valid] = repeat
    masks |= {"unsorted": unsorted, "duplicate": duplicate}
    issues = [
        issue
        for kind in BROKEN_KINDS
        if kind in masks and (issue := _issue(kind, masks[kind], row_numbers)) is not None
    ]
    return BrokenRows(issues, valid & ~duplicate)


def _value_masks(values: FloatArray) -> dict[str, BoolArray]:
    """The rows of each value kind (nan, nonpositive_price, ohlc_inconsistent, negative_volume)."""
    o, h, lo, c, v = (values[:, i] for i in range(5))
    # Column by column (row-wise reductions over an (n, 5) array are five times slower).
    finite = np.isfinite(o)
    for column in (h, lo, c, v):
        finite &= np.isfinite(column)
    with np.errstate(invalid="ignore"):
        nonpositive: BoolArray = o <= 0
        for column in (h, lo, c):
            nonpositive |= column <= 0
        inconsistent: BoolArray = (h < lo) | (h < np.maximum(o, c)) | (lo > np.minimum(o, c))
        negative_volume: BoolArray = v < 0
    return {
        "nan": ~finite,
        "nonpositive_price": nonpositive,
        "ohlc_inconsistent": inconsistent,
        "negative_volume": negative_volume,
    }


def _weekend_slots(first: int, end: int, step: int) -> int:
    """How many of the slots ``first, first + step, ... < end`` fall in a forex weekend."""
    count = 0
    week = (first - _WEEKEND_START_NS) // _WEEK_NS
    while True:
        start = _WEEKEND_START_NS + week * _WEEK_NS
        if start >= end:
            return count
        lo, hi = max(first, start), min(end, start + _WEEKEND_LENGTH_NS)
        if hi > lo:
            count += -((first - hi) // step) - (-((first - lo) // step))
        week += 1


def format_duration(ns: int) -> str:
    """Compact duration text such as ``2d3h`` or ``4h45m``."""
    seconds = ns // NS_PER_SECOND
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


def find_gaps(
    ts: Int64Array,
    timeframe_ns: int,
    *,
    forex: bool = False,
    row_numbers: Int64Array | None = None,
) -> DataIssue | None:
    """A ``gap`` issue for sorted unique ``ts`` with steps above ``timeframe_ns``, or None.

    With ``forex=True`` missing bars inside the weekend close are not counted (module doc).
    """
    if len(ts) < 2:
        return None
    if row_numbers is None:
        row_numbers = np.arange(1, len(ts) + 1, dtype=np.int64)
    steps = np.diff(ts)
    where = np.flatnonzero(steps > timeframe_ns)
    missing = (steps[where] - 1) // timeframe_ns
    if forex:
        for j, i in enumerate(where):
            missing[j] -= _weekend_slots(int(ts[i]) + timeframe_ns, int(ts[i + 1]), timeframe_ns)
        where, missing = where[missing > 0], missing[missing > 0]
    if len(where) == 0:
        return None
    big = int(where[np.argmax(steps[where])])
    total = int(missing.sum())
    rows = tuple(int(r) for r in row_numbers[where + 1][:MAX_ROWS_SHOWN])
    plural = "gap" if len(where) == 1 else "gaps"
    detail = (
        f"{len(where)} {plural} with {total} missing bars "
        f"(before {_rows_text(rows, len(where))}); largest "
        f"{format_duration(int(steps[big]))} from {ns_to_iso(int(ts[big]))} "
        f"to {ns_to_iso(int(ts[big + 1]))}"
    )
    if forex:
        detail += "; forex weekend closes (Fri 20:00 to Sun 23:00 UTC) not counted"
    return DataIssue("gap", total, rows, detail)


def looks_like_forex(values: FloatArray) -> bool:
    """True when every volume is zero: forex quote data has no volume."""
    return len(values) > 0 and bool((values[:, 4] == 0).all())


# What on_broken='warn' does to each kind, for the hint in error messages.
_WARN_DOES = {"unsorted": "sorts them", "duplicate": "keeps the first of each"}


def issue_line(issue: DataIssue, source: str) -> str:
    """One line for an error message: source, what is wrong, where, and what to do (the
    option is ``on_broken``/``on_gap``: backtest config keys, --on-broken/--on-gap flags)."""
    if issue.kind == "gap":
        return (
            f"{source}: {issue.detail} ({row_note(source)}); "
            "fill the gaps, or set on_gap to warn or ignore"
        )
    sentence = _sentence(issue.kind, issue.count, issue.rows, row_note(source))
    does = _WARN_DOES.get(issue.kind, "drops them")
    return f"{source}: {sentence}; fix the data, or set on_broken to warn ({does})"


# What the warn policy did about each kind (gaps: nothing, the bars stay missing).
_DONE = {"unsorted": "sorted into place", "duplicate": "dropped, the first kept", "gap": ""}


def warning_line(issue: DataIssue, source: str) -> str:
    """One line for an issue that was recorded, not raised: what, where, and what was done."""
    done = _DONE.get(issue.kind, "dropped")
    return f"{source}: {issue.detail}" + (f": {done}" if done else "")


def raise_for_issues(issues: Sequence[DataIssue], source: str) -> None:
    """Raise one :class:`DataError` listing every issue, one line each (no-op when empty)."""
    if issues:
        raise DataError("\n".join(issue_line(i, source) for i in issues))


def frame_arrays(df: pd.DataFrame, source: str) -> tuple[Int64Array, FloatArray]:
    """Nanosecond timestamps and an (n, 5) float array from a frame in file order.

    Timestamps come from a ``DatetimeIndex`` or a datetime ``timestamp`` column (naive means UTC).
    """
    if "timestamp" in df.columns:
        stamps = pd.DatetimeIndex(df["timestamp"])
    elif isinstance(df.index, pd.DatetimeIndex):
        stamps = df.index
    else:
        raise DataError(
            f"{source}: no timestamps; allowed: a DatetimeIndex or a 'timestamp' column"
        )
    missing = [c for c in OHLCV_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(f"{source}: missing columns {', '.join(missing)}")
    if stamps.tz is not None:
        stamps = stamps.tz_convert("UTC")
    ts = stamps.as_unit("ns").asi8.astype(np.int64, copy=False)
    values = df[list(OHLCV_COLUMNS)].to_numpy(dtype=np.float64)
    return ts, values


def validate_ohlcv(df: pd.DataFrame, *, source: str, timeframe_ns: int | None) -> list[DataIssue]:
    """Every problem in ``df`` (in file order): broken kinds, then gaps when a timeframe is given.

    ``df`` has a ``DatetimeIndex`` (or ``timestamp`` column) and the five OHLCV columns.
    Gaps are measured on the usable rows after sorting; forex weekends are excused when every
    volume is zero.
    """
    ts, values = frame_arrays(df, source)
    broken = find_broken_rows(ts, values)
    issues = list(broken.issues)
    if timeframe_ns is not None:
        rows = np.flatnonzero(broken.keep).astype(np.int64) + 1
        order = np.argsort(ts[broken.keep], kind="stable")
        gap = find_gaps(
            ts[broken.keep][order],
            timeframe_ns,
            forex=looks_like_forex(values[broken.keep]),
            row_numbers=rows[order],
        )
        if gap is not None:
            issues.append(gap)
    return issues
