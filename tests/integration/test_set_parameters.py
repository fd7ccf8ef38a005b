"""New parameters for a running strategy from the next bar (PUT /api/strategies/{name}/
parameters → the journaled ``set_parameters`` command): the signals from then on are those of
the strategy started with the new parameters (prefix invariance), on a precomputed replay and
on bars arriving one by one; a refused change keeps the old parameters and says why."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from genebot.backtest.runner import assemble
from genebot.backtest.setup import build
from genebot.config.loader import load_config
from genebot.core.errors import ParameterError
from genebot.live import control
from genebot.live.feeding import ARRIVING, PRECOMPUTED
from genebot.live.runtime import PaperRuntime
from genebot.persistence.database import Database
from genebot.persistence.migrate import ensure_current
from genebot.system.reparam import reprepare, set_parameters, slot_of

ROOT = Path(__file__).resolve().parents[2]
OLD, NEW = {"short_period": 10, "long_period": 20}, {"short_period": 5, "long_period": 30}


def _config(params: dict[str, int]) -> dict[str, Any]:
    return {
        "backtest": {"data_dir": str(ROOT / "data/sample"), "start_date": "2021-05-01",
                     "end_date": "2021-05-04"},
        "strategies": {"moving_average": {"parameters": params, "symbols": ["BTC/USDT"],
                                          "timeframes": ["5m"]}},
    }  # fmt: skip


def _entries(kernel: Any) -> np.ndarray:
    strategy = kernel.slots[0].strategy
    (entry,) = strategy._signals.values()
    return np.asarray(entry[1].entries, dtype=bool)


def _kernel(params: dict[str, int]) -> Any:
    cfg = load_config(_config(params))
    return assemble(cfg, build(cfg, None))[0]


def test_reprepare_gives_the_signals_of_a_strategy_started_with_them() -> None:
    kernel = _kernel(OLD)
    slot = slot_of(kernel, "moving_average")
    assert slot is not None and slot_of(kernel, "MovingAverageStrategy") is slot
    assert set_parameters(slot, NEW) == NEW
    reprepare(kernel, slot)
    fresh = _entries(_kernel(NEW))
    assert np.array_equal(_entries(kernel), fresh) and not np.array_equal(
        fresh, _entries(_kernel(OLD))
    )


@pytest.mark.parametrize(
    ("given", "why"),
    [
        ({"short_period": 40}, "short_period (40) must be below long_period (20)"),
        ({"long_period": 0}, "long_period"),
        ({"no_such": 3}, "no_such"),
    ],
)
def test_a_refused_change_keeps_the_old_parameters(given: dict[str, int], why: str) -> None:
    slot = slot_of(_kernel(OLD), "moving_average")
    assert slot is not None
    with pytest.raises(ParameterError, match=re.escape(why)):
        set_parameters(slot, given)
    assert slot.strategy.params == OLD


@pytest.mark.parametrize("feed", [PRECOMPUTED, ARRIVING])
def test_a_running_replay_takes_new_parameters_from_the_next_bar(tmp_path: Path, feed: str) -> None:
    db = Database(f"sqlite:///{tmp_path / 'p.db'}")
    ensure_current(db)
    runtime = PaperRuntime(load_config(_config(OLD)), db, speed=3000.0, feed=feed)
    thread = threading.Thread(target=runtime.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (
        runtime.context is None or len(runtime.context.kernel.execution.order_log) < 2
    ):
        time.sleep(0.02)
    dep = runtime.deployment_id
    assert dep is not None
    refused = control.post(db, dep, "set_parameters", "test", strategy="moving_average",
                           parameters={"short_period": 99})  # fmt: skip
    assert control.wait_applied(db, dep, refused, 30).startswith("refused: ")  # type: ignore[union-attr]
    cid = control.post(db, dep, "set_parameters", "test", strategy="moving_average",
                       parameters=NEW)  # fmt: skip
    outcome = control.wait_applied(db, dep, cid, 30)
    assert outcome == "moving_average: parameters long_period=30, short_period=5 from the next bar"
    step = next(s for s, c, _ in control.applied(db, dep) if c == cid)
    thread.join(120)
    assert not thread.is_alive()
    kernel = runtime.context.kernel  # type: ignore[union-attr]
    assert kernel.slots[0].strategy.params == NEW
    got, fresh = _entries(kernel), _entries(_kernel(NEW))
    assert np.array_equal(got[step + 1 :], fresh[step + 1 : len(got)])
