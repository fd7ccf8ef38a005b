"""``genebot run``: paper trading on the replay clock, journaled, resumable, with a status view."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer

from genebot.cli.common import DONE, DatabaseOpt, console, err, guarded, say
from genebot.core.errors import InputError

if TYPE_CHECKING:
    from genebot.config.loader import GenebotConfig
    from genebot.live.runtime import PaperRuntime, Status

DEFAULT_CONFIG = Path("config/backtest.yaml")
DEFAULT_ORCHESTRATION = Path("config/orchestrator.yaml")
DEFAULT_DURATION_S = 60.0  # no --speed: the whole replay lasts about a minute
Opt = typer.Option
LiveOpt = Annotated[
    bool, Opt("--live", help="trade on the exchange (needs dry_run: false and a confirmation)")
]
YesOpt = Annotated[
    bool, Opt("--yes", help="--live, no typed confirmation (needs GENEBOT_LIVE_CONFIRM=1)")
]
MaxBarsOpt = Annotated[
    int | None, Opt(help="--live, --live-prices: stop after this many bars (a smoke test)", min=1)
]
LivePricesOpt = Annotated[
    bool,
    Opt(
        "--live-prices",
        help="paper trade on the exchange's live candles (paper.prices: exchange): "
        "simulated fills, no API key needed, nothing sent",
    ),
]
FeedOpt = Annotated[
    str | None,
    Opt(
        help="how the replayed bars reach the strategies: precomputed (fastest) or "
        "bar-by-bar (one at a time, signals from the trailing window: the live path); "
        "same orders and fills (default: run.feed, precomputed)"
    ),
]


def run_command(
    config: Annotated[Path | None, Opt("--config", "-c", help="YAML config")] = None,
    paper: Annotated[
        bool, Opt("--paper", "--paper-trading", "--dry-run", help="paper trading (the default)")
    ] = True,
    live: LiveOpt = False,
    live_prices: LivePricesOpt = False,
    yes: YesOpt = False,
    max_bars: MaxBarsOpt = None,
    replay: Annotated[bool, Opt("--replay", help="play the config's data files as if live")] = True,
    speed: Annotated[
        str | None, Opt(help="N (N x real time) or max; default: the replay lasts ~1 minute")
    ] = None,
    start_date: Annotated[str | None, Opt(help="ISO date, inclusive")] = None,
    end_date: Annotated[str | None, Opt(help="ISO date, exclusive")] = None,
    strategies: Annotated[str | None, Opt(help="only these strategies: a,b")] = None,
    symbols: Annotated[str | None, Opt(help="BTC/USDT,ETH/USDT")] = None,
    data_dir: Annotated[str | None, Opt(help="where the data files are")] = None,
    log_level: Annotated[str | None, Opt(help="DEBUG | INFO | WARNING | ERROR")] = None,
    output_dir: Annotated[
        str | None, Opt(help="write trades.csv, orders.csv, equity.csv ... here at the end")
    ] = None,
    fresh: Annotated[bool, Opt(help="start a new deployment instead of resuming")] = False,
    name: Annotated[str, Opt(help="deployment name (a restart resumes it)")] = "paper",
    feed: FeedOpt = None,
    backtest_only: Annotated[
        bool, Opt("--backtest-only", help="run `genebot backtest` with these flags")
    ] = False,
    orchestration: Annotated[bool, Opt(help="run the orchestrator config")] = False,
    orchestration_config: Annotated[
        Path | None, Opt(help="orchestrator config (default config/orchestrator.yaml)")
    ] = None,
    profile: Annotated[bool, Opt(help="print a cProfile summary at exit")] = False,
    track_memory: Annotated[bool, Opt(help="print tracemalloc's top allocations at exit")] = False,
    quiet: Annotated[bool, Opt("--quiet", "-q", help="no status view")] = False,
    daemon: Annotated[bool, Opt(help="run in the background (pid in genebot.pid)")] = False,
    log_file: Annotated[Path, Opt(help="the daemon's log")] = Path("genebot.log"),
    database_url: DatabaseOpt = None,
    api: Annotated[
        bool, Opt("--api/--no-api", help="serve the API and dashboard (api.enabled, :8000)")
    ] = True,
) -> None:
    """Paper trade: the configured strategies on the replayed data, every order journaled
    before it acts; a restart with the same command resumes where the run stopped. With no
    config it paper-trades config/backtest.yaml (or moving_average on its bundled data)."""
    if live:
        from genebot.cli.live_cmd import run_live

        run_live(
            config, yes=yes, max_bars=max_bars, name="live" if name == "paper" else name,
            database_url=database_url, log_level=log_level,
            daemon=log_file if daemon else None,
        )  # fmt: skip
        return
    if not paper:
        say(err, "error:", "red", "--no-paper: say --live to trade on the exchange")
        raise typer.Exit(2)
    del replay  # the default; --live-prices (or paper.prices: exchange) trades live candles
    if daemon:
        _daemonize(log_file)
        return
    path = orchestration_config or (DEFAULT_ORCHESTRATION if orchestration else config)
    cfg = guarded(
        lambda: _config(
            path, strategies, symbols, start_date, end_date, output_dir, log_level, data_dir
        )
    )
    if backtest_only or live_prices or cfg.paper.prices == "exchange":
        _backtest_or_live_prices(
            cfg, backtest_only, name, fresh, max_bars, database_url, api, quiet
        )
        return
    rate = guarded(lambda: _speed(speed))
    how = guarded(lambda: _feed(feed)) if feed is not None else cfg.run.feed
    _with_tools(
        profile,
        track_memory,
        lambda: _paper(cfg, rate, fresh, name, quiet, output_dir, database_url, how, api),
    )


def _backtest_or_live_prices(
    cfg: GenebotConfig, backtest_only: bool, name: str, fresh: bool, max_bars: int | None,
    database_url: str | None, api: bool, quiet: bool,
) -> None:  # fmt: skip
    """``--backtest-only``: ``genebot backtest``; ``--live-prices``: paper on live prices."""
    if backtest_only:
        from genebot.cli.backtest import execute_backtest

        execute_backtest(cfg, quiet=quiet, store=True, database_url=database_url)
        return
    from genebot.cli.live_cmd import run_paper_live

    run_paper_live(
        cfg, name="paper-live" if name == "paper" else name, fresh=fresh,
        max_bars=max_bars, database_url=database_url, api=api,
    )  # fmt: skip


def _feed(text: str) -> str:
    from genebot.live.feeding import FEEDS

    value = text.strip().lower().replace("-", "_")
    if value not in FEEDS:
        allowed = ", ".join(f.replace("_", "-") for f in FEEDS)
        raise InputError(f"--feed {text}: allowed {allowed}")
    return value


def deploy_command(
    strategy: Annotated[str, Opt(help="strategy config key or class name")],
    symbols: Annotated[str, Opt("--symbols", "--symbol", help="BTC/USDT,ETH/USDT")],
    timeframe: Annotated[str | None, Opt(help="e.g. 5m (default: the strategy's)")] = None,
    capital: Annotated[float | None, Opt(help="starting cash of this deployment")] = None,
    config: Annotated[Path | None, Opt("--config", "-c", help="base YAML config")] = None,
    paper: Annotated[bool, Opt("--paper", help="paper trading (the default)")] = True,
    speed: Annotated[str | None, Opt(help="N or max (default: ~1 minute)")] = None,
    fresh: Annotated[bool, Opt(help="start over instead of resuming")] = False,
    quiet: Annotated[bool, Opt("--quiet", "-q", help="no status view")] = False,
    daemon: Annotated[bool, Opt(help="run in the background (pid in genebot.pid)")] = False,
    log_file: Annotated[Path, Opt(help="the daemon's log")] = Path("genebot.log"),
    database_url: DatabaseOpt = None,
) -> None:
    """Deploy one strategy on some symbols as its own named paper deployment (a restart of
    the same command resumes it)."""
    from genebot.config.loader import apply_overrides

    if not paper:
        say(
            err,
            "error:",
            "red",
            "deploy runs paper deployments: trade live with `genebot run --live`",
        )
        raise typer.Exit(2)
    if daemon:
        _daemonize(log_file)
        return
    base = guarded(lambda: _config(config, None, None, None, None, None, None))
    cfg = guarded(
        lambda: apply_overrides(
            base,
            strategy=strategy,
            symbols=[x.strip() for x in symbols.split(",") if x.strip()],
            timeframe=timeframe,
            initial_cash=capital,
        )
    )
    rate = guarded(lambda: _speed(speed))
    name = f"{strategy}:{symbols}"
    _paper(cfg, rate, fresh, name, quiet, None, database_url)


def _daemonize(
    log_file: Path, extra: tuple[str, ...] = (), env: dict[str, str] | None = None
) -> None:
    """Start the same command in the background, its output to ``log_file``; the pid file
    lets `genebot status` find it; SIGTERM stops it gracefully."""
    import os
    import subprocess

    from genebot.cli.deploy_cmds import PID_FILE

    args = [a for a in sys.argv[1:] if a != "--daemon"]
    with log_file.open("a", encoding="utf-8") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "genebot.cli.main", *args, *extra, "--quiet"],
            stdout=out, stderr=out, stdin=subprocess.DEVNULL, start_new_session=True,
            env={**os.environ, **(env or {})},
        )  # fmt: skip
    PID_FILE.write_text(f"{proc.pid}\n", encoding="utf-8")
    console.print(
        f"genebot runs in the background: pid {proc.pid} (in {PID_FILE}), log {log_file}; "
        f"`genebot status`, `genebot stop ID`, or `kill {proc.pid}` (a graceful stop)",
        highlight=False,
    )


def _config(
    path: Path | None,
    strategies: str | None,
    symbols: str | None,
    start_date: str | None,
    end_date: str | None,
    output_dir: str | None,
    log_level: str | None,
    data_dir: str | None = None,
) -> GenebotConfig:
    from genebot.config.loader import apply_overrides, default_data_config, load_config

    if path is not None and not path.is_file():
        raise InputError(f"--config {path}: file not found")
    chosen = path or (DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None)
    cfg = load_config(chosen)
    if chosen is None and not any(s.enabled for s in cfg.strategies.values()):
        cfg = default_data_config(cfg, "moving_average") or cfg

    def split(value: str | None) -> list[str] | None:
        return [x.strip() for x in value.split(",") if x.strip()] if value else None

    cfg = apply_overrides(
        cfg,
        strategies=split(strategies),
        symbols=split(symbols),
        start_date=start_date,
        end_date=end_date,
        output_dir=output_dir,
        data_dir=data_dir,
    )
    if log_level is not None:
        level = log_level.upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise InputError(f"--log-level {log_level}: use DEBUG, INFO, WARNING or ERROR")
        data = cfg.model_dump(by_alias=True)
        data["logging"]["level"] = level
        cfg = load_config(data)
    return cfg


def _speed(text: str | None) -> float | str | None:
    if text is None:
        return "auto"
    if text.lower() == "max":
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise InputError(f"--speed {text}: give a number > 0 (times real time) or max")
    return value


def _paper(
    cfg: GenebotConfig,
    rate: float | str | None,
    fresh: bool,
    name: str,
    quiet: bool,
    output_dir: str | None,
    database_url: str | None,
    feed: str | None = None,
    api: bool = True,
) -> None:
    import logging

    from genebot.cli.api_thread import start_api, start_log_files, start_notifications
    from genebot.cli.backtest import _run_store, print_result
    from genebot.core.logfiles import remove as remove_log_files
    from genebot.live.runtime import PaperRuntime
    from genebot.services.backups import start_backups

    db = _run_store(database_url)
    logging.basicConfig(level=cfg.logging.level, format="%(levelname)s %(name)s: %(message)s")
    view = _StatusView(quiet)
    feed = feed or cfg.run.feed
    runtime = PaperRuntime(
        cfg, db, name=name, fresh=fresh, on_status=view.update,
        speed=None if rate == "auto" else rate,  # type: ignore[arg-type]
        duration_s=DEFAULT_DURATION_S if rate == "auto" else None, feed=feed,
        cancel_open_orders_on_stop=cfg.run.cancel_open_orders_on_stop,
    )  # fmt: skip
    previous = _install_stop(runtime)
    served = start_api(cfg, db, runtime, api)
    files = start_log_files(cfg)
    notifier = start_notifications(cfg, runtime)
    backups = start_backups(cfg, db)
    try:
        with view:
            outcome = guarded(runtime.run)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if served is not None:
            served.stop()
        if notifier is not None:
            notifier.close()
        if backups is not None:
            backups.stop()
        remove_log_files(files)
    result = outcome.result
    how = "resumed" if outcome.resumed else "new"
    state = "finished" if outcome.finished else "stopped (a restart resumes it)"
    console.print(
        f"deployment {outcome.deployment_id[:12]} ({how}, {state}): "
        f"{outcome.events_written} order events journaled in {db.display_url}",
        highlight=False,
    )
    print_result(result, "Paper trading statistics")
    if output_dir is not None:
        DONE.append(f"partly written {output_dir}/")
        paths = guarded(lambda: result.write(output_dir))
        DONE[-1] = f"written {output_dir}/"
        console.print(f"results written to {output_dir}/: " + ", ".join(p.name for p in paths))


def _install_stop(runtime: PaperRuntime) -> dict[int, Any]:
    """SIGINT/SIGTERM: stop after the current bar; a second one exits at once (every journal
    write is its own transaction: nothing is left half written)."""
    asked: list[float] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        if asked:
            raise KeyboardInterrupt
        asked.append(time.monotonic())
        err.print("stopping after the current bar (Ctrl-C again to exit at once)")
        runtime.stop()

    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, handler)
    return previous


def _with_tools(profile: bool, track_memory: bool, call: Any) -> None:
    if track_memory:
        import tracemalloc

        tracemalloc.start()
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    try:
        call()
    finally:
        if profiler is not None:
            import pstats

            profiler.disable()
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(25)
        if track_memory:
            import tracemalloc

            current, peak = tracemalloc.get_traced_memory()
            err.print(f"memory: {current / 2**20:.1f} MB now, {peak / 2**20:.1f} MB peak")
            for stat in tracemalloc.take_snapshot().statistics("lineno")[:10]:
                err.print(str(stat), highlight=False)


class _StatusView:
    """A live panel on a terminal; a plain line every 10 s otherwise."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self._live: Any = None
        self._next_line = 0.0

    def __enter__(self) -> _StatusView:
        if not self.quiet and self.tty:
            from rich.live import Live

            self._live = Live(console=err, refresh_per_second=4, transient=True)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)

    def update(self, status: Status) -> None:
        if self.quiet:
            return
        if self._live is not None:
            self._live.update(_panel(status))
        elif time.monotonic() >= self._next_line:
            err.print(_line(status), highlight=False)
            self._next_line = time.monotonic() + 10


def _when(ns: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%d %H:%M")


def _line(s: Status) -> str:
    phase = "recovering" if s.recovering else "paper"
    return (
        f"{phase} {_when(s.ts_ns)} bar {s.step + 1:,}/{s.total:,} equity {s.equity:,.2f} "
        f"pnl_today {s.daily_pnl:+,.2f} "
        f"positions {s.open_positions} orders {s.orders} trades {s.trades} risk {s.risk_state}"
    )


def _panel(s: Status) -> Any:
    from rich.progress_bar import ProgressBar
    from rich.table import Table

    table = Table(title=f"genebot paper {s.deployment_id[:12]}", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    table.add_row("time", _when(s.ts_ns) + (" (recovering)" if s.recovering else ""))
    table.add_row("replay", ProgressBar(total=max(s.total, 1), completed=s.step + 1, width=40))
    table.add_row("equity", f"{s.equity:,.2f}")
    table.add_row("P&L today / total", f"{s.daily_pnl:+,.2f} / {s.total_pnl:+,.2f}")
    if s.paused or s.stop_reason:
        table.add_row("operator", s.stop_reason or f"paused: {', '.join(s.paused)}")
    table.add_row("open positions", str(s.open_positions))
    table.add_row("orders / trades", f"{s.orders} / {s.trades}")
    table.add_row("risk", s.risk_state)
    table.add_row("last orders", "\n".join(s.last_orders) or "-")
    return table
