"""Notifications through apprise, against real receivers on 127.0.0.1: an aiosmtpd SMTP server
and an http.server thread (webhook JSON, and the Slack, Telegram and Discord plugins posting to
the host of the URL they were given). No mocks."""

from __future__ import annotations

import email
import email.policy
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from typer.testing import CliRunner

from genebot.cli.notify_cmd import notify_app
from genebot.config.notifications import NotificationsConfig
from genebot.monitoring.alerts import Fired
from genebot.notify import ChannelFilter, DeliveryError, Message, Severity
from genebot.notify.channels import Channel, build_channels
from genebot.notify.dispatcher import (
    DailySummary,
    Dispatcher,
    alert_notifier,
    format_summary,
    parse_hhmm,
)

CHANNEL_VARS = (
    *("SMTP_SERVER", "SMTP_PORT", "SMTP_USERNAME", "SMTP_PASSWORD", "SMTP_TLS", "SMTP_FROM"),
    *("ALERT_EMAIL_TO", "SLACK_WEBHOOK_URL", "DISCORD_WEBHOOK_URL", "GENEBOT_WEBHOOK_URL"),
    *("TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID", "TELEGRAM_API_URL"),
)
SLACK_TOKEN = "xq7Rb2NfLw9sKd3TzYp4Hc"
TELEGRAM_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
DISCORD_TOKEN = "JHMHI8qBe7bk2ZwO5UvIdRvGpY2H4mAiuUPzEvUh"
SMTP_PASSWORD = "pw-Sup3r-s3cret-9931"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.01)
    return check()


class HttpReceiver:
    """Records every POST (path and JSON body); answers like Slack (``ok``) or JSON APIs."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.requests: list[dict[str, Any]] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> HttpReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append({"path": self.path, "body": json.loads(raw or b"{}")})
                reply = b"ok" if "/services/" in self.path else b'{"ok": true, "result": {}}'
                self.send_response(200)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def bodies(self, path_part: str = "") -> list[dict[str, Any]]:
        return [r["body"] for r in list(self.requests) if path_part in r["path"]]


class SmtpSink:
    """An aiosmtpd handler keeping every message it is given."""

    def __init__(self) -> None:
        self.mails: list[tuple[str, list[str], EmailMessage]] = []

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.mails.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CHANNEL_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def smtp() -> Iterator[tuple[SmtpSink, int]]:
    sink = SmtpSink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield sink, controller.port
    controller.stop()


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    server = HttpReceiver().start()
    yield server
    server.stop()


def smtp_env(port: int, **extra: str) -> dict[str, str]:
    return {
        "SMTP_SERVER": "127.0.0.1",
        "SMTP_PORT": str(port),
        "SMTP_TLS": "none",
        "SMTP_FROM": "genebot@example.com",
        "ALERT_EMAIL_TO": "trader@example.com, desk@example.com",
        **extra,
    }


def body_text(mail: EmailMessage) -> str:
    part = mail.get_body(preferencelist=("plain", "html"))
    assert part is not None
    return str(part.get_content())


def channels_for(env: dict[str, str], **kwargs: Any) -> list[Channel]:
    channels, problems = build_channels(env, **kwargs)
    assert problems == []
    return channels


# ---------------------------------------------------------------------------------------------
# Delivery to real receivers


def test_email_reaches_the_local_smtp_server(smtp: tuple[SmtpSink, int]) -> None:
    sink, port = smtp
    dispatcher = Dispatcher(channels_for(smtp_env(port)), backoff_s=0.05)
    message = Message(
        "Kill switch tripped", "Daily loss -3.2% is over the 3% limit.", Severity.CRITICAL, "alert"
    )
    assert dispatcher.send(message) == 1
    assert dispatcher.close(timeout_s=10)
    assert {rcpt for _, rcpts, _ in sink.mails for rcpt in rcpts} == {
        "trader@example.com",
        "desk@example.com",
    }
    sender, _, mail = sink.mails[0]
    assert sender == "genebot@example.com"
    assert mail["Subject"] == "[CRITICAL] Kill switch tripped"
    assert "Daily loss -3.2% is over the 3% limit." in body_text(mail)
    assert dispatcher.stats()["email"].delivered == 1


def test_webhook_gets_the_json_payload(receiver: HttpReceiver) -> None:
    env = {"GENEBOT_WEBHOOK_URL": f"{receiver.base}/hooks/genebot?source=bot1"}
    with Dispatcher(channels_for(env)) as dispatcher:
        dispatcher.send(
            Message("Order filled", "BUY 0.1 BTC/USDT @ 50000", Severity.WARNING, "trade")
        )
    assert wait_until(lambda: len(receiver.requests) == 1)
    request = receiver.requests[0]
    assert request["path"] == "/hooks/genebot?source=bot1"
    body = request["body"]
    assert body["title"] == "[WARNING] Order filled"
    assert body["message"] == "BUY 0.1 BTC/USDT @ 50000"
    assert (body["severity"], body["category"], body["type"]) == ("WARNING", "trade", "warning")


def test_slack_telegram_discord_plugins_post_to_the_local_receiver(receiver: HttpReceiver) -> None:
    env = {
        "SLACK_WEBHOOK_URL": f"{receiver.base}/services/T0AAAA111/B0BBBB222/{SLACK_TOKEN}",
        "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
        "TELEGRAM_CHAT_ID": "-100123456",
        "TELEGRAM_API_URL": receiver.base,
        "DISCORD_WEBHOOK_URL": f"{receiver.base}/api/webhooks/417429632418316298/{DISCORD_TOKEN}",
    }
    channels = channels_for(env)
    assert sorted(c.name for c in channels) == ["discord", "slack", "telegram"]
    dispatcher = Dispatcher(channels)
    dispatcher.send(Message("Drawdown 11%", "drawdown > 0.10 on trend-1", Severity.ERROR, "alert"))
    assert dispatcher.close(timeout_s=10)
    paths = sorted(r["path"].split("?")[0] for r in receiver.requests)
    assert paths == [
        f"/api/webhooks/417429632418316298/{DISCORD_TOKEN}",
        f"/bot{TELEGRAM_TOKEN}/sendMessage",
        f"/services/T0AAAA111/B0BBBB222/{SLACK_TOKEN}",
    ]
    slack = receiver.bodies("/services/")[0]["attachments"][0]
    # the body is plain text: escaped for Slack's mrkdwn and Telegram's HTML
    assert slack["title"] == "[ERROR] Drawdown 11%"
    assert slack["text"] == "drawdown &gt; 0.10 on trend-1"
    telegram = receiver.bodies("/sendMessage")[0]
    assert telegram["chat_id"] == -100123456
    assert telegram["text"] == "<b>[ERROR] Drawdown 11%</b>\r\ndrawdown &gt; 0.10 on trend-1"
    discord = receiver.bodies("/api/webhooks/")[0]
    assert discord["content"] == "[ERROR] Drawdown 11%\r\ndrawdown > 0.10 on trend-1"


# ---------------------------------------------------------------------------------------------
# Outages: queue, retry, never block the caller, alert on the other channels


def test_outage_queues_and_retries_then_delivers_without_slowing_send() -> None:
    hook = HttpReceiver()  # not started: the receiver is down
    env = {"GENEBOT_WEBHOOK_URL": f"{hook.base}/hook"}
    dispatcher = Dispatcher(channels_for(env), retries=200, backoff_s=0.02, max_backoff_s=0.05)
    slowest = 0.0
    for n in range(20):
        started = time.perf_counter()
        dispatcher.send(Message(f"fill {n}", f"trade {n}", Severity.INFO, "trade"))
        slowest = max(slowest, time.perf_counter() - started)
    assert slowest < 0.05
    assert wait_until(lambda: dispatcher.stats()["webhook"].retries >= 3)
    assert hook.requests == []
    hook.start()
    try:
        assert wait_until(lambda: len(hook.requests) == 20)
        assert [b["message"] for b in hook.bodies()] == [f"trade {n}" for n in range(20)]
        assert wait_until(lambda: dispatcher.stats()["webhook"].delivered == 20)
        stats = dispatcher.stats()["webhook"]
        assert (stats.failed, stats.dropped) == (0, 0)
    finally:
        assert dispatcher.close(timeout_s=5)
        hook.stop()


def test_a_failing_channel_alerts_the_others_once_then_recovers(receiver: HttpReceiver) -> None:
    hook = HttpReceiver()
    env = {"GENEBOT_WEBHOOK_URL": f"{hook.base}/hook"}
    channels = channels_for(env, urls=[f"json://127.0.0.1:{receiver.port}/ops"])
    assert [c.name for c in channels] == ["webhook", "json"]
    dispatcher = Dispatcher(channels, retries=1, backoff_s=0.01)
    for n in range(3):
        dispatcher.send(Message(f"risk halt {n}", "halted", Severity.ERROR, "alert"))
    assert wait_until(lambda: dispatcher.stats()["webhook"].failed == 3)
    assert wait_until(lambda: len(receiver.requests) == 4)  # 3 alerts + 1 "failing"
    time.sleep(0.1)
    titles = [b["title"] for b in receiver.bodies()]
    assert titles.count("[ERROR] channel webhook failing") == 1
    failing = next(b for b in receiver.bodies() if "failing" in b["title"])
    assert failing["message"].startswith("channel webhook failing: A Connection error occurred")
    assert failing["category"] == "alert"
    hook.start()
    try:
        dispatcher.send(Message("back", "receiver is up", Severity.WARNING, "system"))
        assert wait_until(lambda: len(hook.requests) == 1)
        assert wait_until(lambda: len(receiver.requests) == 6)  # + "back" + "recovered"
        recovered = receiver.bodies()[-1]
        assert recovered["title"] == "[INFO] channel webhook recovered"
        assert "3 message(s) were not delivered" in recovered["message"]
        assert not dispatcher.stats()["webhook"].failing
    finally:
        dispatcher.close(timeout_s=5)
        hook.stop()


def test_full_queue_drops_the_oldest_info_first() -> None:
    hook = HttpReceiver()
    env = {"GENEBOT_WEBHOOK_URL": f"{hook.base}/hook"}
    dispatcher = Dispatcher(
        channels_for(env), queue_size=3, retries=500, backoff_s=0.01, max_backoff_s=0.02
    )
    dispatcher.send(Message("a", "a"))  # in flight, retrying
    assert wait_until(lambda: dispatcher.stats()["webhook"].retries >= 1)
    dispatcher.send(Message("b", "b"))
    dispatcher.send(Message("c", "c", Severity.WARNING))
    dispatcher.send(Message("d", "d"))
    dispatcher.send(Message("e", "e", Severity.ERROR))  # full: drops b, the oldest INFO
    dispatcher.send(Message("f", "f"))  # full: drops d
    assert dispatcher.stats()["webhook"].dropped == 2
    hook.start()
    try:
        assert dispatcher.close(timeout_s=10)
        assert [b["message"] for b in hook.bodies()] == ["a", "c", "e", "f"]
    finally:
        hook.stop()


def test_close_gives_up_after_its_bounded_wait() -> None:
    env = {"GENEBOT_WEBHOOK_URL": f"http://127.0.0.1:{free_port()}/hook"}
    dispatcher = Dispatcher(channels_for(env), retries=1000, backoff_s=0.05)
    dispatcher.send(Message("never", "the receiver never comes up"))
    started = time.monotonic()
    assert dispatcher.close(timeout_s=0.3) is False
    assert time.monotonic() - started < 2.0
    assert dispatcher.send(Message("late", "after close")) == 0


# ---------------------------------------------------------------------------------------------
# Filters


def test_levels_and_category_flags_filter_per_channel(receiver: HttpReceiver) -> None:
    config = NotificationsConfig.model_validate(
        {
            "services": {
                "webhook": {"notification_levels": ["error", "critical"]},
                "slack": {"trade_notifications": False},
            },
            "notification_levels": ["WARNING", "ERROR", "CRITICAL"],
            "performance_notifications": False,
        }
    )
    env = {
        "GENEBOT_WEBHOOK_URL": f"{receiver.base}/hook",
        "SLACK_WEBHOOK_URL": f"{receiver.base}/services/T0AAAA111/B0BBBB222/{SLACK_TOKEN}",
        "DISCORD_WEBHOOK_URL": f"{receiver.base}/api/webhooks/1/{DISCORD_TOKEN}",  # not listed
    }
    channels, problems = config.build_channels(env)
    assert problems == [] and sorted(c.name for c in channels) == ["slack", "webhook"]
    dispatcher = Dispatcher(channels)
    cases = [  # message, how many channels take it
        (Message("trade info", "x", Severity.INFO, "trade"), 0),  # INFO is not in the levels
        (Message("trade error", "x", Severity.ERROR, "trade"), 1),  # slack: no trades
        (Message("perf crit", "x", Severity.CRITICAL, "performance"), 0),  # flag off
        (Message("alert warn", "x", Severity.WARNING, "alert"), 1),  # webhook: ERROR+
        (Message("only slack", "x", Severity.ERROR, "system", channels=("slack",)), 1),
        (format_summary({"pnl": 12.5}), 2),  # always: past every filter
    ]
    assert [dispatcher.send(message) for message, _ in cases] == [n for _, n in cases]
    assert dispatcher.close(timeout_s=10)
    webhook = {b["title"] for b in receiver.bodies("/hook")}
    slack = {b["attachments"][0]["title"] for b in receiver.bodies("/services/")}
    assert webhook == {"[ERROR] trade error", "[INFO] Daily summary"}
    assert slack == {"[WARNING] alert warn", "[ERROR] only slack", "[INFO] Daily summary"}


def test_seed_layout_and_config_errors_name_the_key() -> None:
    seed = {
        f"{c}_notifications": c != "system" for c in ("trade", "error", "performance", "system")
    }
    config = NotificationsConfig.model_validate(
        {
            "enabled": True,
            "services": ["email", "telegram"],
            **seed,
            "notification_levels": ["WARNING", "ERROR", "CRITICAL"],
        }
    )  # the seed's layout
    assert config.services is not None and sorted(config.services) == ["email", "telegram"]
    flt = config.channel_filter()
    assert flt == ChannelFilter(
        frozenset({Severity.WARNING, Severity.ERROR, Severity.CRITICAL}),
        frozenset({"trade", "error", "performance", "alert"}),
    )
    channels, problems = config.build_channels({})
    assert channels == []
    assert problems == [
        "email: enabled in notifications.services but not configured: set SMTP_SERVER "
        "(and ALERT_EMAIL_TO, SMTP_USERNAME, SMTP_PASSWORD)",
        "telegram: enabled in notifications.services but not configured: set "
        "TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID",
    ]
    for bad, key in [
        ({"services": {"pager": {}}}, "services.pager"),
        ({"services": {"sms": {"enabled": True}}}, "services.sms.url"),
        ({"urls": ["not a url"]}, "urls.0"),
        ({"daily_summary": {"time": "24:30"}}, "daily_summary.time"),
    ]:
        with pytest.raises(ValueError, match="validation error") as info:
            NotificationsConfig.model_validate(bad)
        assert key in str(info.value)
    _, problems = NotificationsConfig().build_channels({"SMTP_SERVER": "x", "SMTP_TLS": "tls13"})
    assert problems == ["email: SMTP_TLS='tls13': use starttls, ssl or none"]


# ---------------------------------------------------------------------------------------------
# Secrets


def test_secrets_never_reach_logs_or_reasons(
    smtp: tuple[SmtpSink, int], receiver: HttpReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    down = free_port()
    env = {
        **smtp_env(smtp[1], SMTP_USERNAME="trader@example.com", SMTP_PASSWORD=SMTP_PASSWORD),
        "SLACK_WEBHOOK_URL": f"http://127.0.0.1:{down}/services/T0AAAA111/B0BBBB222/{SLACK_TOKEN}",
        "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
        "TELEGRAM_CHAT_ID": "42",
        "TELEGRAM_API_URL": receiver.base,
    }
    channels = {c.name: c for c in channels_for(env)}
    reasons = []
    for name in ("email", "slack"):  # the sink offers no AUTH; slack's receiver is down
        with pytest.raises(DeliveryError) as info:
            channels[name].deliver(Message("t", "b"))
        reasons.append(str(info.value))
    channels["telegram"].deliver(Message("t", "b"))  # urllib3 logs the path with the token
    assert receiver.requests and TELEGRAM_TOKEN in receiver.requests[0]["path"]
    fresh, _ = build_channels(env)  # new plugins: apprise throttles repeated sends per plugin
    dispatcher = Dispatcher(fresh, retries=0)
    dispatcher.send(Message("t", "b"))
    dispatcher.close(timeout_s=5)
    text = caplog.text + "\n".join(reasons) + "".join(c.describe() for c in channels.values())
    assert "Slack" in caplog.text and "sendMessage" in caplog.text
    for secret in (SMTP_PASSWORD, SLACK_TOKEN, TELEGRAM_TOKEN, env["SLACK_WEBHOOK_URL"]):
        assert secret not in text
    assert channels["email"].describe().startswith("mailto://trader%40example.com:***@")


# ---------------------------------------------------------------------------------------------
# Daily summary, alert notifier


def test_daily_summary_is_due_once_a_day_at_the_configured_time() -> None:
    config = NotificationsConfig.model_validate(
        {"daily_summary": {"enabled": True, "time": 1200, "timezone": "Europe/London"}}
    )  # YAML 1.1 reads an unquoted 20:00 as 1200
    assert config.daily_summary.time == "20:00"
    started = datetime(2024, 5, 1, 20, 30, tzinfo=UTC)  # 21:30 in London: today's slot passed
    summary = config.summary(since=started)
    assert isinstance(summary, DailySummary) and summary.at == parse_hhmm("20:00")
    assert not summary.due(datetime(2024, 5, 1, 21, 0, tzinfo=UTC))
    assert not summary.due(datetime(2024, 5, 2, 18, 59, tzinfo=UTC))  # 19:59 London
    assert summary.due(datetime(2024, 5, 2, 19, 0, tzinfo=UTC))  # 20:00 London (BST)
    summary.mark_sent(datetime(2024, 5, 2, 19, 0, tzinfo=UTC))
    assert not summary.due(datetime(2024, 5, 2, 22, 0, tzinfo=UTC))
    assert summary.due(datetime(2024, 5, 3, 19, 5, tzinfo=UTC))
    assert NotificationsConfig().summary() is None
    message = format_summary(
        {
            "pnl": -125.5,
            "pnl_pct": -0.0125,
            "trades": 14,
            "wins": 8,
            "risk_state": "normal",
            "open_positions": 2,
        },
        day="2024-05-02",
    )
    assert message.subject == "[INFO] Daily summary 2024-05-02"
    assert message.body.splitlines() == [
        "P&L: -125.50",
        "P&L %: -1.25%",
        "Trades: 14",
        "Wins: 8",
        "Risk state: normal",
        "open positions: 2",
    ]
    assert (message.category, message.always) == ("performance", True)


def test_alert_notifier_sends_the_runtime_alert(receiver: HttpReceiver) -> None:
    env = {
        "GENEBOT_WEBHOOK_URL": f"{receiver.base}/hook",
        "SLACK_WEBHOOK_URL": f"{receiver.base}/services/T0AAAA111/B0BBBB222/{SLACK_TOKEN}",
    }
    config = NotificationsConfig.model_validate({"retries": 1, "flush_timeout_s": 5})
    dispatcher = config.dispatcher(env)
    assert [c.name for c in dispatcher.channels] == ["slack", "webhook"]
    assert (dispatcher.retries, dispatcher.flush_timeout_s) == (1, 5)
    assert NotificationsConfig(enabled=False).build_channels(env) == ([], [])
    notify = alert_notifier(dispatcher)
    notify(
        Fired("high_loss", "critical", "Daily loss exceeds 3%", channels=("webhook",)), "paper-1"
    )
    assert dispatcher.close()
    assert [b["title"] for b in receiver.bodies()] == ["[CRITICAL] paper-1: high_loss"]
    assert receiver.bodies()[0]["category"] == "alert"


# ---------------------------------------------------------------------------------------------
# genebot notify test


def test_notify_test_reports_each_channel(
    clean_env: None, smtp: tuple[SmtpSink, int], receiver: HttpReceiver
) -> None:
    down = free_port()
    env = {
        **smtp_env(smtp[1]),
        "GENEBOT_WEBHOOK_URL": f"{receiver.base}/hook",
        "SLACK_WEBHOOK_URL": f"http://127.0.0.1:{down}/services/T0AAAA111/B0BBBB222/{SLACK_TOKEN}",
    }
    runner = CliRunner()
    result = runner.invoke(notify_app, ["test"], env=env)
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("delivered email (mailto://127.0.0.1:")
    assert lines[1].startswith("failed slack (slack://***/***/***): A Connection error")
    assert lines[2] == "delivered webhook (json://***)"  # a webhook URL is a secret
    assert SLACK_TOKEN not in result.output
    assert smtp[0].mails[0][2]["Subject"] == "[INFO] genebot test notification"
    assert "channel webhook delivers" in receiver.bodies()[0]["message"]

    only = runner.invoke(notify_app, ["test", "--channel", "email"], env=env)
    assert only.exit_code == 0, only.output
    assert len(only.output.splitlines()) == 1 and only.output.startswith("delivered email")

    unknown = runner.invoke(notify_app, ["test", "--channel", "pager"], env=env)
    assert unknown.exit_code == 2
    assert "no channel 'pager' is configured (configured: email, slack, webhook)" in (
        unknown.output
    )


def test_notify_test_without_channels_says_what_to_set(
    clean_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(notify_app, ["test"])
    assert result.exit_code == 2
    assert "no notification channel is configured: set SMTP_SERVER" in result.output


def _wired() -> bool:
    from genebot.config.models import GenebotConfig

    return "notifications" in GenebotConfig.model_fields


@pytest.mark.skipif(not _wired(), reason="GenebotConfig.notifications not wired yet")
def test_notify_test_reads_the_config_file(
    clean_env: None, tmp_path: Path, receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_PORT", str(receiver.port))
    config = tmp_path / "bot.yaml"
    config.write_text(
        "notifications:\n"
        "  services:\n"
        "    ops: {url: 'json://127.0.0.1:${HOOK_PORT}/ops'}\n"
        "    email: {enabled: false}\n"
        "  urls: ['json://127.0.0.1:${HOOK_PORT}/extra']\n"
    )
    result = CliRunner().invoke(notify_app, ["test", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert [line.split(" (")[0] for line in result.output.splitlines()] == [
        "delivered ops",
        "delivered json",
    ]
    assert sorted(r["path"] for r in receiver.requests) == ["/extra", "/ops"]
