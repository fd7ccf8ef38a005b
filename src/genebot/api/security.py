"""Bearer tokens with two roles from the environment (``GENEBOT_API_ADMIN_TOKEN``,
``GENEBOT_API_VIEWER_TOKEN``; several comma-separated). Tokens are compared in constant time
and never logged or returned: a caller is known by the token's *name* (``admin#1``)."""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass

from genebot.core.errors import ConfigError

ROLES = ("viewer", "admin")
ENV = {"admin": "GENEBOT_API_ADMIN_TOKEN", "viewer": "GENEBOT_API_VIEWER_TOKEN"}
MIN_TOKEN_LENGTH = 16


@dataclass(frozen=True)
class Caller:
    name: str  # e.g. admin#1: what the journal records
    role: str

    def may(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


class Tokens:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self._tokens: list[tuple[bytes, Caller]] = []
        for role, var in ENV.items():
            values = [t.strip() for t in env.get(var, "").split(",") if t.strip()]
            for i, token in enumerate(values, start=1):
                if len(token) < MIN_TOKEN_LENGTH:
                    raise ConfigError(f"{var}: token {i} is shorter than {MIN_TOKEN_LENGTH} chars")
                self._tokens.append((token.encode(), Caller(f"{role}#{i}", role)))

    def __bool__(self) -> bool:
        return bool(self._tokens)

    def secrets(self) -> list[str]:
        return [t.decode() for t, _ in self._tokens]

    def identify(self, presented: str) -> Caller | None:
        """The caller a token belongs to; every token is compared (constant time overall)."""
        given = presented.encode()
        found = None
        for token, caller in self._tokens:
            if hmac.compare_digest(token, given):
                found = caller
        return found


def check_bind(host: str, tokens: Tokens) -> None:
    """Binding beyond loopback without tokens would open trading to the network: refuse."""
    if tokens:
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise ConfigError(
            f"api host {host}: refusing to listen beyond loopback without tokens; set "
            f"{ENV['admin']} (and {ENV['viewer']}) or bind 127.0.0.1"
        )
