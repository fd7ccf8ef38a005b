"""``genebot run --live``: the go-live checks, the banner, the live runtime, its outcome."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from genebot.cli.common import console, err, find_config, guarded, say
from genebot.core.errors import GenebotError, InputError
from genebot.core.secrets import SecretRedactor, install

if TYPE_CHECKING:
    from genebot.config.loader import GenebotConfig
    from genebot.live.exchange_runtime import LiveOutcome, LiveRuntime
    from genebot.persistence.database import Database

DEFAULT_LIVE_CONFIGS = (Path("config/trading_bot_config.yaml"), Path("config/live.yaml"))


def _live_config(path: Path | None, log_level: str | None) -> object:
    from genebot.config.loader import load_config

    chosen = find_config(path, DEFAULT_LIVE_CONFIGS, "live trading needs a config")
    cfg = load_config(chosen)
    if log_level is not None:
        data = cfg.model_dump(by_alias=True)
        data["logging"]["level"] = log_level.upper()
        cfg = load_config(data)
    return cfg, chosen


def _redact_logs(cfg: object, exchange: str) -> SecretRedactor:
    """Every log record masked: the environment's secrets and this exchange's keys."""
    entry = cfg.exchanges[exchange]  # type: ignore[attr-defined]
    redactor = install()
    keys = (entry.api_key, entry.api_secret, entry.passphrase, entry.password)
    redactor.add(k.get_secret_value() for k in keys if k is not None)
    return redactor


def run_live(
    config: Path | None,
    *,
    yes: bool,
    max_bars: int | None,
    name: str,
    database_url: str | None,
    log_level: str | None,
    daemon: Path | None = None,
) -> None:
    from genebot.cli.backtest import _run_store
    from genebot.cli.run import _daemonize
    from genebot.live import golive
    from genebot.live.exchange_runtime import LiveRuntime

    cfg, path = guarded(lambda: _live_config(config, log_level))  # type: ignore[misc]
    ask = input if sys.stdin.isatty() else None
    target = guarded(lambda: golive.check(cfg, str(path), yes=yes, env=os.environ, ask=ask))
    style = "bold yellow" if target.sandbox else "bold white on red"
    err.print(f" {target.banner} ", style=style, highlight=False)
    if cfg.live.staged_sizing:
        weeks = ", ".join(f"{f:.0%}" for f in cfg.live.staged_weekly)
        err.print(
            f"staged sizing on: weeks 1-{len(cfg.live.staged_weekly)} trade {weeks} of the "
            "configured size, then all of it (live.staged_sizing: false turns it off)",
            highlight=False,
        )
    if daemon is not None:  # confirmed here, at the terminal: the background run is told so
        extra = () if yes else ("--yes",)
        _daemonize(daemon, extra, {golive.CONFIRM_ENV: "1"})
        return
    logging.basicConfig(level=cfg.logging.level, format="%(levelname)s %(name)s: %(message)s")
    redactor = _redact_logs(cfg, target.exchange)
    db = _run_store(database_url)
    outcome = _operate(cfg, db, LiveRuntime(cfg, db, name=name, max_bars=max_bars), redactor)
    console.print(
        f"deployment {outcome.deployment_id[:12]} (live on {target.exchange}): "
        f"{outcome.bars} bars, {outcome.orders} orders ({outcome.sent} sent to the exchange), "
        f"{outcome.fills} fills; stopped: {outcome.stop_reason}",
        highlight=False,
    )
    for line in outcome.working_orders:
        where = (
            "held by genebot, not on the exchange: unprotected while genebot is stopped"
            if "(EMULATED)" in line
            else "left working on the exchange"
        )
        say(console, "working", "yellow", f"{line}: {where}")


def run_paper_live(
    cfg: GenebotConfig,
    *,
    name: str,
    fresh: bool,
    max_bars: int | None,
    database_url: str | None,
    api: bool = True,
) -> None:
    """``genebot run --live-prices``: paper trading on the exchange's live candles."""
    from genebot.cli.backtest import _run_store
    from genebot.live.exchange_setup import traded
    from genebot.live.paper_exchange import PaperExchangeRuntime

    exchange, _ = guarded(lambda: traded(cfg))
    err.print(
        f" PAPER TRADING on {exchange}'s live prices: simulated fills, no order is sent ",
        style="bold white on blue", highlight=False,
    )  # fmt: skip
    logging.basicConfig(level=cfg.logging.level, format="%(levelname)s %(name)s: %(message)s")
    redactor = _redact_logs(cfg, exchange)
    db = _run_store(database_url)
    runtime = PaperExchangeRuntime(cfg, db, name=name, fresh=fresh, max_bars=max_bars)
    outcome = _operate(cfg, db, runtime, redactor, api)
    wallet = ", ".join(f"{k} {v}" for k, v in runtime.wallet().items())
    console.print(
        f"deployment {outcome.deployment_id[:12]} (paper on {exchange}'s prices): "
        f"{outcome.bars} bars, {outcome.orders} orders, {outcome.fills} fills; wallet {wallet}; "
        f"stopped: {outcome.stop_reason}",
        highlight=False,
    )


def _operate(
    cfg: GenebotConfig, db: Database, runtime: LiveRuntime, redactor: SecretRedactor,
    api: bool = True,
) -> LiveOutcome:  # fmt: skip
    """Run with the API, log files, notifications and backups beside it; Ctrl-C stops."""
    import signal

    from genebot.cli.api_thread import start_api, start_log_files, start_notifications
    from genebot.cli.run import _install_stop
    from genebot.core.logfiles import remove as remove_log_files
    from genebot.services.backups import start_backups

    previous = _install_stop(runtime)  # type: ignore[arg-type]
    served = start_api(cfg, db, runtime, api)
    files = start_log_files(cfg)
    notifier = start_notifications(cfg, runtime)
    backups = start_backups(cfg, db)
    try:
        return runtime.run()
    except GenebotError as exc:  # one clear line, the keys masked; the journal holds it too
        say(err, "error:", "red", redactor.redact(str(exc)))
        raise typer.Exit(2 if isinstance(exc, InputError) else 1) from None
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
