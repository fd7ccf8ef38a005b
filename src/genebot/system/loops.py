"""Drive the kernel through a timeline: every bar (per_bar) or only eventful bars (fast)."""

from __future__ import annotations

from collections.abc import Callable

from genebot.system.kernel import Kernel

Progress = Callable[[int], None]


def run_per_bar(
    kernel: Kernel,
    progress: Progress | None = None,
    after_step: Callable[[int], None] | None = None,
) -> None:
    """Every bar goes through the kernel's step handler and every strategy's ``on_bar``;
    ``after_step(step)`` (e.g. a per-bar recorder) follows each step."""
    n = len(kernel.timeline)
    chunk = 50_000
    for start in range(0, n, chunk):
        kernel.run_steps(start, min(n, start + chunk), after_step)
        if progress is not None:
            progress(min(n, start + chunk))


def run_fast(kernel: Kernel, progress: Progress | None = None) -> None:
    """Visit only the steps where a signal fires or a working order can act.

    Correct for strategies that trade vectorized signals through the default ``on_bar``: on
    every skipped bar such a strategy would do nothing and no order could fill, so the result is
    identical to :func:`run_per_bar` (a test proves it).
    """
    signals = kernel.signal_steps().tolist()
    n = len(kernel.timeline)
    n_signals = len(signals)
    process = kernel.process_step
    p = 0
    last = -1
    every = max(1, n // 200)  # about 200 progress updates, wherever the visited steps fall
    report_at = every
    while True:
        next_signal = signals[p] if p < n_signals else n
        next_order = kernel.next_order_step(last)
        step = next_signal if next_order is None else min(next_signal, next_order)
        if step >= n:
            break
        process(step)
        last = step
        while p < n_signals and signals[p] <= step:
            p += 1
        if progress is not None and step >= report_at:
            progress(step)
            report_at = step + every
    kernel.step = n - 1
    for venue in kernel.venues.values():  # trailing stops still working move to the last bar
        trail = getattr(venue, "trail_to_end", None)
        if trail is not None:
            trail()
    kernel.emulator.trail_to_end()
    if kernel.rollover is not None and n:  # swaps due after the last visited bar
        kernel.rollover.apply(int(kernel.timeline.step_ts[n - 1]))
    if progress is not None:
        progress(n)
