"""Trading hours: the forex week and sessions across daylight saving, an equity exchange's
holidays and early closes, the user's windows (over midnight too), flatten before the close."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from genebot.core.errors import ConfigError
from genebot.engine.sessions import (
    NS,
    AlwaysOpen,
    ExchangeHours,
    ForexWeek,
    TradingScheduler,
    Window,
)


def ns(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()) * NS


@pytest.mark.parametrize(
    ("when", "open_"),
    [
        ("2021-03-07T21:59:00", False),  # winter: Sunday 17:00 New York = 22:00 UTC
        ("2021-03-07T22:00:00", True),
        ("2021-03-14T20:59:00", False),  # the US moved its clocks that morning: 21:00 UTC
        ("2021-03-14T21:00:00", True),
        ("2021-03-19T20:59:00", True),  # Friday 16:59 New York (summer)
        ("2021-03-19T21:00:00", False),
        ("2021-03-20T12:00:00", False),  # Saturday
    ],
)
def test_the_forex_week_follows_new_york_time(when: str, open_: bool) -> None:
    assert ForexWeek().is_open(ns(when)) is open_


def test_forex_next_change_is_the_next_open_or_close() -> None:
    week = ForexWeek()
    assert week.next_change(ns("2021-03-13T12:00:00")) == ns("2021-03-14T21:00:00")
    assert week.next_change(ns("2021-03-15T12:00:00")) == ns("2021-03-19T21:00:00")
    assert week.next_change(ns("2021-03-19T21:00:00")) == ns("2021-03-21T21:00:00")


@pytest.mark.parametrize(
    ("when", "sessions"),
    [
        ("2021-01-13T07:30:00", ["tokyo"]),  # winter: London opens at 08:00 UTC
        ("2021-07-13T07:30:00", ["tokyo", "london"]),  # summer: London opens at 07:00 UTC
        ("2021-07-13T09:30:00", ["london"]),  # Tokyo closed at 18:00 JST
        ("2021-07-13T13:30:00", ["london", "new_york"]),  # the overlap
        ("2021-07-13T01:00:00", ["sydney", "tokyo"]),
    ],
)
def test_forex_sessions_in_their_own_cities_time(when: str, sessions: list[str]) -> None:
    assert ForexWeek.sessions(ns(when)) == sessions


def test_nyse_holiday_early_close_and_dst() -> None:
    nyse = ExchangeHours("XNYS", start="2021-01-01", end="2021-12-31")
    assert not nyse.is_open(ns("2021-07-05T15:00:00"))  # Independence Day observed
    assert nyse.next_change(ns("2021-07-05T15:00:00")) == ns("2021-07-06T13:30:00")
    assert nyse.is_open(ns("2021-03-12T14:35:00"))  # winter: opens 14:30 UTC
    assert not nyse.is_open(ns("2021-03-15T13:25:00"))  # summer: opens 13:30 UTC
    assert nyse.is_open(ns("2021-03-15T13:35:00"))
    assert nyse.next_change(ns("2021-11-26T15:00:00")) == ns("2021-11-26T18:00:00")  # 13:00 ET


def test_an_unknown_exchange_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="'XNOPE': no such exchange calendar"):
        ExchangeHours("XNOPE")


def test_windows_restrict_trading_and_may_cross_midnight() -> None:
    asia = Window(["mon", "tue", "wed", "thu"], "22:00", "02:00", "UTC")
    sched = TradingScheduler(AlwaysOpen(), [asia])
    assert sched.can_trade(ns("2021-03-15T23:00:00"))  # Monday night
    assert sched.can_trade(ns("2021-03-16T01:59:00"))  # Monday's window, after midnight
    assert not sched.can_trade(ns("2021-03-16T02:00:00"))
    assert not sched.can_trade(ns("2021-03-19T23:00:00"))  # Friday: not in the window
    assert sched.can_trade(ns("2021-03-19T01:00:00"))  # Thursday's window
    assert sched.next_change(ns("2021-03-15T12:00:00")) == ns("2021-03-15T22:00:00")
    with pytest.raises(ConfigError, match="allowed mon"):
        Window(["monday"], "08:00", "09:00", "UTC")


def test_flatten_before_the_close() -> None:
    sched = TradingScheduler(ForexWeek(), flatten_before_close_s=900)
    assert not sched.should_flatten(ns("2021-03-19T20:44:00"))
    assert sched.should_flatten(ns("2021-03-19T20:45:00"))  # 15 min before Friday's close
    assert not sched.should_flatten(ns("2021-03-20T12:00:00"))  # closed already
