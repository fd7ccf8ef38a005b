"""The seed's log files under ``logs/``, one JSON object per line (the console keeps its human
format), rotated by size and by age, secrets redacted before anything is written.

    trading_bot.log        everything at the configured level (RISK_LIMIT lines included)
    errors.log             ERROR and above
    trades.log             genebot.trades: TRADE_EXECUTED (fills), TRADE_CLOSED (round trips)
    orchestration.log      genebot.orchestrator: ALLOCATION_CHANGE, INTERVENTION
                           (orchestrator.log, the seed's other spelling, links to it)
    performance.log        genebot.performance: STRATEGY_PERFORMANCE
    strategies/NAME.log    records about one strategy (``extra={"strategy": NAME}``)

Each line: ``{"ts", "level", "logger", "event", "message", ...extra}``; ``event`` is the
message's leading upper-case tag (``TRADE_EXECUTED``) when it has one, so the seed's
``grep "TRADE_EXECUTED" logs/trades.log | jq '.'`` works.
"""

from __future__ import annotations

import contextlib
import json
import logging
import logging.handlers
import os
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from genebot.core.secrets import RedactingFilter, SecretRedactor

_TAG = re.compile(r"^([A-Z][A-Z0-9_]{2,})\b")
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
ROUTES = {
    "trades.log": "genebot.trades",
    "orchestration.log": "genebot.orchestrator",
    "performance.log": "genebot.performance",
}
QUIET = ("genebot.trades", "genebot.performance")


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
        }
        tag = _TAG.match(message)
        if tag:
            line["event"] = tag.group(1)
        line["message"] = message
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class Rotating(logging.handlers.RotatingFileHandler):
    """Rolls over when the file passes ``max_bytes`` or is older than ``max_age_s``."""

    def __init__(self, path: Path, max_bytes: int, backups: int, max_age_s: float) -> None:
        super().__init__(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
        self.max_age_s = max_age_s
        self._opened = path.stat().st_mtime if path.exists() else time.time()
        if path.exists() and path.stat().st_size == 0:
            self._opened = time.time()

    def shouldRollover(self, record: logging.LogRecord) -> int:
        if self.max_age_s > 0 and time.time() - self._opened >= self.max_age_s:
            return 1
        return super().shouldRollover(record)

    def doRollover(self) -> None:
        super().doRollover()
        self._opened = time.time()


class _Prefix(logging.Filter):
    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return record.name == self.prefix or record.name.startswith(self.prefix + ".")


class _StrategyFiles(logging.Handler):
    """``strategies/NAME.log`` for records that name a strategy; one file handler per name."""

    def __init__(self, folder: Path, make: Any) -> None:
        super().__init__()
        self.folder, self.make = folder, make
        self.files: dict[str, logging.Handler] = {}

    def emit(self, record: logging.LogRecord) -> None:
        name = getattr(record, "strategy", None)
        if not isinstance(name, str) or not re.fullmatch(r"[\w.-]{1,100}", name):
            return
        handler = self.files.get(name)
        if handler is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            handler = self.files[name] = self.make(self.folder / f"{name}.log")
        handler.handle(record)

    def close(self) -> None:
        for handler in self.files.values():
            handler.close()
        super().close()


def install(
    directory: str | Path,
    level: str = "INFO",
    *,
    max_bytes: int = 10 * 2**20,
    backups: int = 5,
    max_age_days: float = 7.0,
    redactor: SecretRedactor | None = None,
) -> list[logging.Handler]:
    """Attach the log files to the root logger; the handlers (``remove`` them at the end)."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    redacting = RedactingFilter(redactor or SecretRedactor())
    formatter = JsonLines()

    def make(path: Path, floor: int = logging.NOTSET) -> logging.Handler:
        handler = Rotating(path, max_bytes, backups, max_age_days * 86400)
        handler.setFormatter(formatter)
        handler.addFilter(redacting)
        handler.setLevel(floor)
        return handler

    handlers = [
        make(folder / "trading_bot.log", getattr(logging, level)),
        make(folder / "errors.log", logging.ERROR),
    ]
    for name, prefix in ROUTES.items():
        routed = make(folder / name)
        if prefix in QUIET:  # their own file only: a fill per line would flood the console
            logger = logging.getLogger(prefix)
            logger.addHandler(routed)
            logger.propagate = False
            logger.setLevel(logging.INFO)
            continue
        routed.addFilter(_Prefix(prefix))
        handlers.append(routed)
    strategies = _StrategyFiles(folder / "strategies", make)
    strategies.addFilter(redacting)
    handlers.append(strategies)
    _alias(folder / "orchestrator.log", "orchestration.log")
    root = logging.getLogger()
    for handler in handlers:
        root.addHandler(handler)
    if root.level > getattr(logging, level) or root.level == logging.NOTSET:
        root.setLevel(getattr(logging, level))
    return handlers


def _alias(link: Path, target: str) -> None:
    if link.exists() or link.is_symlink():
        return
    with contextlib.suppress(OSError):  # no links on this file system: no second name
        os.symlink(target, link)


def remove(handlers: list[logging.Handler]) -> None:
    root = logging.getLogger()
    for handler in handlers:
        root.removeHandler(handler)
        handler.close()
    for prefix in QUIET:
        logger = logging.getLogger(prefix)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
            handler.close()
        logger.propagate = True
        logger.setLevel(logging.NOTSET)
