"""`genebot run --live` on an MT5 account: the go-live check names the account by its login and
asks for the login and password (from the environment), never an api key."""

from __future__ import annotations

import pytest

from genebot.config.loader import load_config
from genebot.core.errors import InputError
from genebot.live.golive import describe


def _cfg(**mt5: object) -> object:
    return load_config(
        {
            "exchanges": {"mt5": {"server": "Broker-Demo", **mt5}},
            "strategies": {
                "swing_trend_momentum": {"symbols": ["EUR/USD"], "timeframes": ["5m"],
                                         "venue": "mt5"}
            },
        }
    )  # fmt: skip


def test_an_mt5_account_is_named_by_its_login() -> None:
    target = describe(_cfg(login=51234567, password="not-shown-anywhere"))  # type: ignore[arg-type]
    assert (target.exchange, target.account, target.phrase) == ("mt5", "4567", "mt5 51234567")


@pytest.mark.parametrize("given", [{}, {"login": 51234567}, {"password": "x", "login": ""}])
def test_login_and_password_are_needed(given: dict[str, object]) -> None:
    with pytest.raises(InputError, match=r"login and password are needed"):
        describe(_cfg(**given))  # type: ignore[arg-type]
