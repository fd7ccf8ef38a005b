"""A finished study's results: the best trials, ``optimization.json`` and an HTML report with
Optuna's plotly figures (plotly.js embedded: the report opens without a network)."""

from __future__ import annotations

import html
import json
import math
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from genebot.optimize.study import StudySpec

Target = Callable[[FrozenTrial], float] | None


def _clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def complete(study: optuna.Study) -> list[FrozenTrial]:
    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def best_trials(study: optuna.Study, spec: StudySpec, n: int = 10) -> list[FrozenTrial]:
    """The Pareto front (several metrics) or the ``n`` best completed trials; a parameter set
    the sampler drew again (``same_as`` an earlier trial) is shown once."""
    done = [t for t in complete(study) if "same_as" not in t.user_attrs]
    if spec.multi:
        front = [t for t in study.best_trials if "same_as" not in t.user_attrs]
        return sorted(front, key=lambda t: t.number)[:n] if done else []
    return sorted(done, key=lambda t: -(t.value if t.value is not None else -math.inf))[:n]


def trial_record(t: FrozenTrial, spec: StudySpec) -> dict[str, Any]:
    values = t.values if t.values is not None else None
    return {
        "number": t.number,
        "state": t.state.name,
        "params": dict(t.params),
        "values": dict(zip(spec.metrics, values, strict=True)) if values else None,
        "infeasible": t.user_attrs.get("infeasible"),
        "undefined": t.user_attrs.get("undefined"),
        "stats": t.user_attrs.get("stats"),
        "folds": t.user_attrs.get("folds"),
        "same_as": t.user_attrs.get("same_as"),
        "duration_s": t.duration.total_seconds() if t.duration is not None else None,
    }


def summary(
    study: optuna.Study, spec: StudySpec, held_out: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """What ``optimization.json`` holds: the study, the best trial(s), their scores on the
    held-out bars (``--holdout``) and every trial."""
    trials = study.get_trials(deepcopy=False)
    counts = {s.name.lower(): sum(t.state == s for t in trials) for s in TrialState}
    best = best_trials(study, spec)
    out: dict[str, Any] = {
        "strategy": spec.strategy_key,
        "study": spec.study_name,
        "storage": spec.storage or "memory",
        "metrics": list(spec.metrics),
        "sampler": type(study.sampler).__name__,
        "repeated_sets": sum("same_as" in t.user_attrs for t in trials),
        "seed": spec.seed,
        "walk_forward": spec.walk_forward,
        "ranges": {name: r.describe() for name, r in spec.ranges.items()},
        "counts": {k: v for k, v in counts.items() if v},
        "best_params": dict(best[0].params) if best else None,
        "best_value": (best[0].values[0] if best and best[0].values else None),
        "best_values": dict(zip(spec.metrics, best[0].values, strict=True)) if best else None,
        "best_trials": [trial_record(t, spec) for t in best],
        "holdout": spec.holdout or None,
        "out_of_sample": held_out or [],
        "trials": [trial_record(t, spec) for t in trials],
    }
    if spec.multi:
        out["pareto_front"] = [trial_record(t, spec) for t in best]
    return _clean(out)  # type: ignore[no-any-return]


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n", encoding="utf-8")


def figures(study: optuna.Study, spec: StudySpec) -> list[tuple[str, Any]]:
    """(title, plotly figure) of Optuna's visualizations that apply to this study."""
    from optuna import visualization as vis

    done = complete(study)
    if not done:
        return []
    target: Target = None
    name = spec.metrics[0]
    if spec.multi:
        target = lambda t: float(t.values[0])  # noqa: E731 — Optuna's target callable
    figs: list[tuple[str, Any]] = []
    if spec.multi:
        figs.append(("Pareto front", vis.plot_pareto_front(study, target_names=list(spec.metrics))))
    figs.append(
        (
            "Optimization history",
            vis.plot_optimization_history(study, target=target, target_name=name),
        )
    )
    params = {p for t in done for p in t.params}
    if len(params) >= 2 and len(done) >= 3:
        figs.extend(_importances(study, spec, name))
    figs.append(
        (
            "Parallel coordinates",
            vis.plot_parallel_coordinate(study, target=target, target_name=name),
        )
    )
    figs.append(("Slice", vis.plot_slice(study, target=target, target_name=name)))
    return figs


def _importances(study: optuna.Study, spec: StudySpec, name: str) -> list[tuple[str, Any]]:
    """Parameter importances, when the completed trials allow it (else nothing)."""
    from optuna import visualization as vis

    # The evaluators rank what drives a low target; the first metric is maximized.
    target: Target = (lambda t: -float(t.values[0])) if spec.multi else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fig = vis.plot_param_importances(study, target=target, target_name=name)
        except (RuntimeError, ValueError, ZeroDivisionError):  # too few distinct values
            return []
    return [("Parameter importances", fig)]


def _table_html(rows: Sequence[dict[str, Any]], spec: StudySpec) -> str:
    names = list(spec.ranges)
    head = ["trial", *spec.metrics, *names, "trades"]
    out = ["<table><tr>", *(f"<th>{html.escape(h)}</th>" for h in head), "</tr>"]
    for r in rows:
        cells = [r["number"], *((r["values"] or {}).get(m) for m in spec.metrics)]
        cells += [r["params"].get(p) for p in names]
        cells.append((r["stats"] or {}).get("trades"))
        out.append("<tr>" + "".join(f"<td>{html.escape(_fmt(c))}</td>" for c in cells) + "</tr>")
    out.append("</table>")
    return "".join(out)


def _oos_html(rows: Sequence[dict[str, Any]], spec: StudySpec) -> str:
    head = ["trial", *(f"{m} in sample" for m in spec.metrics)]
    head += [*(f"{m} held out" for m in spec.metrics), "trades held out"]
    out = ["<table><tr>", *(f"<th>{html.escape(h)}</th>" for h in head), "</tr>"]
    for r in rows:
        cells = [r["number"], *(r["in_sample"].get(m) for m in spec.metrics)]
        cells += [*(r["out_of_sample"].get(m) for m in spec.metrics), r["stats"].get("trades")]
        out.append("<tr>" + "".join(f"<td>{html.escape(_fmt(c))}</td>" for c in cells) + "</tr>")
    out.append("</table>")
    return "".join(out)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def write_html(path: Path, study: optuna.Study, spec: StudySpec, data: dict[str, Any]) -> None:
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>genebot optimize {html.escape(spec.strategy_key)}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}</style></head><body>",
        f"<h1>genebot optimize strategy {html.escape(spec.strategy_key)}</h1>",
        f"<p>metric {html.escape(', '.join(spec.metrics))}; "
        f"{html.escape(json.dumps(data['counts']))}; "
        f"seed {spec.seed}; walk-forward folds {spec.walk_forward}</p>",
        "<h2>Best trials</h2>",
        _table_html(data["best_trials"], spec),
    ]
    if data.get("out_of_sample"):
        parts.append("<h2>Out of sample (held-out bars)</h2>")
        parts.append(_oos_html(data["out_of_sample"], spec))
    first = True
    for title, fig in figures(study, spec):
        parts.append(f"<h2>{html.escape(title)}</h2>")
        parts.append(fig.to_html(full_html=False, include_plotlyjs=first))
        first = False
    parts.append("</body></html>")
    path.write_text("\n".join(parts), encoding="utf-8")
