"""``genebot strategy status NAME``: what the config file makes of one strategy."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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
