"""Tests for genebot.data.readers: formats, cleaning policies, gaps and the bundled samples."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genebot.core.errors import DataError, InputError
from genebot.data.readers import OhlcvData, ohlcv_from_frame, read_ohlcv
from genebot.data.validation import warning_line

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "data" / "sample"
COLUMNS = ["open", "high", "low", "close", "volume"]


def make_bars(n: int = 12, start: str = "2021-05-03T00:00:00Z", freq: str = "5min") -> pd.DataFrame:
    """Consistent bars with non-trivial decimals, indexed like OhlcvData.frame."""
    index = pd.date_range(start, periods=n, freq=freq, tz="UTC", name="timestamp").as_unit("ns")
    close = 100.0 + np.arange(n) * 0.37 + 0.123456789
    return pd.DataFrame(
        {
            "open": close - 0.11,
            "high": close + 0.5,
            "low": close - 0.61,
            "close": close,
            "volume": np.linspace(1.5, 9.25, n),
        },
        index=index,
    )


def iso_text(index: pd.DatetimeIndex) -> list[str]:
    return [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in index]


def epoch_ms(index: pd.DatetimeIndex) -> list[int]:
    return [int(t.value // 1_000_000) for t in index]


def write_csv(df: pd.DataFrame, path: Path, stamps: str = "iso") -> Path:
    out = df.reset_index()
    out["timestamp"] = iso_text(df.index) if stamps == "iso" else epoch_ms(df.index)
    out.to_csv(path, index=False)
    return path


def write_json(df: pd.DataFrame, path: Path) -> Path:
    rows = [
        [ms, *vals] for ms, vals in zip(epoch_ms(df.index), df.to_numpy().tolist(), strict=True)
    ]
    text = json.dumps(rows)
    if path.name.endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            handle.write(text)
    else:
        path.write_text(text)
    return path


def write_csv_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("timestamp,open,high,low,close,volume\n" + "\n".join(lines) + "\n")
    return path


WRITERS: dict[str, Callable[[pd.DataFrame, Path], Path]] = {
    "x.csv": lambda df, p: write_csv(df, p),
    "x_ms.csv": lambda df, p: write_csv(df, p, "ms"),
    "x.csv.gz": lambda df, p: write_csv(df, p),
    "x.parquet": lambda df, p: (df.reset_index().to_parquet(p), p)[1],
    "x_index.parquet": lambda df, p: (df.to_parquet(p), p)[1],
    "x.json": write_json,
    "x.json.gz": write_json,
}


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_each_format_round_trips_to_the_same_frame(tmp_path: Path, name: str) -> None:
    bars = make_bars()
    data = read_ohlcv(WRITERS[name](bars, tmp_path / name))
    pd.testing.assert_frame_equal(data.frame, bars, check_freq=False)
    assert data.timeframe == "5m"
    assert data.source == str(tmp_path / name)
    assert data.issues == ()


def test_frame_contract(tmp_path: Path) -> None:
    frame = read_ohlcv(write_csv(make_bars(), tmp_path / "a.csv")).frame
    assert frame.index.name == "timestamp"
    assert str(frame.index.dtype) == "datetime64[ns, UTC]"
    assert list(frame.columns) == COLUMNS
    assert all(str(t) == "float64" for t in frame.dtypes)
    assert frame.index.is_monotonic_increasing and frame.index.is_unique


def test_iso_and_epoch_ms_csv_read_identically(tmp_path: Path) -> None:
    bars = make_bars(50, freq="1min")
    iso = read_ohlcv(write_csv(bars, tmp_path / "iso.csv"))
    ms = read_ohlcv(write_csv(bars, tmp_path / "ms.csv", "ms"))
    assert (tmp_path / "ms.csv").read_text().splitlines()[1].startswith("1620000000000,")
    pd.testing.assert_frame_equal(iso.frame, ms.frame)
    assert iso.timeframe == ms.timeframe == "1m"


def test_csv_header_any_case_and_extra_columns_ignored(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text(
        "Timestamp,OPEN,High,low,Close,Volume,trades\n"
        "2021-01-01T00:00:00Z,1,2,0.5,1.5,10,3\n"
        "2021-01-01T01:00:00Z,1.5,2,1,1.25,0,4\n"
    )
    data = read_ohlcv(path)
    assert list(data.frame.columns) == COLUMNS
    assert data.frame["close"].tolist() == [1.5, 1.25]
    assert data.timeframe == "1h"


def test_timestamp_offsets_are_converted_to_utc(tmp_path: Path) -> None:
    path = write_csv_lines(
        tmp_path / "a.csv",
        ["2021-01-01T02:00:00+02:00,1,2,0.5,1.5,1", "2021-01-01T01:00:00,1,2,0.5,1.5,1"],
    )
    index = read_ohlcv(path).frame.index
    assert list(index) == list(pd.to_datetime(["2021-01-01T00:00Z", "2021-01-01T01:00Z"]))


def test_timeframe_inferred_from_most_common_step(tmp_path: Path) -> None:
    bars = make_bars(20, freq="15min").drop(make_bars(20, freq="15min").index[[3, 4, 9]])
    data = read_ohlcv(write_csv(bars, tmp_path / "a.csv"))
    assert data.timeframe == "15m"
    assert [i.kind for i in data.issues] == ["gap"]
    assert data.issues[0].count == 3


def test_given_timeframe_is_used_for_gaps(tmp_path: Path) -> None:
    """Half-hour bars with two hours missing, read as 1h apart at their most common step: the
    given 30m finds the four missing bars."""
    bars = make_bars(12, freq="30min")
    bars = bars.drop(bars.index[[2, 3, 7, 8]])
    data = read_ohlcv(write_csv(bars, tmp_path / "a.csv"), timeframe="30m")
    assert data.timeframe == "30m"
    assert [(i.kind, i.count) for i in data.issues] == [("gap", 4)]


def test_bars_given_a_timeframe_no_step_matches_are_refused(tmp_path: Path) -> None:
    """Hourly bars called 30m would run as half-hour bars (closes known 30 minutes early)."""
    path = write_csv(make_bars(6, freq="1h"), tmp_path / "a.csv")
    with pytest.raises(DataError, match=r"a\.csv: no two bars are 30m apart .*median step is 1h"):
        read_ohlcv(path, timeframe="30m")


def test_timeframe_is_not_inferred_from_bars_off_any_grid(tmp_path: Path) -> None:
    """Steps of 1, 2, ..., 29 minutes and one more of 1: the most common step (1m, twice in
    30) is no timeframe; hours of missing minute bars would be reported as gaps."""
    bars = make_bars(440, freq="1min")
    bars = bars.iloc[np.cumsum([0, *range(1, 30), 1])]
    with pytest.raises(
        DataError, match=r"a\.csv: cannot infer the timeframe: .* 1m, separates only 2 of 30"
    ):
        read_ohlcv(write_csv(bars, tmp_path / "a.csv"))
    assert read_ohlcv(tmp_path / "a.csv", timeframe="1m").timeframe == "1m"


def test_timeframe_larger_than_the_data_steps_is_an_error(tmp_path: Path) -> None:
    path = write_csv(make_bars(6, freq="1min"), tmp_path / "a.csv")
    with pytest.raises(DataError, match=r"a\.csv: 5 bars start less than 5m .*rows 2, 3, 4, 5, 6"):
        read_ohlcv(path, timeframe="5m")


def test_single_bar_needs_a_timeframe(tmp_path: Path) -> None:
    path = write_csv(make_bars(1), tmp_path / "one.csv")
    with pytest.raises(DataError, match=r"one\.csv: cannot infer the timeframe"):
        read_ohlcv(path)
    assert len(read_ohlcv(path, timeframe="5m").frame) == 1


BROKEN_LINES = [
    "2021-01-01T00:00:00Z,10,11,9,10.5,1",  # 1 ok
    "2021-01-01T00:01:00Z,10,9,11,10.5,1",  # 2 high < low
    "2021-01-01T00:02:00Z,10,11,9,,1",  # 3 empty close
    "2021-01-01T00:04:00Z,10,11,9,10.5,1",  # 4 ok
    "2021-01-01T00:03:00Z,10,11,9,10.5,1",  # 5 unsorted
    "2021-01-01T00:04:00Z,10,11,9,10.6,2",  # 6 duplicate of 4
    "2021-01-01T00:05:00Z,0,11,0,10.5,1",  # 7 non-positive open and low (still consistent)
    "2021-01-01T00:06:00Z,10,11,9,10.5,-3",  # 8 negative volume
    "2021-01-01T00:07:00Z,10,10.2,9,10.5,1",  # 9 high < close
    "2021-01-01T00:08:00Z,10,11,9,10.5,1",  # 10 ok
]


def test_fail_lists_every_problem_kind_with_rows(tmp_path: Path) -> None:
    path = write_csv_lines(tmp_path / "btc.csv", BROKEN_LINES)
    with pytest.raises(DataError) as info:
        read_ohlcv(path)
    lines = str(info.value).splitlines()
    assert len(lines) == 6
    assert all(line.startswith(f"{path}: ") for line in lines)
    assert all("row 1 is the first line after the header" in line for line in lines)
    assert all("or set on_broken to warn (" in line for line in lines)
    assert "(sorts them)" in lines[0] and "(keeps the first of each)" in lines[1]
    expected = [
        "1 row out of timestamp order, earlier than a row above them (row 5;",
        "1 row repeating the timestamp of an earlier row (row 6;",
        "1 row with an empty, NaN or infinite value (row 3;",
        "1 row with a price (open, high, low or close) <= 0 (row 7;",
        "2 rows with high < low, high < max(open, close) or low > min(open, close) (rows 2, 9;",
        "1 row with volume < 0 (row 8;",
    ]
    for line, text in zip(lines, expected, strict=True):
        assert text in line


@pytest.mark.parametrize("policy", ["warn", "drop"])
def test_warn_and_drop_clean_the_data_and_record_issues(tmp_path: Path, policy: str) -> None:
    path = write_csv_lines(tmp_path / "btc.csv", BROKEN_LINES)
    data = read_ohlcv(path, on_broken=policy, on_gap="ignore")  # type: ignore[arg-type]
    kept = pd.to_datetime(
        ["2021-01-01T00:00Z", "2021-01-01T00:03Z", "2021-01-01T00:04Z", "2021-01-01T00:08Z"]
    )
    assert list(data.frame.index) == list(kept)
    assert data.frame.loc["2021-01-01T00:04Z", "close"] == 10.5  # first duplicate kept
    kinds = {i.kind: (i.count, i.rows) for i in data.issues}
    assert kinds == {
        "unsorted": (1, (5,)),
        "duplicate": (1, (6,)),
        "nan": (1, (3,)),
        "nonpositive_price": (1, (7,)),
        "ohlc_inconsistent": (2, (2, 9)),
        "negative_volume": (1, (8,)),
    }


def test_only_unsorted_rows_are_sorted_not_dropped(tmp_path: Path) -> None:
    bars = make_bars(8)
    path = write_csv(bars.iloc[::-1], tmp_path / "rev.csv")
    with pytest.raises(
        DataError, match=r"7 rows out of timestamp order, .*rows 2, 3, 4, 5, 6, \.\.\."
    ):
        read_ohlcv(path)
    data = read_ohlcv(path, on_broken="warn")
    pd.testing.assert_frame_equal(data.frame, bars, check_freq=False)


def test_all_rows_broken_is_an_error_in_warn_mode(tmp_path: Path) -> None:
    path = write_csv_lines(tmp_path / "bad.csv", ["2021-01-01T00:00:00Z,1,0.5,2,1,1"])
    with pytest.raises(DataError, match=r"bad\.csv: no usable rows left"):
        read_ohlcv(path, on_broken="warn", timeframe="1m")


def gappy_bars() -> pd.DataFrame:
    bars = make_bars(30, start="2021-05-05T00:00:00Z", freq="1min")
    return bars.drop(bars.index[[5, 6, 7, 20]])


def test_gaps_warn_by_default(tmp_path: Path) -> None:
    data = read_ohlcv(write_csv(gappy_bars(), tmp_path / "g.csv"))
    assert len(data.frame) == 26
    (gap,) = data.issues
    assert (gap.kind, gap.count, gap.rows) == ("gap", 4, (6, 18))
    assert "2 gaps with 4 missing bars" in gap.detail
    assert "largest 4m from 2021-05-05T00:04:00Z to 2021-05-05T00:08:00Z" in gap.detail


def test_gaps_fail_and_ignore(tmp_path: Path) -> None:
    path = write_csv(gappy_bars(), tmp_path / "g.csv")
    with pytest.raises(
        DataError, match=r"g\.csv: 2 gaps with 4 missing bars \(before rows 6, 18\)"
    ):
        read_ohlcv(path, on_gap="fail")
    assert read_ohlcv(path, on_gap="ignore").issues == ()


def test_broken_rows_and_failing_gaps_are_reported_together(tmp_path: Path) -> None:
    lines = [
        "2021-01-01T00:00:00Z,10,11,9,10.5,1",
        "2021-01-01T00:01:00Z,10,11,9,10.5,1",
        "2021-01-01T00:02:00Z,10,11,9,10.5,-1",
        "2021-01-01T00:05:00Z,10,11,9,10.5,1",
        "2021-01-01T00:06:00Z,10,11,9,10.5,1",
    ]
    with pytest.raises(DataError) as info:
        read_ohlcv(write_csv_lines(tmp_path / "b.csv", lines), on_gap="fail")
    lines_out = str(info.value).splitlines()
    assert len(lines_out) == 2
    assert "volume < 0 (row 3;" in lines_out[0]
    assert "1 gap with 3 missing bars (before row 4)" in lines_out[1]


def forex_hours(start: str, end: str, volume: float) -> pd.DataFrame:
    """Hourly forex-like bars from ``start`` to ``end`` without Fri 21:00 - Sun 21:00 UTC."""
    index = pd.date_range(start, end, freq="1h", tz="UTC", name="timestamp").as_unit("ns")
    in_weekend = (
        ((index.day_of_week == 4) & (index.hour >= 21))
        | (index.day_of_week == 5)
        | ((index.day_of_week == 6) & (index.hour < 21))
    )
    index = index[~in_weekend]
    close = np.full(len(index), 1.2)
    return pd.DataFrame(
        {"open": close, "high": close + 0.001, "low": close - 0.001, "close": close,
         "volume": np.full(len(index), volume)},
        index=index,
    )  # fmt: skip


def test_forex_weekend_close_is_not_a_gap(tmp_path: Path) -> None:
    bars = forex_hours("2018-03-05", "2018-03-20", volume=0.0)
    data = read_ohlcv(write_csv(bars, tmp_path / "oanda_EUR-USD_1h.csv"), on_gap="fail")
    assert data.issues == ()
    assert data.timeframe == "1h"


def test_weekend_counts_as_a_gap_when_volume_is_traded(tmp_path: Path) -> None:
    bars = forex_hours("2018-03-05", "2018-03-20", volume=5.0)
    data = read_ohlcv(write_csv(bars, tmp_path / "a.csv"))
    (gap,) = data.issues
    assert gap.count == 2 * 48  # two weekends of 48 missing hours each


def test_forex_gap_outside_the_weekend_is_still_reported(tmp_path: Path) -> None:
    bars = forex_hours("2018-03-05", "2018-03-20", volume=0.0)
    holiday = (bars.index >= "2018-03-14T03:00Z") & (bars.index < "2018-03-14T09:00Z")
    sunday_late = bars.index == "2018-03-18T21:00Z"  # first bar of the week is missing
    data = read_ohlcv(write_csv(bars[~holiday & ~sunday_late], tmp_path / "f.csv"))
    (gap,) = data.issues
    # 6 missing hours mid-week; Sunday 21:00 lies inside the weekend window, so it is excused.
    assert gap.count == 6
    assert "weekend" in gap.detail


def test_errors_name_the_file_and_what_is_allowed(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.csv: file not found"):
        read_ohlcv(tmp_path / "nope.csv")
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(DataError, match=r"a\.txt: unknown data file type '\.txt'; allowed: .csv"):
        read_ohlcv(tmp_path / "a.txt")
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(DataError, match=r"e\.csv: the file is empty"):
        read_ohlcv(tmp_path / "e.csv")
    with pytest.raises(DataError, match=r"h\.csv: no data rows"):
        read_ohlcv(write_csv_lines(tmp_path / "h.csv", []))


@pytest.mark.parametrize("name", ["c.csv.gz", "p.parquet", "j.json.gz"])
def test_corrupt_file_is_one_clear_error(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"\x1f\x8b\x08 this is not what the suffix promises")
    with pytest.raises(DataError, match=rf"{name}: cannot read the file as \.") as info:
        read_ohlcv(path)
    assert "\n" not in str(info.value)


def test_missing_columns_are_named(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text("timestamp,open,high,close\n2021-01-01T00:00:00Z,1,2,1\n")
    with pytest.raises(DataError, match=r"m\.csv: missing columns low, volume .*allowed header"):
        read_ohlcv(path)
    path.write_text("time,open,high,low,close,volume\n2021-01-01T00:00:00Z,1,2,1,1,1\n")
    with pytest.raises(DataError, match=r"m\.csv: missing columns timestamp \(found: time, open"):
        read_ohlcv(path)


def test_unparsable_timestamp_names_the_row_and_value(tmp_path: Path) -> None:
    lines = ["2021-01-01T00:00:00Z,1,2,0.5,1,1", "yesterday,1,2,0.5,1,1"]
    with pytest.raises(DataError, match=r"t\.csv: 1 invalid timestamp, first 'yesterday' \(row 2;"):
        read_ohlcv(write_csv_lines(tmp_path / "t.csv", lines))


@pytest.mark.parametrize("policy", ["fail", "warn"])
def test_epoch_seconds_are_rejected(tmp_path: Path, policy: str) -> None:
    """No timestamp readable is a format error even in warn mode: dropping every row would hide
    it. A blank line (here) makes pandas read the column as floats: still shown as written."""
    lines = ["1609459200,1,2,0.5,1,1", "", "1609459260,1,2,0.5,1,1"]
    with pytest.raises(
        DataError,
        match=r"s\.csv: 2 invalid timestamps, first '1609459200' \(rows 1, 3;.*epoch ms must lie",
    ):
        read_ohlcv(write_csv_lines(tmp_path / "s.csv", lines), on_broken=policy)  # type: ignore[arg-type]


def test_non_numeric_price_names_row_and_column(tmp_path: Path) -> None:
    lines = ["2021-01-01T00:00:00Z,1,2,0.5,1,1", "2021-01-01T00:01:00Z,1,abc,0.5,1,1"]
    with pytest.raises(DataError, match=r"n\.csv: high 'abc' in row 2 is not a number"):
        read_ohlcv(write_csv_lines(tmp_path / "n.csv", lines))


HEADER = "timestamp,open,high,low,close,volume"


def minute_lines(n: int) -> list[str]:
    """``n`` clean one-minute bars from 2021-01-01T00:00Z as CSV lines."""
    return [f"2021-01-01T00:{i:02d}:00Z,10,11,9,10.5,1" for i in range(n)]


def write_csv_bytes(path: Path, lines: list[str], newline: str = "\n") -> Path:
    data = newline.join([HEADER, *lines, ""]).encode()
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("name", ["b.csv", "b.csv.gz"])
def test_a_blank_line_does_not_shift_later_row_numbers(
    tmp_path: Path, name: str, newline: str
) -> None:
    """read_csv skips blank lines: the broken row on line 32 was reported as row 30, not 31."""
    lines = minute_lines(39)
    lines[29] = lines[29][:-1] + "-1"  # negative volume on data line 30
    path = write_csv_bytes(tmp_path / name, [*lines[:5], "", *lines[5:]], newline)
    assert path.read_bytes().startswith(b"\x1f\x8b") == name.endswith(".gz")
    with pytest.raises(DataError, match=r"1 row with volume < 0 \(row 31; row 1 is the first line"):
        read_ohlcv(path)
    data = read_ohlcv(path, on_broken="warn")
    assert [(i.kind, i.count, i.rows) for i in data.issues] == [
        ("negative_volume", 1, (31,)),
        ("gap", 1, (32,)),  # the bar dropped from row 31 is missing before row 32
    ]
    assert len(data.frame) == 38


def with_blank_lines(lines: list[str]) -> list[str]:
    """An empty, a "\\r"-only and a whitespace-only line after the first: data line n > 1 is
    then file row n + 3."""
    return [lines[0], "", "\r", " \t", *lines[1:]]


def defect(lines: list[str], kind: str) -> list[str]:
    """``lines`` with data line 7 changed into ``kind``."""
    lines = list(lines)
    if kind == "unsorted":
        lines[5], lines[6] = lines[6], lines[5]
    elif kind == "duplicate":
        lines[6] = lines[5]
    elif kind == "gap":
        del lines[6]
    elif kind == "value":
        lines[6] = lines[6].replace("10.5", "abc")
    elif kind == "timestamp":
        lines[6] = "yesterday" + lines[6][20:]
    return lines


@pytest.mark.parametrize(
    ("kind", "options", "expected"),
    [
        ("unsorted", {}, r"1 row out of timestamp order, .*\(row 10; row 1 is the first line"),
        ("duplicate", {}, r"1 row repeating the timestamp of an earlier row \(row 10;"),
        ("gap", {"on_gap": "fail"}, r"1 gap with 1 missing bars \(before row 10\)"),
        ("none", {"timeframe": "5m"}, r"11 bars start less than 5m .*\(rows 5, 6, 7, 8, 9;"),
        ("value", {}, r"close 'abc' in row 10 is not a number \(row 1 is the first line"),
        ("timestamp", {}, r"1 invalid timestamp, first 'yesterday' \(row 10; row 1 is the"),
    ],
)
def test_blank_lines_count_in_every_message(
    tmp_path: Path, kind: str, options: dict[str, str], expected: str
) -> None:
    path = write_csv_bytes(tmp_path / "b.csv", with_blank_lines(defect(minute_lines(12), kind)))
    with pytest.raises(DataError, match=expected):
        read_ohlcv(path, **options)  # type: ignore[arg-type]


def test_blank_lines_count_in_recorded_issues(tmp_path: Path) -> None:
    lines = minute_lines(12)
    lines[3], lines[4] = lines[4], lines[3]  # data line 5 unsorted
    lines[6] = lines[5]  # data line 7 repeats line 6, so 00:06 is missing
    lines[7] = lines[7].replace("10.5", "abc")  # data line 8 unreadable: 00:07 missing too
    path = write_csv_bytes(tmp_path / "b.csv", with_blank_lines(lines))
    data = read_ohlcv(path, on_broken="warn")
    assert [(i.kind, i.count, i.rows) for i in data.issues] == [
        ("unsorted", 1, (8,)),
        ("duplicate", 1, (10,)),
        ("unreadable", 1, (11,)),
        ("gap", 2, (12,)),
    ]


def test_blank_lines_before_the_header_and_after_the_last_bar(tmp_path: Path) -> None:
    """Row n is still line n + 1: with two lines before the header, the first bar is row 3."""
    path = tmp_path / "b.csv"
    path.write_text("\n\r\n" + "\n".join([HEADER, *minute_lines(6)]) + "\n\n\n")
    data = read_ohlcv(path)
    assert (len(data.frame), data.timeframe, data.issues) == (6, "1m", ())
    with pytest.raises(DataError, match=r"5 bars start less than 5m .*\(rows 4, 5, 6, 7, 8;"):
        read_ohlcv(path, timeframe="5m")


def test_a_line_of_commas_is_a_broken_row_not_a_blank_line(tmp_path: Path) -> None:
    lines = minute_lines(8)
    path = write_csv_bytes(tmp_path / "c.csv", [*lines[:3], "", ",,,,,", "", *lines[3:]])
    with pytest.raises(DataError, match=r"1 invalid timestamp, first 'nan' \(row 5;"):
        read_ohlcv(path)
    data = read_ohlcv(path, on_broken="warn")
    assert [(i.kind, i.count, i.rows) for i in data.issues] == [("unreadable", 1, (5,))]
    assert len(data.frame) == 8


@pytest.mark.parametrize("policy", ["warn", "drop"])
def test_unreadable_rows_are_dropped_and_recorded(tmp_path: Path, policy: str) -> None:
    """A cell or timestamp that cannot be read fails the load only when on_broken is fail."""
    lines = minute_lines(10)
    lines[2] = lines[2].replace("10.5", "abc")
    lines[4] = "yesterday" + lines[4][20:]
    lines[6] = ",,,,,"
    lines[8] = lines[8][:-1] + "-1"  # a readable broken row stays its own kind
    path = write_csv_lines(tmp_path / "u.csv", lines)
    data = read_ohlcv(path, timeframe="1m", on_broken=policy, on_gap="ignore")  # type: ignore[arg-type]
    assert [t.minute for t in data.frame.index] == [0, 1, 3, 5, 7, 9]
    unreadable, negative = data.issues
    assert (unreadable.kind, unreadable.count, unreadable.rows) == ("unreadable", 3, (3, 5, 7))
    assert (negative.kind, negative.rows) == ("negative_volume", (9,))
    assert warning_line(unreadable, "u.csv") == (
        "u.csv: 3 rows with a value or timestamp that cannot be read (rows 3, 5, 7): dropped"
    )


def test_one_text_timestamp_among_epoch_ms_is_the_unreadable_one(tmp_path: Path) -> None:
    lines = [f"{1609459200000 + 60000 * i},10,11,9,10.5,1" for i in range(6)]
    lines[3] = "soon,10,11,9,10.5,1"
    path = write_csv_lines(tmp_path / "ms.csv", lines)
    with pytest.raises(DataError, match=r"1 invalid timestamp, first 'soon' \(row 4;.*epoch ms"):
        read_ohlcv(path)
    data = read_ohlcv(path, on_broken="warn", on_gap="ignore")
    assert [(i.kind, i.rows) for i in data.issues] == [("unreadable", (4,))]
    assert data.frame.index[0] == pd.Timestamp("2021-01-01T00:00Z")


def test_unreadable_cells_in_a_frame_are_dropped_in_warn_mode() -> None:
    bars = make_bars(6)
    raw = bars.reset_index()
    raw["timestamp"] = iso_text(bars.index)
    raw["close"] = raw["close"].astype(object)
    raw.loc[1, "close"] = "abc"
    raw.loc[3, "timestamp"] = "later"
    with pytest.raises(DataError, match=r"^m: close 'abc' in row 2 is not a number \(row 1 is"):
        ohlcv_from_frame(raw, name="m")
    data = ohlcv_from_frame(raw, name="m", timeframe="5m", on_broken="drop", on_gap="ignore")
    assert [(i.kind, i.count, i.rows) for i in data.issues] == [("unreadable", 2, (2, 4))]
    pd.testing.assert_frame_equal(data.frame, bars.iloc[[0, 2, 4, 5]], check_freq=False)


def test_unreadable_rows_in_json_and_parquet_are_dropped_in_warn_mode(tmp_path: Path) -> None:
    bars = make_bars(6)
    candles = [
        [ms, *v] for ms, v in zip(epoch_ms(bars.index), bars.to_numpy().tolist(), strict=True)
    ]
    candles[1][4] = "abc"
    candles[3][0] = "later"  # among epoch ms: this one is unreadable, not all of them
    candle_file = tmp_path / "c.json"
    candle_file.write_text(json.dumps(candles))
    with pytest.raises(
        DataError, match=r"close 'abc' in row 2 is not a number \(row 1 is the first candle"
    ):
        read_ohlcv(candle_file)
    data = read_ohlcv(candle_file, timeframe="5m", on_broken="warn", on_gap="ignore")
    assert [(i.kind, i.count, i.rows) for i in data.issues] == [("unreadable", 2, (2, 4))]
    raw = bars.reset_index()
    raw["timestamp"] = iso_text(bars.index)
    raw.loc[3, "timestamp"] = "later"
    parquet_file = tmp_path / "p.parquet"
    raw.to_parquet(parquet_file)
    with pytest.raises(DataError, match=r"1 invalid timestamp, first 'later' \(row 4;"):
        read_ohlcv(parquet_file)
    data = read_ohlcv(parquet_file, on_broken="warn", on_gap="ignore")
    assert [(i.kind, i.count, i.rows) for i in data.issues] == [("unreadable", 1, (4,))]
    assert len(data.frame) == 5


def test_bad_json_row_is_named(tmp_path: Path) -> None:
    path = tmp_path / "BTC_USDT-1m.json"
    path.write_text("[[1609459200000, 1, 2, 0.5, 1, 1], [1609459260000, 1, 2]]")
    with pytest.raises(DataError, match=r"BTC_USDT-1m\.json: row 2 is \[1609459260000, 1, 2\]"):
        read_ohlcv(path)
    path.write_text("{not json")
    with pytest.raises(DataError, match=r"BTC_USDT-1m\.json: cannot read the file as \.json"):
        read_ohlcv(path)


def test_invalid_options_are_rejected(tmp_path: Path) -> None:
    path = write_csv(make_bars(), tmp_path / "a.csv")
    with pytest.raises(InputError, match="on_broken='skip' is not valid"):
        read_ohlcv(path, on_broken="skip")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="timeframe '5 minutes'"):
        read_ohlcv(path, timeframe="5 minutes")


def test_ohlcv_from_frame_with_timestamp_column_any_case() -> None:
    bars = make_bars()
    raw = bars.reset_index()
    raw["timestamp"] = epoch_ms(bars.index)
    raw.columns = [c.upper() for c in raw.columns]
    before = raw.copy()
    data = ohlcv_from_frame(raw, name="memory")
    pd.testing.assert_frame_equal(data.frame, bars, check_freq=False)
    pd.testing.assert_frame_equal(raw, before)
    assert data.source == "memory"


def test_ohlcv_from_frame_naive_index_is_utc_and_validated() -> None:
    bars = make_bars()
    naive = bars.tz_localize(None)
    pd.testing.assert_frame_equal(ohlcv_from_frame(naive, name="m").frame, bars, check_freq=False)
    broken = naive.copy()
    broken.iloc[3, broken.columns.get_loc("high")] = 1.0
    with pytest.raises(
        DataError, match=r"^m: 1 row with high < low, .*\(row 4; row 1 is the first row\)"
    ):
        ohlcv_from_frame(broken, name="m")


def test_clean_float_frame_is_used_without_a_copy_and_left_unchanged() -> None:
    bars = make_bars(50)
    before = bars.copy()
    frame = ohlcv_from_frame(bars, name="m").frame
    pd.testing.assert_frame_equal(frame, bars, check_freq=False)
    for column in COLUMNS:  # the validated frame holds the caller's numbers, not a copy
        values = frame[column].to_numpy()
        assert np.shares_memory(values, bars[column].to_numpy())
        assert values.flags.c_contiguous
    pd.testing.assert_frame_equal(bars, before)
    # Shared copy-on-write: a write to either frame leaves the other as it was.
    frame.iloc[0, 0] = -1.0
    bars.iloc[1, 3] = -2.0
    assert bars.iloc[0, 0] == before.iloc[0, 0]
    assert frame.iloc[1, 3] == before.iloc[1, 3]


@pytest.mark.parametrize(
    "change",
    [
        lambda df: df[["close", "open", "high", "low", "volume"]],  # another column order
        lambda df: df.assign(volume=np.arange(len(df))),  # an integer column
        lambda df: df.assign(trades=1.0),  # an extra column
    ],
)
def test_other_frames_are_copied_into_the_same_layout(
    change: Callable[[pd.DataFrame], pd.DataFrame],
) -> None:
    source = change(make_bars(50))
    frame = ohlcv_from_frame(source, name="m").frame
    assert list(frame.columns) == COLUMNS
    for column in COLUMNS:
        values = frame[column].to_numpy()
        assert not np.shares_memory(values, source[column].to_numpy())
        assert values.flags.c_contiguous
        np.testing.assert_array_equal(values, source[column].to_numpy(dtype=float))


def test_ohlcv_data_is_frozen(tmp_path: Path) -> None:
    data = read_ohlcv(write_csv(make_bars(), tmp_path / "a.csv"))
    assert isinstance(data, OhlcvData)
    with pytest.raises(AttributeError):
        data.timeframe = "1h"  # type: ignore[misc]


SAMPLES = [
    ("crypto/binance_BTC-USDT_5m.csv", "5m", 8928, "2021-05-01T00:00Z", "2021-05-31T23:55Z", 0),
    ("crypto/binance_ETH-USDT_5m.csv", "5m", 8928, "2021-05-01T00:00Z", "2021-05-31T23:55Z", 0),
    ("crypto/binance_BTC-USDT_1m.csv", "1m", 10080, "2021-05-13T00:00Z", "2021-05-19T23:59Z", 0),
    ("crypto/binance_ETH-USDT_1m.csv", "1m", 10080, "2021-05-13T00:00Z", "2021-05-19T23:59Z", 0),
    ("crypto/binance_ETH-BTC_1m.csv", "1m", 10080, "2021-05-13T00:00Z", "2021-05-19T23:59Z", 0),
    ("crypto/binance_BTC-USDT_1h.csv", "1h", 5482, "2020-12-01T00:00Z", "2021-07-17T20:00Z", 11),
    ("crypto/binance_ETH-USDT_1h.csv", "1h", 5482, "2020-12-01T00:00Z", "2021-07-17T20:00Z", 11),
    ("forex/oanda_EUR-USD_1h.csv", "1h", 6168, "2018-01-02T00:00Z", "2018-12-31T21:00Z", 67),
    ("forex/fxcm_USD-JPY_1h.csv", "1h", 480, "2013-02-01T00:00Z", "2013-02-28T23:00Z", 0),
    # derived from binance_BTC-USDT_1m by derived/make_derived.py: synthetic, see the README
    *(
        (f"derived/{name}.synthetic.csv", "1m", 2880, "2021-05-18T00:00Z", "2021-05-19T23:59Z", 0)
        for name in ("venue-b_BTC-USDT_1m", "derived_BTC-EUR_1m", "derived_EUR-USD_1m")
    ),
]


@pytest.mark.parametrize(("name", "tf", "rows", "first", "last", "missing"), SAMPLES)
def test_bundled_sample_loads_clean(
    name: str, tf: str, rows: int, first: str, last: str, missing: int
) -> None:
    data = read_ohlcv(SAMPLE_DIR / name, on_broken="fail")
    assert data.timeframe == tf
    assert len(data.frame) == rows
    assert data.frame.index[0] == pd.Timestamp(first)
    assert data.frame.index[-1] == pd.Timestamp(last)
    assert sum(i.count for i in data.issues if i.kind == "gap") == missing
    assert all(i.kind == "gap" for i in data.issues)


def test_sample_folder_holds_exactly_the_documented_files() -> None:
    found = sorted(
        str(p.relative_to(SAMPLE_DIR))
        for p in SAMPLE_DIR.rglob("*.csv*")
        if p.parent.name not in ("calendar", "rates", "ticks")  # not OHLCV
    )
    assert found == sorted(s[0] for s in SAMPLES)
    readme = (SAMPLE_DIR / "README.md").read_text()
    assert all(s[0] in readme for s in SAMPLES)
    assert "calendar/economic_calendar_2018.csv" in readme
    assert "rates/policy_rates_2018.csv" in readme
    assert "ticks/binance_BTC-USDT_quotes.csv" in readme
    assert (SAMPLE_DIR / "licenses" / "GPL-3.0.txt").is_file()
    assert (SAMPLE_DIR / "licenses" / "Apache-2.0_QuantConnect-Lean.txt").is_file()
    assert (SAMPLE_DIR / "licenses" / "LGPL-3.0.txt").is_file()  # the FXCM USD/JPY hours
