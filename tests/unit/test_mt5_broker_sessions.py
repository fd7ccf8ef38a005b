"""The broker-session calculator, as a scenario table: Friday close, Sunday open, rollover
minutes, the broker's time zone against UTC, a DST change of the server's zone; and staleness
counted in open-market time only."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from genebot.core.errors import InputError
from genebot.venues.mt5.sessions import BrokerSessions, parse_table, sessions_of
from genebot.venues.mt5.symbols import ServerClock


def ns(text: str) -> int:
    return int(pd.Timestamp(text).value)


FIXED = BrokerSessions(ServerClock("+2"))  # the forex week, GMT+2 all year
ATHENS = BrokerSessions(ServerClock("Europe/Athens"))  # +2 in winter, +3 in summer
PAUSED = BrokerSessions(ServerClock("+2"), rollover_pause_min=10)
EARLY = BrokerSessions(ServerClock("+2"), parse_table({d: "00:00-24:00" for d in
                       ("mon", "tue", "wed", "thu")} | {"fri": "00:00-21:00"}))  # fmt: skip

SCENARIOS = [
    # (name, sessions, UTC instant, open, may enter)
    ("Friday before the close", FIXED, "2018-03-09T21:54:00Z", True, True),
    ("Friday 23:55 server: closed", FIXED, "2018-03-09T21:55:00Z", False, False),
    ("Saturday", FIXED, "2018-03-10T12:00:00Z", False, False),
    ("Sunday 23:59 server", FIXED, "2018-03-11T21:59:00Z", False, False),
    ("Monday 00:00 server: open", FIXED, "2018-03-11T22:00:00Z", True, True),
    ("a Tuesday midnight, no pause configured", FIXED, "2018-03-06T22:00:00Z", True, True),
    ("rollover: 5 min before server midnight", PAUSED, "2018-03-06T21:55:00Z", True, False),
    ("rollover: 9 min after", PAUSED, "2018-03-06T22:09:00Z", True, False),
    ("rollover over: 10 min after", PAUSED, "2018-03-06T22:10:00Z", True, True),
    ("winter: Athens is +2, opens Sunday 22:00 UTC", ATHENS, "2018-03-04T22:00:00Z", True, True),
    ("winter: Sunday 21:30 UTC still closed", ATHENS, "2018-03-04T21:30:00Z", False, False),
    ("summer: Athens is +3, opens Sunday 21:00 UTC", ATHENS, "2018-07-08T21:00:00Z", True, True),
    ("summer: Friday 20:55 UTC is 23:55 server", ATHENS, "2018-07-06T20:55:00Z", False, False),
    ("a table's early Friday close (21:00 server)", EARLY, "2018-03-09T19:30:00Z", False, False),
]


@pytest.mark.parametrize(("name", "hours", "when", "open_", "enter"), SCENARIOS,
                         ids=[s[0] for s in SCENARIOS])  # fmt: skip
def test_session_scenarios(
    name: str, hours: BrokerSessions, when: str, open_: bool, enter: bool
) -> None:
    assert hours.is_open(ns(when)) is open_
    assert hours.may_enter(ns(when)) is enter
    assert (hours.closed_reason(ns(when)) is None) is enter


@pytest.mark.parametrize(
    ("hours", "when", "opens"),
    [
        (FIXED, "2018-03-10T12:00:00Z", "2018-03-11T22:00:00Z"),
        (ATHENS, "2018-07-07T12:00:00Z", "2018-07-08T21:00:00Z"),
        # the EU clocks go forward on 2018-03-25: Friday's close at +2, Monday's open at +3
        (ATHENS, "2018-03-23T22:00:00Z", "2018-03-25T21:00:00Z"),
    ],
)
def test_the_next_open(hours: BrokerSessions, when: str, opens: str) -> None:
    assert hours.next_open_ns(ns(when)) == ns(opens)
    assert hours.next_change(ns(when)) == ns(opens)


def test_the_close_and_the_reason_name_the_next_open() -> None:
    assert FIXED.next_change(ns("2018-03-09T12:00:00Z")) == ns("2018-03-09T21:55:00Z")
    why = FIXED.closed_reason(ns("2018-03-10T12:00:00Z")) or ""
    assert "market is closed" in why and "Sun 2018-03-11 22:00 UTC (Mon 00:00 server time)" in why
    pause = PAUSED.closed_reason(ns("2018-03-06T21:55:00Z")) or ""
    assert "rollover pause" in pause and "22:10 UTC" in pause


def test_open_time_skips_the_weekend() -> None:
    friday, monday = ns("2018-03-09T21:00:00Z"), ns("2018-03-12T01:00:00Z")
    assert FIXED.open_ns_between(friday, monday) == ns("2018-03-09T21:55:00Z") - friday + (
        monday - ns("2018-03-11T22:00:00Z")
    )
    assert FIXED.open_ns_between(monday, friday) == 0


def test_tables_from_the_configuration() -> None:
    entry = SimpleNamespace(
        sessions={"Mon": "00:00-24:00", "fri": ["00:00-12:00", "13:00-23:00"]},
        rollover_pause_minutes=3,
    )
    hours = sessions_of(entry, ServerClock("+2"))
    assert hours.rollover_pause_min == 3 and hours.table[4] == ((0, 720), (780, 1380))
    assert not hours.is_open(ns("2018-03-06T10:00:00Z"))  # Tuesday: not in the table
    assert not hours.is_open(ns("2018-03-09T10:30:00Z"))  # Friday 12:30 server: the break
    with pytest.raises(InputError, match="not a weekday"):
        parse_table({"someday": "00:00-01:00"})
    with pytest.raises(InputError, match="not a span"):
        parse_table({"mon": "10:00-09:00"})
