"""The FastAPI application: ``create_app(db)``. Every route needs a token except ``/health``;
mutating routes need the admin role. Invalid bodies answer 422 naming the field; genebot's own
errors answer 4xx with one line, never a traceback.

(No ``from __future__ import annotations`` here: FastAPI reads the route signatures, whose
dependencies are closures.)"""

from typing import Annotated

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from genebot.api.security import Caller, Tokens
from genebot.core.errors import GenebotError, InputError
from genebot.core.exactjson import dumps_exact
from genebot.core.secrets import SecretRedactor
from genebot.persistence.database import Database
from genebot.services import safety


class ExactJSON(JSONResponse):
    """Money as exact JSON numbers (no float between the ledger and the client)."""

    def render(self, content: object) -> bytes:
        return dumps_exact(content).encode()


class ResetBody(BaseModel):
    reason: str | None = Field(None, description="why trading may resume (journaled)")
    deployment_id: str | None = None


def create_app(db: Database, tokens: Tokens | None = None) -> FastAPI:
    tokens = tokens if tokens is not None else Tokens()
    redactor = SecretRedactor()
    redactor.add(tokens.secrets())
    app = FastAPI(title="genebot", default_response_class=ExactJSON)

    def caller(authorization: Annotated[str | None, Header()] = None) -> Caller:
        scheme, _, token = (authorization or "").partition(" ")
        who = tokens.identify(token.strip()) if scheme.lower() == "bearer" else None
        if who is None:
            raise HTTPException(
                401, "a valid bearer token is needed", {"WWW-Authenticate": "Bearer"}
            )
        return who

    def admin(who: Annotated[Caller, Depends(caller)]) -> Caller:
        if not who.may("admin"):
            raise HTTPException(403, "this needs the admin role")
        return who

    @app.exception_handler(GenebotError)
    async def genebot_error(_: Request, exc: GenebotError) -> Response:
        status = (
            404
            if isinstance(exc, safety.NoDeployment)
            else (422 if isinstance(exc, InputError) else 409)
        )
        return ExactJSON({"detail": redactor.redact(str(exc))}, status_code=status)

    @app.get("/health")
    def health() -> dict[str, object]:
        db.ping()
        return {"status": "ok", "database": db.display_url}

    @app.get("/api/trading-safety/status")
    def status(
        _: Annotated[Caller, Depends(caller)], deployment_id: str | None = None
    ) -> dict[str, object]:
        return safety.safety_status(db, safety.pick_deployment(db, deployment_id))

    @app.post("/api/trading-safety/reset-kill-switch")
    def reset(
        who: Annotated[Caller, Depends(admin)],
        body: ResetBody | None = None,
        admin_override: Annotated[bool, Query()] = False,
        reason: Annotated[str | None, Query()] = None,
        deployment_id: Annotated[str | None, Query()] = None,
    ) -> dict[str, object]:
        """Seed 002's admin override: ``?admin_override=true`` and a reason (body or query)."""
        if not admin_override:
            raise HTTPException(422, "admin_override=true is needed to reset the kill switch")
        why = (body.reason if body else None) or reason
        if not why or not why.strip():
            raise HTTPException(422, "reason: say why trading may resume (it is journaled)")
        target = safety.pick_deployment(db, (body.deployment_id if body else None) or deployment_id)
        done = safety.reset_kill_switch(db, target, who.name, why)
        return {"success": True, **done, "message": f"kill switch reset by {who.name}"}

    return app
