"""The live staged-sizing ramp's weeks: week 1..4 give the configured fractions, then none
(full size); time before the start counts as week 1."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

from genebot.live.staged_live import WEEK_NS, StagedGate


def test_weeks_follow_the_configured_fractions_then_full_size() -> None:
    kernel = SimpleNamespace(execution=SimpleNamespace(risk_gate=None))
    gate = StagedGate(kernel, start_ns=1_000, weekly=[0.25, 0.5, 0.75, 0.75])  # type: ignore[arg-type]
    assert kernel.execution.risk_gate is gate
    at = [gate.fraction(1_000 + k * WEEK_NS + 1) for k in range(5)]
    assert at[:4] == [(1, Decimal("0.25")), (2, Decimal("0.5")), (3, Decimal("0.75")),
                      (4, Decimal("0.75"))]  # fmt: skip
    assert at[4] is None
    assert gate.fraction(0) == (1, Decimal("0.25"))
