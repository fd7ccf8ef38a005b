"""The one MT5 retcode table: every documented TRADE_RETCODE_* has a reaction, and the
reactions are the ones the issue asks for."""

from __future__ import annotations

import pytest

from genebot.venues.mt5 import retcodes
from genebot.venues.mt5.retcodes import Reaction

# The MQL5 reference's "Trade Server Return Codes" (name -> value), transcribed independently.
DOCUMENTED = {
    "REQUOTE": 10004, "REJECT": 10006, "CANCEL": 10007, "PLACED": 10008, "DONE": 10009,
    "DONE_PARTIAL": 10010, "ERROR": 10011, "TIMEOUT": 10012, "INVALID": 10013,
    "INVALID_VOLUME": 10014, "INVALID_PRICE": 10015, "INVALID_STOPS": 10016,
    "TRADE_DISABLED": 10017, "MARKET_CLOSED": 10018, "NO_MONEY": 10019, "PRICE_CHANGED": 10020,
    "PRICE_OFF": 10021, "INVALID_EXPIRATION": 10022, "ORDER_CHANGED": 10023,
    "TOO_MANY_REQUESTS": 10024, "NO_CHANGES": 10025, "SERVER_DISABLES_AT": 10026,
    "CLIENT_DISABLES_AT": 10027, "LOCKED": 10028, "FROZEN": 10029, "INVALID_FILL": 10030,
    "CONNECTION": 10031, "ONLY_REAL": 10032, "LIMIT_ORDERS": 10033, "LIMIT_VOLUME": 10034,
    "INVALID_ORDER": 10035, "POSITION_CLOSED": 10036, "INVALID_CLOSE_VOLUME": 10038,
    "CLOSE_ORDER_EXIST": 10039, "LIMIT_POSITIONS": 10040, "REJECT_CANCEL": 10041,
    "LONG_ONLY": 10042, "SHORT_ONLY": 10043, "CLOSE_ONLY": 10044, "FIFO_CLOSE": 10045,
    "HEDGE_PROHIBITED": 10046,
}  # fmt: skip


def test_every_documented_code_is_in_the_table_with_its_official_value() -> None:
    assert {f"TRADE_RETCODE_{k}": v for k, v in DOCUMENTED.items()} == retcodes.CODES
    assert all(isinstance(row.reaction, Reaction) for row in retcodes.TABLE.values())


@pytest.mark.parametrize(
    ("name", "reaction"),
    [
        ("DONE", Reaction.DONE), ("PLACED", Reaction.DONE), ("DONE_PARTIAL", Reaction.DONE),
        ("REQUOTE", Reaction.RETRY), ("PRICE_CHANGED", Reaction.RETRY),
        ("PRICE_OFF", Reaction.RETRY), ("NO_MONEY", Reaction.DENY),
        ("INVALID_STOPS", Reaction.DENY), ("INVALID_VOLUME", Reaction.DENY),
        ("INVALID_FILL", Reaction.DENY), ("MARKET_CLOSED", Reaction.CLOSED),
        ("CONNECTION", Reaction.QUERY), ("TIMEOUT", Reaction.QUERY), ("ERROR", Reaction.QUERY),
        ("CLIENT_DISABLES_AT", Reaction.STOP), ("SERVER_DISABLES_AT", Reaction.STOP),
    ],
)  # fmt: skip
def test_reactions(name: str, reaction: Reaction) -> None:
    assert retcodes.reaction_for(DOCUMENTED[name]) is reaction


def test_no_reply_and_undocumented_codes_are_asked_about_never_resent() -> None:
    assert retcodes.reaction_for(None) is Reaction.QUERY
    assert retcodes.reaction_for(12345) is Reaction.QUERY
    assert "undocumented" in retcodes.describe(12345)


def test_the_description_names_the_code_and_the_brokers_comment() -> None:
    text = retcodes.describe(10019, "No money")
    assert text.startswith("TRADE_RETCODE_NO_MONEY (10019)") and "[No money]" in text
