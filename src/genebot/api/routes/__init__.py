"""The API's routers, in the order they are mounted (the dashboard's catch-all last)."""

from __future__ import annotations

from fastapi import APIRouter

from genebot.api.routes import (
    alerts,
    dashboard,
    data,
    halloffame,
    health,
    keys,
    metrics,
    orchestration,
    safety,
    sltp,
    strategies,
    trading,
    ws,
)

ROUTERS: list[APIRouter] = [
    health.router,
    safety.router,
    sltp.router,
    trading.router,
    strategies.router,
    orchestration.router,
    alerts.router,
    keys.router,
    data.router,
    halloffame.router,
    metrics.router,
    ws.router,
    dashboard.router,
]
