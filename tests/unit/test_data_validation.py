"""Tests for genebot.data.validation: each problem kind, row numbers, gaps and forex weekends."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genebot.core.errors import DataError
from genebot.core.time import NS_PER_MINUTE
from genebot.data.validation import (
    DataIssue,
    find_broken_rows,
    find_gaps,
    format_duration,
    issue_line,
    raise_for_issues,
    validate_ohlcv,
    warning_line,
)

HOUR = 60 * NS_PER_MINUTE


def bars(n: int = 10, freq: str = "1min", start: str = "2021-03-01T00:00Z") -> pd.DataFrame:
    index = pd.date_range(start, periods=n, freq=freq, tz="UTC", name="timestamp")
    close = np.linspace(100.0, 110.0, n)
    return pd.DataFrame(
        {"open": close, "high": close + 1, "low": close - 1, "close": close, "volume": 1.0},
        index=index,
    )


def by_kind(issues: list[DataIssue]) -> dict[str, tuple[int, tuple[int, ...]]]:
    return {i.kind: (i.count, i.rows) for i in issues}


def test_clean_data_has_no_issues() -> None:
    assert validate_ohlcv(bars(), source="x", timeframe_ns=NS_PER_MINUTE) == []


@pytest.mark.parametrize(
    ("column", "value", "kind"),
    [
        ("close", np.nan, "nan"),
        ("volume", np.inf, "nan"),
        ("open", 0.0, "nonpositive_price"),
        ("close", -1.0, "nonpositive_price"),
        ("volume", -0.5, "negative_volume"),
        ("high", 50.0, "ohlc_inconsistent"),  # high < low
        ("low", 200.0, "ohlc_inconsistent"),  # low > open/close
    ],
)
def test_each_value_kind_is_detected_with_rows(column: str, value: float, kind: str) -> None:
    df = bars()
    for position in (2, 7):
        df.iloc[position, df.columns.get_loc(column)] = value
    issues = validate_ohlcv(df, source="x", timeframe_ns=None)
    assert kind in by_kind(issues)
    assert by_kind(issues)[kind] == (2, (3, 8))


def test_high_below_close_and_low_above_open_are_inconsistent() -> None:
    df = bars()
    df.iloc[1, df.columns.get_loc("high")] = df["close"].iloc[1] - 0.01
    df.iloc[4, df.columns.get_loc("low")] = df["open"].iloc[4] + 0.01
    assert by_kind(validate_ohlcv(df, source="x", timeframe_ns=None)) == {
        "ohlc_inconsistent": (2, (2, 5))
    }


def test_flat_bar_is_consistent() -> None:
    df = bars()
    df.iloc[3] = [5.0, 5.0, 5.0, 5.0, 0.0]
    assert validate_ohlcv(df, source="x", timeframe_ns=NS_PER_MINUTE) == []


def test_unsorted_and_duplicate_rows_are_counted_in_file_order() -> None:
    df = bars(8)
    order = [0, 1, 4, 2, 3, 3, 5, 1, 6, 7]  # rows 4, 5, 6, 8 are earlier than row 3
    issues = validate_ohlcv(df.iloc[order], source="x", timeframe_ns=NS_PER_MINUTE)
    assert by_kind(issues) == {"unsorted": (4, (4, 5, 6, 8)), "duplicate": (2, (6, 8))}


def test_repeats_in_time_order_are_duplicates_not_unsorted() -> None:
    df = bars(4)
    issues = validate_ohlcv(df.iloc[[0, 1, 1, 2, 2, 2, 3]], source="x", timeframe_ns=NS_PER_MINUTE)
    assert by_kind(issues) == {"duplicate": (3, (3, 5, 6))}


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 3), st.booleans()), min_size=1, max_size=40),
    st.booleans(),
)
def test_duplicates_are_the_first_seen_rule_in_or_out_of_order(
    rows: list[tuple[int, bool]], shuffle: bool
) -> None:
    """Whatever the order, a valid row repeats an earlier valid row's time iff it is flagged."""
    steps = np.cumsum([step for step, _ in rows])
    if shuffle:
        steps = steps[::-1]
    ts = (steps * NS_PER_MINUTE).astype(np.int64)
    values = np.tile([100.0, 101.0, 99.0, 100.0, 1.0], (len(rows), 1))
    values[[broken for broken, (_, bad) in enumerate(rows) if bad], 3] = np.nan
    found = find_broken_rows(ts, values)
    valid = ~np.isnan(values[:, 3])
    expected = np.zeros(len(rows), dtype=bool)
    expected[valid] = pd.Index(ts[valid]).duplicated(keep="first")
    np.testing.assert_array_equal(~found.keep & valid, expected)


def test_duplicate_of_a_broken_row_keeps_the_later_valid_row() -> None:
    df = bars(4)
    df = pd.concat([df.iloc[:2], df.iloc[1:]])
    df.iloc[1, df.columns.get_loc("close")] = np.nan  # first copy of 00:01 is broken
    assert by_kind(validate_ohlcv(df, source="x", timeframe_ns=NS_PER_MINUTE)) == {"nan": (1, (2,))}


def test_only_the_first_five_rows_are_listed_but_all_are_counted() -> None:
    df = bars(20)
    df.iloc[::2, df.columns.get_loc("volume")] = -1.0
    (issue,) = validate_ohlcv(df, source="x", timeframe_ns=None)
    assert (issue.count, issue.rows) == (10, (1, 3, 5, 7, 9))
    assert issue.detail.endswith("(rows 1, 3, 5, 7, 9, ...)")


def test_gap_counts_missing_bars_and_largest() -> None:
    df = bars(60).drop(bars(60).index[[10, 30, 31, 32, 33, 50]])
    (gap,) = validate_ohlcv(df, source="x", timeframe_ns=NS_PER_MINUTE)
    assert (gap.kind, gap.count, gap.rows) == ("gap", 6, (11, 30, 46))
    assert "3 gaps with 6 missing bars" in gap.detail
    assert "largest 5m from 2021-03-01T00:29:00Z to 2021-03-01T00:34:00Z" in gap.detail


def test_no_gap_check_without_timeframe() -> None:
    df = bars(30).drop(bars(30).index[[10]])
    assert validate_ohlcv(df, source="x", timeframe_ns=None) == []


def test_gap_measured_after_sorting_and_dropping_broken_rows() -> None:
    df = bars(6)
    df = df.iloc[[0, 1, 3, 2, 4, 5]]
    df.iloc[4, df.columns.get_loc("close")] = np.nan  # the 00:04 bar
    issues = validate_ohlcv(df, source="x", timeframe_ns=NS_PER_MINUTE)
    assert by_kind(issues)["gap"] == (1, (6,))


def test_timestamp_column_is_accepted() -> None:
    df = bars(5).reset_index()
    df.loc[2, "volume"] = -1
    assert by_kind(validate_ohlcv(df, source="x", timeframe_ns=None)) == {
        "negative_volume": (1, (3,))
    }


def test_missing_columns_raise() -> None:
    with pytest.raises(DataError, match="x: missing columns volume"):
        validate_ohlcv(bars().drop(columns="volume"), source="x", timeframe_ns=None)


def ns(text: str) -> int:
    return pd.Timestamp(text).value


@pytest.mark.parametrize(
    ("last_friday", "first_sunday", "step"),
    [
        ("2018-03-09T21:00Z", "2018-03-11T21:00Z", HOUR),  # winter: close 22:00, open 22:00
        ("2018-06-15T20:00Z", "2018-06-17T21:00Z", HOUR),  # summer: close 21:00, open 21:00
        ("2018-11-02T20:00Z", "2018-11-04T22:00Z", HOUR),  # DST change over the weekend
        ("2012-02-03T21:59Z", "2012-02-05T22:00Z", NS_PER_MINUTE),  # 1m bars
        ("2016-06-10T00:00Z", "2016-06-12T00:00Z", 24 * HOUR),  # daily with Sunday bar
        ("2016-06-10T00:00Z", "2016-06-13T00:00Z", 24 * HOUR),  # daily without
    ],
)
def test_forex_weekend_close_is_excused(last_friday: str, first_sunday: str, step: int) -> None:
    ts = np.array([ns(last_friday) - step, ns(last_friday), ns(first_sunday)], dtype=np.int64)
    assert find_gaps(ts, step, forex=True) is None
    gap = find_gaps(ts, step, forex=False)
    assert gap is not None and gap.count == (ts[2] - ts[1]) // step - 1


def test_forex_gap_beyond_the_weekend_counts_only_the_extra_bars() -> None:
    # Friday 03:00 to Sunday 21:00: Friday 04:00-19:00 (16 h) are missing, the rest is weekend.
    ts = np.array([ns("2018-06-08T03:00Z"), ns("2018-06-10T21:00Z")], dtype=np.int64)
    gap = find_gaps(ts, HOUR, forex=True)
    assert gap is not None and gap.count == 16
    # A midweek holiday (Christmas 2018) is a gap in full.
    ts = np.array([ns("2018-12-24T21:00Z"), ns("2018-12-27T00:00Z")], dtype=np.int64)
    gap = find_gaps(ts, HOUR, forex=True)
    assert gap is not None and gap.count == 50


def test_weekend_exception_applies_only_to_forex_looking_data() -> None:
    index = pd.DatetimeIndex(["2018-03-09T20:00Z", "2018-03-09T21:00Z", "2018-03-11T22:00Z"])
    df = pd.DataFrame(
        {"open": 1.2, "high": 1.3, "low": 1.1, "close": 1.2, "volume": 0.0}, index=index
    )
    assert validate_ohlcv(df, source="fx", timeframe_ns=HOUR) == []
    df["volume"] = 3.0
    (gap,) = validate_ohlcv(df, source="crypto", timeframe_ns=HOUR)
    assert gap.count == 48


def test_issue_line_names_source_rows_and_numbering() -> None:
    df = bars()
    df.iloc[4, :4] = -2.0  # every price negative, so OHLC stays consistent
    (issue,) = validate_ohlcv(df, source="data/btc.csv", timeframe_ns=None)
    line = issue_line(issue, "data/btc.csv")
    assert line.startswith("data/btc.csv: 1 row with a price")
    assert "(row 5; row 1 is the first line after the header)" in line
    assert line.endswith("fix the data, or set on_broken to warn (drops them)")
    assert "row 1 is the first candle" in issue_line(issue, "BTC_USDT-5m.json")


def test_warning_line_says_what_was_done() -> None:
    ts = np.array([0, 1, 1, 3, 2], dtype=np.int64) * 60 * 10**9
    values = np.tile([1.0, 2.0, 0.5, 1.5, 1.0], (5, 1))
    values[3, 0] = np.nan
    issues = {i.kind: i for i in find_broken_rows(ts, values).issues}
    assert warning_line(issues["unsorted"], "f.csv").endswith("(row 5): sorted into place")
    assert warning_line(issues["duplicate"], "f.csv").endswith("(row 3): dropped, the first kept")
    assert warning_line(issues["nan"], "f.csv") == (
        "f.csv: 1 row with an empty, NaN or infinite value (row 4): dropped"
    )


def test_unreadable_rows_count_as_that_kind_only() -> None:
    """A row the reader could not read: its NaN cell is no ``nan`` row and its made-up time
    (here far ahead) puts no later row out of order."""
    ts = np.array([0, 1, 99, 2, 3, 4], dtype=np.int64) * NS_PER_MINUTE
    values = np.tile([1.0, 2.0, 0.5, 1.5, 1.0], (6, 1))
    values[2, 3] = np.nan  # what the reader leaves for the cell it could not read
    unreadable = np.array([False, False, True, False, False, False])
    rows = np.array([1, 2, 4, 5, 6, 7], dtype=np.int64)  # a blank line before the third
    found = find_broken_rows(ts, values, rows, unreadable)
    assert by_kind(found.issues) == {"unreadable": (1, (4,))}
    np.testing.assert_array_equal(found.keep, [True, True, False, True, True, True])
    assert by_kind(find_broken_rows(ts, values, rows).issues) == {
        "unsorted": (3, (5, 6, 7)),
        "nan": (1, (4,)),
    }


def test_unreadable_lines_say_what_is_or_was_done() -> None:
    ts = np.arange(3, dtype=np.int64) * NS_PER_MINUTE
    values = np.tile([1.0, 2.0, 0.5, 1.5, 1.0], (3, 1))
    (issue,) = find_broken_rows(ts, values, unreadable=np.array([False, True, False])).issues
    text = "1 row with a value or timestamp that cannot be read"
    assert issue_line(issue, "f.csv") == (
        f"f.csv: {text} (row 2; row 1 is the first line after the header); "
        "fix the data, or set on_broken to warn (drops them)"
    )
    assert warning_line(issue, "f.csv") == f"f.csv: {text} (row 2): dropped"


def test_raise_for_issues_one_line_per_issue() -> None:
    df = bars()
    df.iloc[1, df.columns.get_loc("open")] = np.nan
    df.iloc[2, df.columns.get_loc("volume")] = -2.0
    issues = validate_ohlcv(df, source="f.csv", timeframe_ns=None)
    raise_for_issues([], "f.csv")  # nothing to raise
    with pytest.raises(DataError) as info:
        raise_for_issues(issues, "f.csv")
    assert len(str(info.value).splitlines()) == 2


def test_format_duration() -> None:
    assert format_duration(285 * NS_PER_MINUTE) == "4h45m"
    assert format_duration(51 * HOUR) == "2d3h"
    assert format_duration(30 * 10**9) == "30s"
