"""Clocks: where time comes from, in each mode, with timers that fire on time.

- :class:`SimulatedClock` (backtest): time jumps to each event; timers due on the way fire first,
  in time order.
- :class:`ReplayClock` (paper on a file): a simulated clock paced against the wall clock at
  ``speed`` × real time (``None``: as fast as possible).
- :class:`LiveClock` (paper, live): the wall clock; :meth:`LiveClock.run_due` fires what is due.

Timers replace "on the next bar" checks: the risk engine's trading day, the orchestrator's
schedule and the forex rollover fire when their time comes, whether or not a bar arrives.
All times are integer nanoseconds since the epoch, UTC.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable
from typing import Protocol

from genebot.core.calendar import DailyBoundary

TimerCallback = Callable[[int], None]  # called with the time the timer was due


class Clock(Protocol):
    def now_ns(self) -> int: ...

    def set_timer(self, name: str, at_ns: int, callback: TimerCallback) -> None: ...

    def cancel_timer(self, name: str) -> None: ...


class _Timers:
    """A heap of named one-shot timers; setting a name again replaces its timer."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, str]] = []
        self._live: dict[str, tuple[int, int, TimerCallback]] = {}
        self._seq = itertools.count()

    def set(self, name: str, at_ns: int, callback: TimerCallback) -> None:
        seq = next(self._seq)
        self._live[name] = (at_ns, seq, callback)
        heapq.heappush(self._heap, (at_ns, seq, name))

    def cancel(self, name: str) -> None:
        self._live.pop(name, None)

    def next_due(self) -> int | None:
        while self._heap:
            at, seq, name = self._heap[0]
            live = self._live.get(name)
            if live is not None and live[1] == seq:
                return at
            heapq.heappop(self._heap)  # replaced or canceled
        return None

    def pop_due(self, until_ns: int) -> tuple[int, TimerCallback] | None:
        """The earliest live timer due at or before ``until_ns``, removed."""
        at = self.next_due()
        if at is None or at > until_ns:
            return None
        _, _, name = heapq.heappop(self._heap)
        callback = self._live.pop(name)[2]
        return at, callback

    @property
    def names(self) -> list[str]:
        return sorted(self._live)


class SimulatedClock:
    """Backtest time: :meth:`advance_to` moves to the next event, firing the timers due
    before (or at) it in time order, each seeing the clock at its own due time."""

    def __init__(self, start_ns: int = 0) -> None:
        self._now = start_ns
        self._timers = _Timers()

    def now_ns(self) -> int:
        return self._now

    def set_timer(self, name: str, at_ns: int, callback: TimerCallback) -> None:
        self._timers.set(name, at_ns, callback)

    def cancel_timer(self, name: str) -> None:
        self._timers.cancel(name)

    @property
    def timers(self) -> list[str]:
        return self._timers.names

    def next_timer_ns(self) -> int | None:
        return self._timers.next_due()

    def advance_to(self, ts_ns: int) -> int:
        """Move to ``ts_ns`` (never back); returns how many timers fired on the way."""
        if ts_ns < self._now:
            raise ValueError(f"time cannot go back: {ts_ns} < {self._now}")
        fired = 0
        while (due := self._timers.pop_due(ts_ns)) is not None:
            at, callback = due
            self._now = max(self._now, at)
            callback(at)
            fired += 1
        self._now = ts_ns
        return fired


class ReplayClock(SimulatedClock):
    """A file played as if live: data time advances no faster than ``speed`` × the wall
    clock (``speed=None`` plays as fast as possible). ``sleep`` and ``wall`` are injectable."""

    def __init__(
        self,
        start_ns: int,
        speed: float | None = None,
        *,
        wall: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(start_ns)
        if speed is not None and speed <= 0:
            raise ValueError(f"speed {speed}: must be > 0 (or max)")
        self.speed = speed
        self._wall, self._sleep = wall, sleep
        self._origin_data, self._origin_wall = start_ns, wall()

    def advance_to(self, ts_ns: int) -> int:
        if self.speed is not None:
            due_wall = self._origin_wall + (ts_ns - self._origin_data) / 1e9 / self.speed
            wait = due_wall - self._wall()
            if wait > 0:
                self._sleep(wait)
        return super().advance_to(ts_ns)


class LiveClock:
    """The wall clock (UTC ns). Timers fire from :meth:`run_due`, which the runtime's loop
    calls; :meth:`seconds_to_next` says how long it may sleep."""

    def __init__(self, now: Callable[[], int] = time.time_ns) -> None:
        self._source = now
        self._timers = _Timers()

    def now_ns(self) -> int:
        return self._source()

    def set_timer(self, name: str, at_ns: int, callback: TimerCallback) -> None:
        self._timers.set(name, at_ns, callback)

    def cancel_timer(self, name: str) -> None:
        self._timers.cancel(name)

    def run_due(self) -> int:
        fired = 0
        while (due := self._timers.pop_due(self.now_ns())) is not None:
            due[1](due[0])
            fired += 1
        return fired

    def seconds_to_next(self, cap: float = 1.0) -> float:
        at = self._timers.next_due()
        if at is None:
            return cap
        return max(0.0, min(cap, (at - self.now_ns()) / 1e9))


def every_day(
    clock: Clock, name: str, at: str, timezone: str, callback: TimerCallback, after_ns: int
) -> None:
    """Fire ``callback`` at ``at`` (HH:MM) in ``timezone`` every day from after ``after_ns``
    (daylight saving kept: the same wall-clock time each day)."""
    days = DailyBoundary(at, timezone)

    def fire(due: int) -> None:
        clock.set_timer(name, days.after(due), fire)  # first the next one: callback may cancel
        callback(due)

    first = days.at_or_before(after_ns)
    clock.set_timer(name, first if first > after_ns else days.after(first), fire)
