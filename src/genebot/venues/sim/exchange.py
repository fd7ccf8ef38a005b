"""The simulated exchange: accepts orders, matches them against bars, books fills to its account.

Fill timing (documented contract, identical in backtest and paper mode):

- A market order decided on bar *i* (at its close) fills at the OPEN of the instrument's next bar
  (``fill_timing="next_open"``, the default), or at bar *i*'s close with ``fill_timing="close"``.
- Limit and stop orders rest from the next bar on and fill when a bar's range crosses them: at the
  order's price, or at the open when the bar gaps through it (the better price for limits, the
  worse for stops).
- Within one bar, what the open already crosses acts first (the open is the bar's first trade:
  a gap through a target fills the target); then market orders, stop-type orders, limits: when a
  bar opening between them touches both a protective stop and a target, the adverse stop is
  assumed to come first.
- Fees: limit fills pay the maker fee, everything else the taker fee. Slippage applies to taker
  fills only. With ``participation`` set, at most that share of a bar's volume fills per
  instrument and bar; the rest stays working (IOC orders cancel the rest).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import numpy as np

from genebot.core.errors import LedgerError
from genebot.core.ids import IdGenerator
from genebot.core.precision import to_decimal
from genebot.domain.account import Account
from genebot.domain.events import (
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderTriggered,
    OrderUpdated,
)
from genebot.domain.instrument import AccountType, Instrument
from genebot.domain.orders import (
    Order,
    OrderStatus,
    is_triggered,
    open_first,
)
from genebot.domain.position import Position
from genebot.engine.scan import scan_level, scan_trailing, trail_over, trailing_stop_rule
from genebot.venues.sim.bars import BarColumns
from genebot.venues.sim.models import (
    FeeModel,
    MakerTakerFee,
    NoSlippage,
    SlippageModel,
    VolumeParticipation,
)

ZERO = Decimal(0)
_PRIORITY = {"MARKET": 0, "STOP_MARKET": 1, "TRAILING_STOP_MARKET": 1, "STOP_LIMIT": 1, "LIMIT": 2}


class SimulatedExchange:
    """One simulated venue with one account (spot or margin)."""

    def __init__(
        self,
        venue: str,
        account_type: AccountType,
        instruments: list[Instrument],
        *,
        fee_model: FeeModel | None = None,
        slippage: SlippageModel | None = None,
        participation: VolumeParticipation | None = None,
        fill_timing: str = "next_open",
        latency_ns: int = 0,
        margin_requirement: Decimal = Decimal(1),
        mark: Callable[[str], float | None] | None = None,
    ) -> None:
        self.venue = venue
        self.account = Account(venue, account_type)
        self.instruments = {i.id: i for i in instruments}
        self.fee_model = fee_model or MakerTakerFee()
        self.slippage = slippage or NoSlippage()
        self._slips = not isinstance(self.slippage, NoSlippage)
        self._margin = account_type is AccountType.MARGIN
        self.participation = participation or VolumeParticipation()
        self.fill_timing = fill_timing
        self.latency_ns = latency_ns
        self.margin_requirement = margin_requirement
        self.book: dict[str, list[Order]] = {iid: [] for iid in self.instruments}
        self.positions: dict[str, Position] = {
            iid: Position("venue", iid, inst.money_quantum)
            for iid, inst in self.instruments.items()
        }
        # What each strategy holds on a margin venue: a reduce-only order reduces its owner's
        # position, not the venue's net of several strategies (a long and a short net to 0).
        self._held: dict[tuple[str, str], Decimal] = {}
        self.mark: Callable[[str], float | None] = mark or (lambda iid: None)
        self.rate: Callable[[str], Decimal | None] = lambda currency: Decimal(1)
        self._bars: dict[str, BarColumns] = {}
        self._trail_row: dict[str, int] = {}
        self._hold: dict[str, int] = {}  # client order id → not before (time exits)
        self._break_even: dict[str, tuple[Decimal, Decimal]] = {}  # id → (level, new stop)
        self._active_from: dict[str, int] = {}
        self._watermark: dict[str, Decimal] = {}
        self._venue_ids = IdGenerator(f"{venue}-V")
        self._trade_ids = IdGenerator(f"{venue}-T")
        self._report: Callable[[OrderEvent], None] = lambda event: None
        self.now_ns = 0
        self._matching = False
        self._matching_row = -1
        # Time of commands (submit, cancel): the engine's decision time, set by the kernel.
        self.clock: Callable[[], int] = lambda: self.now_ns

    def _now(self) -> int:
        """Bar time while matching a bar; otherwise the engine clock."""
        return self.now_ns if self._matching else self.clock()

    def set_reporter(self, report: Callable[[OrderEvent], None]) -> None:
        """Where the venue sends order events (the execution engine)."""
        self._report = report

    # -- commands -------------------------------------------------------------------------
    def submit(self, order: Order) -> None:
        instrument = self.instruments.get(order.instrument_id)
        now = self.now_ns if self._matching else self.clock()  # see _now
        if instrument is None:
            self._report(OrderRejected(order.client_order_id, "unknown instrument", now, now))
            return
        problem = self._pre_accept_problem(instrument, order)
        if problem:
            self._report(OrderRejected(order.client_order_id, problem, now, now))
            return
        self._report(OrderAccepted(order.client_order_id, self._venue_ids.next(), now, now))
        if order.order_type == "TRAILING_STOP_MARKET":
            self._init_trailing(instrument, order)
            self._trail_row[order.client_order_id] = self._current_row(instrument.id)
        hold = self._hold.pop(order.client_order_id, 0)
        immediate = self.fill_timing == "close" and self.latency_ns == 0 and not hold
        if order.order_type == "MARKET" and immediate:
            close = self.mark(order.instrument_id)
            if close is not None:
                self._fill(instrument, order, to_decimal(close), "TAKER", None, now)
                return
        self._active_from[order.client_order_id] = max(now + self.latency_ns, hold)
        book = self.book[order.instrument_id]
        book.append(order)
        if len(book) > 1:
            book.sort(key=lambda o: _PRIORITY[o.order_type])

    def hold_until(self, client_order_id: str, not_before_ns: int) -> None:
        """The order with this id (about to be submitted) may not fill before ``not_before_ns``:
        a time exit is a market order held until its time."""
        self._hold[client_order_id] = not_before_ns

    def set_break_even(self, order: Order, level: Decimal, new_stop: Decimal) -> None:
        """Once price reaches ``level``, move this stop to ``new_stop`` (the entry price)."""
        if order.is_open:
            self._break_even[order.client_order_id] = (level, new_stop)

    def cancel(self, order: Order, reason: str = "canceled") -> None:
        book = self.book.get(order.instrument_id, [])
        if order in book:
            self._remove(order)
            now = self._now()
            self._report(OrderCanceled(order.client_order_id, reason, now, now))

    def _pre_accept_problem(self, instrument: Instrument, order: Order) -> str | None:
        if order.reduce_only:  # exits are never held to minimums or funds
            return None
        ref_px = self.mark(instrument.id)
        est = order.price or order.trigger_price or (to_decimal(ref_px) if ref_px else None)
        if est is None:
            return None
        minimum = instrument.minimum_problem(order.quantity, est)
        if minimum:
            return minimum
        if self.account.account_type is AccountType.SPOT:
            return self._spot_funds_problem(instrument, order, est)
        return self._margin_problem(instrument, order, est)

    def _spot_funds_problem(self, instrument: Instrument, order: Order, est: Decimal) -> str | None:
        if order.is_buy:
            need = order.quantity * est * (1 + instrument.taker_fee)
            free = self.account.balance(instrument.quote) - self._reserved(instrument.quote)
            if need > free:
                return f"insufficient {instrument.quote}: need {need:.8f}, free {free:.8f}"
        else:
            free = self.account.balance(instrument.base) - self._reserved(instrument.base)
            if order.quantity > free:
                return (
                    f"insufficient {instrument.base}: need {order.quantity}, free {free} "
                    "(spot accounts cannot sell short)"
                )
        return None

    def _margin_problem(self, instrument: Instrument, order: Order, est: Decimal) -> str | None:
        """Margin is measured in the account currency (a USD account trades USD/JPY): the
        positions as they would be if every working order (this one too) filled on the side
        that grows them most must be covered by the equity."""
        position = self.positions[instrument.id].quantity
        signed = order.quantity if order.is_buy else -order.quantity
        if abs(position + signed) <= abs(position):
            return None  # reduces exposure
        equity = sum((bal * self._rate(cur) for cur, bal in self.account.balances.items()), ZERO)
        need = ZERO
        for iid, pos in self.positions.items():
            mark = self.mark(iid)
            px = est if iid == instrument.id else (to_decimal(mark) if mark else None)
            rate = self._rate(self.instruments[iid].quote)
            if pos.quantity and mark:
                equity += pos.unrealized_pnl(to_decimal(mark)) * rate
            add = signed if iid == instrument.id else ZERO
            exposure = self._worst_exposure(iid, pos.quantity, add)
            if exposure and px:
                need += exposure * px * self.margin_requirement * rate
        if need > equity:
            return (
                f"insufficient margin: the positions and working orders need {need:.2f}, "
                f"the equity is {equity:.2f}"
            )
        return None

    def _worst_exposure(self, iid: str, position: Decimal, add: Decimal) -> Decimal:
        """|position| after the working orders (and ``add``) that grow it most: all the buys,
        or all the sells (an exit resting on the other side adds nothing)."""
        buys = sells = ZERO
        for o in self.book.get(iid, ()):
            if not o.reduce_only:
                if o.is_buy:
                    buys += o.leaves_qty
                else:
                    sells += o.leaves_qty
        if add > 0:
            buys += add
        else:
            sells -= add
        return max(abs(position + buys), abs(position - sells))

    def _rate(self, currency: str) -> Decimal:
        """Account-currency value of one unit of ``currency`` (1 when it cannot be valued)."""
        rate = self.rate(currency)
        return rate if rate else Decimal(1)

    def _reserved(self, currency: str) -> Decimal:
        """What working orders already promise to spend of ``currency``. Protective exits of
        one entry (one-cancels-other) sell the same units, so each group counts once."""
        total = ZERO
        if not any(self.book.values()):  # nothing working: nothing promised
            return total
        exits: dict[str, Decimal] = {}
        for iid, orders in self.book.items():
            instrument = self.instruments[iid]
            for o in orders:
                if o.reduce_only:
                    if not o.is_buy and instrument.base == currency:
                        group = o.parent_id or o.client_order_id
                        exits[group] = max(exits.get(group, ZERO), o.leaves_qty)
                    continue
                if o.is_buy and instrument.quote == currency:
                    px = o.price or o.trigger_price or to_decimal(self.mark(iid) or 0)
                    total += o.leaves_qty * px * (1 + instrument.taker_fee)
                elif not o.is_buy and instrument.base == currency:
                    total += o.leaves_qty
        return total + sum(exits.values(), ZERO)

    def equity_in(self, currency: str) -> Decimal:
        """Balance plus unrealized PnL of margin positions quoted in ``currency``."""
        total = self.account.balance(currency)
        for iid, pos in self.positions.items():
            px = self.mark(iid) if pos.quantity else None
            if px is not None and self.instruments[iid].quote == currency:
                total += pos.unrealized_pnl(to_decimal(px))
        return total

    # -- matching -------------------------------------------------------------------------
    def attach_bars(self, iid: str, columns: BarColumns) -> None:
        """Give the venue the bars it matches ``iid`` against (its finest feed)."""
        self._bars[iid] = columns

    def on_bar(self, iid: str, row: int) -> None:
        """Match this instrument's resting orders against bar ``row``."""
        book = self.book[iid]
        if not book:
            return
        bars = self._bars[iid]
        ts = int(bars.ts[row])
        self.now_ns = ts
        self._matching = True
        self._matching_row = row
        try:
            self._match_bar(iid, row, book, bars, ts)
        finally:
            self._matching = False
        for order in book:
            if order.client_order_id in self._trail_row:
                self._trail_row[order.client_order_id] = row

    def _match_bar(self, iid: str, row: int, book: list[Order], bars: BarColumns, ts: int) -> None:
        if self._trail_row:
            self._catch_up_trailing(iid, row)
        snapshot = list(book)
        inst = self.instruments[iid]
        o, h, low, v = (
            float(bars.open[row]),
            float(bars.high[row]),
            float(bars.low[row]),
            float(bars.volume[row]),
        )
        quote = None if bars.bid is None else (float(bars.bid[row]), float(bars.ask[row]))
        capacity = self.participation.capacity(inst, v)  # shared by every order of this bar
        left = self._match(inst, snapshot, ts, o, h, low, v, quote, capacity)
        # Protective orders attached to an entry that filled at this bar's open live through
        # the rest of this bar: check them against it too (adverse first, as always), with
        # what is left of the bar's volume.
        children = [o for o in book if o not in snapshot and o.parent_id is not None]
        if children:
            self._match(inst, children, ts, o, h, low, v, quote, left)

    def trail_to_end(self) -> None:
        """Fast mode's end: working trailing stops follow the bars after the last visited one
        (none of those could trigger them), so their final levels are per_bar's."""
        if self._trail_row:
            for iid, bars in self._bars.items():
                self._catch_up_trailing(iid, len(bars.ts))

    def _catch_up_trailing(self, iid: str, row: int) -> None:
        # In fast mode bars between visits were skipped; none of them could trigger the stop
        # (the scan guarantees it), so only the watermark has to move by their extremes.
        bars = self._bars[iid]
        inst = self.instruments[iid]
        for order in self.book[iid]:
            last = self._trail_row.get(order.client_order_id)
            if last is None or last >= row - 1:
                continue
            first = last + 1  # bars before the order was live (latency) move nothing
            active = self._active_from.get(order.client_order_id, 0)
            if active > int(bars.ts[first]):
                first = int(np.searchsorted(bars.ts, active, side="left"))
                if first >= row:
                    continue
            cid = order.client_order_id
            extremes = bars.low[first:row] if order.is_buy else bars.high[first:row]
            rule = self._stop_rule(inst, order)
            mark, stop, at = trail_over(
                extremes, self._watermark[cid], order.is_buy, rule, order.trigger_price
            )
            self._watermark[cid] = mark
            if stop is not None:  # stamped with the bar that moved it, as per_bar mode does
                ts = int(bars.ts[first + at])
                self._report(OrderUpdated(cid, stop, ts, ts))

    def _match(
        self,
        inst: Instrument,
        orders: list[Order],
        ts: int,
        o: float,
        h: float,
        low: float,
        v: float,
        quote: tuple[float, float] | None,
        capacity: Decimal | None,
    ) -> Decimal | None:
        """Fill what the bar reaches of ``orders``, within ``capacity`` (what the bar's volume
        still allows; None: no limit); return what is left of it."""
        if len(orders) > 1 and quote is None:  # a quote is one price: nothing comes first
            orders = open_first(orders, o)
        for order in orders:
            if not order.is_open or self._active_from.get(order.client_order_id, 0) > ts:
                continue
            if quote is not None:  # a quote: buys meet the ask, sells the bid (one price each)
                o = h = low = quote[1] if order.is_buy else quote[0]
            hit = self._trigger_price(inst, order, o, h, low)
            if hit is None:
                if order.time_in_force == "IOC":
                    self._expire(order, ts)
                elif self._break_even:
                    self._maybe_break_even(inst, order, h, low)
                continue
            px, liquidity = hit
            capacity = self._fill(inst, order, px, liquidity, capacity, ts, v)
            if order.is_open and order.time_in_force == "IOC":
                self._expire(order, ts)
        return capacity

    def _trigger_price(
        self, inst: Instrument, order: Order, o: float, h: float, low: float
    ) -> tuple[Decimal, str] | None:
        kind = order.order_type
        if kind == "MARKET" or (kind != "STOP_LIMIT" and kind != "LIMIT" and order.filled_qty):
            return to_decimal(o), "TAKER"  # a stop that filled in part continues as a market order
        buy = order.is_buy
        if kind == "LIMIT" or (kind == "STOP_LIMIT" and is_triggered(order)):
            limit = float(order.price)  # type: ignore[arg-type]
            if (buy and low <= limit) or (not buy and h >= limit):
                better = min(o, limit) if buy else max(o, limit)
                return to_decimal(better), "MAKER"
            return None
        if kind == "TRAILING_STOP_MARKET":
            return self._trailing_hit(inst, order, o, h, low)
        trigger = float(order.trigger_price)  # type: ignore[arg-type]
        if (buy and h < trigger) or (not buy and low > trigger):
            return None
        worse = max(o, trigger) if buy else min(o, trigger)
        if kind == "STOP_MARKET":
            return to_decimal(worse), "TAKER"
        if order.status is not OrderStatus.TRIGGERED:
            self._report(OrderTriggered(order.client_order_id, self._now(), self._now()))
        limit = float(order.price)  # type: ignore[arg-type]
        if (buy and limit >= worse) or (not buy and limit <= worse):
            return to_decimal(worse), "TAKER"
        if (buy and low <= limit) or (not buy and h >= limit):
            return to_decimal(limit), "MAKER"
        return None

    def _init_trailing(self, inst: Instrument, order: Order) -> None:
        ref = order.price or to_decimal(self.mark(inst.id) or 0)
        self._watermark[order.client_order_id] = ref
        self._set_trailing_stop(inst, order, ref)

    @staticmethod
    def _stop_rule(inst: Instrument, order: Order) -> Callable[[Decimal], Decimal]:
        return trailing_stop_rule(inst.round_price, order.is_buy, order.trailing_offset)

    def _set_trailing_stop(self, inst: Instrument, order: Order, mark: Decimal) -> None:
        stop = self._stop_rule(inst, order)(mark)
        if stop != order.trigger_price:
            now = self._now()
            self._report(OrderUpdated(order.client_order_id, stop, now, now))

    def _trailing_hit(
        self, inst: Instrument, order: Order, o: float, h: float, low: float
    ) -> tuple[Decimal, str] | None:
        # Adverse first: test the stop set by earlier bars before this bar may raise it.
        stop = float(order.trigger_price)  # type: ignore[arg-type]
        if order.is_buy and h >= stop:
            return to_decimal(max(o, stop)), "TAKER"
        if not order.is_buy and low <= stop:
            return to_decimal(min(o, stop)), "TAKER"
        mark = self._watermark[order.client_order_id]
        extreme = to_decimal(low if order.is_buy else h)
        if (order.is_buy and extreme < mark) or (not order.is_buy and extreme > mark):
            self._watermark[order.client_order_id] = extreme
            self._set_trailing_stop(inst, order, extreme)
        return None

    def _maybe_break_even(self, inst: Instrument, order: Order, h: float, low: float) -> None:
        # Adverse first: the stop was tested at its old level before this bar may move it.
        rule = self._break_even.get(order.client_order_id)
        if rule is None:
            return
        level, new_stop = rule
        reached = low <= float(level) if order.is_buy else h >= float(level)
        if reached:
            del self._break_even[order.client_order_id]
            now = self._now()
            self._report(OrderUpdated(order.client_order_id, new_stop, now, now))

    def _expire(self, order: Order, ts: int) -> None:
        self.book[order.instrument_id].remove(order)
        self._report(OrderExpired(order.client_order_id, ts, ts))

    def _fill(
        self,
        inst: Instrument,
        order: Order,
        px: Decimal,
        liquidity: str,
        capacity: Decimal | None,
        ts: int,
        volume: float = 0.0,
    ) -> Decimal | None:
        qty = leaves = order.leaves_qty
        if order.reduce_only:
            qty = min(qty, self._reducible(inst, order))
            if qty <= 0:
                self._remove(order)
                self._report(OrderCanceled(order.client_order_id, "nothing to reduce", ts, ts))
                return capacity
        if capacity is not None:
            qty = min(qty, capacity)
            if qty <= 0:
                return capacity
            capacity -= qty
        px = inst.round_price(px)
        if liquidity == "TAKER" and self._slips:
            px = self.slippage.adjust(inst, order.side, px, qty, volume)
        fee = self.fee_model.fee(inst, qty, px, liquidity)
        cid = order.client_order_id
        try:  # the ledger refuses a spot balance below zero, before booking anything
            self.settle(inst, order.strategy_id, order.side, qty, px, fee, ts, cid, order.tag)
        except LedgerError:
            if self._margin:
                raise
            self._remove(order)
            self._report(OrderCanceled(cid, "insufficient funds at fill", ts, ts))
            return capacity
        if qty == leaves:
            self._remove(order)
        tid = self._trade_ids.next()
        self._report(
            OrderFilled(cid, tid, inst.id, order.side, qty, px, fee, inst.quote, liquidity, ts, ts)
        )
        return capacity

    def settle(
        self, inst: Instrument, strategy_id: str, side: str, qty: Decimal, px: Decimal,
        fee: Decimal, ts: int, client_order_id: str, tag: str = "",
    ) -> None:  # fmt: skip
        """Book one fill: the account, and on margin the venue's position and what its owner
        holds (spot holdings live in the balances). A fill the venue makes, or one read back
        from the journal when paper trading on live prices restarts."""
        if self._margin:
            realized, _ = self.positions[inst.id].apply_fill(side, qty, px, fee, ts, tag)
            self.account.settle_fill(inst, side, qty, px, fee, realized, ts, client_order_id)
            owner = (strategy_id, inst.id)
            self._held[owner] = self._held.get(owner, ZERO) + (qty if side == "BUY" else -qty)
        else:
            self.account.settle_fill(inst, side, qty, px, fee, ZERO, ts, client_order_id)

    def _reducible(self, inst: Instrument, order: Order) -> Decimal:
        if not self._margin:  # spot: only a sell reduces, up to the base held
            return ZERO if order.is_buy else max(self.account.balance(inst.base), ZERO)
        held = self._held.get((order.strategy_id, inst.id), ZERO)
        if order.is_buy:
            return -held if held < 0 else ZERO
        return held if held > 0 else ZERO

    def _remove(self, order: Order) -> None:
        book = self.book[order.instrument_id]
        if order in book:
            book.remove(order)
        self._active_from.pop(order.client_order_id, None)
        self._watermark.pop(order.client_order_id, None)
        self._trail_row.pop(order.client_order_id, None)
        self._break_even.pop(order.client_order_id, None)

    def _current_row(self, iid: str) -> int:
        bars = self._bars.get(iid)
        if bars is None:
            return -1
        if self._matching:
            return self._matching_row
        # A decision is taken at a bar's close, which is the next bar's open time: the current
        # bar is the last one that opened strictly before now.
        return int(np.searchsorted(bars.ts, self._now(), side="left")) - 1

    # -- fast mode ------------------------------------------------------------------------
    def next_event_row(self, iid: str, start: int) -> int | None:
        """First bar row >= ``start`` at which a working order of ``iid`` may act (fast mode
        visits only such bars). Conservative: it may name a bar where nothing happens."""
        bars = self._bars[iid]
        best: int | None = None
        for order in self.book[iid]:
            row = self._order_event_row(bars, order, start)
            if row is not None and (best is None or row < best):
                best = row
                if best == start:
                    break
        return best

    def _order_event_row(self, bars: BarColumns, order: Order, start: int) -> int | None:
        n = bars.ts.shape[0]
        if start >= n:
            return None
        active = self._active_from.get(order.client_order_id, 0)
        if active > 0 and int(bars.ts[start]) < active:
            start = int(np.searchsorted(bars.ts, active, side="left"))
            if start >= n:
                return None
        kind = order.order_type
        if kind == "MARKET" or order.time_in_force == "IOC":
            return start
        if kind != "LIMIT" and kind != "STOP_LIMIT" and order.filled_qty:  # a stop, now market
            return start
        if kind == "LIMIT" or (kind == "STOP_LIMIT" and is_triggered(order)):
            return scan_level(bars, start, order.price, above=not order.is_buy)  # type: ignore[arg-type]
        if kind == "TRAILING_STOP_MARKET":
            return scan_trailing(
                bars,
                start,
                self._watermark[order.client_order_id],
                order.trailing_offset or ZERO,
                order.is_buy,
                self.instruments[order.instrument_id].tick_size,
            )
        row = scan_level(bars, start, order.trigger_price, above=order.is_buy)  # type: ignore[arg-type]
        rule = self._break_even.get(order.client_order_id)
        if rule is not None:  # the bar that moves the stop to break-even is an event too
            moved = scan_level(bars, start, rule[0], above=not order.is_buy)
            if moved is not None and (row is None or moved < row):
                row = moved
        return row
