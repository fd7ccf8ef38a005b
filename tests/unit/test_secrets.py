"""Secrets never reach the logs: values of secret environment variables, registered keys and
URL passwords are masked in messages, arguments, tracebacks and nested objects."""

from __future__ import annotations

import io
import logging

import pytest

from genebot.core.secrets import MASK, SecretRedactor, install, secret_names

ENV = {
    "BINANCE_API_KEY": "k3yK3yK3y-binance",
    "BINANCE_API_SECRET": "s3cr3t-very-long",
    "SMTP_PASSWORD": "mail-pass-123",
    "SLACK_WEBHOOK_URL": "http://127.0.0.1:9/services/T0/B0/XYZ",
    "TELEGRAM_BOT_TOKEN": "123456:ABC-token",
    "HOME": "/root",
    "PIN_KEY": "12",  # too short to mask safely: ordinary text would be masked
}


def test_secret_names_and_values() -> None:
    names = secret_names(ENV)
    assert "HOME" not in names and "SLACK_WEBHOOK_URL" in names and "SMTP_PASSWORD" in names
    r = SecretRedactor(ENV)
    text = " ".join(v for k, v in ENV.items() if k != "HOME") + " and 12 and /root"
    masked = r.redact(text)
    for name in ("BINANCE_API_KEY", "BINANCE_API_SECRET", "SMTP_PASSWORD", "TELEGRAM_BOT_TOKEN"):
        assert ENV[name] not in masked
    assert "/services/T0/B0/XYZ" not in masked and "12" in masked and "/root" in masked


def test_url_passwords_and_registered_keys() -> None:
    r = SecretRedactor({})
    r.add(["exchange-key-from-dotenv"])
    out = r.redact("postgresql+psycopg://trader:hunter22@db:5432/x uses exchange-key-from-dotenv")
    assert out == f"postgresql+psycopg://trader:{MASK}@db:5432/x uses {MASK}"


def test_nested_objects_are_masked() -> None:
    r = SecretRedactor(ENV)
    body = {"exchanges": {"binance": {"api_key": ENV["BINANCE_API_KEY"], "fees": [0.1]}},
            "notes": (f"secret {ENV['SMTP_PASSWORD']}",)}  # fmt: skip
    assert r.redact_obj(body) == {
        "exchanges": {"binance": {"api_key": MASK, "fees": [0.1]}},
        "notes": (f"secret {MASK}",),
    }


@pytest.fixture
def log() -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    yield logging.getLogger("genebot.test.secrets"), stream
    root.removeHandler(handler)
    for f in list(root.filters):
        root.removeFilter(f)


def test_logs_never_show_a_secret(log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = log
    install(SecretRedactor(ENV))
    logger.error("signing with %s", ENV["BINANCE_API_SECRET"])
    try:
        raise ValueError(f"bad key {ENV['BINANCE_API_KEY']}")
    except ValueError:
        logger.exception("request failed")
    out = stream.getvalue()
    assert ENV["BINANCE_API_SECRET"] not in out and ENV["BINANCE_API_KEY"] not in out
    assert f"signing with {MASK}" in out and f"ValueError: bad key {MASK}" in out
