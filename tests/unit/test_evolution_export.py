"""What a Hall of Fame export carries: the sections its statistics were computed with, resolved
(risk management in full), and the periods that reproduce its figures."""

from __future__ import annotations

from typing import Any

import yaml

from genebot.config.loader import load_config
from genebot.evolution.halloffame import Entry, computed_with, export_yaml, replay_periods


def _entry(base: dict[str, Any], **data: Any) -> Entry:
    return Entry(
        id=7,
        created_at="2026-12-07T00:00:00+00:00",
        strategy="evolved",
        rules="entry: RSI(14) < 30 | exit: RSI(14) > 70",
        parameters={"entry": "RSI(14) < 30", "exit": "RSI(14) > 70"},
        in_sample={"trades": 3},
        walk_forward=[],
        held_out={"trades": 1},
        deflated_sharpe=None,
        candidates=10,
        data={"symbol": "ETH/USDT", "timeframe": "4h", **data},
        periods={
            "in_sample_start": "2021-01-01T00:00:00+00:00",
            "in_sample_end": "2021-03-01T20:00:00+00:00",
            "held_out_start": "2021-03-02T00:00:00+00:00",
            "held_out_end": "2021-04-01T20:00:00+00:00",
        },
        seed=3,
        settings={"base": base},
    )


def test_risk_is_resolved_in_full_when_on_and_is_enabled_false_when_off() -> None:
    on = computed_with({"risk_management": {"stop_loss": {"default_percentage": 0.04}}})
    full = load_config({}).risk_management.model_dump(mode="json", by_alias=True)
    assert on["risk_management"] == {
        **full,
        "stop_loss": {**full["stop_loss"], "default_percentage": 0.04},
    }
    assert computed_with({})["risk_management"] == full  # (the defaults were in force)
    off = computed_with({"risk_management": {"enabled": False, "stop_loss": {"enabled": True}}})
    assert off["risk_management"] == {"enabled": False}


def test_resolving_twice_changes_nothing_and_the_period_and_files_are_left_out() -> None:
    base = {
        "backtest": {
            "initial_cash": 5_000,
            "fee": 0.002,
            "start_date": "2021-01-01",
            "end_date": "2021-02-01",
            "output_dir": "elsewhere",
            "data": [{"file": "x.csv", "symbol": "ETH/USDT"}],
        },
        "exchanges": {"binance": {"exchange_type": "binance", "maker_fee": 0.0005}},
    }
    once = computed_with(base)
    assert computed_with(once) == once
    assert once["exchanges"] == base["exchanges"]
    bt = once["backtest"]
    assert bt["initial_cash"] == 5_000 and bt["fee"] == 0.002
    assert not {"start_date", "end_date", "output_dir", "data"} & set(bt)


def test_the_export_loads_names_its_data_file_and_says_how_to_reproduce_its_figures() -> None:
    e = _entry({"risk_management": {"enabled": False}}, source="/data/eth_4h.csv")
    text = export_yaml(e)
    cfg = yaml.safe_load(text)
    load_config(cfg)
    assert cfg["risk_management"] == {"enabled": False}
    assert cfg["backtest"]["data"] == [
        {"file": "/data/eth_4h.csv", "symbol": "ETH/USDT", "timeframe": "4h"}
    ]
    periods = replay_periods(e)
    assert periods == {
        "in_sample": ("2021-01-01T00:00:00+00:00", "2021-03-02T00:00:00+00:00"),
        "held_out": ("2021-03-02T00:00:00+00:00", "2021-04-02T00:00:00+00:00"),  # a bar past
    }
    assert (
        "# held_out figures: genebot backtest --config FILE --start-date "
        "2021-03-02T00:00:00+00:00 --end-date 2021-04-02T00:00:00+00:00\n"
    ) in text
    assert "#   held_out:\n#     trades: 1\n" in text
    no_source = yaml.safe_load(export_yaml(_entry({})))
    assert "data" not in no_source["backtest"] and no_source["risk_management"]["enabled"]
