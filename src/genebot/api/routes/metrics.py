"""``GET /metrics``: Prometheus's text format (0.0.4), behind a token like every route but
``/health`` (give Prometheus a viewer token: ``authorization: {credentials: ...}`` in its scrape
config). What is exposed, and how it is read, is in :mod:`genebot.api.observability`."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from genebot.api import observability
from genebot.api.context import Ctx, Viewer

router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {observability.CONTENT_TYPE: {}}, "description": "metrics"}},
)
def metrics(request: Request, ctx: Ctx, _: Viewer) -> Response:
    """Trading, risk, runner and API metrics (one database snapshot, at most one a second:
    scrapes closer together share it)."""
    ttl = ctx.settings.metrics_cache_s
    body = ctx.cache.get("metrics", ttl, observability.metrics_of(request.app).render)
    assert isinstance(body, bytes)
    return Response(body, media_type=observability.CONTENT_TYPE)
