"""``genebot orchestrator-migrate analyze|backup|generate|migrate`` and ``config-restore``."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from genebot.cli.common import console, guarded, refuse

migrate_app = typer.Typer(
    no_args_is_help=True, help="Move a plain strategies: config to the orchestrator."
)
PlainConfig = Annotated[
    Path, typer.Option("--config", "-c", help="the plain config (default: config/backtest.yaml)")
]
OutputOpt = Annotated[Path, typer.Option("--output", "-o", help="orchestrator config to write")]
MethodOpt = Annotated[str, typer.Option(help="equal_weight | performance_based | risk_parity")]
BACKUPS = Path("config/backups")
DEFAULT = Path("config/backtest.yaml")
GENERATED = Path("config/orchestrator_config.yaml")


@migrate_app.command("analyze")
def analyze(config: PlainConfig = DEFAULT, allocation_method: MethodOpt = "equal_weight") -> None:
    """What the plain config has, and the orchestrator config it would become."""
    import yaml

    from genebot.cli.orchestrator import _read, migrate_config
    from genebot.config.loader import hide_secrets

    data = guarded(lambda: _read(config))
    migrated = guarded(lambda: migrate_config(data, allocation_method))
    console.print(f"{config}: sections {', '.join(data)}", highlight=False)
    for name, entry in (data.get("strategies") or {}).items():
        entry = entry or {}
        console.print(
            f"  strategy {name}: {entry.get('type', name)}, enabled {entry.get('enabled', True)}, "
            f"symbols {entry.get('symbols', '—')}, timeframes {entry.get('timeframes', '—')}",
            highlight=False,
        )
    console.print("would become (genebot orchestrator-migrate generate):", highlight=False)
    shown = {"orchestrator": hide_secrets(migrated["orchestrator"])}
    console.print(yaml.safe_dump(shown, sort_keys=False), highlight=False, soft_wrap=True)


@migrate_app.command("backup")
def backup(config: PlainConfig = DEFAULT) -> str:
    """A timestamped copy of the config folder's YAML files under config/backups/."""
    if not config.is_file():
        refuse(f"--config {config}: file not found")
    stamp = datetime.now(UTC).strftime("%Y%m%d_%H%M%S_%f")
    target = BACKUPS / stamp
    target.mkdir(parents=True)
    files = sorted({config, *config.parent.glob("*.yaml"), *config.parent.glob("*.yml")})
    for file in files:
        shutil.copy2(file, target / file.name)
    (target / "manifest.json").write_text(json.dumps({f.name: str(f) for f in files}, indent=1))
    console.print(f"backup {stamp}: {len(files)} file(s) in {target} (genebot config-restore "
                  f"--timestamp {stamp})", highlight=False)  # fmt: skip
    return stamp


@migrate_app.command("generate")
def generate(
    config: PlainConfig = DEFAULT,
    allocation_method: MethodOpt = "equal_weight",
    output: OutputOpt = GENERATED,
) -> None:
    """Write the orchestrator config (the `config migrate` code) to --output."""
    from genebot.cli.orchestrator import config_migrate

    config_migrate(config, output=output, allocation_method=allocation_method)


@migrate_app.command("migrate")
def migrate(
    config: PlainConfig = DEFAULT,
    allocation_method: MethodOpt = "equal_weight",
    output: OutputOpt = GENERATED,
) -> None:
    """Backup, generate, validate."""
    from genebot.cli.orchestrator import config_validate

    if output.exists():
        refuse(f"--output {output}: the file exists; choose a new name")
    backup(config)
    generate(config, allocation_method, output)
    config_validate(output)


def config_restore(
    timestamp: Annotated[str, typer.Option(help="from `orchestrator-migrate backup`")],
) -> None:
    """Put the files of a backup back where they were (each current file kept as FILE.bak)."""
    folder = BACKUPS / timestamp
    manifest = folder / "manifest.json"
    if not timestamp or "/" in timestamp or not manifest.is_file():
        known = sorted(p.name for p in BACKUPS.glob("*") if (p / "manifest.json").is_file())
        refuse(f"--timestamp {timestamp!r}: no such backup in {BACKUPS}; available: "
               f"{', '.join(known) or 'none (genebot orchestrator-migrate backup)'}")  # fmt: skip
    for name, original in json.loads(manifest.read_text()).items():
        path = Path(original)
        if path.exists():
            shutil.copyfile(path, path.with_name(path.name + ".bak"))
        shutil.copy2(folder / name, path)
        console.print(f"restored {path}", highlight=False)
