"""The API and dashboard in the background of ``genebot run`` (``api.enabled``, default on):
a busy port or a refused bind costs the API, never the run (a warning says why)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from genebot.cli.common import console, err, say

OFF_ENV = "GENEBOT_NO_API"  # 1: no API for this process (the test suite, launched runners)
NO_LOG_FILES_ENV = "GENEBOT_NO_LOG_FILES"  # 1: no logs/ files (the test suite)


def start_notifications(cfg: Any, runtime: Any) -> Any:
    """The notification dispatcher the runner's alerts go to (None: notifications off or no
    channel configured); ``close()`` it at the end (a bounded wait for what is queued)."""
    settings = cfg.notifications
    if not settings.enabled:
        return None
    from genebot.core.errors import GenebotError
    from genebot.notify.dispatcher import alert_notifier

    try:
        dispatcher = settings.dispatcher()
    except GenebotError as exc:  # a channel that cannot be built costs notifications, not the run
        say(err, "warning:", "yellow", f"notifications off: {exc}")
        return None
    if not dispatcher.channels:
        dispatcher.close(0)
        return None
    runtime.notifier = alert_notifier(dispatcher)
    summary = settings.summary(since=datetime.now(UTC))
    if summary is not None:
        runtime.alert_hooks.append(daily_summary(dispatcher, summary))
    return dispatcher


def daily_summary(dispatcher: Any, summary: Any) -> Any:
    """A runner hook: the day's P&L, trades and risk state, once a day at the configured time."""
    from genebot.notify.dispatcher import format_summary

    def send(values: Any) -> None:
        now = datetime.now(UTC)
        if not summary.due(now):
            return
        figures = {
            "pnl": values.get("daily_pnl_abs"),
            "pnl_pct": values.get("daily_pnl"),
            "equity": values.get("equity"),
            "trades": values.get("trades_today"),
            "drawdown": values.get("drawdown"),
            "risk_state": values.get("risk_state"),
            "open_positions": values.get("open_positions"),
        }
        dispatcher.send(format_summary(figures, day=now.date().isoformat()))
        summary.mark_sent(now)

    return send


def start_log_files(cfg: Any) -> list[Any]:
    """The seed's logs/ files for a run (``logging.directory``); remove them at the end."""
    settings = cfg.logging
    if settings.directory is None or os.environ.get(NO_LOG_FILES_ENV) == "1":
        return []
    from genebot.core.logfiles import install

    return install(
        settings.directory,
        settings.level,
        max_bytes=settings.max_bytes,
        backups=settings.backups,
        max_age_days=settings.max_age_days,
    )


def start_api(cfg: Any, db: Any, runtime: Any, enabled: bool = True) -> Any:
    """The served API (``.stop()`` it at the end), or None."""
    api = cfg.api
    if not (enabled and api.enabled) or os.environ.get(OFF_ENV) == "1":
        return None
    from genebot.api.context import ApiSettings
    from genebot.api.server import start_background
    from genebot.core.errors import GenebotError

    settings = ApiSettings(
        cors_origins=list(api.cors_origins),
        rate_limit_per_minute=api.rate_limit_per_minute,
        command_wait_s=api.command_wait_s,
    )
    try:
        served = start_background(db, api.host, api.port, settings, runtime)
    except GenebotError as exc:
        say(err, "warning:", "yellow", f"API not started: {exc}")
        return None
    console.print(f"API and dashboard on {served.url}", highlight=False)
    if served.token_file is not None:
        console.print(f"(admin token for this session in {served.token_file})", highlight=False)
    return served
