"""Deployments started from the API (``genebot serve``): each in its own ``genebot run``
process, with the config the deploy dialog built (base config + strategy, symbols, timeframe,
capital, parameters, risk limits, SL/TP), the database passed in the environment (never on the
command line, where ``ps`` shows it). One runner per database, as ever: a deploy while one is
up is refused with the deployment it is running."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from genebot.config.loader import apply_overrides, load_config
from genebot.core.errors import InputError
from genebot.persistence.database import Database
from genebot.persistence.lock import held, scope_of
from genebot.persistence.repositories import DeploymentRepository

START_WAIT_S = 20.0


@dataclass
class DeploySpec:
    strategy: str
    symbols: list[str]
    timeframe: str | None = None
    capital: float | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    risk: dict[str, Any] = field(default_factory=dict)  # risk_management overrides
    stop_loss_pct: float | None = None
    take_profit_pct: float | None = None
    sl_tp: bool = True
    speed: str = "max"
    name: str | None = None
    # risk_management / backtest sections to run under (a Hall of Fame entry's), before the rest
    sections: dict[str, Any] = field(default_factory=dict)


def build_config(base: str | None, spec: DeploySpec) -> dict[str, Any]:
    """The config a deployment runs: validated here, so a bad dialog answers 422 at once."""
    cfg = load_config(Path(base)) if base else load_config(None)
    cfg = apply_overrides(
        cfg,
        strategy=spec.strategy,
        symbols=spec.symbols,
        timeframe=spec.timeframe,
        initial_cash=spec.capital,
    )
    data = cfg.model_dump(mode="json", by_alias=True, exclude={"exchanges"})
    if "risk_management" in spec.sections:
        data["risk_management"] = dict(spec.sections["risk_management"])
    data["backtest"].update(spec.sections.get("backtest") or {})  # costs and fills, no period
    _merge(data, spec)
    load_config(data)  # every value checked as the YAML's would be
    return data


def _merge(data: dict[str, Any], spec: DeploySpec) -> None:
    enabled = [k for k, s in data["strategies"].items() if s.get("enabled", True)]
    for key in enabled:
        data["strategies"][key]["parameters"] = {
            **(data["strategies"][key].get("parameters") or {}),
            **spec.parameters,
        }
    risk = data.setdefault("risk_management", {})
    for key, value in spec.risk.items():
        if isinstance(value, dict):
            risk.setdefault(key, {}).update(value)
        else:
            risk[key] = value
    stop, take = risk.setdefault("stop_loss", {}), risk.setdefault("take_profit", {})
    stop["enabled"] = take["enabled"] = bool(spec.sl_tp)
    if spec.stop_loss_pct is not None:
        stop["default_percentage"] = spec.stop_loss_pct
    if spec.take_profit_pct is not None:
        take["default_percentage"] = spec.take_profit_pct


class Launcher:
    """Starts paper deployments as ``genebot run`` processes over ``db``."""

    def __init__(self, db: Database, base_config: str | None, workdir: Path) -> None:
        self.db, self.base_config, self.workdir = db, base_config, workdir
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def deploy(self, spec: DeploySpec) -> dict[str, Any]:
        """Start a paper deployment in its own runner process; several run side by side, but
        not two of the same name (a runner already trades it: stop it or name this one)."""
        name = spec.name or f"{spec.strategy}:{','.join(spec.symbols)}"
        if held(self.db, scope_of("paper", name)):
            raise InputError(
                f"a runner is already trading paper deployment {name!r} on this database: stop "
                "it first, or give this one another name"
            )
        config = build_config(self.base_config, spec)
        folder = self.workdir / "deployments"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{uuid.uuid4().hex[:12]}.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        before = {d.id for d in DeploymentRepository(self.db).recent()}
        log = (folder / f"{path.stem}.log").open("ab")
        env = {**os.environ, "DATABASE_URL": self.db.url.render_as_string(hide_password=False)}
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "genebot.cli.main",
                "run",
                "--config",
                str(path),
                "--name",
                name,
                "--speed",
                spec.speed,
                "--fresh",
                "--quiet",
                "--no-api",
            ],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        log.close()
        deployment_id = self._wait_started(proc, before, folder / f"{path.stem}.log", name)
        self.processes[deployment_id] = proc
        return {
            "deployment_id": deployment_id,
            "name": name,
            "pid": proc.pid,
            "config_file": str(path),
        }

    def _wait_started(
        self, proc: subprocess.Popen[bytes], before: set[str], log: Path, name: str
    ) -> str:
        deadline = time.monotonic() + START_WAIT_S
        while time.monotonic() < deadline:
            new = [
                d
                for d in DeploymentRepository(self.db).recent()
                if d.id not in before and d.name == name
            ]
            if new:
                return new[0].id
            if proc.poll() is not None:
                tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
                raise InputError(f"the deployment did not start: {tail[-1] if tail else '?'}")
            time.sleep(0.1)
        proc.terminate()
        raise InputError(f"the deployment did not start within {START_WAIT_S:.0f} s")

    def close(self) -> None:
        """Stop the runners this launcher started (gracefully: SIGTERM ends after the bar)."""
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.processes.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
