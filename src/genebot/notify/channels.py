"""Notification channels: one apprise plugin each, built from the seed's environment variables.

A channel is an apprise URL (``mailto://``, ``slack://``, ``tgram://``, ``discord://``,
``json://`` or any URL from ``notifications.urls``) plus the filter that says which messages it
takes. The seed's variables make the well-known channels:

- ``email``: ``SMTP_SERVER``, ``SMTP_PORT`` (587; 465 with ``SMTP_TLS=ssl``), ``SMTP_USERNAME``,
  ``SMTP_PASSWORD``, ``SMTP_TLS`` (``starttls``, ``ssl`` or ``none`` for a local relay),
  ``ALERT_EMAIL_TO`` (comma-separated), ``SMTP_FROM``;
- ``slack``: ``SLACK_WEBHOOK_URL``; ``discord``: ``DISCORD_WEBHOOK_URL`` — the plugin posts to
  the host of the URL given (so a Slack-compatible relay works too);
- ``telegram``: ``TELEGRAM_BOT_TOKEN`` + ``TELEGRAM_CHAT_ID`` (comma-separated), and
  ``TELEGRAM_API_URL`` for a self-hosted Bot API server;
- ``webhook``: ``GENEBOT_WEBHOOK_URL``, a generic JSON POST (title, message, severity, category).

Every secret a channel holds is registered with the shared :class:`SecretRedactor`, whose filter
sits on the ``apprise``, ``urllib3`` and ``genebot.notify`` loggers: a failure reason, a log line
or a CLI line never shows a password, a token or a webhook URL.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode, urlsplit

from genebot.core.errors import InputError
from genebot.core.secrets import RedactingFilter, SecretRedactor
from genebot.notify import ChannelFilter, DeliveryError, Message, ServiceSpec, Severity

if TYPE_CHECKING:
    from apprise.plugins.base import NotifyBase

KNOWN_SERVICES = ("email", "slack", "telegram", "discord", "webhook", "sms")
HINTS = {
    "email": "set SMTP_SERVER (and ALERT_EMAIL_TO, SMTP_USERNAME, SMTP_PASSWORD)",
    "slack": "set SLACK_WEBHOOK_URL",
    "telegram": "set TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID",
    "discord": "set DISCORD_WEBHOOK_URL",
    "webhook": "set GENEBOT_WEBHOOK_URL",
    "sms": "give it url: an apprise SMS URL (twilio://, sns://, …)",
}


@dataclass(frozen=True)
class Source:
    """An apprise URL, the endpoint its plugin posts to instead of the vendor's (attribute,
    value), whether the JSON payload carries severity and category, the secrets to mask."""

    url: str
    endpoint: tuple[str, str] | None = None
    tagged: bool = False
    secrets: tuple[str, ...] = field(default=(), repr=False)


_REDACTOR: SecretRedactor | None = None
_REASONS: _Reasons | None = None
_GUARDED = ("apprise", "urllib3.connectionpool", "genebot.notify")
_LOCK = threading.Lock()


def redactor() -> SecretRedactor:
    """The redactor shared by every channel, its filter on the loggers that may see secrets."""
    global _REDACTOR, _REASONS
    with _LOCK:
        if _REDACTOR is None:
            _REDACTOR = SecretRedactor()
            flt = RedactingFilter(_REDACTOR)
            for name in _GUARDED:
                logging.getLogger(name).addFilter(flt)
            _REASONS = _Reasons(logging.getLogger("apprise"))  # after the redaction
            logging.getLogger("apprise").addFilter(_REASONS)
        return _REDACTOR


def _tokenish(piece: str) -> bool:
    if len(piece) < 8 or re.fullmatch(r"[\d.]+", piece):
        return False
    has_digit = any(c.isdigit() for c in piece)
    return (has_digit and any(c.isalpha() for c in piece)) or len(piece) >= 16


def url_secrets(url: str) -> tuple[str, ...]:
    """The parts of a URL that may be credentials: the whole URL, its password and token-like
    pieces (webhook tokens, bot tokens) — not words such as ``services`` or a host name."""
    rest = url.split("://", 1)[-1]
    pieces = [p for p in re.split(r"[/:@?&=,#]", rest) if _tokenish(p)]
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    whole = url if len(rest) >= 4 else None  # "json://" alone holds no secret
    return tuple(p for p in (whole, password, *pieces) if p)


# ---------------------------------------------------------------------------------------------
# Sources from the environment

# SMTP_TLS: (apprise scheme, apprise mode, default port)
_TLS_MODES = {"starttls": ("mailtos", "starttls", 587), "ssl": ("mailtos", "ssl", 465)}
_TLS_MODES["none"] = ("mailto", "insecure", 587)


def _port(environ: Mapping[str, str], default: int) -> int:
    text = environ.get("SMTP_PORT", "").strip()
    if not text:
        return default
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise InputError(f"SMTP_PORT={text!r}: must be a port number 1-65535")
    return int(text)


def email_source(environ: Mapping[str, str]) -> Source | None:
    server = environ.get("SMTP_SERVER", "").strip()
    if not server:
        return None
    tls = environ.get("SMTP_TLS", "starttls").strip().lower() or "starttls"
    if tls not in _TLS_MODES:
        raise InputError(f"SMTP_TLS={tls!r}: use starttls, ssl or none")
    scheme, mode, default_port = _TLS_MODES[tls]
    user = environ.get("SMTP_USERNAME", "").strip()
    password = environ.get("SMTP_PASSWORD", "")
    sender = environ.get("SMTP_FROM", "").strip() or (user if "@" in user else "genebot@localhost")
    to = [a.strip() for a in environ.get("ALERT_EMAIL_TO", "").split(",") if a.strip()]
    auth = ""
    if user:
        auth = quote(user, safe="") + (":" + quote(password, safe="") if password else "") + "@"
    query = {"smtp": server, "from": sender, "to": ",".join(to or [sender]), "mode": mode}
    url = f"{scheme}://{auth}{server}:{_port(environ, default_port)}/?{urlencode(query)}"
    return Source(url, secrets=(password, quote(password, safe=""), url))


def _webhook_parts(name: str, url: str, keep: int) -> tuple[str, list[str]]:
    """(base URL, last ``keep`` path segments) of a vendor webhook URL."""
    parts = urlsplit(url.strip())
    segments = [s for s in parts.path.split("/") if s]
    if parts.scheme not in ("http", "https") or not parts.netloc or len(segments) < keep:
        raise InputError(f"{name} must be an http(s) webhook URL ending in {keep} path parts")
    base_path = "/".join(segments[:-keep])
    return f"{parts.scheme}://{parts.netloc}/{base_path}".rstrip("/"), segments[-keep:]


def slack_source(environ: Mapping[str, str]) -> Source | None:
    hook = environ.get("SLACK_WEBHOOK_URL", "").strip()
    if not hook:
        return None
    base, tokens = _webhook_parts("SLACK_WEBHOOK_URL", hook, 3)
    url = "slack://" + "/".join(tokens)
    return Source(url, ("webhook_url", base), secrets=(hook, url, *url_secrets(hook)))


def discord_source(environ: Mapping[str, str]) -> Source | None:
    hook = environ.get("DISCORD_WEBHOOK_URL", "").strip()
    if not hook:
        return None
    base, tokens = _webhook_parts("DISCORD_WEBHOOK_URL", hook, 2)
    url = "discord://" + "/".join(tokens)
    return Source(url, ("notify_url", base), secrets=(hook, url, *url_secrets(hook)))


def telegram_source(environ: Mapping[str, str]) -> Source | None:
    token = environ.get("TELEGRAM_BOT_TOKEN", "").strip()
    chats = [c.strip() for c in environ.get("TELEGRAM_CHAT_ID", "").split(",") if c.strip()]
    if not token and not chats:
        return None
    if not token or not chats:
        missing = "TELEGRAM_CHAT_ID" if token else "TELEGRAM_BOT_TOKEN"
        raise InputError(f"needs TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID ({missing} is not set)")
    url = f"tgram://{token}/{'/'.join(chats)}"
    api = environ.get("TELEGRAM_API_URL", "").strip().rstrip("/")
    endpoint = ("notify_url", api + "/bot") if api else None
    return Source(url, endpoint, secrets=(token, url))


def webhook_source(environ: Mapping[str, str]) -> Source | None:
    hook = environ.get("GENEBOT_WEBHOOK_URL", "").strip()
    if not hook:
        return None
    parts = urlsplit(hook)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError("GENEBOT_WEBHOOK_URL must be an http(s) URL")
    scheme = "jsons" if parts.scheme == "https" else "json"
    query = "&".join(f"-{pair}" for pair in parts.query.split("&") if pair)
    url = f"{scheme}://{parts.netloc}{parts.path or '/'}" + (f"?{query}" if query else "")
    return Source(url, tagged=True, secrets=(hook, url, *url_secrets(hook)))


ENV_SOURCES = {
    "email": email_source,
    "slack": slack_source,
    "telegram": telegram_source,
    "discord": discord_source,
    "webhook": webhook_source,
}


def _env_source(name: str, environ: Mapping[str, str], problems: list[str]) -> Source | None:
    make = ENV_SOURCES.get(name)
    try:
        return None if make is None else make(environ)
    except InputError as exc:
        problems.append(f"{name}: {exc}")
        return None


# ---------------------------------------------------------------------------------------------
# Channels

_NOTIFY_TYPE = {
    Severity.INFO: "info",
    Severity.WARNING: "warning",
    Severity.ERROR: "failure",
    Severity.CRITICAL: "failure",
}


class _Reasons(logging.Filter):
    """On the ``apprise`` logger, set to DEBUG so the low-level cause of a failure exists
    (``Socket Exception: …``): keeps the lines of a delivering thread, and passes on to the
    handlers only what the logger's own level would have passed."""

    def __init__(self, logger: logging.Logger) -> None:
        super().__init__()
        self.logger, self.level = logger, logger.level  # NOTSET: the parent's level
        self.local = threading.local()
        logger.setLevel(logging.DEBUG)

    def filter(self, record: logging.LogRecord) -> bool:
        lines: list[tuple[int, str]] | None = getattr(self.local, "lines", None)
        if lines is not None:
            lines.append((record.levelno, record.getMessage()))
        parent = self.logger.parent
        gate = self.level or (parent.getEffectiveLevel() if parent else logging.WARNING)
        return record.levelno >= gate


_ERRNO = re.compile(r"\[Errno -?\d+\][^'\")]*")


@contextmanager
def _apprise_reasons() -> Iterator[list[tuple[int, str]]]:
    redactor()  # the filters are in place
    assert _REASONS is not None
    lines: list[tuple[int, str]] = []
    _REASONS.local.lines = lines
    try:
        yield lines
    finally:
        _REASONS.local.lines = None


def _reason(lines: Sequence[tuple[int, str]]) -> str:
    """What went wrong, from apprise's warnings and the socket error under them."""
    out: list[str] = []
    for level, text in lines:
        if text.startswith("Socket Exception:"):
            errno = _ERRNO.search(text)
            out.append(errno.group(0).strip() if errno else text[18:218].strip())
        elif level >= logging.WARNING:
            out.append(text.strip())
    return "; ".join(dict.fromkeys(t for t in out if t))


class Channel:
    """One destination. :meth:`deliver` sends a message now (the dispatcher calls it from its
    worker thread) and raises :class:`DeliveryError` with a redacted reason when it fails."""

    def __init__(self, name: str, source: Source, flt: ChannelFilter | None = None) -> None:
        self.name, self.source = name, source
        self.filter = flt or ChannelFilter()
        self.redactor = redactor()
        self.redactor.add(source.secrets)
        plugin = self._instantiate(source.url)  # a bad URL fails here, not at the first send
        self._plugin: NotifyBase | None = None if source.tagged else plugin

    def describe(self) -> str:
        """The channel's URL with its credentials masked."""
        scheme, _, rest = self.source.url.split("?", 1)[0].partition("://")
        shown = f"{scheme}://{self.redactor.redact(rest)}"
        return shown if self.redactor.redact(shown) == shown else f"{scheme}://***"

    def accepts(self, message: Message) -> bool:
        if message.channels and self.name not in message.channels:
            return False
        return self.filter.accepts(message)

    def _instantiate(self, url: str) -> NotifyBase:
        import apprise

        plugin = apprise.Apprise.instantiate(url)
        if not isinstance(plugin, apprise.NotifyBase):
            raise InputError(f"{self.name}: apprise does not understand {self.describe()}")
        if self.source.endpoint is not None:
            attr, value = self.source.endpoint
            if not hasattr(plugin, attr):  # a newer apprise renamed the endpoint attribute
                raise InputError(f"{self.name}: this apprise cannot post to {value}")
            setattr(plugin, attr, value)
        return plugin

    def _plugin_for(self, message: Message) -> NotifyBase:
        if self._plugin is not None:
            return self._plugin
        extra = urlencode({":severity": message.severity.name, ":category": message.category})
        joiner = "&" if "?" in self.source.url else "?"
        return self._instantiate(f"{self.source.url}{joiner}{extra}")

    def deliver(self, message: Message) -> None:
        try:
            plugin = self._plugin_for(message)
        except InputError as exc:
            raise DeliveryError(self.redactor.redact(str(exc))) from None
        with _apprise_reasons() as lines:
            try:
                ok = bool(
                    plugin.notify(
                        body=message.body or message.title,
                        title=message.subject,
                        notify_type=_NOTIFY_TYPE[message.severity],
                        body_format="text",  # plain text: escaped for HTML channels
                    )
                )
            except Exception as exc:  # a plugin bug must not kill the worker thread
                ok = False
                lines.append((logging.ERROR, f"{type(exc).__name__}: {exc}"))
        if not ok:
            reason = _reason(lines) or "apprise reported a failure"
            raise DeliveryError(self.redactor.redact(reason))


_TAGGABLE = ("json", "jsons", "form", "forms")  # plugins that take :key=value payload extras


def url_source(url: str) -> Source:
    """A channel from an apprise URL; JSON and form webhooks also carry severity and category."""
    scheme = url.split("://", 1)[0].lower()
    return Source(url, tagged=scheme in _TAGGABLE, secrets=url_secrets(url))


def _unique(name: str, taken: Mapping[str, object]) -> str:
    if name not in taken:
        return name
    n = 2
    while f"{name}-{n}" in taken:
        n += 1
    return f"{name}-{n}"


def _chosen_sources(
    environ: Mapping[str, str], services: Mapping[str, ServiceSpec] | None
) -> tuple[dict[str, tuple[Source, ChannelFilter | None]], list[str]]:
    chosen: dict[str, tuple[Source, ChannelFilter | None]] = {}
    problems: list[str] = []
    optional = services is None  # no services: section: every channel the environment sets
    every = {n: ServiceSpec() for n in ENV_SOURCES}
    for name, spec in (every if services is None else services).items():
        if not spec.enabled:
            continue
        if spec.url:
            chosen[name] = (url_source(spec.url), spec.filter)
            continue
        before = len(problems)
        source = _env_source(name, environ, problems)
        if source is not None:
            chosen[name] = (source, spec.filter)
        elif len(problems) == before and not optional:
            hint = HINTS.get(name, "give it url: an apprise URL")
            problems.append(f"{name}: enabled in notifications.services but not configured: {hint}")
    return chosen, problems


def build_channels(
    environ: Mapping[str, str],
    *,
    services: Mapping[str, ServiceSpec] | None = None,
    urls: Sequence[str] = (),
    default: ChannelFilter | None = None,
) -> tuple[list[Channel], list[str]]:
    """The channels to use, and one line per channel that cannot be used (already redacted).

    ``services`` None means every channel the environment configures; otherwise the enabled
    entries (their own ``url`` or the environment's). Each of ``urls`` adds a channel named after
    its scheme (``ntfy``, ``ntfy-2``)."""
    chosen, problems = _chosen_sources(environ, services)
    for url in urls:
        name = _unique(url.split("://", 1)[0].lower() or "url", chosen)
        chosen[name] = (url_source(url), None)
    channels: list[Channel] = []
    for name, (source, flt) in chosen.items():
        try:
            channels.append(Channel(name, source, flt or default))
        except InputError as exc:
            problems.append(redactor().redact(str(exc)))
    return channels, problems
