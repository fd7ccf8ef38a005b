"""``genebot.backtest.run_many``: many backtests over the same data, loaded once.

A study runs thousands of backtests that differ only in strategy parameters (and the dates of a
walk-forward fold). :class:`BatchRunner` reads and validates each data file once (keyed by what
decides the bars: files, data folder, data policies, venues, symbols and timeframes) and hands
the engine the loaded frames; each run then clips them to its own dates exactly as a single
:func:`genebot.backtest.run` does.

What does not depend on a run's parameters is kept between runs: each feed once validated,
clipped to a run's dates and given its instrument (``setup.FeedCache``, keyed by venue, symbol,
timeframe, dates and fees; every run gets fresh feed objects over the same read-only arrays),
and a config mapping's validation outside the strategies' parameters (``overlay``: per run
only the parameters are validated). Venues, accounts, strategies and the kernel are new in
every run. ``stats`` computes the statistics with the same function as a full result
(``runner.run_stats``) but builds no trades, orders or equity frames.

With ``cache_indicators`` the TA-Lib functions the strategies call (``talib.SMA(...)``) are
memoized while the runner is open: a call with the same function, the same scalar parameters
and the same input series (compared element by element, so a symbol, a fold or a derived
series each get their own entry) returns a copy of the stored result instead of recomputing
it. The hook is the ``talib`` module's attributes, so no strategy and no engine code changes;
a strategy that imported a function by name (``from talib import SMA``) is simply not cached.
Results are identical with and without the cache.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import numpy as np
import pandas as pd

from genebot.backtest.overlay import ConfigOverlay
from genebot.backtest.recorder import EquityRecorder
from genebot.backtest.result import BacktestResult
from genebot.backtest.runner import (
    ConfigInput,
    EngineMode,
    execute,
    gc_paused,
    result_of,
    run_stats,
)
from genebot.backtest.setup import DataInput, FeedCache, RunSetup, build
from genebot.config.loader import GenebotConfig, apply_overrides, load_config
from genebot.system.kernel import Kernel

__all__ = ["BatchRunner", "IndicatorCache", "run_many"]


def run_many(
    configs: Iterable[ConfigInput],
    data: DataInput | None = None,
    *,
    cache_indicators: bool = True,
    engine_mode: EngineMode | None = None,
) -> list[BacktestResult]:
    """Run each config (as :func:`genebot.backtest.run` would) over data loaded once.

    ``data`` is optional in-memory bars as for ``run``; without it each distinct data set the
    configs name is read from its files once. Returns the results in the configs' order."""
    with BatchRunner(data, cache_indicators=cache_indicators, engine_mode=engine_mode) as runner:
        return [runner.run(cfg) for cfg in configs]


def _sample(values: np.ndarray) -> tuple[object, ...]:
    """A cheap summary of an array for the first look-up; equality is checked in full."""
    n = values.shape[0] if values.ndim else 0
    if n == 0:
        return (values.shape, str(values.dtype))
    picks = values[[0, n // 2, n - 1]].tolist() if values.ndim == 1 else ()
    # NaN != NaN: a warm-up NaN would make every look-up miss; it is keyed as text
    return (values.shape, str(values.dtype), tuple("nan" if p != p else p for p in picks))


@dataclass
class _Entry:
    inputs: list[np.ndarray]
    output: Any


@dataclass
class IndicatorCache:
    """Memoized indicator results: (function, scalar parameters, input series) → output."""

    max_entries: int = 20_000
    hits: int = 0
    misses: int = 0
    _store: dict[tuple[object, ...], list[_Entry]] = field(default_factory=dict)
    _size: int = 0

    def call(
        self, name: str, fn: Callable[..., Any], args: tuple[Any, ...], kw: dict[str, Any]
    ) -> Any:
        arrays = [a for a in args if isinstance(a, np.ndarray)]
        arrays += [v for v in kw.values() if isinstance(v, np.ndarray)]
        scalars = tuple(None if isinstance(a, np.ndarray) else a for a in args)
        named = tuple(sorted((k, None if isinstance(v, np.ndarray) else v) for k, v in kw.items()))
        try:
            key = (name, scalars, named, tuple(_sample(a) for a in arrays))
            hash(key)
        except TypeError:  # an unhashable parameter: computed, not cached
            return fn(*args, **kw)
        for entry in self._store.get(key, ()):
            if all(_same(a, b) for a, b in zip(entry.inputs, arrays, strict=True)):
                self.hits += 1
                return _copy(entry.output)
        self.misses += 1
        output = fn(*args, **kw)
        if self._size < self.max_entries:
            self._store.setdefault(key, []).append(
                _Entry([a.copy() for a in arrays], _copy(output))
            )
            self._size += 1
        return output

    def clear(self) -> None:
        self._store.clear()
        self._size = 0


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    if a is b:
        return True
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    return bool(np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))


def _copy(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, tuple):
        return tuple(_copy(v) for v in value)
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


@contextmanager
def patched_talib(cache: IndicatorCache) -> Iterator[None]:
    """TA-Lib's functions memoized through ``cache`` for the duration (restored after)."""
    talib: Any = importlib.import_module("talib")
    originals: dict[str, Any] = {}
    for name in talib.get_functions():
        fn = getattr(talib, name, None)
        if callable(fn):
            originals[name] = fn
            setattr(talib, name, _memoized(cache, name, fn))
    try:
        yield
    finally:
        for name, fn in originals.items():
            setattr(talib, name, fn)


def _memoized(cache: IndicatorCache, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any, **kw: Any) -> Any:
        return cache.call(name, fn, args, kw)

    call.__wrapped__ = fn  # type: ignore[attr-defined]
    call.genebot_cached = True  # type: ignore[attr-defined]
    call.__name__ = name
    return call


def _data_key(cfg: GenebotConfig) -> str:
    """What decides which bars a config loads (not its dates, fees or parameters)."""
    bt = cfg.backtest
    feeds = sorted(
        (s.venue or "", tuple(s.venues or ()), tuple(s.symbols), tuple(s.timeframes), s.quotes)
        for s in cfg.strategies.values()
        if s.enabled
    )
    sources = [e.model_dump() for e in bt.data] + [e.model_dump() for e in bt.quotes]
    return repr((bt.data_dir, sources, bt.on_broken, bt.on_gap, feeds, sorted(cfg.exchanges)))


def _stats_only(
    cfg: GenebotConfig,
    setup: RunSetup,
    kernel: Kernel,
    recorder: EquityRecorder,
    mode: str,
    _sleeves: object,
) -> dict[str, Any]:
    return run_stats(cfg, setup, kernel, recorder, mode, frames=False).stats


class BatchRunner:
    """Runs backtests over data loaded once; use as a context manager (``with``) so the
    indicator cache is active across runs. ``run(config)`` equals ``genebot.backtest.run``."""

    def __init__(
        self,
        data: DataInput | None = None,
        *,
        cache_indicators: bool = True,
        engine_mode: EngineMode | None = None,
    ) -> None:
        self._given = data
        self._loaded: dict[str, dict[str, pd.DataFrame]] = {}
        self._feeds: dict[str, FeedCache] = {}  # per data set: its feeds, by dates and fees
        self._overlay = ConfigOverlay(self._mode)
        self.engine_mode: EngineMode | None = engine_mode
        self.cache = IndicatorCache() if cache_indicators else None
        self._patch: Any = None

    def __enter__(self) -> BatchRunner:
        if self.cache is not None:
            self._patch = patched_talib(self.cache)
            self._patch.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._patch is not None:
            self._patch.__exit__(kind, exc, tb)
            self._patch = None

    def data_for(self, cfg: GenebotConfig) -> dict[str, pd.DataFrame]:
        """The whole (unclipped) bars of every feed ``cfg`` trades, loaded on first use."""
        return self._data(_data_key(cfg), cfg)

    def _data(self, key: str, cfg: GenebotConfig) -> dict[str, pd.DataFrame]:
        found = self._loaded.get(key)
        if found is None:
            whole = cfg.model_copy(
                update={
                    "backtest": cfg.backtest.model_copy(
                        update={"start_date": None, "end_date": None}
                    )
                }
            )
            setup = build(whole, self._given)
            found = {}
            for (venue, symbol, tf), feed in zip(setup.feed_keys, setup.feeds, strict=True):
                if tf == "quotes":
                    continue
                index = pd.DatetimeIndex(pd.to_datetime(feed.ts, utc=True), name="timestamp")
                columns = {c: getattr(feed, c) for c in ("open", "high", "low", "close", "volume")}
                frame = pd.DataFrame(columns, index=index)
                if feed.source and not feed.source.startswith("data["):
                    frame.attrs["source"] = feed.source  # its warnings name the file
                found[f"{symbol}@{venue}:{tf}"] = frame
            if self._given is not None:  # quotes given in memory stay available
                found.update({k: v for k, v in self._given.items() if k.endswith(":quotes")})
            self._loaded[key] = found
        return found

    def _config(self, config: ConfigInput) -> GenebotConfig:
        if isinstance(config, Mapping):  # the same mapping with new parameters: validated once
            return self._overlay.load(config)
        return self._mode(load_config(config))

    def _mode(self, cfg: GenebotConfig) -> GenebotConfig:
        if self.engine_mode is None:
            return cfg
        return apply_overrides(cfg, engine_mode=self.engine_mode)

    def setup(self, cfg: GenebotConfig) -> RunSetup:
        """``cfg``'s feeds, venues and strategies over the loaded data (feeds cached)."""
        key = _data_key(cfg)
        data = self._data(key, cfg)
        return build(cfg, data, cache=self._feeds.setdefault(key, {}))

    def run(self, config: ConfigInput) -> BacktestResult:
        cfg = self._config(config)
        return execute(cfg, self.setup(cfg), result_of)

    def stats(self, config: ConfigInput) -> dict[str, Any]:
        """``run(config).stats`` without building the rest of the result (trade and order
        frames, the equity frame, exact figures): what a study scores. The same run and the
        same statistics function (``runner.run_stats``), so the same numbers."""
        cfg = self._config(config)
        # Paused around the whole run: when the collector resumes, the run's objects (cycles
        # through the kernel) are garbage already, so it walks them once, to free them, instead
        # of once while alive and again later.
        with gc_paused():
            return execute(cfg, self.setup(cfg), _stats_only)

    def prepare(self, config: ConfigInput) -> GenebotConfig:
        """Validate ``config`` and load its data now (so the first timed run does not)."""
        cfg = load_config(config)
        self.data_for(cfg)
        return cfg

    @property
    def loaded_sets(self) -> Mapping[str, Mapping[str, pd.DataFrame]]:
        return self._loaded
