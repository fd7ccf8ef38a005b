"""The API's hot-route cache: the first answer is computed by its caller; later, an expired
value is answered at once while one background refresh runs (never two at a time)."""

from __future__ import annotations

import threading
import time

from genebot.api.context import RateLimiter, TtlCache


def test_stale_while_one_refresh_runs() -> None:
    now = [0.0]
    cache = TtlCache(clock=lambda: now[0])
    release = threading.Event()
    calls: list[int] = []

    def slow() -> object:
        calls.append(1)
        if len(calls) > 1:
            release.wait(5)
        return len(calls)

    assert cache.get("k", 1.0, slow) == 1  # computed by the caller
    assert cache.get("k", 1.0, slow) == 1 and len(calls) == 1  # fresh
    now[0] = 2.0
    assert cache.get("k", 1.0, slow) == 1  # expired: stale answer, a refresh started
    assert cache.get("k", 1.0, slow) == 1  # still refreshing: no second refresh
    release.set()
    deadline = time.monotonic() + 5
    while cache.get("k", 1.0, slow) != 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert cache.get("k", 1.0, slow) == 2 and len(calls) == 2


def test_rate_limiter_window() -> None:
    now = [0.0]
    limiter = RateLimiter(2, clock=lambda: now[0])
    assert limiter.allow("a") is None and limiter.allow("a") is None
    wait = limiter.allow("a")
    assert wait is not None and 59.0 <= wait <= 60.0
    assert limiter.allow("b") is None  # per caller
    now[0] = 60.5
    assert limiter.allow("a") is None
