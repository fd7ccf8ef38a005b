"""``genebot notify test``: send a test message to each configured notification channel."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from genebot.cli.common import console, find_config, guarded, refuse, say
from genebot.notify import DeliveryError, Message, Severity
from genebot.notify.channels import redactor

if TYPE_CHECKING:  # pydantic models: imported by the command that uses them
    from genebot.config.notifications import NotificationsConfig

notify_app = typer.Typer(no_args_is_help=True, help="Notifications: test the channels.")
DEFAULT_CONFIGS = (Path("config/trading_bot_config.yaml"), Path("config/backtest.yaml"))
ENV_HINT = (
    "set SMTP_SERVER, SLACK_WEBHOOK_URL, TELEGRAM_BOT_TOKEN + TELEGRAM_CHAT_ID, "
    "DISCORD_WEBHOOK_URL or GENEBOT_WEBHOOK_URL, or list apprise URLs in notifications.urls"
)


@notify_app.callback()
def _notify() -> None:
    """Notifications: email, Slack, Telegram, Discord, webhooks, SMS (through apprise)."""


def load_section(path: Path | None) -> NotificationsConfig:
    """The ``notifications:`` section of ``--config`` (or the default config file, if any)."""
    from genebot.config.loader import load_config
    from genebot.config.notifications import NotificationsConfig

    if path is None and not any(p.is_file() for p in DEFAULT_CONFIGS):
        return NotificationsConfig()
    cfg = load_config(find_config(path, DEFAULT_CONFIGS))
    section = getattr(cfg, "notifications", None)
    return section if isinstance(section, NotificationsConfig) else NotificationsConfig()


def sample_message(channel: str) -> Message:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return Message(
        title="genebot test notification",
        body=f"Test message from genebot on {socket.gethostname()} at {now}: "
        f"channel {channel} delivers.",
        severity=Severity.INFO,
        category="system",
        always=True,
    )


@notify_app.command("test")
def notify_test(
    channel: Annotated[
        str | None, typer.Option("--channel", help="only this channel (email, slack, …)")
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML config")] = None,
) -> None:
    """Send a test message to each configured channel; exit 1 if any fails."""
    section = guarded(lambda: load_section(config))
    if not section.enabled:
        refuse("notifications are off (notifications.enabled: false)")
    channels, problems = guarded(lambda: section.build_channels())
    mask = redactor().redact
    names = [c.name for c in channels] + [p.split(":", 1)[0] for p in problems]
    if channel is not None:
        if channel not in names:
            known = ", ".join(names) or "none"
            refuse(f"no channel {channel!r} is configured (configured: {known})")
        channels = [c for c in channels if c.name == channel]
        problems = [p for p in problems if p.split(":", 1)[0] == channel]
    if not channels and not problems:
        refuse(f"no notification channel is configured: {ENV_HINT}")
    failed = 0
    for problem in problems:
        failed += 1
        name, _, reason = problem.partition(": ")
        say(console, "failed", "red", mask(f"{name}: {reason}"))
    for ch in channels:
        try:
            ch.deliver(sample_message(ch.name))
        except DeliveryError as exc:
            failed += 1
            say(console, "failed", "red", mask(f"{ch.name} ({ch.describe()}): {exc}"))
            continue
        say(console, "delivered", "green", mask(f"{ch.name} ({ch.describe()})"))
    if failed:
        raise typer.Exit(1)
