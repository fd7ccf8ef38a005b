"""Schemathesis over the API's own OpenAPI spec: whatever it sends, no route answers 500
(and every answer is JSON or the declared type). Runs as admin so every route's body is read."""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings

from genebot.api.app import create_app
from genebot.api.context import ApiSettings
from genebot.api.security import Tokens
from genebot.persistence.database import Database
from genebot.persistence.journal import TradingStore
from genebot.persistence.migrate import ensure_current
from genebot.persistence.repositories import DeploymentRepository

ADMIN = "admin-token-0123456789"
_folder = Path(tempfile.mkdtemp(prefix="genebot-fuzz-"))
_db = Database(f"sqlite:///{_folder / 'fuzz.db'}")
ensure_current(_db)
_dep = DeploymentRepository(_db).start("paper-fuzz", "paper", {"strategies": {}})
TradingStore(_db, _dep).record_kill_switch("activated", "daily_loss", "engine", "loss 5.5%")
app = create_app(
    _db,
    Tokens({"GENEBOT_API_ADMIN_TOKEN": ADMIN}),
    settings=ApiSettings(rate_limit_per_minute=100000, command_wait_s=0.5),
)
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_route_answers_500(case: schemathesis.Case) -> None:
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {ADMIN}"}
    response = case.call()
    health = case.path.startswith("/health") and response.status_code == 503  # its answer
    assert response.status_code < 500 or health, (case.method, case.path, response.text[:500])
    assert ADMIN not in response.text
