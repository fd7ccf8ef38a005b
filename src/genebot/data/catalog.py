"""Find OHLCV data files in a folder by symbol and timeframe.

Two naming schemes are recognised (searched recursively, hidden folders skipped):

- ``<source>_<BASE>-<QUOTE>_<timeframe>.csv`` (also ``.csv.gz``, ``.parquet``), for example
  ``binance_BTC-USDT_5m.csv``; ``<source>`` may contain hyphens (``binance-futures``).
- freqtrade's ``<BASE>_<QUOTE>-<timeframe>.json`` (also ``.json.gz``), e.g. ``BTC_USDT-5m.json``.

Symbols are written ``BASE/QUOTE`` (``BTC/USDT``); matching ignores case and also accepts ``-``
or ``_`` as the separator. Timeframes match by length, so ``60m`` finds a ``1h`` file. Files
with other names (trades, quotes, ``_bidask`` variants) are not OHLCV files and are ignored; so
are derived synthetic series named ``*.synthetic.csv``, which a config must name explicitly.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from genebot.core.errors import DataError, InputError
from genebot.core.time import timeframe_to_ns

_TF = r"(?P<tf>(?-i:\d+[smhdw]))"  # case-sensitive: freqtrade's 1M (month) is not supported
_ASSET = r"[A-Za-z0-9]+"
_PATTERNS = (
    re.compile(
        rf"^(?P<source>[A-Za-z0-9.]+(?:-[A-Za-z0-9.]+)*)_(?P<base>{_ASSET})-(?P<quote>{_ASSET})"
        rf"_{_TF}\.(?:csv|csv\.gz|parquet)$",
        re.IGNORECASE,
    ),
    re.compile(
        rf"^(?P<base>{_ASSET})_(?P<quote>{_ASSET})-{_TF}\.(?:json|json\.gz)$", re.IGNORECASE
    ),
)
_MAX_LISTED = 30


def parse_data_file_name(name: str) -> tuple[str, str] | None:
    """``(symbol, timeframe)`` for a data file name such as ``binance_BTC-USDT_5m.csv``."""
    for pattern in _PATTERNS:
        match = pattern.match(name)
        if match:
            symbol = f"{match['base'].upper()}/{match['quote'].upper()}"
            return symbol, match["tf"]
    return None


def list_data_files(data_dir: str | Path) -> list[tuple[str, str, Path]]:
    """Every OHLCV data file under ``data_dir`` as ``(symbol, timeframe, path)``, sorted."""
    root = _check_dir(data_dir)
    found: list[tuple[str, str, Path]] = []
    for path in root.rglob("*"):
        if any(part.startswith(".") for part in path.relative_to(root).parts):
            continue
        parsed = parse_data_file_name(path.name)
        if parsed is not None and path.is_file():
            found.append((parsed[0], parsed[1], path))
    return sorted(found, key=lambda f: (f[0], timeframe_to_ns(f[1]), str(f[2])))


def find_data_file(data_dir: str | Path, symbol: str, timeframe: str) -> Path:
    """The one data file for ``symbol`` (``BTC/USDT``) and ``timeframe`` under ``data_dir``.

    Raises :class:`DataError` listing what is available when none matches, or naming the
    files when several do.
    """
    wanted_symbol = _normalise_symbol(symbol)
    wanted_ns = timeframe_to_ns(timeframe)
    files = list_data_files(data_dir)
    matches = [p for s, tf, p in files if s == wanted_symbol and timeframe_to_ns(tf) == wanted_ns]
    if len(matches) == 1:
        return matches[0]
    if matches:
        names = ", ".join(str(p) for p in matches)
        raise DataError(
            f"{data_dir}: {len(matches)} files match {wanted_symbol} {timeframe}: {names}; "
            "keep only one or pass the file path instead"
        )
    raise DataError(
        f"{data_dir}: no data file for {wanted_symbol} {timeframe} (searched recursively); "
        f"{_available(files)}"
    )


def _check_dir(data_dir: str | Path) -> Path:
    root = Path(data_dir)
    if not root.is_dir():
        what = "is a file, not a folder" if root.exists() else "folder not found"
        where = "" if root.is_absolute() else f" (looked in {Path.cwd()})"
        raise DataError(f"{data_dir}: data {what}{where}; set backtest.data_dir or --data-dir")
    return root


def _normalise_symbol(symbol: str) -> str:
    parts = re.split(r"[/_-]", symbol.strip().upper())
    if len(parts) != 2 or not all(re.fullmatch(_ASSET, p) for p in parts):
        raise InputError(f"symbol {symbol!r} is not valid: use BASE/QUOTE, for example BTC/USDT")
    return "/".join(parts)


def _available(files: list[tuple[str, str, Path]]) -> str:
    """``available: BTC/USDT 1m, 5m, 1h; ETH/BTC 1m`` or a note that there is nothing."""
    if not files:
        return (
            "the folder has no data files; expected names like binance_BTC-USDT_5m.csv "
            "or BTC_USDT-5m.json"
        )
    by_symbol: dict[str, list[str]] = defaultdict(list)
    for symbol, timeframe, _ in files:
        if timeframe not in by_symbol[symbol]:
            by_symbol[symbol].append(timeframe)
    items = [f"{s} {', '.join(tfs)}" for s, tfs in by_symbol.items()]
    more = f"; and {len(items) - _MAX_LISTED} more symbols" if len(items) > _MAX_LISTED else ""
    return "available: " + "; ".join(items[:_MAX_LISTED]) + more
