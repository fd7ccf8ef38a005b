"""``genebot strategy status NAME``: what the config file makes of one strategy."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from genebot.cli.common import console, guarded, say


def strategy_status(
    name: Annotated[str, typer.Argument(help="config key or class name")],
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="YAML config file (default: config/backtest.yaml)"),
    ] = None,
) -> None:
    """Enabled or not, effective parameters (defaults filled in), symbols and timeframes."""
    from genebot.cli.main import _config
    from genebot.strategies.registry import strategy_class, user_catalog
    from genebot.trading.params import resolve_params

    cfg = guarded(lambda: _config(config))
    entries = {k: s for k, s in cfg.strategies.items() if name in (k, s.type)}
    key, entry = next(iter(entries.items()), (name, None))
    cls = guarded(
        lambda: strategy_class(
            entry.type or key if entry else name, user_catalog(cfg.strategies_path)
        )
    )
    given = dict(entry.parameters) if entry else {}
    effective = guarded(lambda: resolve_params(cls.parameters, given, f"strategies.{key}"))
    source = config or Path("config/backtest.yaml")
    if entry is None:
        say(console, f"{name}:", "bold", f"not in {source} (disabled); its defaults:")
    else:
        state = "enabled" if entry.enabled else "disabled"
        say(console, f"{key}:", "bold", f"{cls.__name__}, {state} in {source}")
        console.print(f"symbols: {', '.join(entry.symbols)}", highlight=False)
        console.print(f"timeframes: {', '.join(entry.timeframes)}", highlight=False)
    table = Table(title="Parameters")
    for column in ("parameter", "value", "default", "from", "min", "max"):
        table.add_column(column)
    for pname, p in cls.parameters.items():
        table.add_row(
            pname,
            repr(effective[pname]),
            repr(p.default),
            "config" if pname in given else "default",
            "—" if p.min is None else str(p.min),
            "—" if p.max is None else str(p.max),
        )
    console.print(table)


ConfigPath = Annotated[
    Path,
    typer.Option("--config", "-c", help="YAML config file to edit"),
]


def strategy_enable(
    name: Annotated[str, typer.Argument(help="config key or class name")],
    config: ConfigPath = Path("config/backtest.yaml"),
) -> None:
    """Enable a strategy in the config file (a known strategy not there is added)."""
    _edit(config, name, enabled=True)


def strategy_disable(
    name: Annotated[str, typer.Argument(help="config key or class name")],
    config: ConfigPath = Path("config/backtest.yaml"),
) -> None:
    """Disable a strategy in the config file."""
    _edit(config, name, enabled=False)


def strategy_update(
    name: Annotated[str, typer.Argument(help="config key or class name")],
    parameters: Annotated[str, typer.Option(help="JSON, e.g. '{\"short_period\": 12}'")],
    config: ConfigPath = Path("config/backtest.yaml"),
) -> None:
    """Set parameters of a strategy in the config file, checked against its declared bounds."""
    import json

    from genebot.cli.common import refuse

    try:
        given = json.loads(parameters)
    except json.JSONDecodeError as exc:
        refuse(
            f"--parameters {parameters!r}: not valid JSON ({exc.msg}); e.g. '{{\"period\": 14}}'"
        )
    if not isinstance(given, dict) or not given:
        refuse(f"--parameters {parameters!r}: must be a JSON object of name: value")
    _edit(config, name, parameters=given)


def _edit(
    config: Path,
    name: str,
    *,
    enabled: bool | None = None,
    parameters: dict[str, Any] | None = None,
) -> None:
    """Edit one strategy entry, validate the whole config and the strategy's parameters, keep
    FILE.bak, write (YAML comments are not kept)."""
    import shutil

    import yaml

    from genebot.cli.common import refuse
    from genebot.cli.orchestrator import _read
    from genebot.config.loader import load_config
    from genebot.strategies.registry import strategy_class, user_catalog

    data = guarded(lambda: _read(config))
    catalog = guarded(lambda: user_catalog(data.get("strategies_path")))
    entries = _entries(data)
    key = next((k for k, e in entries.items() if name in (k, e.get("type"))), None)
    if key is None:
        cls = guarded(lambda: strategy_class(name, catalog))  # unknown: did you mean ...
        if enabled is not True or not isinstance(data.get("strategies", {}), dict):
            known = ", ".join(entries) or "none"
            refuse(f"strategy {name!r} is not in {config} (configured: {known}); "
                   f"add it with `genebot strategy enable {name}`")  # fmt: skip
        template = next(iter(entries.values()), {})
        entry: dict[str, Any] = {"type": cls.__name__, "enabled": True, "parameters": {}}
        entry.update({k: template[k] for k in ("symbols", "timeframes") if k in template})
        data.setdefault("strategies", {})[name] = entry
        key, entries = name, {**entries, name: entry}
    entry = entries[key]  # the same mapping as in data: edited in place
    if enabled is not None:
        entry["enabled"] = enabled
    if parameters is not None:
        entry["parameters"] = {**(entry.get("parameters") or {}), **parameters}
    cfg = guarded(lambda: load_config(data))
    cls = guarded(lambda: strategy_class(entry.get("type") or key, catalog))
    guarded(lambda: cls(entry.get("parameters") or {}, strategy_id=key))  # declared bounds
    del cfg
    shutil.copyfile(config, config.with_name(config.name + ".bak"))
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    what = f"enabled={enabled}" if enabled is not None else f"parameters {parameters}"
    console.print(f"updated {config}: {key} {what} (previous file kept as {config.name}.bak)")


def _entries(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The strategy entries of the file by name: ``strategies:`` or ``orchestrator.strategies``."""
    plain = data.get("strategies")
    if isinstance(plain, dict) and plain:
        return {str(k): v if isinstance(v, dict) else {} for k, v in plain.items()}
    orch = data.get("orchestrator")
    listed = orch.get("strategies") if isinstance(orch, dict) else None
    if isinstance(listed, list):
        return {str(e.get("name")): e for e in listed if isinstance(e, dict)}
    return {}
