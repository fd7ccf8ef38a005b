"""What the risk engine did, per rule: the summary every run prints, writes to ``stats.json``
(``risk_summary``) and shades on the report's equity chart.

The tally is fed by the engine as it records each event, so it is the same in backtest, paper
and live, and a denial is always attributed: an order the kill switch refused counts against the
rule that halted trading (``consecutive_losses``, ``daily_loss`` ...), not against "kill switch".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

# Share of all orders a rule may deny before the summary warns that it dominates the run.
DOMINANT_SHARE = 0.5


@dataclass(slots=True)
class RuleTally:
    """One rule's record over a run."""

    rule: str
    reset_policy: str = "none"  # daily | manual for halting rules; none for pre-trade checks
    first_fired: int | None = None
    fired: int = 0  # halts or REDUCING moves it caused
    denied: int = 0  # orders it denied (directly, or by the halt it caused)
    resized: int = 0
    limited: int = 0  # market orders it turned into protective limits
    resets: int = 0
    reset_by: list[str] = field(default_factory=list)  # "daily" | "admin: <reason>", in order

    def touch(self, ts: int) -> None:
        if self.first_fired is None:
            self.first_fired = ts


@dataclass(slots=True)
class Period:
    """A stretch of time the account was not ACTIVE."""

    rule: str
    state: str  # halted | reducing
    start: int
    end: int | None = None


class RiskTally:
    """Counters per rule and the halted/reducing periods, kept as the engine decides."""

    def __init__(self, policy: Callable[[str], str]) -> None:
        self._policy = policy
        self.rules: dict[str, RuleTally] = {}
        self.periods: list[Period] = []
        self.approved = 0
        self.denied = 0

    def _rule(self, rule: str) -> RuleTally:
        tally = self.rules.get(rule)
        if tally is None:
            tally = self.rules[rule] = RuleTally(rule)
        return tally

    def fired(self, ts: int, rule: str) -> None:
        tally = self._rule(rule)
        tally.reset_policy = self._policy(rule)
        tally.touch(ts)
        tally.fired += 1

    def decided(self, ts: int, rule: str, action: str) -> None:
        """A pre-trade decision: approve, deny, resize or limit. ``rule`` is the rule to blame:
        for a denial while halted, the rule that halted trading."""
        if action == "approve":
            self.approved += 1
            return
        tally = self._rule(rule)
        tally.touch(ts)
        if action == "deny":
            self.denied += 1
            tally.denied += 1
        elif action == "resize":
            tally.resized += 1
        elif action == "limit":
            tally.limited += 1

    def reset(self, rule: str, how: str) -> None:
        tally = self._rule(rule)
        tally.reset_policy = self._policy(rule)
        tally.resets += 1
        tally.reset_by.append(how)

    def state_changed(self, ts: int, state: str, rule: str) -> None:
        """The account's state is now ``state`` (active | reducing | halted) because of
        ``rule``: the open period ends, a new one starts unless trading is active again."""
        current = self.periods[-1] if self.periods and self.periods[-1].end is None else None
        if current is not None:
            if (current.state, current.rule) == (state, rule):
                return
            current.end = ts
        if state != "active":
            self.periods.append(Period(rule, state, ts))

    def summary(self, iso: Callable[[int], str]) -> dict[str, object]:
        """The ``risk_summary`` of a run (the shape ``BacktestResult.risk_summary`` documents)."""
        total = self.approved + self.denied
        rules = [_row(t, iso) for t in self.rules.values()]
        rules.sort(key=lambda r: (-int(str(r["denied"])), str(r["rule"])))
        return {
            "rules": rules,
            "halted_periods": [
                {
                    "rule": p.rule,
                    "state": p.state,
                    "start": iso(p.start),
                    "end": None if p.end is None else iso(p.end),
                }
                for p in self.periods
            ],
            "orders_total": total,
            "orders_denied": self.denied,
            "warnings": self.warnings(),
        }

    def warnings(self) -> list[str]:
        total = self.approved + self.denied
        out = []
        for t in self.rules.values():
            if total and t.denied / total > DOMINANT_SHARE:
                out.append(
                    f"risk rule {t.rule} denied {t.denied} of {total} orders "
                    f"({t.denied / total:.0%}): {_hint(t)}"
                )
        return out


def _row(t: RuleTally, iso: Callable[[int], str]) -> dict[str, object]:
    return {
        "rule": t.rule,
        "first_fired": None if t.first_fired is None else iso(t.first_fired),
        "fired": t.fired,
        "denied": t.denied,
        "resized": t.resized,
        "limited": t.limited,
        "reset_policy": t.reset_policy,
        "resets": t.resets,
        "reset_by": _reset_text(t.reset_by),
    }


def _reset_text(reset_by: list[str]) -> str:
    if not reset_by:
        return ""
    daily = sum(1 for r in reset_by if r == "daily")
    admin = [r for r in reset_by if r != "daily"]
    parts = [f"daily ×{daily}"] if daily else []
    parts += admin
    return "; ".join(parts)


def _hint(t: RuleTally) -> str:
    if t.reset_policy == "manual":
        return (
            "its halt waits for an admin reset (`genebot risk reset --reason ...`); "
            f"set risk_management.halts.{t.rule}.reset or its limit if that is not what you want"
        )
    if t.reset_policy == "daily":
        return "it halts again most days; review its limit under risk_management"
    return "review its limit under risk_management"


def summary_lines(summary: dict[str, object]) -> list[str]:
    """One line per rule that halted, resized or denied, for the console after the stats."""
    rules = summary.get("rules") or []
    if not isinstance(rules, list) or not rules:
        return ["risk: no rule fired (every order passed)"]
    total, denied = summary.get("orders_total", 0), summary.get("orders_denied", 0)
    lines = [f"risk: {denied} of {total} orders that add exposure denied (exits always pass)"]
    for r in rules:
        lines.append("  " + _rule_line(r))
    return lines


def _rule_line(r: dict[str, object]) -> str:
    what = []
    if r["fired"]:
        what.append(f"fired {r['fired']}×")
    if r["denied"]:
        what.append(f"denied {r['denied']}")
    if r["resized"]:
        what.append(f"resized {r['resized']}")
    if r.get("limited"):
        what.append(f"limited {r['limited']}")
    text = f"{r['rule']}: first {r['first_fired']}, " + ", ".join(w for w in what if w)
    if r["reset_policy"] != "none":
        how = r["reset_by"] or ("never reset" if r["fired"] else "")
        text += f"; reset {r['reset_policy']}" + (f" ({how})" if how else "")
    return text
