"""EvolvedStrategy: entry and exit rules written in a small, safe rule language.

Trades: goes long when the ``entry`` rule is true on a bar and closes the long when the ``exit``
rule is true. Long only. Made to run the genomes found by ``genebot evolve`` (and kept in the
Hall of Fame) like any other strategy, but rules can be written by hand too::

    RSI(14) < 28 and close > SMA(200)
    crosses_above(SMA(10), SMA(50)) or not (ATR(14) > 500)

Grammar (no ``eval``: a tiny recursive-descent parser)::

    rule     := and_rule ("or" and_rule)*
    and_rule := not_rule ("and" not_rule)*
    not_rule := "not" not_rule | "(" rule ")" | cross | value OP value
    cross    := ("crosses_above" | "crosses_below") "(" value "," value ")"
    value    := NUMBER | close | open | high | low | volume | INDICATOR "(" INTEGER ")"
    OP       := "<" | "<=" | ">" | ">="

Indicators (all TA-Lib, causal): SMA, EMA, WMA, RSI, ATR, ROC, MOM, CCI, WILLR, ADX. A value is
NaN during an indicator's warm-up; a comparison with NaN is false.

Parameters: ``entry`` and ``exit`` (rule text), ``stop_loss``, ``take_profit`` and ``trailing``
(fractions of the entry price; 0 means none).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import talib

from genebot.core.errors import ParameterError
from genebot.engine.incremental import FLOOR_BARS, PERIOD_MULTIPLE
from genebot.execution.engine import Protection
from genebot.indicators import crossed_above, crossed_below
from genebot.trading.data import F64, BarData, Signals
from genebot.trading.params import Param
from genebot.trading.sizing import PercentEquity
from genebot.trading.strategy import Strategy

BoolArray = np.ndarray
PRICES = ("close", "open", "high", "low", "volume")
COMPARISONS = ("<", "<=", ">", ">=")
CROSSES = ("crosses_above", "crosses_below")
MAX_PERIOD = 10_000


def _close_only(fn: Callable[..., F64]) -> Callable[[BarData, int], F64]:
    return lambda d, n: fn(d.close, timeperiod=n)


def _hlc(fn: Callable[..., F64]) -> Callable[[BarData, int], F64]:
    return lambda d, n: fn(d.high, d.low, d.close, timeperiod=n)


INDICATORS: dict[str, Callable[[BarData, int], F64]] = {
    "SMA": _close_only(talib.SMA),
    "EMA": _close_only(talib.EMA),
    "WMA": _close_only(talib.WMA),
    "RSI": _close_only(talib.RSI),
    "ROC": _close_only(talib.ROC),
    "MOM": _close_only(talib.MOM),
    "ATR": _hlc(talib.ATR),
    "CCI": _hlc(talib.CCI),
    "WILLR": _hlc(talib.WILLR),
    "ADX": _hlc(talib.ADX),
}
_MIN_PERIOD = {"SMA": 1, "EMA": 2, "WMA": 2, "MOM": 1, "ROC": 1}  # TA-Lib's lower bounds


# -- the rule tree ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Num:
    value: float

    def __str__(self) -> str:
        v = self.value
        if v.is_integer() and abs(v) < 1e15:
            return str(int(v))
        return repr(v)


@dataclass(frozen=True)
class Price:
    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Ind:
    name: str
    period: int

    def __str__(self) -> str:
        return f"{self.name}({self.period})"


Value = Num | Price | Ind


@dataclass(frozen=True)
class Compare:
    op: str
    left: Value
    right: Value

    def __str__(self) -> str:
        return f"{self.left} {self.op} {self.right}"


@dataclass(frozen=True)
class Cross:
    kind: str  # crosses_above | crosses_below
    left: Value
    right: Value

    def __str__(self) -> str:
        return f"{self.kind}({self.left}, {self.right})"


@dataclass(frozen=True)
class Not:
    arg: Rule

    def __str__(self) -> str:
        inner = str(self.arg)
        return f"not ({inner})" if isinstance(self.arg, And | Or) else f"not {inner}"


@dataclass(frozen=True)
class And:
    left: Rule
    right: Rule

    def __str__(self) -> str:
        left = f"({self.left})" if isinstance(self.left, Or) else str(self.left)
        right = f"({self.right})" if isinstance(self.right, And | Or) else str(self.right)
        return f"{left} and {right}"


@dataclass(frozen=True)
class Or:
    left: Rule
    right: Rule

    def __str__(self) -> str:
        right = f"({self.right})" if isinstance(self.right, Or) else str(self.right)
        return f"{self.left} or {right}"


Rule = Compare | Cross | Not | And | Or


# -- parsing ------------------------------------------------------------------------------------
_TOKEN = re.compile(
    r"\s*(?:(?P<num>-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)|(?P<op><=|>=|<|>)"
    r"|(?P<name>[A-Za-z_][A-Za-z_0-9]*)|(?P<punct>[(),]))"
)


def tokenize(text: str) -> list[str]:
    """The rule's tokens; an unknown character raises ParameterError naming it."""
    tokens: list[str] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            bad = text[pos:].strip()[:1] or text[pos : pos + 1]
            raise ParameterError(f"rule {text!r}: unexpected character {bad!r} at {pos}")
        tokens.append(match.group(match.lastgroup or "punct"))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0

    def fail(self, expected: str) -> ParameterError:
        got = self.tokens[self.pos] if self.pos < len(self.tokens) else "end of rule"
        return ParameterError(f"rule {self.text!r}: unexpected {got!r}; expected {expected}")

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (expected is not None and tok != expected):
            raise self.fail(repr(expected) if expected else "more")
        self.pos += 1
        return tok

    def parse(self) -> Rule:
        if not self.tokens:
            raise ParameterError("rule is empty")
        rule = self.rule()
        if self.peek() is not None:
            raise self.fail("'and', 'or' or the end of the rule")
        return rule

    def rule(self) -> Rule:
        left = self.and_rule()
        while self.peek() == "or":
            self.take()
            left = Or(left, self.and_rule())
        return left

    def and_rule(self) -> Rule:
        left = self.not_rule()
        while self.peek() == "and":
            self.take()
            left = And(left, self.not_rule())
        return left

    def not_rule(self) -> Rule:
        tok = self.peek()
        if tok == "not":
            self.take()
            return Not(self.not_rule())
        if tok == "(":
            self.take()
            inner = self.rule()
            self.take(")")
            return inner
        if tok in CROSSES:
            kind = self.take()
            self.take("(")
            left = self.value()
            self.take(",")
            right = self.value()
            self.take(")")
            return Cross(kind, left, right)
        left = self.value()
        op = self.peek()
        if op not in COMPARISONS:
            raise self.fail("a comparison (<, <=, >, >=)")
        self.take()
        return Compare(op, left, self.value())

    def value(self) -> Value:
        tok = self.peek()
        if tok is None:
            raise self.fail("a number, a price or an indicator")
        if tok[0].isdigit() or tok[0] in "-.":
            self.take()
            return Num(float(tok))
        if tok in PRICES:
            self.take()
            return Price(tok)
        if tok in INDICATORS:
            self.take()
            self.take("(")
            period_tok = self.peek()
            if period_tok is None or not period_tok.isdigit():
                raise self.fail(f"a whole number of bars for {tok}")
            self.take()
            period = int(period_tok)
            low = _MIN_PERIOD.get(tok, 2)
            if not low <= period <= MAX_PERIOD:
                raise ParameterError(
                    f"rule {self.text!r}: {tok}({period}): the period must be {low}..{MAX_PERIOD}"
                )
            self.take(")")
            return Ind(tok, period)
        known = ", ".join([*PRICES, *INDICATORS])
        raise self.fail(f"a number, a price or an indicator ({known})")


def parse_rule(text: str, *, strict: bool = False) -> Rule:
    """The rule tree of ``text``; ParameterError naming the offending token otherwise. With
    ``strict`` a trivial rule (see :func:`trivial_part`) is refused too, naming the part."""
    rule = _Parser(text).parse()
    found = trivial_part(rule) if strict else None
    if found is not None:
        part, why = found
        raise ParameterError(f"rule {text!r}: {str(part)!r} is trivial: {why}")
    return rule


# -- trivial rules ------------------------------------------------------------------------------
# Oscillators bounded on both sides: a level outside the range decides the comparison alone.
BOUNDS = {"RSI": (0.0, 100.0), "ADX": (0.0, 100.0), "WILLR": (-100.0, 0.0)}
_MIRROR = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "="}
_SWAP = {**_MIRROR, "crosses_above": "crosses_below", "crosses_below": "crosses_above"}
_ORDERS = frozenset("<=>")  # left < right, left = right, left > right


def _holds(a: float, op: str, b: float) -> bool:
    return a < b if op == "<" else a <= b if op == "<=" else a > b if op == ">" else a >= b


def _truth(always: bool) -> str:
    return "always true" if always else "never true"


def trivial_part(rule: Rule) -> tuple[Rule, str] | None:
    """The first trivial part of ``rule`` and why, or None. Trivial: a comparison or cross of a
    value with itself or of two constants, a bounded oscillator (RSI, ADX, WILLR) against a
    level outside its range, ``not not a``, and an and/or chain that repeats an operand (``a and
    a``, ``a < b or b > a``) or holds one with its opposite (``a and not a``, ``a < b and a > b``,
    ``crosses_above(a, b) and crosses_below(a, b)``, ``a <= b or a >= b``)."""
    if isinstance(rule, Compare | Cross):
        why = _trivial_leaf(rule)
        return None if why is None else (rule, why)
    if isinstance(rule, Not):
        if isinstance(rule.arg, Not):
            return rule, f"'not not' cancels out: write {rule.arg.arg}"
        return trivial_part(rule.arg)
    operands = _chain(rule, type(rule))
    for part in operands:
        found = trivial_part(part)
        if found is not None:
            return found
    for i, a in enumerate(operands):
        for b in operands[:i]:
            why = _trivial_pair(b, a, isinstance(rule, And))
            if why is not None:
                return rule, why
    return None


def _chain(rule: Rule, kind: type) -> list[Rule]:
    """The operands of a chain of ``and`` (or of ``or``), however it is parenthesized."""
    if isinstance(rule, And | Or) and type(rule) is kind:
        return _chain(rule.left, kind) + _chain(rule.right, kind)
    return [rule]


def _trivial_leaf(rule: Compare | Cross) -> str | None:
    left, right = rule.left, rule.right
    if left == right:
        if isinstance(rule, Cross):
            return f"{left} never crosses itself"
        return f"{left} on both sides: {_truth(rule.op in ('<=', '>='))}"
    if isinstance(left, Num) and isinstance(right, Num):
        if isinstance(rule, Cross):
            return "a constant never crosses another"
        return f"two constants: {_truth(_holds(left.value, rule.op, right.value))}"
    op = rule.kind if isinstance(rule, Cross) else rule.op
    if isinstance(left, Num):  # the indicator on the left: 30 > RSI(14) is RSI(14) < 30
        left, right, op = right, left, _SWAP[op]
    if not (isinstance(left, Ind) and left.name in BOUNDS and isinstance(right, Num)):
        return None
    (lo, hi), c = BOUNDS[left.name], right.value
    if op in CROSSES:
        possible = lo <= c < hi if op == "crosses_above" else lo < c <= hi
        return None if possible else f"{left} is within {lo:g}..{hi:g}: never crosses {c:g}"
    at_lo, at_hi = _holds(lo, op, c), _holds(hi, op, c)  # (the truth set is a half-line)
    if at_lo != at_hi:
        return None
    return f"{left} is within {lo:g}..{hi:g}: {_truth(at_lo)}"


def _relation(rule: Rule) -> tuple[tuple[str, str], frozenset[str]] | None:
    """A comparison (or a negated one) as the orders it allows of its two values, sorted."""
    negated = isinstance(rule, Not)
    inner = rule.arg if isinstance(rule, Not) else rule
    if not isinstance(inner, Compare):
        return None
    allowed = frozenset(inner.op)  # "<=": {"<", "="}
    left, right = str(inner.left), str(inner.right)
    if left > right:
        left, right, allowed = right, left, frozenset(_MIRROR[o] for o in allowed)
    return (left, right), (_ORDERS - allowed if negated else allowed)


def _crossing(rule: Rule) -> tuple[str, str] | None:
    """A cross as (rising, other): crosses_below(a, b) is crosses_above(b, a)."""
    if not isinstance(rule, Cross):
        return None
    a, b = str(rule.left), str(rule.right)
    return (a, b) if rule.kind == "crosses_above" else (b, a)


def _trivial_pair(a: Rule, b: Rule, conjunction: bool) -> str | None:
    """Why ``a and b`` (``a or b``) is trivial, or None."""
    if a == b:
        return f"repeats {a}"
    if a == Not(b) or b == Not(a):
        return f"{a} and {b} are opposites: {'never' if conjunction else 'always'} both true"
    ra, rb = _relation(a), _relation(b)
    if ra is not None and rb is not None and ra[0] == rb[0]:
        if ra[1] == rb[1]:
            return f"{b} repeats {a}"
        if conjunction and not ra[1] & rb[1]:
            return f"{a} and {b} are never both true"
        if not conjunction and ra[1] | rb[1] == _ORDERS:
            return f"{a} or {b} is always true"
    ca, cb = _crossing(a), _crossing(b)
    if ca is not None and cb is not None:
        if ca == cb:
            return f"{b} repeats {a}"
        if conjunction and ca == cb[::-1]:
            return f"{a} and {b} never happen on the same bar"
    return None


def values_of(rule: Rule) -> Iterator[Value]:
    """Every value the rule reads (indicators, prices, constants)."""
    if isinstance(rule, Compare | Cross):
        yield rule.left
        yield rule.right
    elif isinstance(rule, Not):
        yield from values_of(rule.arg)
    else:
        yield from values_of(rule.left)
        yield from values_of(rule.right)


def rule_size(rule: Rule) -> int:
    """Nodes in the rule (parsimony pressure counts these)."""
    if isinstance(rule, Compare | Cross):
        return 3
    if isinstance(rule, Not):
        return 1 + rule_size(rule.arg)
    return 1 + rule_size(rule.left) + rule_size(rule.right)


# -- evaluation ---------------------------------------------------------------------------------
def indicator_arrays(rules: list[Rule], data: BarData) -> dict[str, F64]:
    """Each indicator the rules read, once, keyed by its text (``SMA(200)``)."""
    out: dict[str, F64] = {}
    for rule in rules:
        for value in values_of(rule):
            if isinstance(value, Ind) and str(value) not in out:
                series = INDICATORS[value.name](data, value.period)
                out[str(value)] = np.asarray(series, dtype=np.float64)
    return out


def evaluate(rule: Rule, data: BarData, ind: Mapping[str, F64]) -> BoolArray:
    """The rule's truth value on every bar."""
    out: BoolArray
    if isinstance(rule, And):
        out = evaluate(rule.left, data, ind) & evaluate(rule.right, data, ind)
        return out
    if isinstance(rule, Or):
        out = evaluate(rule.left, data, ind) | evaluate(rule.right, data, ind)
        return out
    if isinstance(rule, Not):
        return ~evaluate(rule.arg, data, ind)
    left, right = _series(rule.left, data, ind), _series(rule.right, data, ind)
    if isinstance(rule, Cross):
        cross = crossed_above if rule.kind == "crosses_above" else crossed_below
        return cross(left, right)
    with np.errstate(invalid="ignore"):
        if rule.op == "<":
            return np.less(left, right)
        if rule.op == "<=":
            return np.less_equal(left, right)
        if rule.op == ">":
            return np.greater(left, right)
        return np.greater_equal(left, right)


def _series(value: Value, data: BarData, ind: Mapping[str, F64]) -> F64:
    if isinstance(value, Num):
        return np.full(len(data), value.value, dtype=np.float64)
    if isinstance(value, Price):
        arr: F64 = getattr(data, value.name)
        return arr
    return ind[str(value)]


# -- the strategy -------------------------------------------------------------------------------
class EvolvedStrategy(Strategy):
    """Entry/exit rules in the rule language, long only, with optional SL/TP/trailing genes."""

    name = "evolved"
    default_data = ("BTC/USDT", "1h")
    entry = Param("crosses_above(SMA(10), SMA(50))", doc="rule that opens a long")
    exit = Param("crosses_below(SMA(10), SMA(50))", doc="rule that closes the long")
    stop_loss = Param(0.0, min=0.0, max=0.5, opt=(0.0, 0.2, 0.01), doc="fraction; 0 = none")
    take_profit = Param(0.0, min=0.0, max=10.0, opt=(0.0, 0.5, 0.01), doc="fraction; 0 = none")
    trailing = Param(0.0, min=0.0, max=0.5, opt=(0.0, 0.2, 0.01), doc="fraction; 0 = none")
    size = Param(
        0.0, min=0.0, max=1.0, opt=(0.0, 0.5, 0.05),
        doc="fraction of the sleeve's equity per entry; 0 = the config's position_sizing",
    )  # fmt: skip

    def validate_parameters(self) -> None:
        rules = []
        for field in ("entry", "exit"):
            text = self.params[field]
            if not isinstance(text, str):
                raise ParameterError(f"strategy {self.strategy_id}: {field} must be rule text")
            try:
                rules.append(parse_rule(text, strict=True))
            except ParameterError as exc:
                raise ParameterError(f"strategy {self.strategy_id}: {field}: {exc}") from None
        self._entry_rule, self._exit_rule = rules
        # Live and paper trading recompute the signals on a trailing window: long enough for
        # the longest indicator in the rules (an EMA or Wilder average of it converges).
        longest = max(
            (v.period for r in rules for v in values_of(r) if isinstance(v, Ind)), default=0
        )
        self.warmup_bars = max(FLOOR_BARS, PERIOD_MULTIPLE * longest)

    def on_start(self) -> None:
        if self.size:  # the sizing gene: a percent-of-equity sizer instead of the config's
            self.sizer = PercentEquity(Decimal(str(self.size)))
        genes = [self.stop_loss, self.take_profit, self.trailing]
        if any(genes):
            base = self.protection
            sl, tp, tr = (Decimal(str(g)) if g else None for g in genes)
            self.protection = Protection(
                sl or base.stop_loss,
                tp or base.take_profit,
                tr or base.trailing,
                base.break_even,
                base.time_exit_bars,
            )

    def indicators(self, data: BarData) -> Mapping[str, F64]:
        return indicator_arrays([self._entry_rule, self._exit_rule], data)

    def signals(self, data: BarData, ind: Mapping[str, F64]) -> Signals:
        return Signals(
            entries=evaluate(self._entry_rule, data, ind),
            exits=evaluate(self._exit_rule, data, ind),
        )
