"""Alert conditions: a small, safe expression language over live metrics (no ``eval``).

    daily_pnl < -0.03
    drawdown > 10% and consecutive_losses >= 3
    not (win_rate_7d >= 0.40) or abs(daily_pnl) > 2 * max_daily_loss

Grammar (lowest precedence first)::

    expr       := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | comparison
    comparison := sum (("<" | "<=" | ">" | ">=" | "==" | "!=") sum)?
    sum        := term (("+" | "-") term)*
    term       := unary (("*" | "/") unary)*
    unary      := "-" unary | atom
    atom       := NUMBER ["%"] | "true" | "false" | NAME | NAME "(" expr ("," expr)* ")"
                | "(" expr ")"

Names are metrics (:data:`METRICS`, documented) or functions (``abs``, ``min``, ``max``). A
condition must be a comparison or a boolean combination of them. A metric that has no value yet
(``None``: e.g. no trades for a win rate) makes the comparison false, never an error.
"""

from __future__ import annotations

import difflib
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Union

from genebot.core.errors import ConfigError

METRICS: dict[str, str] = {
    "daily_pnl": "today's P&L as a fraction of start-of-day equity (-0.03 = -3 %)",
    "daily_pnl_abs": "today's P&L in the account currency",
    "total_pnl": "P&L since the deployment started, in the account currency",
    "equity": "account equity in the account currency",
    "drawdown": "drawdown from the equity peak, a positive fraction (0.10 = 10 %)",
    "consecutive_losses": "losing round trips in a row",
    "trades_today": "round trips closed today",
    "open_positions": "positions open now",
    "win_rate_7d": "share of winning round trips over the last 7 days",
    "sharpe_7d": "Sharpe ratio of daily returns over the last 7 days",
    "strategy_errors": "strategy exceptions in the last hour",
    "rejected_orders": "orders the venue rejected in the last hour",
    "exchange_errors": "failed exchange calls in the last hour",
    "data_staleness_s": "seconds since the last market data update",
    "cpu": "process CPU use, a fraction of one core (0.80 = 80 %)",
    "memory": "system memory in use, a fraction",
    "disk": "disk space in use on the data volume, a fraction",
    "max_daily_loss": "the configured daily loss limit, a fraction",
}
FUNCTIONS: dict[str, Callable[..., float]] = {"abs": abs, "min": min, "max": max}
_ARITY = {"abs": (1, 1), "min": (2, 99), "max": (2, 99)}
COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_ARITH: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
}
_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
    r"|(?P<name>[A-Za-z_]\w*)|(?P<op><=|>=|==|!=|[<>+\-*/(),%]))"
)
_KEYWORDS = frozenset({"and", "or", "not", "true", "false"})


class ConditionError(ConfigError):
    """A condition that cannot be parsed: names the token, its column and what was expected."""


# -- the tree ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Num:
    value: float


@dataclass(frozen=True)
class Metric:
    name: str


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Neg:
    operand: Node


@dataclass(frozen=True)
class Arith:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Compare:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Bool:
    op: str  # and | or
    left: Node
    right: Node


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class Const:
    value: bool


Node = Union[Num, Metric, Call, Neg, Arith, Compare, Bool, Not, Const]  # noqa: UP007
_NUMERIC = (Num, Metric, Call, Neg, Arith)


# -- parsing ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Tok:
    kind: str  # num | name | op | end
    text: str
    col: int  # 1-based


def _tokens(text: str) -> list[_Tok]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            col = pos + len(text[pos:]) - len(text[pos:].lstrip()) + 1
            raise ConditionError(f"unexpected character {text[col - 1]!r} at column {col}")
        kind = m.lastgroup or "op"
        out.append(_Tok(kind, m.group(kind), m.start(kind) + 1))
        pos = m.end()
    out.append(_Tok("end", "", len(text) + 1))
    return out


class _Parser:
    def __init__(self, text: str, metrics: Mapping[str, str]) -> None:
        self.toks = _tokens(text)
        self.i = 0
        self.metrics = metrics

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def take(self, *texts: str) -> _Tok | None:
        if self.tok.kind in ("op", "name") and self.tok.text in texts:
            self.i += 1
            return self.toks[self.i - 1]
        return None

    def fail(self, expected: str) -> ConditionError:
        tok = self.tok
        found = "the end" if tok.kind == "end" else repr(tok.text)
        return ConditionError(f"expected {expected} at column {tok.col}, found {found}")

    def parse(self) -> Node:
        node = self.expr()
        if self.tok.kind != "end":
            raise self.fail("'and', 'or' or the end")
        if isinstance(node, _NUMERIC):
            raise ConditionError("a condition must compare, e.g. 'daily_pnl < -0.03'")
        return node

    def expr(self) -> Node:
        node = self.and_expr()
        while (op := self.take("or")) is not None:
            node = Bool("or", _truth(node, op), _truth(self.and_expr(), op))
        return node

    def and_expr(self) -> Node:
        node = self.not_expr()
        while (op := self.take("and")) is not None:
            node = Bool("and", _truth(node, op), _truth(self.not_expr(), op))
        return node

    def not_expr(self) -> Node:
        if (op := self.take("not")) is not None:
            return Not(_truth(self.not_expr(), op))
        return self.comparison()

    def comparison(self) -> Node:
        left = self.sum()
        op = self.take(*COMPARE)
        if op is None:
            return left
        right = self.sum()
        for side in (left, right):
            if not isinstance(side, _NUMERIC):
                raise ConditionError(f"'{op.text}' at column {op.col} compares numbers only")
        return Compare(op.text, left, right)

    def sum(self) -> Node:
        node = self.term()
        while (op := self.take("+", "-")) is not None:
            node = Arith(op.text, node, self.term())
        return node

    def term(self) -> Node:
        node = self.unary()
        while (op := self.take("*", "/")) is not None:
            node = Arith(op.text, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.take("-"):
            return Neg(self.unary())
        return self.atom()

    def atom(self) -> Node:
        tok = self.tok
        if tok.kind == "num":
            self.i += 1
            value = float(tok.text)
            return Num(value / 100 if self.take("%") else value)
        if self.take("("):
            node = self.expr()
            if not self.take(")"):
                raise self.fail("')'")
            return node
        if tok.kind == "name" and tok.text in ("true", "false"):
            self.i += 1
            return Const(tok.text == "true")
        if tok.kind == "name" and tok.text not in _KEYWORDS:
            self.i += 1
            if tok.text in FUNCTIONS:
                return self.call(tok)
            if tok.text not in self.metrics:
                raise ConditionError(_unknown(tok, self.metrics))
            return Metric(tok.text)
        raise self.fail("a number, a metric or '('")

    def call(self, name: _Tok) -> Node:
        if not self.take("("):
            raise self.fail(f"'(' after {name.text}")
        args = [self.sum()]
        while self.take(","):
            args.append(self.sum())
        if not self.take(")"):
            raise self.fail("')'")
        lo, hi = _ARITY[name.text]
        if not lo <= len(args) <= hi:
            raise ConditionError(f"{name.text}() at column {name.col} takes {lo}..{hi} values")
        return Call(name.text, tuple(args))


def _truth(node: Node, op: _Tok) -> Node:
    if isinstance(node, _NUMERIC):
        raise ConditionError(
            f"'{op.text}' at column {op.col} combines comparisons, e.g. 'drawdown > 0.1 "
            f"{op.text} ...', not a number"
        )
    return node


def _unknown(tok: _Tok, metrics: Mapping[str, str]) -> str:
    close = difflib.get_close_matches(tok.text, list(metrics) + list(FUNCTIONS), n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"unknown metric {tok.text!r} at column {tok.col}{hint}; known: {', '.join(metrics)}"


def parse_condition(text: str, metrics: Mapping[str, str] = METRICS) -> Node:
    """The condition's tree, or :class:`ConditionError` naming the token and its column."""
    if not isinstance(text, str) or not text.strip():
        raise ConditionError("a condition is needed, e.g. 'daily_pnl < -0.03'")
    return _Parser(text, metrics).parse()


# -- evaluation -------------------------------------------------------------------------------
def evaluate(node: Node, values: Mapping[str, float | None]) -> bool:
    """Whether the condition holds for ``values`` (a metric without a value: false)."""
    result = _eval(node, values)
    return bool(result) if isinstance(result, bool) else False


def _eval(node: Node, v: Mapping[str, float | None]) -> float | bool | None:
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Const):
        return node.value
    if isinstance(node, Metric):
        return v.get(node.name)
    if isinstance(node, Neg):
        x = _eval(node.operand, v)
        return None if x is None else -x
    if isinstance(node, Arith | Call):
        return _numeric(node, v)
    if isinstance(node, Compare):
        a, b = _eval(node.left, v), _eval(node.right, v)
        return False if a is None or b is None else COMPARE[node.op](a, b)
    if isinstance(node, Not):
        return not _eval(node.operand, v)
    a = bool(_eval(node.left, v))
    if node.op == "and":
        return a and bool(_eval(node.right, v))
    return a or bool(_eval(node.right, v))


def _numeric(node: Arith | Call, v: Mapping[str, float | None]) -> float | None:
    if isinstance(node, Call):
        args = [_eval(a, v) for a in node.args]
        if any(a is None for a in args):
            return None
        return float(FUNCTIONS[node.name](*args))
    a, b = _eval(node.left, v), _eval(node.right, v)
    if a is None or b is None or (node.op == "/" and b == 0):
        return None  # no value: the comparison it feeds is false
    return _ARITH[node.op](a, b)


def render(node: Node) -> str:
    """The condition as text (fully parenthesized): ``parse(render(t)) == t``."""
    if isinstance(node, Num):
        return repr(node.value)
    if isinstance(node, Const):
        return "true" if node.value else "false"
    if isinstance(node, Metric):
        return node.name
    if isinstance(node, Neg):
        return f"-({render(node.operand)})"
    if isinstance(node, Call):
        return f"{node.name}({', '.join(render(a) for a in node.args)})"
    if isinstance(node, Not):
        return f"not ({render(node.operand)})"
    op = node.op
    return f"({render(node.left)} {op} {render(node.right)})"


def metrics_used(node: Node) -> set[str]:
    if isinstance(node, Metric):
        return {node.name}
    if isinstance(node, Neg | Not):
        return metrics_used(node.operand)
    if isinstance(node, Call):
        return set().union(*(metrics_used(a) for a in node.args))
    if isinstance(node, Arith | Compare | Bool):
        return metrics_used(node.left) | metrics_used(node.right)
    return set()
