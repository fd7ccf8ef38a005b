"""``/api/exchange-keys`` (sealed at rest, validated through the real ccxt against the local
Binance emulator), ``/api/backtests`` and ``/api/candles`` over a real database (SQLite and
PostgreSQL): roles, shapes, 404s and 422s, and no key or secret in any response, log or column."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlalchemy import text

from genebot.api.app import create_app
from genebot.api.context import ApiSettings
from genebot.api.security import Tokens
from genebot.backtest.runner import run
from genebot.backtest.store import store_run
from genebot.config.loader import load_config
from genebot.persistence.database import Database
from genebot.persistence.repositories import BacktestRunRepository, JournalRepository, RunRecord
from genebot.services import exchange_keys
from genebot.testkit import ma_config
from genebot.testkit.binance_emulator import BinanceEmulator
from genebot.testkit.ccxt_venue import MARKET, SYMBOL

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"
ADMIN, VIEWER = "admin-token-0123456789", "viewer-token-0123456789"
ENV = {"GENEBOT_API_ADMIN_TOKEN": ADMIN, "GENEBOT_API_VIEWER_TOKEN": VIEWER}
PASSPHRASE = "correct horse battery staple 42"
KEYS = "/api/exchange-keys"


def client(db: Database, base_config: str | None = None) -> TestClient:
    settings = ApiSettings(base_config=base_config, rate_limit_per_minute=1000)
    return TestClient(create_app(db, Tokens(ENV), settings=settings))


def auth(token: str = ADMIN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def sealed(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(exchange_keys.ENV_NAME, PASSPHRASE)
    return PASSPHRASE


@pytest.fixture
def emu() -> Iterator[BinanceEmulator]:
    with BinanceEmulator(markets={SYMBOL: MARKET}, balances={"USDT": "1234.5"}) as emulator:
        emulator.set_price(SYMBOL, "50000")
        yield emulator


def _key(emu: BinanceEmulator | None = None, **changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "exchange": "binance",
        "api_key": emu.api_key if emu else "k" * 64,
        "api_secret": emu.secret if emu else "s" * 64,
    }
    return {**body, **changes}


# --- exchange keys ---------------------------------------------------------------------------


def test_keys_need_a_token_and_changes_the_admin_role(database: Database, sealed: str) -> None:
    api = client(database)
    assert api.get(KEYS).status_code == 401
    assert api.post(KEYS, json=_key()).status_code == 401
    assert api.post(KEYS, json=_key(), headers=auth(VIEWER)).status_code == 403
    assert api.delete(f"{KEYS}/1", headers=auth(VIEWER)).status_code == 403
    assert api.post(f"{KEYS}/validate", json={"id": 1}, headers=auth(VIEWER)).status_code == 403
    assert api.get(KEYS, headers=auth(VIEWER)).json() == []


def test_add_list_delete_and_every_change_journaled(database: Database, sealed: str) -> None:
    api = client(database)
    added = api.post(KEYS, json=_key(label="main", permissions=["trade", "read"]), headers=auth())
    assert added.status_code == 200, added.text
    key = added.json()["key"]
    assert set(key) == {"id", "exchange", "label", "permissions", "created_at"}
    assert key["exchange"] == "binance" and key["label"] == "main"
    assert key["permissions"] == ["read", "trade"]
    default = api.post(KEYS, json=_key(), headers=auth()).json()["key"]
    assert default["label"] == "default" and default["permissions"] == ["read", "trade"]
    listed = api.get(KEYS, headers=auth(VIEWER)).json()
    assert [(k["id"], k["label"]) for k in listed] == [
        (default["id"], "default"),
        (key["id"], "main"),
    ]
    assert all(set(k) == set(key) for k in listed)
    again = api.post(KEYS, json=_key(label="main"), headers=auth())
    assert again.status_code == 409 and "binance/main is stored already" in again.json()["detail"]
    gone = api.delete(f"{KEYS}/{key['id']}", headers=auth())
    assert gone.status_code == 200 and gone.json()["deleted"]["label"] == "main"
    assert api.delete(f"{KEYS}/{key['id']}", headers=auth()).status_code == 404
    assert api.delete(f"{KEYS}/abc", headers=auth()).status_code == 422
    assert [k["label"] for k in api.get(KEYS, headers=auth()).json()] == ["default"]
    kinds = [(e.kind, e.actor, e.subject) for e in JournalRepository(database).read()]
    assert ("api.exchange_key_added", "operator:admin#1", "exchange-key:binance/main") in kinds
    assert ("api.exchange_key_deleted", "operator:admin#1", "exchange-key:binance/main") in kinds


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"permissions": ["read", "withdraw"]}, "permissions", "never needs withdrawal rights"),
        ({"permissions": ["read", "margin"]}, "permissions", "unknown margin"),
        ({"permissions": []}, "permissions", "at least read"),
        ({"api_secret": ""}, "api_secret", "at least 1"),
        ({"label": "../x"}, "label", "pattern"),
        ({"exchange": "bad name!"}, "exchange", "pattern"),
        ({"extra": 1}, "extra", "not permitted"),
    ],
)
def test_a_bad_key_body_is_422_naming_the_field(
    database: Database, sealed: str, change: dict[str, object], field: str, words: str
) -> None:
    got = client(database).post(KEYS, json=_key(**change), headers=auth())
    assert got.status_code == 422, got.text
    assert got.json()["detail"].startswith(f"{field}:") and words in got.json()["detail"]
    assert "s" * 64 not in got.text


def test_an_exchange_ccxt_does_not_know_is_refused(database: Database, sealed: str) -> None:
    got = client(database).post(KEYS, json=_key(exchange="binanse"), headers=auth())
    assert got.status_code == 422 and "did you mean binance" in got.json()["detail"]


def test_without_the_secret_key_nothing_is_stored(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = client(database)
    monkeypatch.delenv(exchange_keys.ENV_NAME, raising=False)
    got = api.post(KEYS, json=_key(), headers=auth())
    assert got.status_code == 409 and "GENEBOT_SECRET_KEY is not set: set it" in got.text
    monkeypatch.setenv(exchange_keys.ENV_NAME, "too-short")
    got = api.post(KEYS, json=_key(), headers=auth())
    assert got.status_code == 409 and "at least 16 characters" in got.text
    assert api.get(KEYS, headers=auth()).json() == []


def test_unseal_opens_with_the_same_key_only(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    fernet_key = Fernet.generate_key().decode()
    monkeypatch.setenv(exchange_keys.ENV_NAME, fernet_key)  # a Fernet key is used as it is
    api = client(database)
    assert api.post(KEYS, json=_key(passphrase="pass-phrase-1"), headers=auth()).status_code == 200
    creds = exchange_keys.unseal(database, "binance", "default")
    assert creds == {"api_key": "k" * 64, "api_secret": "s" * 64, "passphrase": "pass-phrase-1"}
    (sealed_text,) = _sealed_column(database)
    assert Fernet(fernet_key.encode()).decrypt(sealed_text.encode())  # really that key's token
    with pytest.raises(exchange_keys.SealError, match="cannot be decrypted with this GENEBOT_"):
        exchange_keys.unseal(database, "binance", "default", {exchange_keys.ENV_NAME: PASSPHRASE})
    with pytest.raises(exchange_keys.UnknownKey, match="no exchange key binance/other"):
        exchange_keys.unseal(database, "binance", "other")


def _sealed_column(db: Database) -> list[str]:
    with db.engine.connect() as conn:
        return [row[0] for row in conn.execute(text("SELECT sealed FROM exchange_keys"))]


def test_a_good_key_validates_through_ccxt(
    database: Database, sealed: str, emu: BinanceEmulator
) -> None:
    api = client(database)
    key_id = api.post(KEYS, json=_key(emu), headers=auth()).json()["key"]["id"]
    got = api.post(f"{KEYS}/validate", json={"id": key_id, "base_url": emu.url}, headers=auth())
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["valid"] is True and body["id"] == key_id, body
    outcomes = {c["name"]: c["outcome"] for c in body["checks"]}
    assert outcomes["reachable"] == outcomes["auth + balances"] == "pass"
    assert outcomes["markets"] == outcomes["clock offset"] == "pass"
    assert (
        "USDT 1234.5" in next(c for c in body["checks"] if c["name"] == "auth + balances")["detail"]
    )
    assert body["message"].startswith("the key works")
    live = api.post(
        f"{KEYS}/validate",
        json={**_key(emu), "base_url": emu.url, "sandbox": False, "symbols": [SYMBOL]},
        headers=auth(),
    ).json()
    assert live["valid"] is True and live["message"] == "the key works: every check passed", live


def test_a_wrong_secret_or_a_dead_exchange_is_invalid_not_an_error(
    database: Database, sealed: str, emu: BinanceEmulator
) -> None:
    api = client(database)
    wrong = "f" * len(emu.secret)
    bad = api.post(
        f"{KEYS}/validate",
        json={**_key(emu, api_secret=wrong), "base_url": emu.url},
        headers=auth(),
    )
    assert bad.status_code == 200 and bad.json()["valid"] is False
    assert bad.json()["message"].startswith("auth + balances: AuthenticationError"), bad.text
    assert wrong not in bad.text
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    dead = api.post(
        f"{KEYS}/validate",
        json={**_key(emu), "base_url": f"http://127.0.0.1:{port}"},
        headers=auth(),
    )
    assert dead.status_code == 200 and dead.json()["valid"] is False
    assert dead.json()["checks"][0]["name"] == "reachable"
    assert dead.json()["message"].startswith("reachable:")
    unknown = api.post(f"{KEYS}/validate", json={"id": 999}, headers=auth())
    assert unknown.status_code == 404
    for body in ({"id": 1, "api_key": "k" * 8}, {"exchange": "binance"}, {}):
        assert api.post(f"{KEYS}/validate", json=body, headers=auth()).status_code == 422
    bad_url = api.post(f"{KEYS}/validate", json={**_key(), "base_url": "ftp://x/y"}, headers=auth())
    assert bad_url.status_code == 422 and bad_url.json()["detail"].startswith("base_url:")


def test_no_secret_in_any_response_log_or_column(
    database: Database, sealed: str, emu: BinanceEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api = client(database)
    texts = [api.post(KEYS, json=_key(emu, passphrase="my-pass-phrase"), headers=auth()).text]
    key_id = json.loads(texts[0])["key"]["id"]
    texts.append(api.get(KEYS, headers=auth()).text)
    body = {"id": key_id, "base_url": emu.url}
    texts.append(api.post(f"{KEYS}/validate", json=body, headers=auth()).text)
    given = {**_key(emu), "base_url": emu.url, "sandbox": False}
    texts.append(api.post(f"{KEYS}/validate", json=given, headers=auth()).text)
    texts.append(api.post(KEYS, json=_key(emu), headers=auth()).text)  # the 409
    texts.append(api.post(KEYS, json=_key(emu, permissions=["withdraw"]), headers=auth()).text)
    texts.append(api.delete(f"{KEYS}/{key_id}", headers=auth()).text)
    assert '"valid":true' in texts[2].replace(" ", "") and "X-MBX-APIKEY" in caplog.text
    for secret in (emu.secret, emu.api_key, "my-pass-phrase"):
        assert all(secret not in t for t in texts), secret
        assert secret not in caplog.text, secret
    journal = " ".join(e.payload for e in JournalRepository(database).read())
    assert emu.secret not in journal and emu.api_key not in journal


def test_the_column_holds_no_plaintext(database: Database, sealed: str) -> None:
    api = client(database)
    assert api.post(KEYS, json=_key(api_key="KEY" * 20, api_secret="SECRET" * 10), headers=auth())
    (column,) = _sealed_column(database)
    assert "KEY" not in column and "SECRET" not in column and "binance" not in column
    assert column.startswith("gAAAAA")  # a Fernet token
    opened = exchange_keys.unseal(database, "binance")
    assert opened == {"api_key": "KEY" * 20, "api_secret": "SECRET" * 10}


# --- backtests -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, object, Path]:
    cfg = load_config(ma_config("BTC/USDT", "5m", 0.1, end_date="2021-05-04"))
    result = run(cfg)
    out = tmp_path_factory.mktemp("out")
    result.write(out)
    return cfg, result, out


def test_stored_backtests_are_listed_shown_and_reported(
    database: Database, tiny_run: tuple[object, object, Path], tmp_path: Path
) -> None:
    cfg, result, out = tiny_run
    run_id = store_run(database, cfg, result, out)  # type: ignore[arg-type]
    record = RunRecord("bare", ["s"], {}, {"trades": 0}, None, None, None, Decimal("1.5"))
    bare = BacktestRunRepository(database).save(record, [])
    api = client(database)
    assert api.get("/api/backtests").status_code == 401
    page = api.get("/api/backtests?per_page=1", headers=auth(VIEWER)).json()
    assert page["total"] == 2 and page["pages"] == 2 and len(page["backtests"]) == 1
    assert page["backtests"][0]["id"] == bare  # newest first
    first = api.get("/api/backtests?page=2&per_page=1", headers=auth(VIEWER)).json()["backtests"][0]
    assert first["id"] == run_id and first["strategies"] == ["moving_average"]
    assert first["trades"] == result.stats["trades"] > 0  # type: ignore[attr-defined]
    assert set(first) >= {"title", "created_at", "start", "end", "final_equity", "sharpe"}
    assert first["total_return"] == result.stats["total_return"]  # type: ignore[attr-defined]
    assert first["start"].startswith("2021-05-01") and first["has_report"] is True
    shown = json.loads(
        api.get(f"/api/backtests/{run_id}", headers=auth(VIEWER)).text, parse_float=Decimal
    )
    assert shown["stats"]["trades"] == first["trades"] and shown["trades_total"] == first["trades"]
    assert len(shown["trades"]) == min(500, first["trades"])
    assert shown["final_equity"] == result.final_equity_exact  # type: ignore[attr-defined]
    assert {"entry_price", "pnl", "exit_reason"} <= set(shown["trades"][0])
    report = api.get(f"/api/backtests/{run_id}/report", headers=auth(VIEWER))
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert report.text == (out / "report.html").read_text()
    none = api.get(f"/api/backtests/{bare}/report", headers=auth(VIEWER))
    assert none.status_code == 404 and "stored no output folder" in none.json()["detail"]
    assert api.get("/api/backtests/999", headers=auth(VIEWER)).status_code == 404
    assert api.get("/api/backtests/999/report", headers=auth(VIEWER)).status_code == 404
    assert api.get("/api/backtests/x", headers=auth(VIEWER)).status_code == 422
    assert api.get("/api/backtests?per_page=0", headers=auth(VIEWER)).status_code == 422


def test_a_report_link_opens_the_report_without_the_token_for_a_while(
    database: Database, tiny_run: tuple[object, object, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new tab cannot send the bearer header: the dashboard asks for a signed link that
    works alone for two minutes, for that run only, and carries no token."""
    from genebot.api.routes import data

    cfg, result, out = tiny_run
    run_id = store_run(database, cfg, result, out)  # type: ignore[arg-type]
    record = RunRecord("bare", ["s"], {}, {"trades": 0}, None, None, None, Decimal("1.5"))
    bare = BacktestRunRepository(database).save(record, [])
    api = client(database)
    link = api.get(f"/api/backtests/{run_id}/report-link", headers=auth(VIEWER)).json()
    assert link["expires_in"] == data.TICKET_TTL_S and VIEWER not in link["url"]
    page = api.get(link["url"])  # no Authorization header
    assert page.status_code == 200 and page.text == (out / "report.html").read_text()
    csp = page.headers["content-security-policy"]
    assert "connect-src 'none'" in csp and "default-src 'none'" in csp
    assert api.get(f"/api/backtests/{run_id}/report-link").status_code == 401
    assert api.get(f"/api/backtests/{bare}/report-link", headers=auth(VIEWER)).status_code == 404
    ticket = link["url"].split("ticket=", 1)[1]
    forged = f"/reports/backtests/{bare}?ticket={ticket}"  # another run's ticket
    assert api.get(forged).status_code == 403
    assert api.get(f"/reports/backtests/{run_id}").status_code == 403
    assert api.get(f"/reports/backtests/{run_id}?ticket=1.abc").status_code == 403
    later = time.time() + data.TICKET_TTL_S + 1
    monkeypatch.setattr(data.time, "time", lambda: later)
    gone = api.get(link["url"])
    assert gone.status_code == 403 and "expired" in gone.json()["detail"]


def test_a_report_is_served_only_from_inside_its_folder(database: Database, tmp_path: Path) -> None:
    outside = tmp_path / "secret.html"
    outside.write_text("<p>not a report</p>")
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "report.html").symlink_to(outside)
    record = RunRecord("linked", ["s"], {}, {}, str(folder), None, None, Decimal(1))
    linked = BacktestRunRepository(database).save(record, [])
    traversal = RunRecord("up", ["s"], {}, {}, str(folder / ".."), None, None, Decimal(1))
    up = BacktestRunRepository(database).save(traversal, [])
    api = client(database)
    for run_id in (linked, up):
        got = api.get(f"/api/backtests/{run_id}/report", headers=auth(VIEWER))
        assert got.status_code == 404 and "not a report" not in got.text


# --- candles ---------------------------------------------------------------------------------


def _config(tmp_path: Path, data_dir: Path) -> str:
    path = tmp_path / "base.yaml"
    path.write_text(f"backtest:\n  data_dir: {data_dir}\n")
    return str(path)


def test_candles_come_from_the_configured_data(database: Database, tmp_path: Path) -> None:
    api = client(database, _config(tmp_path, SAMPLE))
    assert api.get("/api/candles/BTC/USDT").status_code == 401
    got = api.get("/api/candles/BTC/USDT?limit=3", headers=auth(VIEWER))
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["symbol"] == "BTC/USDT" and body["timeframe"] == "5m"
    assert [c["time"] for c in body["candles"]] == [1622505000 + 300 * i for i in range(-1, 2)]
    assert set(body["candles"][0]) == {"time", "open", "high", "low", "close", "volume"}
    ended = api.get(
        "/api/candles/BTC/USDT?timeframe=1h&limit=2&end=2021-05-02T00:30:00Z", headers=auth(VIEWER)
    ).json()["candles"]
    assert [c["time"] for c in ended] == [1619910000, 1619913600]  # 23:00 and 00:00 open times
    first = ended[-1]
    assert first["open"] < first["high"] and first["low"] <= first["close"]
    lower = api.get("/api/candles/eth-usdt?limit=1", headers=auth(VIEWER))
    assert lower.status_code == 200 and len(lower.json()["candles"]) == 1
    assert lower.json()["symbol"] == "ETH/USDT"


def test_unknown_or_bad_candle_requests(database: Database, tmp_path: Path) -> None:
    api = client(database, _config(tmp_path, SAMPLE))
    missing = api.get("/api/candles/DOGE/USDT", headers=auth(VIEWER))
    assert missing.status_code == 404 and "available: BTC/USDT 1m, 5m, 1h" in missing.text
    other_tf = api.get("/api/candles/BTC/USDT?timeframe=15m", headers=auth(VIEWER))
    assert other_tf.status_code == 404 and "no data file for BTC/USDT 15m" in other_tf.text
    for query, field in (
        ("BTC/USDT?limit=0", "limit"),
        ("BTC/USDT?limit=5001", "limit"),
        ("BTC/USDT?timeframe=abc", "timeframe"),
        ("BTC/USDT?end=yesterday", "end"),
    ):
        got = api.get(f"/api/candles/{query}", headers=auth(VIEWER))
        assert got.status_code == 422 and got.json()["detail"].startswith(f"{field}:"), query
    for bad in ("BTCUSDT", "..%2F..%2Fetc", "BTC/USDT/X"):
        got = api.get(f"/api/candles/{bad}", headers=auth(VIEWER))
        assert got.status_code == 422 and "use BASE/QUOTE" in got.text, bad
    nowhere = client(database, _config(tmp_path, tmp_path / "nope"))
    gone = nowhere.get("/api/candles/BTC/USDT", headers=auth(VIEWER))
    assert gone.status_code == 404 and "folder not found" in gone.text


def test_candles_default_to_the_sample_data(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    got = client(database).get("/api/candles/ETH/USDT?timeframe=1m&limit=5", headers=auth(VIEWER))
    assert got.status_code == 200 and len(got.json()["candles"]) == 5
