"""Secrets never reach logs, output or API responses.

:class:`SecretRedactor` knows the secret values of this process — environment variables whose
names say they are secret (``*_KEY``, ``*_SECRET``, ``*_PASSWORD``, ``*_TOKEN``,
``*_PASSPHRASE``, and the seed's ``SMTP_PASSWORD``, ``SLACK_WEBHOOK_URL``,
``TELEGRAM_BOT_TOKEN``), plus any registered at run time (an exchange's keys) — and replaces them
with ``***``; URL passwords (``scheme://user:pass@host``) too. :class:`RedactingFilter` applies
it to every log record, message and arguments alike.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping

MASK = "***"
MIN_SECRET_LENGTH = 6  # shorter values would mask ordinary words
_SECRET_NAME = re.compile(
    r"(KEY|SECRET|PASSWORD|PASSWD|TOKEN|PASSPHRASE|WEBHOOK_URL|CREDENTIALS?)$", re.IGNORECASE
)
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]+:)(?P<pw>[^@\s/]+)(?=@)", re.I)


def secret_names(environ: Mapping[str, str]) -> list[str]:
    return sorted(name for name in environ if _SECRET_NAME.search(name))


class SecretRedactor:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self._values: set[str] = set()
        self.add(env[name] for name in secret_names(env))

    def add(self, values: Iterable[str | None]) -> None:
        """Register more secret values (e.g. keys read from a ``.env`` file)."""
        for value in values:
            if value and len(value) >= MIN_SECRET_LENGTH:
                self._values.add(value)
        # longest first, so a secret containing another is masked whole
        self._pattern = (
            re.compile("|".join(re.escape(v) for v in sorted(self._values, key=len, reverse=True)))
            if self._values
            else None
        )

    def redact(self, text: str) -> str:
        text = _URL_PASSWORD.sub(lambda m: m.group("head") + MASK, text)
        return self._pattern.sub(MASK, text) if self._pattern is not None else text

    def redact_obj(self, value: object) -> object:
        """Strings inside dicts, lists and tuples masked (an API response, a config dump)."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, Mapping):
            return {k: self.redact_obj(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.redact_obj(v) for v in value)
        return value


class RedactingFilter(logging.Filter):
    """A logging filter: the record's message is formatted, masked and frozen."""

    def __init__(self, redactor: SecretRedactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg, record.args = self.redactor.redact(message), None
        if record.exc_text:
            record.exc_text = self.redactor.redact(record.exc_text)
        return True


def install(redactor: SecretRedactor | None = None) -> SecretRedactor:
    """Mask secrets in everything logged through the root logger's handlers."""
    redactor = redactor or SecretRedactor()
    flt = RedactingFilter(redactor)
    root = logging.getLogger()
    for handler in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(flt)
    if not any(isinstance(f, RedactingFilter) for f in root.filters):
        root.addFilter(flt)
    return redactor
