"""A parameter declaration that contradicts itself is refused where the class is written."""

from __future__ import annotations

import pytest

from genebot.core.errors import ParameterError
from genebot.trading.params import Param


@pytest.mark.parametrize(
    ("param", "problem"),
    [
        (Param(-5, min=1, max=100), "default -5 is below its min 1"),
        (Param(500, min=1, max=100), "default 500 is above its max 100"),
        (Param(5, min=10, max=1), "min 10 is above max 1"),
        (Param("fast", choices=("market", "limit")), "default 'fast' is not one of its choices"),
        (Param(5, min=1, max=100, opt=(50, 10, 1)), "opt (50, 10, 1) must be (low, high, step)"),
        (Param(5, min=1, max=100, opt=(1, 50, -1)), "opt (1, 50, -1) must be (low, high, step)"),
        (Param(5, min=1, max=100, opt=(0, 50, 1)), "opt (0, 50, 1) goes outside min 1 .. max 100"),
    ],
)
def test_a_contradictory_declaration_is_refused(param: Param, problem: str) -> None:
    with pytest.raises((ParameterError, RuntimeError)) as info:
        type("Bad", (), {"period": param})
    error = info.value.__cause__ or info.value  # Python 3.11 wraps __set_name__ errors
    assert isinstance(error, ParameterError)
    assert str(error).startswith(f"Bad.period: {problem}")


def test_a_consistent_declaration_is_accepted() -> None:
    cls = type("Good", (), {"period": Param(14, min=2, max=500, opt=(5, 50, 1))})
    assert cls.period.name == "period"
