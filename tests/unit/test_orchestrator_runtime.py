"""The orchestrator's runtime rules on a real simulated venue: pausing cancels entries and
frees nothing that working orders need, paused strategies only reduce, schedules survive
missing days, an all-paused book moves no capital."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from genebot.orchestrator.commands import ForceRebalance, PauseStrategy
from genebot.orchestrator.runtime import Orchestrator
from genebot.orchestrator.settings import OrchestratorSettings
from genebot.testkit.venue import SimVenue

D = Decimal
FLAT = [(100.0, 100.0, 100.0, 100.0)] * 10


def _book(**settings: object) -> tuple[SimVenue, Orchestrator]:
    venue = SimVenue(FLAT)
    venue.portfolio.sleeves["s"].allocated = D(1000)
    venue.portfolio.add_sleeve("t", D(1000))
    orchestrator = Orchestrator(
        OrchestratorSettings.model_validate(settings),
        {"s": 1.0, "t": 1.0},
        venue.portfolio,
        venue.engine,
        {venue.inst.id: venue.inst},
    )
    orchestrator.start(0)
    venue.engine.risk_gate = orchestrator.gate
    return venue, orchestrator


def test_pausing_cancels_working_entries_and_keeps_their_cash() -> None:
    venue, orchestrator = _book()
    entry = venue.place("BUY LIMIT px=90 qty=9")  # 810 of the sleeve's 1000, working
    assert entry.is_open
    assert orchestrator._free(orchestrator._equities())["s"] == D(1000) - D(810)
    orchestrator.bus.put(PauseStrategy("s", "news", "alice"))
    orchestrator.on_time(1)
    assert not entry.is_open and entry.reason == "strategy paused"
    assert "1 working entry order(s) canceled" in orchestrator.interventions[-1].outcome


def test_a_rebalance_leaves_the_cash_that_working_entries_need() -> None:
    venue, orchestrator = _book(allocation_method="equal_weight")
    venue.portfolio.sleeves["t"].allocated = D(3000)  # t is over its equal share
    venue.place("BUY LIMIT px=90 qty=9")  # s: 810 working of its 1000
    orchestrator.rebalance(1, "test")
    assert venue.portfolio.sleeves["s"].allocated == D(2000)  # takes, never gives here
    venue2, orch2 = _book(allocation_method="equal_weight")
    venue2.portfolio.sleeves["s"].allocated = D(3000)
    venue2.place("BUY LIMIT px=90 qty=30")  # 2700 of s's 3000 are spoken for
    orch2.rebalance(1, "test")
    assert venue2.portfolio.sleeves["s"].allocated == D(2700)  # gave only the free 300


def test_a_paused_strategy_cannot_turn_two_exits_into_a_short() -> None:
    venue, orchestrator = _book()
    venue.place("BUY qty=1")
    venue.step()
    assert venue.portfolio.position("s", venue.inst.id).quantity == 1
    orchestrator.bus.put(PauseStrategy("s", "ops"))
    orchestrator.on_time(venue.engine.now_ns)
    first = venue.place("SELL LIMIT px=110 qty=1")
    second = venue.place("SELL LIMIT px=120 qty=1")
    assert first.is_open and second.status.value == "DENIED"
    assert "strategy paused" in second.reason


def test_an_all_paused_book_moves_no_capital() -> None:
    venue, orchestrator = _book()
    for name in ("s", "t"):
        orchestrator.bus.put(PauseStrategy(name, "x"))
    orchestrator.bus.put(ForceRebalance("x"))
    orchestrator.on_time(1)
    assert {n: s.allocated for n, s in venue.portfolio.sleeves.items()} == {
        "s": D(1000),
        "t": D(1000),
    }
    assert orchestrator.interventions[-1].outcome.startswith("nothing moved")


def _days_with_bars(freq: str, holidays: set[str]) -> list[str]:
    _, orchestrator = _book(rebalance_frequency=freq)
    day = datetime(2025, 2, 3, 14, 30, tzinfo=UTC)
    orchestrator.start(int(day.timestamp()) * 10**9)
    while day < datetime(2025, 4, 8, tzinfo=UTC):
        day += timedelta(days=1)
        if day.weekday() < 5 and day.date().isoformat() not in holidays:
            orchestrator.on_time(int(day.timestamp()) * 10**9)
    return sorted(
        {
            datetime.fromtimestamp(c.ts / 1e9, UTC).date().isoformat()
            for c in orchestrator.history
            if c.trigger.startswith("schedule")
        }
    )


def test_a_week_whose_monday_has_no_bar_still_rebalances() -> None:
    weekly = _days_with_bars("weekly", {"2025-02-17"})
    assert "2025-02-18" in weekly and "2025-02-17" not in weekly
    assert len(weekly) == 9  # every ISO week from 10 Feb to 7 Apr


def test_a_month_that_starts_on_a_weekend_still_rebalances() -> None:
    assert _days_with_bars("monthly", set()) == ["2025-03-03", "2025-04-01"]
