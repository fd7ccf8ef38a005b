"""Clocks and their timers: due timers fire in time order before time moves on, daily timers
keep their wall-clock time across daylight saving, a replay is paced at its speed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from genebot.engine.clock import LiveClock, ReplayClock, SimulatedClock, every_day

S = 10**9
MIN = 60 * S


def ns(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()) * S


def test_due_timers_fire_in_order_each_at_its_own_time() -> None:
    clock, seen = SimulatedClock(0), []
    for name, at in (("b", 20), ("a", 10), ("late", 99), ("c", 20)):
        clock.set_timer(name, at, lambda due, n=name: seen.append((n, due, clock.now_ns())))
    assert clock.advance_to(50) == 3
    assert seen == [("a", 10, 10), ("b", 20, 20), ("c", 20, 20)]  # ties in the order set
    assert clock.now_ns() == 50 and clock.timers == ["late"]


def test_replaced_and_canceled_timers() -> None:
    clock, seen = SimulatedClock(0), []
    clock.set_timer("t", 10, seen.append)
    clock.set_timer("t", 30, seen.append)  # replaces the first
    clock.set_timer("x", 5, seen.append)
    clock.cancel_timer("x")
    clock.advance_to(100)
    assert seen == [30]


def test_a_timer_set_by_a_timer_fires_in_the_same_advance() -> None:
    clock, seen = SimulatedClock(0), []

    def chain(due: int) -> None:
        seen.append(due)
        if due < 40:
            clock.set_timer("chain", due + 10, chain)

    clock.set_timer("chain", 10, chain)
    clock.advance_to(35)
    assert seen == [10, 20, 30]
    clock.advance_to(100)
    assert seen == [10, 20, 30, 40]


def test_time_never_goes_back() -> None:
    clock = SimulatedClock(100)
    with pytest.raises(ValueError, match="cannot go back"):
        clock.advance_to(99)


@given(st.lists(st.integers(0, 10_000), min_size=1, max_size=30), st.integers(0, 10_000))
def test_every_timer_due_by_now_has_fired_and_none_later(times: list[int], until: int) -> None:
    clock, fired = SimulatedClock(0), []
    for k, at in enumerate(times):
        clock.set_timer(f"t{k}", at, fired.append)
    clock.advance_to(until)
    assert fired == sorted(at for at in times if at <= until)


def test_daily_timer_keeps_local_midnight_across_the_dst_change() -> None:
    clock, seen = SimulatedClock(ns("2021-03-26T12:00:00")), []
    every_day(clock, "day", "00:00", "Europe/London", seen.append, clock.now_ns())
    clock.advance_to(ns("2021-03-30T12:00:00"))
    assert seen == [  # London midnight: 00:00 UTC in winter, 23:00 UTC the day before in summer
        ns("2021-03-27T00:00:00"),
        ns("2021-03-28T00:00:00"),
        ns("2021-03-28T23:00:00"),
        ns("2021-03-29T23:00:00"),
    ]


def test_a_daily_timer_due_exactly_now_waits_for_the_next_day() -> None:
    start = ns("2021-03-01T00:00:00")
    clock, seen = SimulatedClock(start), []
    every_day(clock, "day", "00:00", "UTC", seen.append, start)
    clock.advance_to(start + 36 * 60 * MIN)
    assert seen == [start + 24 * 60 * MIN]


class FakeWall:
    def __init__(self) -> None:
        self.t = 1_000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


@pytest.mark.parametrize(("speed", "slept"), [(60.0, [1.0, 1.0]), (None, [])], ids=["60x", "max"])
def test_replay_is_paced_at_its_speed(speed: float | None, slept: list[float]) -> None:
    wall = FakeWall()
    clock = ReplayClock(0, speed, wall=wall, sleep=wall.sleep)
    clock.advance_to(MIN)  # one data minute at 60x: one wall second
    clock.advance_to(2 * MIN)
    assert wall.slept == pytest.approx(slept)
    with pytest.raises(ValueError, match="speed"):
        ReplayClock(0, 0)


def test_live_clock_fires_what_is_due_and_says_how_long_to_sleep() -> None:
    now = [10 * S]
    clock, seen = LiveClock(lambda: now[0]), []
    clock.set_timer("a", 12 * S, seen.append)
    assert clock.run_due() == 0 and clock.seconds_to_next(cap=5) == pytest.approx(2.0)
    now[0] = 12 * S
    assert clock.run_due() == 1 and seen == [12 * S]
    assert clock.seconds_to_next(cap=5) == 5
