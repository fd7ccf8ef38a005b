"""Historical OHLCV readers: CSV (plain or gzip), Parquet and freqtrade JSON candles.

Every reader returns :class:`OhlcvData`: a frame indexed by a UTC ``DatetimeIndex`` named
``timestamp`` with float64 columns ``open, high, low, close, volume``, sorted and unique.

Accepted formats, chosen by suffix:

- ``.csv`` / ``.csv.gz``: header ``timestamp,open,high,low,close,volume`` (any case, extra
  columns ignored); ``timestamp`` is ISO-8601 (``2021-04-20T20:42:00Z``; without an offset it
  is taken as UTC) or integer epoch milliseconds, detected per file.
- ``.parquet``: the same columns; the timestamps may instead be the index.
- ``.json`` / ``.json.gz``: freqtrade candles, an array of ``[epoch_ms, o, h, l, c, v]``.

Row numbers in messages and issues are the user's (see :mod:`genebot.data.validation`); blank
lines in a CSV file count, so row *n* is always line *n + 1*.

Problems are checked by :mod:`genebot.data.validation`. ``on_broken`` decides what happens to
broken rows (see there): ``"fail"`` raises one :class:`DataError` listing every problem kind,
``"warn"`` and its alias ``"drop"`` sort, drop duplicates (first kept) and broken rows, and
record them in ``OhlcvData.issues``; a value or timestamp that cannot be read is then one more
broken kind, ``unreadable``, rather than an error (unless no timestamp at all can be read: that
is a format the reader does not know, and dropping every row would hide it). ``on_gap`` does
the same for gaps (``"warn"`` records, ``"fail"`` raises, ``"ignore"`` does neither). Nothing is
logged here: the caller decides how to show ``issues``.
"""

from __future__ import annotations

import gzip
import io
import json
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from genebot.core.errors import DataError, InputError
from genebot.core.time import NS_PER_SECOND, ns_to_timeframe, timeframe_to_ns
from genebot.data.timeindex import utc_index
from genebot.data.validation import (
    OHLCV_COLUMNS,
    BoolArray,
    DataIssue,
    FloatArray,
    Int64Array,
    find_broken_rows,
    find_gaps,
    format_duration,
    looks_like_forex,
    raise_for_issues,
    row_note,
)

OnBroken = Literal["fail", "warn", "drop"]
OnGap = Literal["fail", "warn", "ignore"]

SUFFIXES: tuple[str, ...] = (".csv", ".csv.gz", ".parquet", ".json", ".json.gz")
_HEADER = "timestamp," + ",".join(OHLCV_COLUMNS)
_TS_ALLOWED = "allowed: ISO-8601 UTC such as 2021-04-20T20:42:00Z, or integer epoch milliseconds"
# Epoch milliseconds between 1973 and 5138: smaller values are seconds, larger are us or ns.
_MS_RANGE = (10**11, 10**14)


@dataclass(frozen=True)
class OhlcvData:
    """Validated bars of one symbol and timeframe.

    ``frame``: UTC ``DatetimeIndex`` named ``timestamp`` (datetime64[ns, UTC]), float64 columns
    open, high, low, close, volume; sorted and unique. ``timeframe``: given or inferred (most
    common step). ``source``: the file path as text or the name of in-memory data.
    ``issues``: the problems that were recorded instead of raised.
    """

    frame: pd.DataFrame
    timeframe: str
    source: str
    issues: tuple[DataIssue, ...]


@dataclass(frozen=True)
class _Bars:
    """Bars as read, in file order, not yet validated."""

    ts: Int64Array
    values: FloatArray  # (n, 5): open, high, low, close, volume
    unreadable: BoolArray | None = None  # rows with a value or timestamp that cannot be read
    rows: Int64Array | None = None  # user-visible row numbers when not 1..n (CSV blank lines)
    like: pd.DataFrame | None = None  # the frame ``values`` is a view of (no copy made)


def read_ohlcv(
    path: str | Path,
    *,
    timeframe: str | None = None,
    on_broken: OnBroken = "fail",
    on_gap: OnGap = "warn",
) -> OhlcvData:
    """Read and validate an OHLCV file (format by suffix; see the module doc)."""
    _check_options(timeframe, on_broken, on_gap)
    source = str(path)
    path = Path(path)
    suffix = data_suffix(path)
    if suffix is None:
        raise DataError(
            f"{source}: unknown data file type {''.join(path.suffixes) or '(none)'!r}; "
            f"allowed: {', '.join(SUFFIXES)}"
        )
    if not path.is_file():
        what = "is a directory, not a file" if path.is_dir() else "file not found"
        raise DataError(f"{source}: {what}")
    keep_bad = on_broken != "fail"
    try:
        if suffix in (".csv", ".csv.gz"):
            bars = _read_csv(path, source, keep_bad)
        elif suffix == ".parquet":
            bars = _frame_to_arrays(pd.read_parquet(path), source, keep_bad)
        else:
            bars = _read_json(path, source, keep_bad)
    except (OSError, EOFError, ValueError, zlib.error) as exc:  # DataError is not among these
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{source}: cannot read the file as {suffix}: {reason}") from None
    return _finish(bars, source, timeframe, on_broken, on_gap)


def infer_timeframe(path: str | Path) -> str:
    """The timeframe of an OHLCV file's bars (its most common step), read as
    :func:`read_ohlcv` reads it; broken rows do not count and gaps are not checked."""
    return read_ohlcv(path, on_broken="warn", on_gap="ignore").timeframe


def ohlcv_from_frame(
    df: pd.DataFrame,
    *,
    name: str,
    timeframe: str | None = None,
    on_broken: OnBroken = "fail",
    on_gap: OnGap = "warn",
) -> OhlcvData:
    """Validate in-memory bars like :func:`read_ohlcv`.

    ``df`` has a ``DatetimeIndex`` (naive means UTC) or a ``timestamp`` column (datetimes,
    ISO text or epoch ms) and open/high/low/close/volume columns, any case. ``df`` is not changed.
    A clean frame of float64 OHLCV columns in that order is not copied: the result shares its
    numbers copy-on-write (a later change to either frame leaves the other as it was).
    """
    _check_options(timeframe, on_broken, on_gap)
    if not isinstance(df, pd.DataFrame):
        raise DataError(
            f"{name}: a {type(df).__name__} is not bars; allowed: a pandas DataFrame of "
            "open, high, low, close, volume with a UTC DatetimeIndex"
        )
    bars = _frame_to_arrays(df, name, on_broken != "fail")
    return _finish(bars, name, timeframe, on_broken, on_gap)


def data_suffix(path: Path) -> str | None:
    """The recognised suffix of ``path`` (``.csv.gz`` counts as one), or None."""
    name = path.name.lower()
    return next((s for s in sorted(SUFFIXES, key=len, reverse=True) if name.endswith(s)), None)


def _check_options(timeframe: str | None, on_broken: str, on_gap: str) -> None:
    if on_broken not in ("fail", "warn", "drop"):
        raise InputError(f"on_broken={on_broken!r} is not valid; allowed: 'fail', 'warn', 'drop'")
    if on_gap not in ("fail", "warn", "ignore"):
        raise InputError(f"on_gap={on_gap!r} is not valid; allowed: 'fail', 'warn', 'ignore'")
    if timeframe is not None:
        timeframe_to_ns(timeframe)


def _column_map(
    columns: pd.Index, source: str, required: tuple[str, ...] = OHLCV_COLUMNS
) -> dict[str, Any]:
    """Map each lower-case column name to the frame's own label; name any required ones missing."""
    found: dict[str, Any] = {}
    for label in columns:
        found.setdefault(str(label).strip().lower(), label)
    missing = [c for c in required if c not in found]
    if missing:
        shown = ", ".join(str(c) for c in columns) or "none"
        raise DataError(
            f"{source}: missing columns {', '.join(missing)} (found: {shown}); "
            f"allowed header: {_HEADER}"
        )
    return found


def _read_csv(path: Path, source: str, keep_bad: bool) -> _Bars:
    try:
        header = pd.read_csv(path, nrows=0, engine="c")
    except pd.errors.EmptyDataError:
        raise DataError(f"{source}: the file is empty; expected the header {_HEADER}") from None
    found = _column_map(header.columns, source, ("timestamp", *OHLCV_COLUMNS))
    skip = _lines_before_header(path)
    try:
        df = _read_csv_body(path, found, skip, np.float64)
    except ValueError:  # a cell that is not a number: read as text, _frame_to_arrays finds it
        df = _read_csv_body(path, found, skip, str)
    # Blank lines are rows here (read_csv would skip them and every later row number would be
    # off by one per blank line): row i is line skip + i + 2, that is row skip + i + 1.
    rows = np.arange(skip + 1, skip + 1 + len(df), dtype=np.int64) if skip else None
    blank = _blank_rows(path, df, found, skip)
    if blank is not None:
        df, rows = df[~blank], np.flatnonzero(~blank).astype(np.int64) + skip + 1
    return _frame_to_arrays(df, source, keep_bad, rows)


def _read_csv_body(path: Path, found: dict[str, Any], skip: int, dtype: type) -> pd.DataFrame:
    names = [found["timestamp"], *(found[c] for c in OHLCV_COLUMNS)]
    return pd.read_csv(
        path,
        engine="c",
        usecols=names,
        dtype={found[c]: dtype for c in OHLCV_COLUMNS},
        skiprows=skip,
        skip_blank_lines=False,
    )


def _open_binary(path: Path) -> io.BufferedIOBase:
    return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb")


def _lines_before_header(path: Path) -> int:
    """How many blank lines come before the header (read_csv skips them to find it)."""
    with _open_binary(path) as handle:
        return next((i for i, line in enumerate(handle) if line.strip()), 0)


def _blank_rows(path: Path, df: pd.DataFrame, found: dict[str, Any], skip: int) -> BoolArray | None:
    """The rows of ``df`` that are blank lines (empty or only spaces, tabs and "\\r"), or None.

    A blank line reads as a row of missing cells, like a line of only commas (a broken row, not
    to be skipped): only the file's lines tell them apart, so it is read again only then.
    """
    empty = df[found["open"]].isna().to_numpy()  # one cheap test: a clean file stops here
    if not empty.any():
        return None
    for name in OHLCV_COLUMNS[1:]:
        empty = empty & df[found[name]].isna().to_numpy()
    where = np.flatnonzero(empty)
    stamps = df[found["timestamp"]].iloc[where]
    where = where[(stamps.isna() | (stamps.astype(str).str.strip() == "")).to_numpy()]
    if not len(where):
        return None
    wanted, found_blank, lines = set(where.tolist()), set(), 0
    with _open_binary(path) as handle:  # line by line: a large file is not held in memory
        for lines, line in enumerate(handle, start=1):
            row = lines - skip - 2  # the header is line skip + 1
            if row in wanted and not line.strip():
                found_blank.add(row)
    blank = np.zeros(len(df), dtype=bool)
    if lines - skip - 1 == len(df):
        blank[sorted(found_blank)] = True
    else:  # a quoted cell over several lines: rows are not lines, take them as read_csv would
        blank[where] = True
    return blank if blank.any() else None


def _read_json(path: Path, source: str, keep_bad: bool) -> _Bars:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        text = handle.read()
    if not text.strip():
        raise DataError(f"{source}: the file is empty; expected freqtrade candles [[ms,o,h,l,c,v]]")
    rows = json.loads(text)
    if not isinstance(rows, list):
        raise DataError(
            f"{source}: expected a JSON array of [epoch_ms, open, high, low, close, volume] rows"
        )
    bad = next((i for i, r in enumerate(rows) if not isinstance(r, list) or len(r) != 6), None)
    if bad is not None:
        raise DataError(
            f"{source}: row {bad + 1} is {json.dumps(rows[bad])[:60]}; allowed: "
            "[epoch_ms, open, high, low, close, volume] (row 1 is the first candle)"
        )
    table = pd.DataFrame(rows, columns=["timestamp", *OHLCV_COLUMNS])
    return _frame_to_arrays(table, source, keep_bad)


def _frame_to_arrays(
    df: pd.DataFrame, source: str, keep_bad: bool = False, rows: Int64Array | None = None
) -> _Bars:
    """Timestamps and an (n, 5) OHLCV array of ``df``, whose rows are user rows ``rows``
    (default 1..n). A value or timestamp that cannot be read raises, or with ``keep_bad`` marks
    its row unreadable. ``like`` is ``df`` itself when the array is a view of it (float64
    open..volume in that order: validated without a copy)."""
    found = _column_map(df.columns, source)
    if "timestamp" in found:
        stamps = df[found["timestamp"]]
    elif isinstance(df.index, pd.DatetimeIndex) or str(df.index.name).lower() == "timestamp":
        stamps = df.index.to_series(index=pd.RangeIndex(len(df)))
    else:
        raise DataError(
            f"{source}: no timestamps; allowed: a 'timestamp' column or a DatetimeIndex"
        )
    names = [found[c] for c in OHLCV_COLUMNS]
    if list(df.columns) == names and all(t == np.float64 for t in df.dtypes):
        values = df.to_numpy(dtype=np.float64)  # one float block: a read-only view, no copy
        if values.flags.f_contiguous:  # each column contiguous, as the copy below makes them
            ts, bad = _parse_timestamps(stamps, source, keep_bad, rows)
            return _Bars(ts, values, bad, rows, df)
    values, bad_values = _numbers(df, found, source, keep_bad, rows)
    ts, bad = _parse_timestamps(stamps, source, keep_bad, rows)
    if bad_values is not None:
        bad = bad_values if bad is None else bad | bad_values
    return _Bars(ts, values, bad, rows)


def _numbers(
    df: pd.DataFrame, found: dict[str, Any], source: str, keep_bad: bool, rows: Int64Array | None
) -> tuple[FloatArray, BoolArray | None]:
    """The OHLCV columns as one (n, 5) float array, and the rows with a cell that is not a number
    (None when there are none; without ``keep_bad`` the first such cell raises)."""
    columns, unreadable = [], None
    for name in OHLCV_COLUMNS:
        column = df[found[name]]
        if column.dtype == np.float64:  # numbers already: a view, no conversion
            columns.append(column.to_numpy())
            continue
        numbers = pd.to_numeric(column, errors="coerce")
        bad = (numbers.isna() & column.notna()).to_numpy()
        if bad.any():
            if not keep_bad:
                first = int(np.flatnonzero(bad)[0])
                raise DataError(
                    f"{source}: {found[name]} {column.iloc[first]!r} in row {_row(rows, first)} "
                    f"is not a number ({row_note(source)}); allowed: a decimal number"
                )
            unreadable = bad if unreadable is None else unreadable | bad
        columns.append(numbers.to_numpy(dtype=np.float64, na_value=np.nan))
    # One (5, n) block seen as (n, 5): each column stays contiguous for what follows.
    return np.stack(columns).T.reshape(-1, 5), unreadable


def _row(rows: Int64Array | None, i: int) -> int:
    """The user-visible row number of position ``i``."""
    return i + 1 if rows is None else int(rows[i])


def _parse_timestamps(
    stamps: pd.Series, source: str, keep_bad: bool = False, rows: Int64Array | None = None
) -> tuple[Int64Array, BoolArray | None]:
    """Nanoseconds since the epoch (UTC), and the rows whose timestamp cannot be read (None when
    there are none). They raise unless ``keep_bad``, and always when none can be read: a
    format the reader does not know (epoch seconds, say) is no set of broken rows."""
    ns, bad, extra = _timestamp_ns(stamps)
    if not bad.any():
        return ns, None
    if not keep_bad or bad.all():
        _raise_bad_timestamps(stamps, bad, source, rows, extra)
    return ns, bad


def _timestamp_ns(stamps: pd.Series) -> tuple[Int64Array, BoolArray, str]:
    """Nanoseconds from datetimes, epoch-ms numbers or ISO text, the unreadable ones, and what
    to add to the allowed formats when they are numbers."""
    if isinstance(stamps.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(stamps):
        parsed = pd.DatetimeIndex(stamps)
        parsed = parsed.tz_convert("UTC") if parsed.tz is not None else parsed
        return parsed.as_unit("ns").asi8.astype(np.int64, copy=False), np.asarray(parsed.isna()), ""
    if pd.api.types.is_numeric_dtype(stamps) and not pd.api.types.is_bool_dtype(stamps):
        return _epoch_ms(stamps)
    text = stamps.astype(str).str.strip()
    digits = text.str.fullmatch(r"\d{1,15}").to_numpy(dtype=bool)
    if len(text) and digits.all():
        return _epoch_ms(text.astype(np.int64))
    if digits.sum() * 2 > len(text):  # epoch ms with some text among them: that text is bad
        return _epoch_ms(pd.to_numeric(text.where(digits), errors="coerce"))
    iso = pd.DatetimeIndex(pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce"))
    return iso.as_unit("ns").asi8.astype(np.int64, copy=False), np.asarray(iso.isna()), ""


def _epoch_ms(stamps: pd.Series) -> tuple[Int64Array, BoolArray, str]:
    numbers = stamps.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(numbers) | (numbers != np.round(numbers))
    bad |= (numbers < _MS_RANGE[0]) | (numbers >= _MS_RANGE[1])
    ms = stamps.to_numpy(dtype=np.int64) if stamps.dtype.kind in "iu" else numbers
    if bad.any():  # 0 stands in for them (their rows are dropped or raise): no NaN to cast
        ms = np.where(bad, 0, ms)
    ns = ms.astype(np.int64, copy=False) * (NS_PER_SECOND // 1000)
    return ns, bad, "; epoch ms must lie between 1973 and 5138"


def _raise_bad_timestamps(
    stamps: pd.Series, bad: BoolArray, source: str, rows: Int64Array | None, extra: str
) -> None:
    where = np.flatnonzero(bad)
    shown = ", ".join(str(_row(rows, int(i))) for i in where[:5])
    shown += ", ..." if len(where) > 5 else ""
    many = len(where) > 1
    first = stamps.iloc[where[0]]
    if isinstance(first, float) and first.is_integer():  # as written: a blank line in a CSV
        first = int(first)  # file makes its column of integers floats
    raise DataError(
        f"{source}: {len(where)} invalid timestamp{'s' if many else ''}, first "
        f"{str(first)!r} (row{'s' if many else ''} {shown}; {row_note(source)}); "
        f"{_TS_ALLOWED}{extra}"
    )


def _finish(
    bars: _Bars, source: str, timeframe: str | None, on_broken: OnBroken, on_gap: OnGap
) -> OhlcvData:
    """Validate, clean and package bars read in file order. ``bars.like``: the frame ``values``
    is a view of, shared copy-on-write when every row is kept in its order."""
    ts, values, like = bars.ts, bars.values, bars.like
    if len(ts) == 0:
        raise DataError(f"{source}: no data rows; expected at least one bar")
    rows = bars.rows if bars.rows is not None else np.arange(1, len(ts) + 1, dtype=np.int64)
    broken = find_broken_rows(ts, values, rows, bars.unreadable)
    if not broken.keep.all() or np.any(ts[1:] < ts[:-1]):  # else clean and in order: no copies
        like = None
        rows = rows[broken.keep]
        order = np.argsort(ts[broken.keep], kind="stable")
        ts, values, rows = ts[broken.keep][order], values[broken.keep][order], rows[order]
    failing = list(broken.issues) if on_broken == "fail" else []
    gap, tf_error, tf = None, None, ""
    try:
        tf = _resolve_timeframe(ts, timeframe, source, rows)
    except DataError as exc:
        tf_error = exc
    if tf_error is None and on_gap != "ignore":
        gap = find_gaps(ts, timeframe_to_ns(tf), forex=looks_like_forex(values), row_numbers=rows)
    if gap is not None and on_gap == "fail":
        failing.append(gap)
    raise_for_issues(failing, source)
    if len(ts) == 0:
        raise DataError(f"{source}: no usable rows left after dropping broken rows")
    if tf_error is not None:
        raise tf_error
    index = utc_index(ts, name="timestamp")
    if like is not None:  # a lazy copy of the caller's frame: pandas copies on the first write
        frame = like.set_axis(index, axis=0).set_axis(list(OHLCV_COLUMNS), axis=1)
    else:  # column-major: the frame holds the values as they are, each column contiguous
        values = np.asfortranarray(values)
        frame = pd.DataFrame(values, index=index, columns=list(OHLCV_COLUMNS), copy=False)
    issues = (*broken.issues, *([gap] if gap is not None else []))
    return OhlcvData(frame=frame, timeframe=tf, source=source, issues=issues)


def _resolve_timeframe(ts: Int64Array, timeframe: str | None, source: str, rows: Int64Array) -> str:
    """The given timeframe checked against the data, or the most common step."""
    steps = np.diff(ts)
    if timeframe is None:
        if len(steps) == 0:
            raise DataError(
                f"{source}: cannot infer the timeframe from {len(ts)} usable bar(s); "
                "pass timeframe= (for example '1h')"
            )
        unique, counts = np.unique(steps, return_counts=True)
        best = int(np.argmax(counts))
        step = int(unique[best])
        if len(steps) >= 10 and counts[best] * 10 < len(steps):  # no grid: irregular times
            raise DataError(
                f"{source}: cannot infer the timeframe: the most common step between bars, "
                f"{format_duration(step)}, separates only {counts[best]} of {len(steps)} pairs of "
                "bars; pass the timeframe the bars were made at (for example '1h')"
            )
        if step % NS_PER_SECOND:
            raise DataError(
                f"{source}: the most common step between bars is {step / NS_PER_SECOND:g} s; "
                "allowed: a whole number of seconds"
            )
        timeframe = ns_to_timeframe(step)
    step = timeframe_to_ns(timeframe)
    short = np.flatnonzero(steps < step)
    if len(short):
        shown = ", ".join(str(r) for r in rows[short + 1][:5])
        raise DataError(
            f"{source}: {len(short)} bars start less than {timeframe} after the bar before "
            f"(rows {shown}; {row_note(source)}); pass the data's own timeframe or resample"
        )
    if len(steps) and not np.any(steps == step):  # mislabelled, e.g. hourly bars called 5m
        common = int(np.median(steps))
        raise DataError(
            f"{source}: no two bars are {timeframe} apart (the median step is "
            f"{format_duration(common)}): these are not {timeframe} bars; pass their own "
            "timeframe"
        )
    return timeframe
