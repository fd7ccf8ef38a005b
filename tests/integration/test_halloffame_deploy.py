"""Hall of Fame exports and deployments (issue 19): an export carries the risk settings and
data its statistics were computed with, so a backtest of it over the entry's periods gives the
entry's figures; `halloffame deploy ID --paper` replays the entry's own rules under them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from genebot.backtest import run
from genebot.config.loader import load_config
from genebot.evolution.halloffame import Entry, entries, replay_periods
from genebot.persistence.database import Database
from genebot.persistence.tables import Deployment, HallOfFameRow, OrderRow, TradeRow
from genebot.testkit import run_cli

ROOT = Path(__file__).resolve().parents[2]
CSV = ROOT / "data/sample/crypto/binance_BTC-USDT_1h.csv"
FIGURES = ("trades", "total_return", "sharpe", "max_drawdown")
# Risk on, and not the defaults: an export without it would backtest to other figures.
CONFIG = {
    "backtest": {"initial_cash": 50_000, "fee": 0.0015},
    "risk_management": {
        "stop_loss": {"enabled": True, "default_percentage": 0.03},
        "take_profit": {"enabled": False},
        "position_limits": {"max_position_size": 0.2},
    },
}


@dataclass
class Kept:
    url: str
    entries: list[Entry]
    tmp: Path
    exports: dict[int, Path]  # `genebot halloffame export ID -o FILE` of each entry


@pytest.fixture(scope="module")
def kept(tmp_path_factory: pytest.TempPathFactory) -> Kept:
    """Entries kept by `genebot evolve --config` with risk on, on 1,600 bundled bars."""
    tmp = tmp_path_factory.mktemp("hof")
    url = f"sqlite:///{tmp / 'hof.db'}"
    assert run_cli("db", "init", "--database-url", url).returncode == 0
    bars = tmp / "btc_1h.csv"
    bars.write_text("".join(CSV.read_text().splitlines(keepends=True)[:1601]))
    config = tmp / "risk.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    args = ("--population", "8", "--generations", "2", "--seed", "10", "--folds", "2")
    out = run_cli(
        "evolve", "--config", str(config), "--data", str(bars), *args,
        "--min-trades", "1", "--keep", "2", "--database", url, cwd=tmp,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    found = entries(Database(url))
    assert len(found) == 2
    assert all(e.held_out["trades"] > 0 and e.in_sample["trades"] > 0 for e in found)
    exports = {}
    for e in found:
        exports[e.id] = tmp / f"export_{e.id}.yaml"
        done = run_cli(
            "halloffame", "export", str(e.id), "-o", str(exports[e.id]), "--database", url
        )
        assert done.returncode == 0, done.stderr
    return Kept(url, found, tmp, exports)


def _backtest(config: Path, start: str | None, end: str | None, out: Path) -> dict[str, Any]:
    """`genebot backtest` of a config over [start, end), as a user runs it (another folder)."""
    args = ["backtest", "--config", str(config), "--output-dir", str(out), "--no-store", "-q"]
    args += ["--start-date", start] if start else []
    args += ["--end-date", end] if end else []
    done = run_cli(*args, cwd=out.parent)
    assert done.returncode == 0, done.stderr
    stats: dict[str, Any] = json.loads((out / "stats.json").read_text())
    return stats


def test_an_export_carries_the_risk_settings_its_statistics_were_computed_with(
    kept: Kept,
) -> None:
    resolved = load_config(CONFIG).risk_management.model_dump(mode="json", by_alias=True)
    for e in kept.entries:
        cfg = yaml.safe_load(kept.exports[e.id].read_text())
        assert cfg["risk_management"] == resolved == e.settings["base"]["risk_management"]
        assert cfg["risk_management"]["stop_loss"]["default_percentage"] == 0.03
        assert cfg["backtest"]["initial_cash"] == 50_000 and cfg["backtest"]["fee"] == 0.0015
        assert cfg["backtest"]["data"] == [
            {"file": e.data["source"], "symbol": "BTC/USDT", "timeframe": "1h"}
        ]
        assert Path(e.data["source"]).is_absolute()
        (strategy,) = cfg["strategies"].values()
        assert strategy["parameters"] == e.parameters
        load_config(cfg)  # a valid config as it is


def test_a_backtest_of_the_export_reproduces_the_entrys_figures(kept: Kept) -> None:
    for e in kept.entries:
        path = kept.exports[e.id]
        text = path.read_text()
        for name, (start, end) in replay_periods(e).items():
            assert f"# {name} figures: genebot backtest --config FILE --start-date {start}" in text
            stats = _backtest(path, start, end, kept.tmp / f"bt_{e.id}_{name}")
            stored = e.in_sample if name == "in_sample" else e.held_out
            assert {k: stats[k] for k in FIGURES} == pytest.approx(
                {k: stored[k] for k in FIGURES}, rel=1e-6, abs=1e-9
            ), (e.rules, name)


def test_without_its_risk_section_the_export_gives_other_figures(kept: Kept) -> None:
    """The control: the risk section is what makes the figures reproduce."""
    differs = 0
    for e in kept.entries:
        cfg = yaml.safe_load(kept.exports[e.id].read_text())
        del cfg["risk_management"]
        for name, (start, end) in replay_periods(e).items():
            cfg["backtest"].update(start_date=start, end_date=end)
            stats = run(load_config(cfg)).stats
            stored = e.in_sample if name == "in_sample" else e.held_out
            differs += any(stats[k] != pytest.approx(stored[k]) for k in FIGURES)
    assert differs > 0


def test_deploy_paper_replays_the_entrys_rules_under_its_risk_settings(kept: Kept) -> None:
    e = max(kept.entries, key=lambda x: x.in_sample["trades"] + x.held_out["trades"])
    written = kept.tmp / "deploy" / f"hall_of_fame_{e.id}.yaml"
    written.parent.mkdir()
    out = run_cli(
        "halloffame", "deploy", str(e.id), "--paper", "--speed", "max", "--quiet", "--fresh",
        "--output", str(written), "--database", kept.url, cwd=written.parent,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert f"wrote {written}" in out.stdout.replace("\n", "")
    assert "(new, finished)" in out.stdout and "Paper trading statistics" in out.stdout
    key = f"hof_{e.id}"
    with Database(kept.url).reader() as session:
        (deployment,) = session.scalars(select(Deployment)).all()
        orders = session.scalars(select(OrderRow.strategy_id)).all()
        trades = session.scalars(select(TradeRow.strategy_id)).all()
    assert deployment.mode == "paper" and deployment.name == f"{key}:BTC/USDT"
    stored = json.loads(deployment.config)
    config = stored["config"]
    assert stored["data"][0][:3] == ["BTC/USDT@sim", 3_600_000_000_000, 1600]  # the entry's bars
    assert set(config["strategies"]) == {key}
    assert config["strategies"][key]["type"] == "evolved"
    assert config["strategies"][key]["parameters"] == e.parameters  # the entry's rules
    assert config["risk_management"] == e.settings["base"]["risk_management"]
    # The same kernel: the replay trades as a backtest of the exported config over the file.
    whole = run(load_config(written))
    assert len(whole.trades) > 0 and set(orders) == set(trades) == {key}
    assert len(orders) == len(whole.orders) and len(trades) == len(whole.trades)


def test_deploy_refuses_an_entry_whose_rule_is_trivial(kept: Kept) -> None:
    """An entry kept before the grammar pruned trivial rules: one clear line, no traceback."""
    parameters = {"entry": "RSI(14) < 30", "exit": "crosses_above(close, close)"}
    row = HallOfFameRow(
        created_at=datetime.now(UTC), strategy="evolved",
        rules="entry: RSI(14) < 30 | exit: crosses_above(close, close)",
        parameters=json.dumps(parameters), in_sample="{}", walk_forward="[]",
        held_out=json.dumps({"sharpe": 0.0, "trades": 0}), deflated_sharpe=None, candidates=1,
        data=json.dumps({"symbol": "BTC/USDT", "timeframe": "1h", "source": str(CSV)}),
        periods="{}", seed=0, settings=json.dumps({"base": {}}),
    )  # fmt: skip
    with Database(kept.url).session() as session:
        session.add(row)
        session.flush()
        entry_id = row.id
    out = run_cli(
        "halloffame", "deploy", str(entry_id), "--speed", "max", "-q",
        "--output", str(kept.tmp / "trivial.yaml"), "--database", kept.url, cwd=kept.tmp,
    )  # fmt: skip
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert (
        f"strategy hof_{entry_id}: exit: rule 'crosses_above(close, close)': "
        "'crosses_above(close, close)' is trivial: close never crosses itself"
    ) in " ".join(out.stderr.split())
