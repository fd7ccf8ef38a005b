"""The trader's dashboard: ``/`` (deployments, positions, history, safety, deploy) and
``/orchestration/dashboard`` (seed 000's allocation view), with their files under ``/static/``.

The pages need no token: they ask for one and send it as a bearer token with every ``/api``
call (kept in the tab's sessionStorage only). Every asset ships in the package (the charting
library is vendored): the pages make no request beyond this server, and the Content Security
Policy says so."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).resolve().parent.parent / "static"
TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
    ".LICENSE": "text/plain; charset=utf-8",
}


def _headers(request: Request) -> dict[str, str]:
    host = request.headers.get("host", "")
    sockets = f" ws://{host} wss://{host}" if host else ""
    return {
        "Content-Security-Policy": (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src 'self'{sockets}; frame-ancestors 'none'; base-uri 'none'; "
            "form-action 'self'"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }


def _file(request: Request, relative: str) -> FileResponse:
    root = STATIC.resolve()
    target = (root / relative).resolve()
    if not target.is_relative_to(root) or not target.is_file() or relative.startswith("."):
        raise HTTPException(404, "no such file")
    suffix = target.suffix if target.suffix in TYPES else ""
    media = TYPES.get(suffix) or mimetypes.guess_type(target.name)[0] or "text/plain"
    if target.name == "NOTICE":
        media = "text/plain; charset=utf-8"
    return FileResponse(target, media_type=media, headers=_headers(request))


@router.get("/")
def index(request: Request) -> FileResponse:
    """The dashboard: deployments, positions, history, safety, deploy, emergency stop."""
    return _file(request, "index.html")


@router.get("/orchestration/dashboard")
def orchestration(request: Request) -> FileResponse:
    """Seed 000's orchestration view: allocation, rebalancing history, attribution."""
    return _file(request, "orchestration.html")


@router.get("/static/{path:path}")
def static(request: Request, path: str) -> FileResponse:
    return _file(request, path)
