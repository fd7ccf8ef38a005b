"""``genebot exchange test NAME``: can genebot trade on this exchange with these keys?

Each check says pass / warn / fail and why, in the order a trader would debug them:
reachable (the exchange's clock answers), clock offset (signatures fail beyond the
``recvWindow``), markets loaded (the configured symbols among them), authenticated and
balances readable, and a warning when the key may withdraw (a trading key should not). Nothing
a check prints holds a secret: error texts go through the log redaction filter's patterns.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

import ccxt

from genebot.core.secrets import SecretRedactor
from genebot.venues.ccxt.errors import classify

Outcome = Literal["pass", "warn", "fail"]
MAX_OFFSET_MS = 1_000  # beyond this, genebot signs with the measured offset (and says so)


@dataclass(frozen=True)
class Check:
    name: str
    outcome: Outcome
    detail: str


def _failure(name: str, exc: BaseException, redactor: SecretRedactor) -> Check:
    found = classify(exc, "read")
    return Check(name, "fail", redactor.redact(str(found.error)))


def _reachable(ex: Any) -> list[Check]:
    started = time.monotonic()
    server_ms = ex.fetch_time()
    rtt_ms = (time.monotonic() - started) * 1000
    offset = int(server_ms) - int(time.time() * 1000)
    where = ex.urls.get("api")
    urls = where if isinstance(where, dict) else {"public": where}
    host = urls.get("public") or next(iter(urls.values()))
    checks = [Check("reachable", "pass", f"{host} answered in {rtt_ms:.0f} ms")]
    if abs(offset) > MAX_OFFSET_MS:
        ex.options["adjustForTimeDifference"] = True
        checks.append(
            Check(
                "clock offset",
                "warn",
                f"exchange clock is {offset:+d} ms from this machine's: genebot signs with "
                "the offset, but sync this machine's clock (NTP)",
            )
        )
    else:
        checks.append(Check("clock offset", "pass", f"{offset:+d} ms"))
    return checks


def _markets(ex: Any, symbols: Iterable[str]) -> Check:
    markets = ex.load_markets()
    missing = [s for s in symbols if s not in markets]
    if missing:
        return Check(
            "markets",
            "fail",
            f"{len(markets)} markets loaded, but not {', '.join(missing)} "
            "(check the symbol spelling, e.g. BTC/USDT)",
        )
    return Check("markets", "pass", f"{len(markets)} markets loaded")


def _balances(ex: Any) -> Check:
    if not ex.apiKey:
        return Check("auth", "warn", "no api_key set: public data only (paper trading works)")
    balance = ex.fetch_balance()
    held = {k: v for k, v in (balance.get("total") or {}).items() if v}
    shown = ", ".join(f"{k} {v:g}" for k, v in sorted(held.items())[:8]) or "all zero"
    return Check("auth + balances", "pass", f"authenticated; balances: {shown}")


def _withdrawals(ex: Any) -> Check | None:
    ask = getattr(ex, "sapi_get_account_apirestrictions", None)
    if not ex.apiKey or ask is None:
        return None
    try:
        allowed = bool(ask().get("enableWithdrawals"))
    except ccxt.NotSupported:
        return Check(
            "withdrawal permission",
            "warn",
            "not checkable on the sandbox (testnet keys move no real funds); checked with "
            "sandbox: false",
        )
    if allowed:
        return Check(
            "withdrawal permission",
            "warn",
            "this key can WITHDRAW funds: create a trading-only key (no withdrawals) and "
            "restrict it to this machine's IP",
        )
    return Check("withdrawal permission", "pass", "the key cannot withdraw")


def check_exchange(exchange: Any, symbols: Iterable[str] = ()) -> list[Check]:
    """Run the checks in order; a failure stops the checks that depend on it."""
    steps: list[tuple[str, Callable[[], list[Check]]]] = [
        ("reachable", lambda: _reachable(exchange)),
        ("markets", lambda: [_markets(exchange, list(symbols))]),
        ("auth + balances", lambda: [_balances(exchange)]),
        ("withdrawal permission", lambda: [c for c in [_withdrawals(exchange)] if c]),
    ]
    redactor = SecretRedactor()
    redactor.add([exchange.apiKey, exchange.secret, getattr(exchange, "password", None)])
    out: list[Check] = []
    for name, step in steps:
        try:
            out.extend(step())
        except Exception as exc:  # every exchange error is a check's answer
            out.append(_failure(name, exc, redactor))
            if name != "withdrawal permission":
                break
    return out
