"""Historical OHLCV readers: CSV (plain or gzip), Parquet and freqtrade JSON candles.

Every reader returns :class:`OhlcvData`: a frame indexed by a UTC ``DatetimeIndex`` named
``timestamp`` with float64 columns ``open, high, low, close, volume``, sorted and unique.

Accepted formats, chosen by suffix:

- ``.csv`` / ``.csv.gz``: header ``timestamp,open,high,low,close,volume`` (any case, extra
  columns ignored); ``timestamp`` is ISO-8601 (``2021-04-20T20:42:00Z``; without an offset it
  is taken as UTC) or integer epoch milliseconds, detected per file.
- ``.parquet``: the same columns; the timestamps may instead be the index.
- ``.json`` / ``.json.gz``: freqtrade candles, an array of ``[epoch_ms, o, h, l, c, v]``.

Problems are checked by :mod:`genebot.data.validation`. ``on_broken`` decides what happens to
broken rows (see there): ``"fail"`` raises one :class:`DataError` listing every problem kind,
``"warn"`` and its alias ``"drop"`` sort, drop duplicates (first kept) and broken rows, and
record them in ``OhlcvData.issues``. ``on_gap`` does the same for gaps (``"warn"`` records,
``"fail"`` raises, ``"ignore"`` does neither). Nothing is logged here: the caller decides how to
show ``issues``.
"""

from __future__ import annotations

import gzip
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
    like = None
    try:
        if suffix in (".csv", ".csv.gz"):
            ts, values = _read_csv(path, source)
        elif suffix == ".parquet":
            ts, values, like = _frame_to_arrays(pd.read_parquet(path), source)
        else:
            ts, values = _read_json(path, source)
    except (OSError, EOFError, ValueError, zlib.error) as exc:  # DataError is not among these
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{source}: cannot read the file as {suffix}: {reason}") from None
    return _finish(ts, values, source, timeframe, on_broken, on_gap, like)


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
    ts, values, like = _frame_to_arrays(df, name)
    return _finish(ts, values, name, timeframe, on_broken, on_gap, like)


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


def _read_csv(path: Path, source: str) -> tuple[Int64Array, FloatArray]:
    try:
        header = pd.read_csv(path, nrows=0, engine="c")
    except pd.errors.EmptyDataError:
        raise DataError(f"{source}: the file is empty; expected the header {_HEADER}") from None
    found = _column_map(header.columns, source, ("timestamp", *OHLCV_COLUMNS))
    names = [found["timestamp"], *(found[c] for c in OHLCV_COLUMNS)]
    try:
        df = pd.read_csv(
            path,
            engine="c",
            usecols=names,
            dtype={found[c]: np.float64 for c in OHLCV_COLUMNS},
        )
    except ValueError:
        _raise_bad_number(path, [found[c] for c in OHLCV_COLUMNS], source)
        raise
    ts = _parse_timestamps(df[found["timestamp"]], source)
    values = df[[found[c] for c in OHLCV_COLUMNS]].to_numpy(dtype=np.float64)
    return ts, values


def _raise_bad_number(path: Path, columns: list[Any], source: str) -> None:
    """Find the first cell that is not a number and raise a :class:`DataError` naming it."""
    text = pd.read_csv(path, engine="c", usecols=columns, dtype=str, keep_default_na=True)
    for column in columns:
        raw = text[column]
        bad = pd.to_numeric(raw, errors="coerce").isna() & raw.notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0]) + 1
            raise DataError(
                f"{source}: {column} {raw.iloc[row - 1]!r} in row {row} is not a number "
                f"({row_note(source)}); allowed: a decimal number"
            )


def _read_json(path: Path, source: str) -> tuple[Int64Array, FloatArray]:
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
    ts, values, _ = _frame_to_arrays(table, source)
    return ts, values


def _frame_to_arrays(
    df: pd.DataFrame, source: str
) -> tuple[Int64Array, FloatArray, pd.DataFrame | None]:
    """Timestamps and an (n, 5) OHLCV array, and ``df`` itself when the array is a view of it
    (float64 open..volume in that order: validated without a copy)."""
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
            return _parse_timestamps(stamps, source), values, df
    columns = []
    for name in OHLCV_COLUMNS:
        column = df[found[name]]
        if column.dtype == np.float64:  # numbers already: a view, no conversion
            columns.append(column.to_numpy())
            continue
        numbers = pd.to_numeric(column, errors="coerce")
        bad = np.flatnonzero((numbers.isna() & column.notna()).to_numpy())
        if len(bad):
            raise DataError(
                f"{source}: {name} {column.iloc[bad[0]]!r} in row {bad[0] + 1} is not a number "
                f"({row_note(source)}); allowed: a decimal number"
            )
        columns.append(numbers.to_numpy(dtype=np.float64, na_value=np.nan))
    # One (5, n) block seen as (n, 5): each column stays contiguous for what follows.
    values = np.stack(columns).T if columns else np.empty((0, 5))
    return _parse_timestamps(stamps, source), values.reshape(-1, 5), None


def _parse_timestamps(stamps: pd.Series, source: str) -> Int64Array:
    """Nanoseconds since the epoch (UTC) from datetimes, epoch-ms numbers or ISO text."""
    if isinstance(stamps.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(stamps):
        parsed = pd.DatetimeIndex(stamps)
        _raise_bad_timestamps(stamps, parsed.isna(), source)
        parsed = parsed.tz_convert("UTC") if parsed.tz is not None else parsed
        return parsed.as_unit("ns").asi8.astype(np.int64, copy=False)
    if pd.api.types.is_numeric_dtype(stamps) and not pd.api.types.is_bool_dtype(stamps):
        return _epoch_ms(stamps, source)
    text = stamps.astype(str).str.strip()
    if len(text) and bool(text.str.fullmatch(r"\d{1,15}").all()):
        return _epoch_ms(text.astype(np.int64), source)
    iso = pd.DatetimeIndex(pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce"))
    _raise_bad_timestamps(stamps, iso.isna(), source)
    return iso.as_unit("ns").asi8.astype(np.int64, copy=False)


def _epoch_ms(stamps: pd.Series, source: str) -> Int64Array:
    numbers = stamps.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(numbers) | (numbers != np.round(numbers))
    bad |= (numbers < _MS_RANGE[0]) | (numbers >= _MS_RANGE[1])
    _raise_bad_timestamps(stamps, bad, source, "; epoch ms must lie between 1973 and 5138")
    ms = stamps.to_numpy(dtype=np.int64) if stamps.dtype.kind in "iu" else numbers.astype(np.int64)
    return ms * (NS_PER_SECOND // 1000)


def _raise_bad_timestamps(stamps: pd.Series, bad: Any, source: str, extra: str = "") -> None:
    where = np.flatnonzero(np.asarray(bad))
    if len(where) == 0:
        return
    rows = ", ".join(str(i + 1) for i in where[:5]) + (", ..." if len(where) > 5 else "")
    many = len(where) > 1
    raise DataError(
        f"{source}: {len(where)} invalid timestamp{'s' if many else ''}, first "
        f"{str(stamps.iloc[where[0]])!r} (row{'s' if many else ''} {rows}; {row_note(source)}); "
        f"{_TS_ALLOWED}{extra}"
    )


def _finish(
    ts: Int64Array,
    values: FloatArray,
    source: str,
    timeframe: str | None,
    on_broken: OnBroken,
    on_gap: OnGap,
    like: pd.DataFrame | None = None,
) -> OhlcvData:
    """Validate, clean and package bars read in file order. ``like``: the frame ``values`` is
    a view of, shared copy-on-write when every row is kept in its order."""
    if len(ts) == 0:
        raise DataError(f"{source}: no data rows; expected at least one bar")
    broken = find_broken_rows(ts, values)
    if broken.keep.all() and not np.any(ts[1:] < ts[:-1]):  # clean and in order: no copies
        rows = np.arange(1, len(ts) + 1, dtype=np.int64)
    else:
        like = None
        rows = np.flatnonzero(broken.keep).astype(np.int64) + 1
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
