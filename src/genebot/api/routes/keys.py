"""``/api/exchange-keys`` (seed 002): add an exchange API key (sealed at rest with
``GENEBOT_SECRET_KEY``), list and delete keys, and validate one against the exchange with the
checks of ``genebot exchange test``. No response ever holds a key, a secret or a passphrase."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from genebot.api.context import Admin, ApiContext, Ctx, Viewer
from genebot.api.exact import ExactRoute
from genebot.api.routes.data import base_config
from genebot.config.models import ExchangeConfig
from genebot.core.errors import InputError
from genebot.services import exchange_keys as keys
from genebot.venues.ccxt.factory import exchange_id
from genebot.venues.ccxt.urls import parse_base_url

router = APIRouter(route_class=ExactRoute, prefix="/api/exchange-keys", tags=["exchange keys"])
NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
LABEL = r"^[A-Za-z0-9][A-Za-z0-9 _.:@-]{0,99}$"
Secret = Annotated[SecretStr, Field(min_length=1, max_length=1024)]
KeyId = Annotated[int, Path(ge=1, le=2**62)]


class AddKeyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    exchange: str = Field(pattern=NAME, description="a ccxt id or an exchanges: key")
    label: str = Field("default", pattern=LABEL)
    api_key: Secret
    api_secret: Secret
    passphrase: Secret | None = None
    permissions: list[str] = Field(default_factory=lambda: list(keys.PERMISSIONS), max_length=5)

    @field_validator("permissions")
    @classmethod
    def _allowed(cls, value: list[str]) -> list[str]:
        given = {p.strip().lower() for p in value}
        if "withdraw" in given:
            raise ValueError("genebot never needs withdrawal rights: give read and/or trade")
        unknown = given - set(keys.PERMISSIONS)
        if unknown:
            raise ValueError(f"unknown {', '.join(sorted(unknown))}: allowed read, trade")
        if not given:
            raise ValueError("give at least read")
        return [p for p in keys.PERMISSIONS if p in given]


def _base_url(value: str | None) -> str | None:
    if value is not None:
        try:
            parse_base_url(value)
        except InputError as exc:
            raise ValueError(str(exc)) from None
    return value


class ValidateBody(BaseModel):
    """A stored key (``id``), or a key given here (``exchange``, ``api_key``, ``api_secret``)."""

    model_config = ConfigDict(extra="forbid")
    id: int | None = Field(None, ge=1, le=2**62)
    exchange: str | None = Field(None, pattern=NAME)
    api_key: Secret | None = None
    api_secret: Secret | None = None
    passphrase: Secret | None = None
    base_url: str | None = Field(None, max_length=300, description="e.g. a local test exchange")
    sandbox: bool | None = Field(None, description="default: the base config's, else true")
    symbols: list[Annotated[str, Field(max_length=40)]] = Field(default_factory=list, max_length=20)

    _url = field_validator("base_url")(_base_url)

    @model_validator(mode="after")
    def _one_key(self) -> ValidateBody:
        given = self.api_key is not None or self.api_secret is not None
        if self.id is not None and (given or self.exchange is not None):
            raise ValueError("give id, or exchange with api_key and api_secret, not both")
        if self.id is None and (self.exchange is None or not (self.api_key and self.api_secret)):
            raise ValueError("give id (a stored key), or exchange, api_key and api_secret")
        return self


def _entry(ctx: ApiContext, exchange: str) -> ExchangeConfig:
    """The base config's ``exchanges.<exchange>`` (its sandbox, base_url, options), if any;
    else the defaults. An exchange ccxt does not know is refused (422)."""
    entry = base_config(ctx).exchanges.get(exchange) or ExchangeConfig()
    exchange_id(exchange, entry.exchange_type)
    return entry


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


@router.post("")
def add_key(ctx: Ctx, who: Admin, body: AddKeyBody) -> dict[str, Any]:
    """Store a key, encrypted; answers what may be shown of it."""
    _entry(ctx, body.exchange)
    credentials = {
        "api_key": body.api_key.get_secret_value(),
        "api_secret": body.api_secret.get_secret_value(),
        "passphrase": _secret(body.passphrase),
    }
    ctx.redactor.add(credentials.values())
    row = keys.add_key(ctx.db, body.exchange, body.label, body.permissions, credentials)
    shown = keys.public(row)
    ctx.journal(who.name, "exchange_key_added", f"exchange-key:{row.exchange}/{row.label}", shown)
    return {"success": True, "key": shown, "message": f"key {row.exchange}/{row.label} stored"}


@router.get("")
def list_keys(ctx: Ctx, _: Viewer) -> list[dict[str, Any]]:
    """Every stored key: id, exchange, label, permissions, created_at (nothing secret)."""
    return [keys.public(row) for row in keys.list_keys(ctx.db)]


def _known(ctx: ApiContext, key_id: int) -> Any:
    try:
        return keys.get_key(ctx.db, key_id)
    except keys.UnknownKey as exc:
        raise HTTPException(404, str(exc)) from None


@router.delete("/{key_id}")
def delete_key(ctx: Ctx, who: Admin, key_id: KeyId) -> dict[str, Any]:
    _known(ctx, key_id)
    try:
        row = keys.delete_key(ctx.db, key_id)
    except keys.UnknownKey as exc:  # deleted by someone else meanwhile
        raise HTTPException(404, str(exc)) from None
    shown = keys.public(row)
    ctx.journal(who.name, "exchange_key_deleted", f"exchange-key:{row.exchange}/{row.label}", shown)
    return {"success": True, "deleted": shown}


@router.post("/validate")
def validate(ctx: Ctx, _: Admin, body: ValidateBody) -> dict[str, Any]:
    """Reachable, clock offset, markets, auth and balances, withdrawal permission: through the
    real ccxt. A failure of any kind is ``valid: false`` with the reason."""
    if body.id is not None:
        row = _known(ctx, body.id)
        name = row.exchange
        credentials: dict[str, str | None] = dict(keys.open_sealed(name, row.label, row.sealed))
    else:
        assert body.exchange is not None
        name = body.exchange
        credentials = {
            "api_key": _secret(body.api_key),
            "api_secret": _secret(body.api_secret),
            "passphrase": _secret(body.passphrase),
        }
    ctx.redactor.add(credentials.values())
    entry = keys.with_credentials(
        _entry(ctx, name), credentials, base_url=body.base_url, sandbox=body.sandbox
    )
    answer = keys.validate(name, entry, body.symbols)
    if body.id is not None:
        answer["id"] = body.id
    redacted: dict[str, Any] = ctx.redactor.redact_obj(answer)  # type: ignore[assignment]
    return redacted
