"""Paper trading on an exchange's live prices (``paper.prices: exchange``, ``genebot run
--live-prices``): the live runtime's loop on the exchange's closed candles (public data: no
API key, nothing is sent), with the simulated venue as the execution client — the backtest's
fees, slippage, latency and fill rules — and a simulated wallet (``paper.starting_balances``).

Restart, without re-executing the history (the candles the run saw are the exchange's, not
a file to replay): a run of the same name continues the earlier one's books, read from the
journal alone, as a live restart does from the exchange —

* the wallet: the starting balances and every fill journaled since the chain of runs began,
  booked again as the simulated venue books them (so a crash between a fill and a snapshot
  cannot make them differ);
* the positions: the net of those fills per strategy and instrument, carried into the new
  deployment, with their stops and targets re-placed at the same prices;
* the risk state (a halt survives), and the earlier run's working orders: canceled, in its
  journal (a restart does not take over orders the stopped runner was working).

``--fresh`` starts a new chain: a new wallet, no position.
"""

from __future__ import annotations

import json
import logging
from decimal import Decimal

from sqlalchemy import select

from genebot.backtest.runner import assemble
from genebot.backtest.setup import build
from genebot.config.loader import GenebotConfig
from genebot.domain.events import OrderCanceled, OrderDenied, OrderEvent, OrderFilled
from genebot.live.deployments import DeploymentRef, open_deployment
from genebot.live.exchange_runtime import LiveOutcome, LiveRuntime, started_payload
from genebot.live.exchange_setup import (
    LiveKernel,
    MarketParts,
    connect_market,
    traded,
    warm_frames,
)
from genebot.live.paper_wallet import fund_others, with_starting_balances
from genebot.live.recovery import (
    OPEN,
    RECOVERED,
    Held,
    Recovered,
    held_of,
    net_positions,
    orders_of,
)
from genebot.live.runtime import _trading_config
from genebot.live.strategy_runner import StrategyRunner
from genebot.persistence.database import Database
from genebot.persistence.journal import TradingStore
from genebot.persistence.lock import RunnerLock, scope_of
from genebot.persistence.tables import Deployment, FillRow, JournalEntry, OrderRow
from genebot.venues.sim.exchange import SimulatedExchange

log = logging.getLogger("genebot.live")
PRICES = "exchange"


class PaperExchangeRuntime(LiveRuntime):
    """One paper deployment on an exchange's live candles (see the module docstring)."""

    mode = "paper"

    def __init__(
        self, cfg: GenebotConfig, db: Database, *, fresh: bool = False, **options: object
    ) -> None:
        options.setdefault("name", "paper-live")
        super().__init__(with_starting_balances(cfg), db, **options)  # type: ignore[arg-type]
        self.fresh = fresh
        self._chain: list[str] = []  # the earlier runs this one continues, oldest first

    def run(self) -> LiveOutcome:
        """The whole run, owning its deployment's lock (the same name twice is refused)."""
        lock = RunnerLock(self.db, scope_of("paper", self.name))
        lock.acquire(wait_s=1.0)
        try:
            return self._run()
        finally:
            lock.release()

    def _open(self) -> DeploymentRef:
        exchange, _ = traded(self.cfg)
        self._chain = [] if self.fresh else chain_of(self.db, self.name)
        config = {
            "config": _trading_config(self.cfg),
            "data": f"{PRICES}:{exchange}",
            "continues": self._chain[-1] if self._chain else None,
        }
        return open_deployment(self.db, self.name, config, True, "paper")

    def _prepare(self, ref: DeploymentRef) -> tuple[LiveKernel, Recovered]:
        parts = self._parts = connect_market(self.cfg, self.clock)
        live = assemble_paper(self.cfg, parts)
        recovered = resume(self.db, live, self._chain, self.clock())
        for line in recovered.lines:
            log.warning("restart: %s", line)
        return live, recovered

    def _earlier(self, ref: DeploymentRef) -> list[str]:
        return self._chain

    def _venue(self, live: LiveKernel) -> SimulatedExchange:
        venue = live.kernel.venues[live.parts.name]
        assert isinstance(venue, SimulatedExchange)
        return venue

    def wallet(self) -> dict[str, Decimal]:
        """The simulated wallet now (currencies held)."""
        if self.live is None:
            return {}
        return {k: v for k, v in sorted(self._venue(self.live).account.balances.items()) if v}

    def _started(self, live: LiveKernel) -> dict[str, object]:
        started = started_payload(live.parts, live, self._venue(live).account.balances)
        started.update(prices=PRICES, continues=self._chain[-1] if self._chain else None)
        return started

    def _idle(self) -> None:
        return None  # the simulated venue answers at once: nothing is in flight

    def _venue_halt(self) -> str | None:
        return None

    def _reconcile(self, live: LiveKernel, store: TradingStore) -> None:
        return None  # the wallet is genebot's own: there is no other book to compare with

    def _counts(self, live: LiveKernel) -> tuple[int, int]:
        orders = live.kernel.execution.order_log
        sent = sum(1 for o in orders if o.venue_order_id is not None)
        fills = sum(1 for o in orders for e in o.events if isinstance(e, OrderFilled))
        return sent, fills


def assemble_paper(cfg: GenebotConfig, parts: MarketParts) -> LiveKernel:
    """The kernel on the warm-up candles, trading on the simulated venue (the backtest's)."""
    setup = build(cfg, warm_frames(cfg, parts), parts.instruments)
    kernel, recorder = assemble(cfg, setup)
    fund_others(cfg, setup, recorder)
    return LiveKernel(parts, setup, kernel, recorder, StrategyRunner(cfg, setup, kernel, recorder))


def chain_of(db: Database, name: str) -> list[str]:
    """The runs of paper deployment ``name`` on exchange prices that the next one continues:
    the newest, and each one it continued, back to a fresh start (oldest first)."""
    with db.reader() as session:
        rows = session.execute(
            select(Deployment.id, Deployment.config)
            .where(Deployment.name == name, Deployment.mode == "paper")
            .order_by(Deployment.started_at.desc())
        ).all()
    links: dict[str, str | None] = {}
    newest = None
    for dep_id, text in rows:
        stored = json.loads(text)
        if not str(stored.get("data", "")).startswith(f"{PRICES}:"):
            continue
        links[dep_id] = stored.get("continues")
        newest = newest or dep_id
    chain: list[str] = []
    while newest is not None and newest in links and newest not in chain:
        chain.append(newest)
        newest = links[newest]
    return chain[::-1]


def resume(db: Database, live: LiveKernel, chain: list[str], now: int) -> Recovered:
    """The earlier runs' books in the new kernel: the wallet rebuilt from their fills, their
    working orders finished in their journals, their positions to carry (with protection)."""
    out = Recovered()
    if not chain:
        return out
    venue = live.kernel.venues[live.parts.name]
    assert isinstance(venue, SimulatedExchange)
    booked = _rebook(db, venue, chain)
    live.recorder.snapshot_initial()
    out.lines.append(
        f"wallet from {booked} fill(s) since the chain began: "
        + ", ".join(f"{k} {v}" for k, v in sorted(venue.account.balances.items()) if v)
    )
    protect: dict[tuple[str, str], list[Held]] = {}
    for dep_id in _unfinished(db, chain):
        store = TradingStore(db, dep_id)
        lines = []
        for row in orders_of(db, dep_id, OPEN):
            if row.parent_id is not None and row.order_type != "MARKET":
                protect.setdefault((row.strategy_id, row.instrument_id), []).append(held_of(row))
            events = _finished(row, now)
            store.on_order_events(events)
            lines.append(f"deployment {dep_id[:12]} order {row.client_order_id}: canceled")
        store.record_runtime(RECOVERED, dep_id, {"lines": lines, "ts_event": now})
        out.lines += lines
    out.carried = net_positions(db, chain)
    for c in out.carried:
        c.protect = protect.get((c.strategy_id, c.instrument_id), [])
    return out


def _rebook(db: Database, venue: SimulatedExchange, chain: list[str]) -> int:
    with db.reader() as session:
        rows = session.execute(
            select(OrderRow.strategy_id, OrderRow.client_order_id, OrderRow.tag,
                   FillRow.instrument_id, FillRow.side, FillRow.quantity, FillRow.price,
                   FillRow.fee, FillRow.ts_event)
            .join(OrderRow, FillRow.order_id == OrderRow.id)
            .where(OrderRow.deployment_id.in_(chain))
            .order_by(FillRow.id)
        ).all()  # fmt: skip
    for sid, cid, tag, iid, side, qty, px, fee, ts in rows:
        venue.settle(venue.instruments[iid], sid, side, qty, px, fee, ts, cid, tag or "")
    return len(rows)


def _unfinished(db: Database, chain: list[str]) -> list[str]:
    """The runs of the chain not yet taken over by a restart."""
    with db.reader() as session:
        done = set(
            session.scalars(
                select(JournalEntry.deployment_id).where(
                    JournalEntry.deployment_id.in_(chain), JournalEntry.kind == RECOVERED
                )
            )
        )
    return [d for d in chain if d not in done]


def _finished(row: OrderRow, now: int) -> list[OrderEvent]:
    coid = row.client_order_id
    if row.status == "INITIALIZED":
        return [OrderDenied(coid, "the runner stopped before sending it (restart)", now, now)]
    why = (
        "protecting the stopped runner's position: canceled at restart (re-placed)"
        if row.parent_id is not None
        else "working at restart: canceled by genebot"
    )
    return [OrderCanceled(coid, why, now, now)]
