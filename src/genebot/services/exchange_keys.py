"""Exchange API keys kept in the database, sealed at rest, and checked against the exchange.

The credentials (api key, secret, passphrase) of one ``exchange_keys`` row are one JSON object
encrypted with :class:`cryptography.fernet.Fernet` (AES-128-CBC and HMAC-SHA256). The Fernet key
comes from ``GENEBOT_SECRET_KEY``: a Fernet key (urlsafe base64 of 32 bytes) is used as it is;
any other text of at least 16 characters is stretched with PBKDF2-HMAC-SHA256. The sealed JSON
also names the exchange and label, so a token copied onto another row does not open there.

Only exchange, label, permissions and the creation time are ever listed; nothing here logs a
credential (ccxt's request log goes through a redacting adapter).
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import logging
import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from genebot.config.models import ExchangeConfig
from genebot.core.errors import GenebotError
from genebot.core.secrets import SecretRedactor
from genebot.persistence.database import Database
from genebot.persistence.tables import ExchangeKeyRow

ENV_NAME = "GENEBOT_SECRET_KEY"
MIN_SECRET_LENGTH = 16
PERMISSIONS = ("read", "trade")  # genebot never needs withdrawal rights
VALIDATE_TIMEOUT_S = 15.0
_SALT = b"genebot/exchange-keys/v1"
_ITERATIONS = 390_000

log = logging.getLogger(__name__)


class NoSecretKey(GenebotError):
    """``GENEBOT_SECRET_KEY`` is unset or too short: keys cannot be sealed or opened."""


class DuplicateKey(GenebotError):
    """A key with this exchange and label is stored already."""


class UnknownKey(GenebotError):
    """No stored key has this id (or exchange and label)."""


class SealError(GenebotError):
    """A stored key cannot be opened: another GENEBOT_SECRET_KEY, or a damaged row."""


# --- the Fernet key --------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _stretched(text: str) -> bytes:
    kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=_SALT, iterations=_ITERATIONS)
    return base64.urlsafe_b64encode(kdf.derive(text.encode()))


def _as_fernet_key(text: str) -> bytes | None:
    try:
        raw = base64.urlsafe_b64decode(text.encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None
    return text.encode("ascii") if len(raw) == 32 and len(text) == 44 else None


def fernet(environ: Mapping[str, str] | None = None) -> Fernet:
    """The Fernet of ``GENEBOT_SECRET_KEY`` (from ``environ``, default the process's)."""
    text = (os.environ if environ is None else environ).get(ENV_NAME, "").strip()
    if not text:
        raise NoSecretKey(
            f"{ENV_NAME} is not set: set it (16+ characters, or a Fernet key from "
            "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key()"
            ".decode())'`) to store exchange keys encrypted"
        )
    if len(text) < MIN_SECRET_LENGTH:
        raise NoSecretKey(f"{ENV_NAME} is too short: use at least {MIN_SECRET_LENGTH} characters")
    return Fernet(_as_fernet_key(text) or _stretched(text))


def seal(
    exchange: str, label: str, credentials: Mapping[str, str | None], environ: Mapping[str, str]
) -> str:
    body = {"exchange": exchange, "label": label, **credentials}
    return fernet(environ).encrypt(json.dumps(body, sort_keys=True).encode()).decode("ascii")


def open_sealed(
    exchange: str, label: str, token: str, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The credentials a row holds: ``api_key``, ``api_secret`` and maybe ``passphrase``."""
    box = fernet(environ)
    try:
        body: dict[str, Any] = json.loads(box.decrypt(token.encode("ascii")))
    except (InvalidToken, UnicodeEncodeError, ValueError):
        raise SealError(
            f"exchange key {exchange}/{label} cannot be decrypted with this {ENV_NAME}: it was "
            f"stored with another one (set the old {ENV_NAME} back, or delete and re-add the key)"
        ) from None
    if body.get("exchange") != exchange or body.get("label") != label:
        raise SealError(
            f"exchange key {exchange}/{label}: the sealed credentials belong to another key "
            f"({body.get('exchange')}/{body.get('label')}): delete and re-add it"
        )
    return {k: str(v) for k, v in body.items() if k not in ("exchange", "label") and v is not None}


# --- the rows --------------------------------------------------------------------------------


def public(row: ExchangeKeyRow) -> dict[str, Any]:
    """What may be shown of a stored key: never the key, the secret or the passphrase."""
    return {
        "id": row.id,
        "exchange": row.exchange,
        "label": row.label,
        "permissions": [p for p in row.permissions.split(",") if p],
        "created_at": row.created_at.isoformat(),
    }


def add_key(
    db: Database,
    exchange: str,
    label: str,
    permissions: Iterable[str],
    credentials: Mapping[str, str | None],
    environ: Mapping[str, str] | None = None,
) -> ExchangeKeyRow:
    """Seal and store a key; :class:`DuplicateKey` if (exchange, label) is taken."""
    sealed = seal(exchange, label, credentials, os.environ if environ is None else environ)
    taken = DuplicateKey(
        f"an exchange key {exchange}/{label} is stored already: delete it first "
        "(DELETE /api/exchange-keys/{id}) or use another label"
    )
    if _find(db, exchange, label) is not None:
        raise taken
    row = ExchangeKeyRow(
        exchange=exchange,
        label=label,
        permissions=",".join(permissions),
        sealed=sealed,
        created_at=datetime.now(UTC),
    )
    try:
        with db.session() as session:
            session.add(row)
            session.flush()
            session.expunge(row)
    except IntegrityError:  # added by someone else between the look and the insert
        raise taken from None
    return row


def _find(db: Database, exchange: str, label: str) -> ExchangeKeyRow | None:
    with db.reader() as session:
        query = select(ExchangeKeyRow).where(
            ExchangeKeyRow.exchange == exchange, ExchangeKeyRow.label == label
        )
        return session.scalars(query).one_or_none()


def list_keys(db: Database) -> list[ExchangeKeyRow]:
    with db.reader() as session:
        query = select(ExchangeKeyRow).order_by(ExchangeKeyRow.exchange, ExchangeKeyRow.label)
        return list(session.scalars(query))


def get_key(db: Database, key_id: int) -> ExchangeKeyRow:
    with db.reader() as session:
        row = session.get(ExchangeKeyRow, key_id)
    if row is None:
        raise UnknownKey(f"exchange key {key_id}: no such key (GET /api/exchange-keys lists them)")
    return row


def delete_key(db: Database, key_id: int) -> ExchangeKeyRow:
    with db.session() as session:
        row = session.get(ExchangeKeyRow, key_id)
        if row is None:
            raise UnknownKey(f"exchange key {key_id}: no such key")
        session.delete(row)
        session.flush()
        session.expunge(row)
    return row


def unseal(
    db: Database, exchange: str, label: str = "default", environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The stored credentials of ``exchange``/``label`` (for the runner): ``api_key``,
    ``api_secret`` and, if given, ``passphrase``. :class:`SealError` on another secret key."""
    row = _find(db, exchange, label)
    if row is None:
        raise UnknownKey(f"no exchange key {exchange}/{label} is stored (POST /api/exchange-keys)")
    return open_sealed(row.exchange, row.label, row.sealed, environ)


# --- validating against the exchange ---------------------------------------------------------


class _RedactingLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """ccxt logs every request's headers (the api key among them) at DEBUG: masked here."""

    def __init__(self, logger: logging.Logger, redactor: SecretRedactor) -> None:
        super().__init__(logger, {})
        self.redactor = redactor

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if self.isEnabledFor(level):
            text = str(msg) % args if args else str(msg)
            self.logger.log(level, "%s", self.redactor.redact(text), **kwargs)


def with_credentials(
    entry: ExchangeConfig, credentials: Mapping[str, str | None], **changes: Any
) -> ExchangeConfig:
    """``entry`` (an ``exchanges:`` item) with these credentials and settings instead."""
    secrets = {
        name: SecretStr(value) if value else None
        for name, value in (
            ("api_key", credentials.get("api_key")),
            ("api_secret", credentials.get("api_secret")),
            ("passphrase", credentials.get("passphrase")),
        )
    }
    timeout = min(entry.timeout, VALIDATE_TIMEOUT_S)
    fields = {**secrets, "timeout": timeout, **{k: v for k, v in changes.items() if v is not None}}
    return entry.model_copy(update=fields)


def validate(name: str, entry: ExchangeConfig, symbols: Iterable[str] = ()) -> dict[str, Any]:
    """``genebot exchange test``'s checks through the real ccxt: ``{valid, checks, message}``.
    Any failure, the connection's included, is ``valid: false`` with the reason."""
    from genebot.services.exchange_check import Check, check_exchange
    from genebot.venues.ccxt.factory import build_exchange

    redactor = SecretRedactor()
    given = (entry.api_key, entry.api_secret, entry.passphrase)
    redactor.add(s.get_secret_value() for s in given if s is not None)
    exchange = build_exchange(name, entry)  # InputError (bad id, no sandbox): the caller's 422
    exchange.logger = _RedactingLog(logging.getLogger("ccxt.base.exchange"), redactor)
    try:
        checks = check_exchange(exchange, symbols)
    except Exception as exc:  # check_exchange answers each step's error; this is a last guard
        checks = [Check("connection", "fail", redactor.redact(f"{type(exc).__name__}: {exc}"))]
    failed = [c for c in checks if c.outcome == "fail"]
    warned = [c for c in checks if c.outcome == "warn"]
    if failed:
        message = f"{failed[0].name}: {failed[0].detail}"
    elif warned:
        message = f"the key works ({len(warned)} warning(s): {warned[0].name}: {warned[0].detail})"
    else:
        message = "the key works: every check passed"
    return {
        "valid": not failed,
        "exchange": name,
        "checks": [{"name": c.name, "outcome": c.outcome, "detail": c.detail} for c in checks],
        "message": redactor.redact(message),
    }
