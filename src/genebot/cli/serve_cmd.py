"""``genebot serve``: the API and dashboard alone, over the database (read-only while no runner
is up: control calls then answer 409 "no runner"; the dashboard's deploy starts one)."""

from __future__ import annotations

import signal
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from genebot.cli.common import DatabaseOpt, console, guarded, refuse

Opt = typer.Option


def serve_command(
    host: Annotated[str | None, Opt(help="listen address (default: api.host, 127.0.0.1)")] = None,
    port: Annotated[
        int | None, Opt(help="port (default: api.port, 8000)", min=1, max=65535)
    ] = None,
    config: Annotated[
        Path | None,
        Opt("--config", "-c", help="config: the api section, and what deploys start from"),
    ] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Serve the API and the web dashboard (Ctrl-C stops it; deployments it started keep
    running: `genebot stop ID`)."""
    from genebot.api.context import ApiSettings
    from genebot.api.server import run, serve_foreground
    from genebot.cli.backtest import _run_store
    from genebot.cli.run import DEFAULT_CONFIG
    from genebot.config.loader import load_config
    from genebot.services.launcher import Launcher

    if config is not None and not config.is_file():
        refuse(f"--config {config}: file not found")
    chosen = config or (DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None)
    cfg = guarded(lambda: load_config(chosen))
    api = cfg.api
    settings = ApiSettings(
        cors_origins=list(api.cors_origins),
        rate_limit_per_minute=api.rate_limit_per_minute,
        command_wait_s=api.command_wait_s,
        base_config=str(chosen) if chosen else None,
    )
    db = _run_store(database_url)
    where = Path(".genebot")
    launcher = Launcher(db, settings.base_config, where)
    served = guarded(
        lambda: serve_foreground(db, host or api.host, port or api.port, settings, launcher)
    )
    console.print(
        f"genebot API and dashboard on {served.url} (OpenAPI: {served.url}/docs)", highlight=False
    )
    if served.token_file is not None:
        console.print(
            f"no GENEBOT_API_ADMIN_TOKEN set: an admin token for this session is in "
            f"{served.token_file} (sign in with it)",
            highlight=False,
        )
    previous = signal.signal(signal.SIGTERM, _interrupt)  # uvicorn re-raises it after its stop
    try:
        run(served)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    console.print("API stopped")


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
