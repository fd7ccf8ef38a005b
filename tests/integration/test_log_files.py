"""The seed's log files: `genebot run` writes logs/trading_bot.log, trades.log,
orchestration.log, performance.log, errors.log and strategies/NAME.log as one JSON object per
line, so the seed's grep/jq recipes work; files rotate by size; secrets never reach them."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from genebot.core.logfiles import install, remove
from genebot.core.secrets import SecretRedactor

ROOT = Path(__file__).resolve().parents[2]


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_genebot_run_writes_the_seed_log_files(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "GENEBOT_NO_LOG_FILES"}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'l.db'}"
    env["BINANCE_API_SECRET"] = "very-secret-value-123456"
    config = ROOT / "config" / "orchestrator.yaml"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "genebot.cli.main",
            "run",
            "--orchestration-config",
            str(config),
            "--speed",
            "max",
            "--quiet",
            "--data-dir",
            str(ROOT / "data" / "sample"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    logs = tmp_path / "logs"
    trades = _lines(logs / "trades.log")
    executed = [t for t in trades if t.get("event") == "TRADE_EXECUTED"]
    closed = [t for t in trades if t.get("event") == "TRADE_CLOSED"]
    assert executed and closed and all(t["logger"] == "genebot.trades" for t in trades)
    assert all("strategy" in t for t in closed)
    orchestration = _lines(logs / "orchestration.log")
    assert any(o.get("event") == "ALLOCATION_CHANGE" for o in orchestration)
    assert (logs / "orchestrator.log").resolve() == (logs / "orchestration.log").resolve()
    performance = _lines(logs / "performance.log")
    assert performance and performance[0]["event"] == "STRATEGY_PERFORMANCE"
    strategies = {p.stem for p in (logs / "strategies").glob("*.log")}
    assert strategies and strategies <= {str(t["strategy"]) for t in closed + performance}
    main = _lines(logs / "trading_bot.log")
    assert main and all({"ts", "level", "logger", "message"} <= set(m) for m in main)
    assert "TRADE_EXECUTED" not in (logs / "trading_bot.log").read_text()  # its own file
    assert (logs / "errors.log").exists()
    for path in logs.rglob("*.log"):
        assert "very-secret-value-123456" not in path.read_text(encoding="utf-8")


def test_rotation_by_size_and_redaction(tmp_path: Path) -> None:
    redactor = SecretRedactor({"SMTP_PASSWORD": "hunter2-hunter2"})
    handlers = install(tmp_path, "INFO", max_bytes=4096, backups=2, redactor=redactor)
    try:
        log = logging.getLogger("genebot.test.rotation")
        for i in range(200):
            log.warning("RISK_LIMIT daily_loss deny line %d password hunter2-hunter2", i)
        log.error("boom", exc_info=False, extra={"strategy": "rsi_strategy"})
    finally:
        remove(handlers)
    rotated = sorted(p.name for p in tmp_path.glob("trading_bot.log*"))
    assert rotated == ["trading_bot.log", "trading_bot.log.1", "trading_bot.log.2"]
    text = "".join(p.read_text() for p in tmp_path.glob("trading_bot.log*"))
    assert "hunter2-hunter2" not in text and "***" in text
    last = _lines(tmp_path / "trading_bot.log")[-1]
    assert last["message"] == "boom" and last["strategy"] == "rsi_strategy"
    assert _lines(tmp_path / "errors.log")[-1]["level"] == "ERROR"
    assert _lines(tmp_path / "strategies" / "rsi_strategy.log")[-1]["message"] == "boom"
    assert any(line.get("event") == "RISK_LIMIT" for line in _lines(tmp_path / "trading_bot.log"))
