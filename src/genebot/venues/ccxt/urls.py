"""``base_url``: one exchange's REST and websocket endpoints moved to another host.

Every URL ccxt holds for the exchange's API (its ``urls["api"]`` tree and, for the sandbox, its
``urls["test"]`` tree) gets the scheme and host of ``base_url``; the paths stay ccxt's, so a
regional mirror, a proxy or a local test exchange serves the same routes. Websocket URLs keep
being websockets: ``http://`` becomes ``ws://`` and ``https://`` becomes ``wss://``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from genebot.core.errors import InputError

_WS = {"http": "ws", "https": "wss"}
_TREES = ("api", "test")


def parse_base_url(base_url: str) -> tuple[str, str]:
    """(scheme, host[:port]) of a base URL, or a clear error saying what is allowed."""
    parts = urlsplit(base_url)
    if parts.scheme not in _WS or not parts.netloc:
        raise InputError(
            f"base_url {base_url!r}: expected http:// or https:// and a host, "
            "e.g. https://api.binance.me or http://127.0.0.1:8080"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise InputError(
            f"base_url {base_url!r}: only the scheme and host are replaced; drop the path "
            f"{parts.path!r} (ccxt's paths are kept)"
        )
    return parts.scheme, parts.netloc


def rebase_url(url: str, scheme: str, netloc: str) -> str:
    parts = urlsplit(url)
    if not parts.netloc:
        return url
    new_scheme = _WS[scheme] if parts.scheme in ("ws", "wss") else scheme
    return urlunsplit((new_scheme, netloc, parts.path, parts.query, parts.fragment))


def _rebase_tree(node: Any, scheme: str, netloc: str) -> Any:
    if isinstance(node, str):
        return rebase_url(node, scheme, netloc)
    if isinstance(node, dict):
        return {k: _rebase_tree(v, scheme, netloc) for k, v in node.items()}
    if isinstance(node, list):
        return [_rebase_tree(v, scheme, netloc) for v in node]
    return node


def rebase_urls(exchange: Any, base_url: str) -> None:
    """Point every API URL of a ccxt exchange object (REST and websocket, live and sandbox)
    at ``base_url``'s scheme and host. Call it before ``set_sandbox_mode``, which swaps the
    ``test`` tree in, or after: both trees are rewritten."""
    scheme, netloc = parse_base_url(base_url)
    urls = dict(exchange.urls)
    for tree in _TREES:
        if tree in urls:
            urls[tree] = _rebase_tree(urls[tree], scheme, netloc)
    if "apiBackup" in urls:  # what set_sandbox_mode(True) stashed: the live tree
        urls["apiBackup"] = _rebase_tree(urls["apiBackup"], scheme, netloc)
    exchange.urls = urls
