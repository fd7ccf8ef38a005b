"""Stored backtests (``/api/backtests``: the list, one run with its trades, its HTML report)
and the dashboard chart's candles (``/api/candles/{symbol}``, from the data files the base
config's ``backtest`` section points at, else ``data/sample``)."""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import re
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from sqlalchemy import func, select

from genebot.api.context import ApiContext, Ctx, Viewer
from genebot.api.exact import ExactRoute
from genebot.config.loader import GenebotConfig, load_config
from genebot.core.errors import DataError, InputError
from genebot.core.time import timeframe_to_ns
from genebot.data.catalog import find_data_file
from genebot.data.readers import read_ohlcv
from genebot.persistence.repositories import BacktestRunRepository, TradeRepository
from genebot.persistence.tables import BacktestRun, TradeRow

router = APIRouter(route_class=ExactRoute, tags=["data"])
HEADLINE = ("total_return", "sharpe", "max_drawdown", "trades")
MAX_TRADES = 500
REPORT = "report.html"
RunId = Annotated[int, PathParam(ge=1, le=2**62)]


def base_config(ctx: ApiContext) -> GenebotConfig:
    """The config a deploy starts from (``api.base_config``), else genebot's defaults."""
    path = ctx.settings.base_config
    try:
        return load_config(path)
    except InputError as exc:
        raise HTTPException(409, ctx.redactor.redact(f"base config: {exc}")) from None


# --- backtests -------------------------------------------------------------------------------


def _headline(stats: dict[str, Any]) -> dict[str, Any]:
    return {key: stats.get(key) for key in HEADLINE}


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _summary(row: BacktestRun) -> dict[str, Any]:
    stats = _loads(row.stats) or {}
    return {
        "id": row.id,
        "title": row.title,
        "created_at": row.created_at,
        "strategies": [s for s in row.strategies.split(",") if s],
        "start": row.start,
        "end": row.end,
        "final_equity": row.final_equity,
        "has_report": _report(row) is not None,
        **_headline(stats),
    }


def _page(ctx: ApiContext, page: int, per_page: int) -> tuple[list[BacktestRun], int]:
    with ctx.db.reader() as session:
        total = session.scalar(select(func.count()).select_from(BacktestRun)) or 0
        query = (
            select(BacktestRun)
            .order_by(BacktestRun.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
        return list(session.scalars(query)), int(total)


@router.get("/api/backtests")
def backtests(
    ctx: Ctx,
    _: Viewer,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = 20,
) -> dict[str, Any]:
    """Stored backtest runs, newest first, with their headline stats."""
    rows, total = _page(ctx, page, per_page)
    return {
        "backtests": [_summary(r) for r in rows],
        "total": total,
        "page": page,
        "per_page": per_page,
        "pages": max(1, -(-total // per_page)),
    }


def _run(ctx: ApiContext, run_id: int) -> BacktestRun:
    try:
        return BacktestRunRepository(ctx.db).get(run_id)
    except InputError as exc:
        raise HTTPException(404, str(exc)) from None


def _trade(row: TradeRow) -> dict[str, Any]:
    return {
        "strategy": row.strategy_id,
        "instrument": row.instrument_id,
        "side": row.side,
        "entry_time": row.entry_time,
        "entry_price": row.entry_price,
        "exit_time": row.exit_time,
        "exit_price": row.exit_price,
        "quantity": row.quantity,
        "pnl": row.pnl,
        "fees": row.fees,
        "exit_reason": row.exit_reason,
    }


@router.get("/api/backtests/{run_id}")
def backtest(ctx: Ctx, _: Viewer, run_id: RunId) -> dict[str, Any]:
    """One run: its full stats, config (secrets redacted), attribution and first 500 trades."""
    row = _run(ctx, run_id)
    trades = TradeRepository(ctx.db).for_run(run_id)
    return {
        **_summary(row),
        "stats": _loads(row.stats),
        "config": ctx.redactor.redact_obj(_loads(row.config)),
        "attribution": _loads(row.attribution),
        "trades": [_trade(t) for t in trades[:MAX_TRADES]],
        "trades_total": len(trades),
        "trades_truncated": len(trades) > MAX_TRADES,
    }


def _report(row: BacktestRun) -> Path | None:
    """``report.html`` in the run's stored output folder, and nowhere else (no symlink out)."""
    if not row.output_dir:
        return None
    try:
        folder = Path(row.output_dir).resolve(strict=True)
        report = (folder / REPORT).resolve(strict=True)
    except (OSError, RuntimeError, ValueError):
        return None
    inside = report.parent == folder and report.name == REPORT
    return report if inside and report.is_file() else None


@router.get(
    "/api/backtests/{run_id}/report",
    response_class=FileResponse,
    responses={200: {"content": {"text/html": {}}}},
)
def backtest_report(ctx: Ctx, _: Viewer, run_id: RunId) -> FileResponse:
    """The run's HTML report, if its output folder still has it."""
    row = _run(ctx, run_id)
    report = _report(row)
    if report is None:
        where = f"in {row.output_dir}" if row.output_dir else "(the run stored no output folder)"
        raise HTTPException(404, f"backtest run {run_id} has no {REPORT} {where}")
    return FileResponse(report, media_type="text/html")


# The dashboard opens a report in a new tab, which cannot send the bearer header: it asks for
# a short-lived link whose ticket (an HMAC of the run id and expiry with a per-process secret)
# is the only credential the page carries; the token never goes into a URL.
TICKET_TTL_S = 120
REPORT_CSP = (  # the report's inline plotly and table script; nothing from the network
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:; connect-src 'none'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'"
)


def _secret(request: Request) -> bytes:
    secret: bytes | None = getattr(request.app.state, "report_secret", None)
    if secret is None:
        secret = request.app.state.report_secret = secrets.token_bytes(32)
    return secret


def _sign(secret: bytes, run_id: int, expiry: int) -> str:
    mac = hmac.new(secret, f"{run_id}:{expiry}".encode(), hashlib.sha256).hexdigest()
    return f"{expiry}.{mac}"


def _ticket_ok(secret: bytes, run_id: int, ticket: str) -> bool:
    expiry_text, _, _ = ticket.partition(".")
    if not expiry_text.isdigit() or int(expiry_text) < time.time():
        return False
    return hmac.compare_digest(_sign(secret, run_id, int(expiry_text)), ticket)


@router.get("/api/backtests/{run_id}/report-link")
def backtest_report_link(ctx: Ctx, _: Viewer, request: Request, run_id: RunId) -> dict[str, Any]:
    """A link to the run's HTML report that works without the token for two minutes."""
    row = _run(ctx, run_id)
    if _report(row) is None:
        raise HTTPException(404, f"backtest run {run_id} has no {REPORT}")
    expiry = int(time.time()) + TICKET_TTL_S
    ticket = _sign(_secret(request), run_id, expiry)
    return {"url": f"/reports/backtests/{run_id}?ticket={ticket}", "expires_in": TICKET_TTL_S}


@router.get("/reports/backtests/{run_id}", include_in_schema=False)
def report_page(
    ctx: Ctx, request: Request, run_id: RunId, ticket: Annotated[str, Query(max_length=200)] = ""
) -> FileResponse:
    """The report behind a link from ``report-link``: 403 once the ticket is wrong or old."""
    if not _ticket_ok(_secret(request), run_id, ticket):
        raise HTTPException(403, "this report link is invalid or has expired: open it again")
    report = _report(_run(ctx, run_id))
    if report is None:
        raise HTTPException(404, f"backtest run {run_id} has no {REPORT}")
    headers = {"Content-Security-Policy": REPORT_CSP, "X-Content-Type-Options": "nosniff"}
    headers |= {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
    return FileResponse(report, media_type="text/html", headers=headers)


# --- candles ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _bars(path: str, _mtime_ns: int, _size: int) -> pd.DataFrame:
    """A data file's bars, read once per version of the file."""
    return read_ohlcv(path, on_broken="warn", on_gap="ignore").frame


def _symbol(text: str) -> str:
    """``BTC/USDT`` from ``btc/usdt``, ``BTC-USDT`` or ``BTC_USDT``."""
    parts = re.split(r"[/_-]", text.strip().upper())
    if len(parts) != 2 or not all(re.fullmatch(r"[A-Z0-9]+", p) for p in parts):
        raise InputError(f"symbol {text!r} is not valid: use BASE/QUOTE, for example BTC/USDT")
    return "/".join(parts)


def _data_file(cfg: GenebotConfig, symbol: str, timeframe: str) -> Path:
    wanted_ns = timeframe_to_ns(timeframe)
    for entry in cfg.backtest.data:  # explicit files first, as a backtest looks them up
        same_tf = entry.timeframe is None or timeframe_to_ns(entry.timeframe) == wanted_ns
        if entry.symbol == symbol and same_tf:
            return Path(entry.file)
    return find_data_file(cfg.backtest.data_dir, symbol, timeframe)


def _candles(frame: pd.DataFrame, end: datetime | None, limit: int) -> list[dict[str, Any]]:
    if end is not None:
        end = end if end.tzinfo else end.replace(tzinfo=UTC)
        frame = frame[frame.index <= pd.Timestamp(end)]
    frame = frame.iloc[-limit:]
    times = (frame.index.to_numpy(dtype="datetime64[ns]").astype(np.int64) // 10**9).tolist()
    columns = {c: frame[c].to_numpy(dtype=np.float64).tolist() for c in frame.columns}
    names = ("open", "high", "low", "close", "volume")
    return [{"time": t, **{n: columns[n][i] for n in names}} for i, t in enumerate(times)]


@router.get("/api/candles/{symbol:path}")
def candles(
    ctx: Ctx,
    _: Viewer,
    symbol: Annotated[str, PathParam(min_length=3, max_length=40)],
    timeframe: Annotated[str, Query(pattern=r"^[0-9]{1,4}[smhdw]$")] = "5m",
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    end: Annotated[datetime | None, Query(description="ISO time: bars opened at or before")] = None,
) -> dict[str, Any]:
    """OHLCV bars for the chart (lightweight-charts' shape: ``time`` in unix seconds)."""
    symbol = _symbol(symbol)
    cfg = base_config(ctx)
    try:
        path = _data_file(cfg, symbol, timeframe)
        stat = path.stat()
        frame = _bars(str(path), stat.st_mtime_ns, stat.st_size)
    except DataError as exc:
        raise HTTPException(404, str(exc)) from None
    except OSError as exc:
        raise HTTPException(404, f"{symbol} {timeframe}: cannot read the data: {exc}") from None
    return {
        "symbol": symbol,
        "timeframe": timeframe,
        "candles": _candles(frame, end, limit),
    }
