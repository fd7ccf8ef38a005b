"""The FastAPI application: ``create_app(db)``. Every route needs a token except ``/health``;
mutating routes need the admin role (rate limited, journaled with who and why). Invalid bodies
answer 422 naming the field; genebot's own errors answer 4xx with one line, never a traceback;
a control call with no runner up answers 409 "no runner"."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import Response

from genebot.api import observability
from genebot.api.context import ApiContext, ApiSettings, NoRunner
from genebot.api.exact import ExactJSON
from genebot.api.routes import ROUTERS
from genebot.api.security import Tokens
from genebot.core.errors import GenebotError, InputError
from genebot.persistence.database import Database

log = logging.getLogger(__name__)


def create_app(
    db: Database,
    tokens: Tokens | None = None,
    *,
    settings: ApiSettings | None = None,
    runtime: Any = None,
    launcher: Any = None,
) -> FastAPI:
    ctx = ApiContext(
        db,
        tokens if tokens is not None else Tokens(),
        settings or ApiSettings(),
        runtime=runtime,
        launcher=launcher,
    )
    app = FastAPI(
        title="genebot",
        summary="Watch and control genebot: deployments, safety, protective orders, metrics",
        default_response_class=ExactJSON,
    )
    app.state.ctx = ctx
    if ctx.settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=ctx.settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["Authorization", "Content-Type"],
        )
    _errors(app, ctx)
    for router in ROUTERS:
        app.include_router(router)
    observability.install(app)  # request counts and latencies for /metrics
    return app


def _errors(app: FastAPI, ctx: ApiContext) -> None:
    from genebot.services import safety

    @app.exception_handler(GenebotError)
    async def genebot_error(_: Request, exc: GenebotError) -> Response:
        status = (
            404
            if isinstance(exc, safety.NoDeployment)
            else (422 if isinstance(exc, InputError) else 409)
        )
        return ExactJSON({"detail": ctx.redactor.redact(str(exc))}, status_code=status)

    @app.exception_handler(NoRunner)
    async def no_runner(_: Request, exc: NoRunner) -> Response:
        return ExactJSON({"detail": str(exc)}, status_code=409)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> Response:
        errors = []
        for e in exc.errors():
            where = ".".join(str(p) for p in e.get("loc", ()) if p not in ("body", "query"))
            errors.append(
                {
                    "field": where or "body",
                    "message": e.get("msg", "invalid"),
                    "loc": list(e.get("loc", ())),
                }
            )
        first = errors[0] if errors else {"field": "body", "message": "invalid"}
        detail = f"{first['field']}: {first['message']}"
        return ExactJSON({"detail": detail, "errors": errors}, status_code=422)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> Response:
        log.exception("API error")  # the log has the traceback; the caller one line
        text = ctx.redactor.redact(f"{type(exc).__name__}: {exc}")
        return ExactJSON({"detail": f"internal error: {text}"}, status_code=500)
