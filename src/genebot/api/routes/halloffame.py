"""``/api/halloffame`` (seed 004's Hall of Fame): the evolved strategies kept by ``genebot
evolve``, best held-out Sharpe first; one entry with its rules, statistics, the config it
deploys with and its held-out equity curve (backtested once, then kept: entries never change).
Deploying one is ``POST /api/trading/deploy`` with the entry's strategy and parameters."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path

from genebot.api.context import Ctx, Viewer
from genebot.api.exact import ExactRoute
from genebot.core.errors import InputError
from genebot.evolution import halloffame

router = APIRouter(route_class=ExactRoute, prefix="/api/halloffame", tags=["halloffame"])
_CURVES: dict[tuple[str, int], list[tuple[str, float]]] = {}


@router.get("")
def listing(ctx: Ctx, _: Viewer) -> dict[str, Any]:
    found = halloffame.entries(ctx.db)
    return {"entries": [e.as_dict() for e in found], "count": len(found)}


@router.get("/{entry_id}")
def one(ctx: Ctx, _: Viewer, entry_id: Annotated[int, Path(ge=1, le=2**62)]) -> dict[str, Any]:
    try:
        e = halloffame.entry(ctx.db, entry_id)
    except InputError as exc:
        raise HTTPException(404, str(exc)) from None
    key = (str(ctx.db.url), entry_id)
    if key not in _CURVES:
        _CURVES[key] = halloffame.held_out_equity(e)
    config = halloffame.strategy_config(e)
    (strategy,) = config["strategies"].values()
    return {
        **e.as_dict(),
        "deploy": {
            "halloffame_id": e.id,  # the deploy then runs under the entry's risk settings
            "strategy": strategy["type"],
            "parameters": strategy["parameters"],
            "symbols": ",".join(strategy["symbols"]),
            "timeframe": strategy["timeframes"][0],
        },
        "equity": [{"time": t, "equity": v} for t, v in _CURVES[key]],
    }
