"""Tests for genebot.data.catalog: file-name parsing, listing and lookup with helpful errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from genebot.core.errors import DataError, InputError
from genebot.data.catalog import find_data_file, list_data_files, parse_data_file_name
from genebot.data.readers import read_ohlcv

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "data" / "sample"


def touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("timestamp,open,high,low,close,volume\n")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("binance_BTC-USDT_5m.csv", ("BTC/USDT", "5m")),
        ("binance_ETH-BTC_1m.csv.gz", ("ETH/BTC", "1m")),
        ("kraken_XBT-EUR_4h.parquet", ("XBT/EUR", "4h")),
        ("binance-futures_1INCH-USDT_15m.csv", ("1INCH/USDT", "15m")),
        ("BTC_USDT-5m.json", ("BTC/USDT", "5m")),
        ("eth_usdt-1d.json.gz", ("ETH/USDT", "1d")),
        ("oanda_EUR-USD_1h_bidask.csv.gz", None),
        ("binance_XRP-ETH_trades.csv", None),
        ("binance_BTC-USDT_5m.txt", None),
        ("BTC_USDT-5m.csv", None),
        ("README.md", None),
        ("BTC_USDT-1M.json", None),  # month timeframe: not supported
        ("binance_BTC-USDT_1H.csv", None),
    ],
)
def test_parse_data_file_name(name: str, expected: tuple[str, str] | None) -> None:
    assert parse_data_file_name(name) == expected


def test_list_data_files_recursive_sorted_and_skips_others(tmp_path: Path) -> None:
    touch(
        tmp_path,
        "crypto/binance_BTC-USDT_1h.csv",
        "crypto/binance_BTC-USDT_5m.csv",
        "ft/ETH_USDT-1m.json",
        "forex/oanda_EUR-USD_1h_bidask.csv.gz",
        "notes.txt",
        ".cache/binance_BTC-USDT_1d.csv",
    )
    (tmp_path / "binance_DIR-USDT_1h.csv").mkdir()  # a folder, not a file
    assert list_data_files(tmp_path) == [
        ("BTC/USDT", "5m", tmp_path / "crypto/binance_BTC-USDT_5m.csv"),
        ("BTC/USDT", "1h", tmp_path / "crypto/binance_BTC-USDT_1h.csv"),
        ("ETH/USDT", "1m", tmp_path / "ft/ETH_USDT-1m.json"),
    ]


def test_find_data_file_normalises_symbol_and_timeframe(tmp_path: Path) -> None:
    touch(tmp_path, "a/binance_BTC-USDT_1h.csv", "b/ETH_BTC-5m.json.gz")
    expected = tmp_path / "a/binance_BTC-USDT_1h.csv"
    assert find_data_file(tmp_path, "BTC/USDT", "1h") == expected
    assert find_data_file(tmp_path, "btc-usdt", "60m") == expected
    assert find_data_file(str(tmp_path), "ETH_BTC", "5m") == tmp_path / "b/ETH_BTC-5m.json.gz"


def test_not_found_lists_what_is_available(tmp_path: Path) -> None:
    touch(
        tmp_path,
        "binance_BTC-USDT_1h.csv",
        "binance_BTC-USDT_1m.csv",
        "x/binance_ETH-BTC_1m.csv",
    )
    with pytest.raises(DataError) as info:
        find_data_file(tmp_path, "BTC/USDT", "15m")
    message = str(info.value)
    assert message.startswith(f"{tmp_path}: no data file for BTC/USDT 15m")
    assert message.endswith("available: BTC/USDT 1m, 1h; ETH/BTC 1m")
    assert "\n" not in message
    with pytest.raises(DataError, match=r"no data file for SOL/USDT 1h.*available: BTC/USDT"):
        find_data_file(tmp_path, "SOL/USDT", "1h")


def test_empty_folder_says_what_names_are_expected(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"no data files; expected names like binance_BTC-USDT_5m"):
        find_data_file(tmp_path, "BTC/USDT", "5m")


def test_several_matches_are_named(tmp_path: Path) -> None:
    touch(tmp_path, "a/binance_BTC-USDT_5m.csv", "b/BTC_USDT-5m.json")
    with pytest.raises(DataError) as info:
        find_data_file(tmp_path, "BTC/USDT", "5m")
    message = str(info.value)
    assert "2 files match BTC/USDT 5m" in message
    assert "a/binance_BTC-USDT_5m.csv" in message and "b/BTC_USDT-5m.json" in message


def test_bad_folder_and_symbol(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"missing: data folder not found"):
        find_data_file(tmp_path / "missing", "BTC/USDT", "5m")
    with pytest.raises(InputError, match="symbol 'BTCUSDT' is not valid: use BASE/QUOTE"):
        find_data_file(tmp_path, "BTCUSDT", "5m")


SAMPLE_FILES = [
    ("BTC/USDT", "5m", "crypto/binance_BTC-USDT_5m.csv"),
    ("ETH/USDT", "5m", "crypto/binance_ETH-USDT_5m.csv"),
    ("BTC/USDT", "1m", "crypto/binance_BTC-USDT_1m.csv"),
    ("ETH/USDT", "1m", "crypto/binance_ETH-USDT_1m.csv"),
    ("ETH/BTC", "1m", "crypto/binance_ETH-BTC_1m.csv"),
    ("BTC/USDT", "1h", "crypto/binance_BTC-USDT_1h.csv"),
    ("ETH/USDT", "1h", "crypto/binance_ETH-USDT_1h.csv"),
    ("EUR/USD", "1h", "forex/oanda_EUR-USD_1h.csv"),
    ("USD/JPY", "1h", "forex/fxcm_USD-JPY_1h.csv"),
]


@pytest.mark.parametrize(("symbol", "timeframe", "name"), SAMPLE_FILES)
def test_catalog_finds_every_sample(symbol: str, timeframe: str, name: str) -> None:
    path = find_data_file(SAMPLE_DIR, symbol, timeframe)
    assert path == SAMPLE_DIR / name
    assert read_ohlcv(path).timeframe == timeframe


def test_sample_listing_matches_and_missing_sample_lists_alternatives() -> None:
    listed = {(s, tf) for s, tf, _ in list_data_files(SAMPLE_DIR)}
    assert listed == {(s, tf) for s, tf, _ in SAMPLE_FILES}
    with pytest.raises(
        DataError, match=r"available: BTC/USDT 1m, 5m, 1h; ETH/BTC 1m; .*EUR/USD 1h"
    ):
        find_data_file(SAMPLE_DIR, "EUR/USD", "1d")
