"""The forex week in the broker's server time: weekend close, next open, rollover pause."""

from __future__ import annotations

import pandas as pd

from genebot.venues.mt5.sessions import ForexWeek
from genebot.venues.mt5.symbols import ServerClock


def ns(text: str) -> int:
    return int(pd.Timestamp(text).value)


def test_the_week_runs_monday_to_friday_in_server_time() -> None:
    week = ForexWeek(ServerClock("+2"))
    assert week.is_open(ns("2018-03-06T10:00:00Z"))  # Tuesday
    assert week.is_open(ns("2018-03-09T21:50:00Z"))  # Friday 23:50 server
    assert not week.is_open(ns("2018-03-09T21:56:00Z"))  # Friday 23:56 server: closed
    assert not week.is_open(ns("2018-03-10T12:00:00Z"))  # Saturday
    assert not week.is_open(ns("2018-03-11T21:59:00Z"))  # Sunday 23:59 server
    assert week.is_open(ns("2018-03-11T22:00:00Z"))  # Monday 00:00 server


def test_next_open_is_monday_midnight_server_time() -> None:
    week = ForexWeek(ServerClock("+2"))
    assert week.next_open_ns(ns("2018-03-10T12:00:00Z")) == ns("2018-03-11T22:00:00Z")
    assert week.seconds_to_open(ns("2018-03-11T21:00:00Z")) == 3600
    now = ns("2018-03-06T10:00:00Z")
    assert week.next_open_ns(now) == now


def test_entries_pause_around_the_rollover() -> None:
    week = ForexWeek(ServerClock("+2"), rollover_pause_min=5)
    assert week.in_rollover(ns("2018-03-06T21:57:00Z"))  # 23:57 server
    assert week.in_rollover(ns("2018-03-06T22:04:00Z"))  # 00:04 server
    assert not week.may_enter(ns("2018-03-06T22:04:00Z"))
    assert week.may_enter(ns("2018-03-06T22:06:00Z"))


def test_a_dst_aware_server_zone_moves_the_week_with_new_york_summer() -> None:
    week = ForexWeek(ServerClock("Europe/Athens"))  # +3 in summer
    assert week.next_open_ns(ns("2018-07-07T12:00:00Z")) == ns("2018-07-08T21:00:00Z")
