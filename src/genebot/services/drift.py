"""Live-vs-backtest drift (seed 001): a paper or live deployment's round trips against a
backtest of the same config over the same period, trade by trade.

Each backtest trade is paired with the deployment's trade of the same strategy, symbol and side
whose entry is nearest in time within the tolerance (one bar of the fastest timeframe unless
given); what has no partner is *missed* (the backtest traded, the deployment did not) or *extra*
(the deployment traded, the backtest did not). Price differences are in basis points and signed
so that positive is adverse to the deployment (paid more to buy, got less to sell); timing is
the deployment's lag behind the backtest in seconds. A paper replay of the configured files
drifts by nothing: that is the one-kernel rule, and the test of this report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from genebot.core.errors import InputError
from genebot.core.time import timeframe_to_ns
from genebot.live.deployments import trading_config_of
from genebot.persistence.database import Database
from genebot.persistence.repositories import DeploymentRepository, TradeRepository

BPS = Decimal(10_000)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Leg:
    """One closed round trip, from either side."""

    strategy: str
    symbol: str
    side: str
    entry_time: datetime
    entry_price: Decimal
    exit_time: datetime
    exit_price: Decimal
    quantity: Decimal
    pnl: Decimal

    @property
    def key(self) -> tuple[str, str, str]:
        return self.strategy, self.symbol, self.side


def _bps(deployed: Decimal, reference: Decimal, adverse_if_higher: bool) -> float | None:
    if reference == 0:
        return None
    diff = (deployed - reference) / reference * BPS
    return float(diff if adverse_if_higher else -diff)


@dataclass(frozen=True)
class Pair:
    """A matched pair, or one side alone (``missed``: backtest only; ``extra``: deployed only)."""

    kind: str
    deployed: Leg | None
    backtest: Leg | None

    def figures(self) -> dict[str, float | None]:
        d, b = self.deployed, self.backtest
        if d is None or b is None:
            return {}
        long = d.side == "long"
        return {
            "entry_diff_bps": _bps(d.entry_price, b.entry_price, adverse_if_higher=long),
            "exit_diff_bps": _bps(d.exit_price, b.exit_price, adverse_if_higher=not long),
            "entry_lag_s": (d.entry_time - b.entry_time).total_seconds(),
            "exit_lag_s": (d.exit_time - b.exit_time).total_seconds(),
            "pnl_diff": float(d.pnl - b.pnl),
        }

    def row(self) -> dict[str, Any]:
        leg = self.deployed or self.backtest
        assert leg is not None
        out: dict[str, Any] = {"kind": self.kind, "strategy": leg.strategy, "symbol": leg.symbol}
        out["side"] = leg.side
        for name, side in (("deployed", self.deployed), ("backtest", self.backtest)):
            out[f"{name}_entry_time"] = side.entry_time.isoformat() if side else None
            out[f"{name}_entry_price"] = side.entry_price if side else None
            out[f"{name}_exit_price"] = side.exit_price if side else None
            out[f"{name}_pnl"] = side.pnl if side else None
        return {**out, **self.figures()}


def match(deployed: Sequence[Leg], backtest: Sequence[Leg], tolerance_s: float) -> list[Pair]:
    """Pair each backtest trade with the nearest unpaired deployed trade of its key."""
    free = sorted(deployed, key=lambda leg: leg.entry_time)
    pairs: list[Pair] = []
    for b in sorted(backtest, key=lambda leg: leg.entry_time):
        best, best_gap = None, tolerance_s
        for index, d in enumerate(free):
            gap = abs((d.entry_time - b.entry_time).total_seconds())
            if d.key == b.key and gap <= best_gap:
                best, best_gap = index, gap
        if best is None:
            pairs.append(Pair("missed", None, b))
        else:
            pairs.append(Pair("matched", free.pop(best), b))
    pairs.extend(Pair("extra", d, None) for d in free)
    return sorted(pairs, key=lambda p: (p.deployed or p.backtest).entry_time)  # type: ignore[union-attr]


@dataclass
class DriftReport:
    deployment_id: str
    name: str
    mode: str
    start: str
    end: str
    tolerance_s: float
    pairs: list[Pair] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        matched = [p.figures() for p in self.pairs if p.kind == "matched"]
        deployed = [p.deployed for p in self.pairs if p.deployed is not None]
        backtest = [p.backtest for p in self.pairs if p.backtest is not None]
        dep_pnl = sum((leg.pnl for leg in deployed), Decimal(0))
        bt_pnl = sum((leg.pnl for leg in backtest), Decimal(0))

        def mean(key: str) -> float | None:
            values = [v for f in matched if (v := f.get(key)) is not None]
            return sum(values) / len(values) if values else None

        lags = [abs(f["entry_lag_s"] or 0.0) for f in matched]
        return {
            "deployed_trades": len(deployed),
            "backtest_trades": len(backtest),
            "matched": len(matched),
            "missed": sum(1 for p in self.pairs if p.kind == "missed"),
            "extra": sum(1 for p in self.pairs if p.kind == "extra"),
            "match_rate": len(matched) / len(backtest) if backtest else None,
            "deployed_pnl": dep_pnl,
            "backtest_pnl": bt_pnl,
            "pnl_diff": dep_pnl - bt_pnl,
            "pnl_diff_pct": float((dep_pnl - bt_pnl) / abs(bt_pnl)) if bt_pnl else None,
            "mean_entry_diff_bps": mean("entry_diff_bps"),
            "mean_exit_diff_bps": mean("exit_diff_bps"),
            "mean_entry_lag_s": mean("entry_lag_s"),
            "max_abs_entry_lag_s": max(lags) if lags else None,
        }

    def as_dict(self) -> dict[str, Any]:
        head = {k: getattr(self, k) for k in ("deployment_id", "name", "mode", "start", "end")}
        return {
            **head,
            "tolerance_s": self.tolerance_s,
            "summary": self.summary(),
            "trades": [p.row() for p in self.pairs],
        }


def _symbol(instrument_id: str) -> str:
    """``BTC/USDT@binance`` or ``BTC/USDT.SIM`` → ``BTC/USDT``."""
    return instrument_id.split("@")[0].split(".")[0]


def deployed_legs(db: Database, deployment_id: str) -> list[Leg]:
    repo, legs, page = TradeRepository(db), [], 1
    while True:
        found = repo.history(deployment_id, page=page, per_page=500)
        legs += [
            Leg(t.strategy_id, _symbol(t.instrument_id), t.side, t.entry_time.astimezone(UTC),
                t.entry_price, t.exit_time.astimezone(UTC), t.exit_price, t.quantity, t.pnl)
            for t in found.items
        ]  # fmt: skip
        if page >= found.pages:
            return legs
        page += 1


def _utc(ts_ns: int) -> datetime:
    return EPOCH + timedelta(microseconds=ts_ns // 1_000)


def backtest_legs(config: dict[str, Any]) -> list[Leg]:
    from genebot.backtest.runner import run

    return [
        Leg(t.strategy_id, _symbol(t.instrument_id), t.side, _utc(t.entry_ts), t.entry_price,
            _utc(t.exit_ts), t.exit_price, t.quantity, t.pnl)
        for t in run(config).closed_trades
    ]  # fmt: skip


def _period(
    config: dict[str, Any], dep: Any, start: str | None, end: str | None
) -> tuple[str, str]:
    bt = config.get("backtest") or {}
    if dep.mode == "paper" and bt.get("start_date") and bt.get("end_date"):
        first, last = str(bt["start_date"]), str(bt["end_date"])  # the replayed files' period
    else:
        stopped = dep.stopped_at or datetime.now(UTC)
        first = dep.started_at.date().isoformat()
        last = (stopped + timedelta(days=1)).date().isoformat()
    return start or first, end or last


def _fastest_bar_s(config: dict[str, Any]) -> float:
    frames = [
        str(tf)
        for entry in (config.get("strategies") or {}).values()
        if isinstance(entry, dict)
        for tf in entry.get("timeframes") or []
    ]
    return min((timeframe_to_ns(tf) / 1e9 for tf in frames), default=60.0)


def drift_report(
    db: Database,
    deployment_id: str,
    *,
    start: str | None = None,
    end: str | None = None,
    data_dir: str | None = None,
    tolerance_s: float | None = None,
) -> DriftReport:
    """The deployment's trades against a backtest of its config over its period."""
    dep = DeploymentRepository(db).get(deployment_id)
    if dep is None:
        raise InputError(f"no deployment {deployment_id!r}: see `genebot report` for the ids")
    config = trading_config_of(dep.config)
    first, last = _period(config, dep, start, end)
    backtest = dict(config.get("backtest") or {})
    backtest.update(start_date=first, end_date=last)
    if data_dir is not None:
        backtest["data_dir"] = data_dir
    config["backtest"] = backtest
    for key in ("api", "alerting", "notifications", "live", "run"):
        config.pop(key, None)  # what a runner does, not what a backtest trades
    tolerance = tolerance_s if tolerance_s is not None else _fastest_bar_s(config)
    pairs = match(deployed_legs(db, deployment_id), backtest_legs(config), tolerance)
    return DriftReport(dep.id, dep.name, dep.mode, first, last, tolerance, pairs)
