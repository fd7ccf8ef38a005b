"""The seed's four Grafana dashboards (deployment/grafana/dashboards/): each there once, every
panel with a title and the provisioned datasource, and every PromQL query naming only metrics
the real ``/metrics`` output exposes (parsed with prometheus-client's parser)."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from test_api_metrics import DASHBOARDS, app_for, auth, paper_deployment

from genebot.persistence.database import Database

TITLES = ("Trading Bot Overview", "Strategy Analysis", "Risk Monitoring", "System Health")
PROVISIONED = DASHBOARDS.parent / "provisioning" / "datasources" / "prometheus.yml"
DS_VARIABLE = "${DS_PROMETHEUS}"
_IDENT = re.compile(r"(?<![\w.:$])([a-zA-Z_:][\w:]*)(?![\w:])(?!\s*\()")
_NOT_METRICS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset",
     "and", "or", "unless", "inf", "nan", "Inf", "NaN"}
)  # fmt: skip
_HISTOGRAM_PARTS = ("_bucket", "_sum", "_count")
_SUMMARY_PARTS = ("_sum", "_count")


def dashboards() -> dict[str, dict[str, Any]]:
    files = sorted(DASHBOARDS.glob("*.json"))
    assert files, f"no dashboard in {DASHBOARDS}"
    return {path.name: json.loads(path.read_text()) for path in files}


def panels_of(node: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel of a dashboard, those inside (collapsed) rows too."""
    found: list[dict[str, Any]] = []
    for panel in node.get("panels", []):
        found += [panel, *panels_of(panel)]
    return found


def promql_of(node: object) -> list[str]:
    """Every PromQL text in a dashboard: panel targets' ``expr`` and query variables."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, item in node.items():
            text = isinstance(item, str)
            if text and (
                key in ("expr", "definition") or (key, node.get("type")) == ("query", "query")
            ):
                found.append(str(item))
            elif key == "query" and isinstance(item, dict) and isinstance(item.get("query"), str):
                found.append(item["query"])
            else:
                found += promql_of(item)
    elif isinstance(node, list):
        for item in node:
            found += promql_of(item)
    return found


def _bare(expr: str) -> str:
    """The expression without strings, label matchers, ranges, Grafana variables and the
    label lists of ``by``/``without``/``on``/``ignoring``/``group_*``; ``label_values(m,
    label)`` becomes ``m``."""
    bare = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    bare = re.sub(r"\{[^{}]*\}", "", bare)
    bare = re.sub(r"\[[^\[\]]*\]", "", bare)
    bare = re.sub(r"\$\{[^}]*\}|\$\w+", "", bare)
    bare = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", " ", bare)
    bare = re.sub(r"\blabel_values\s*\(\s*([^,()]*?)\s*,\s*\w+\s*\)", r" \1 ", bare)
    return re.sub(r"\blabel_values\s*\(\s*\w+\s*\)", " ", bare)


def metric_names(expr: str) -> set[str]:
    """The metric names an expression reads: every identifier that is not a function, a
    keyword, a label or a variable."""
    return {m for m in _IDENT.findall(_bare(expr)) if m not in _NOT_METRICS}


def balanced(expr: str) -> bool:
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    depth: list[str] = []
    pairs = {")": "(", "}": "{", "]": "["}
    for char in text:
        if char in "({[":
            depth.append(char)
        elif char in pairs and (not depth or depth.pop() != pairs[char]):
            return False
    return not depth


def exposed_names(text: str) -> set[str]:
    """What a PromQL query may name: each family's samples, a counter's ``_total``, a
    histogram's ``_bucket``/``_sum``/``_count``, a summary's ``_sum``/``_count`` (also when
    the family has no sample yet)."""
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.update(s.name for s in family.samples)
        if family.type == "counter":
            names.add(f"{family.name}_total")
        elif family.type == "histogram":
            names.update(family.name + part for part in _HISTOGRAM_PARTS)
        elif family.type == "summary":
            names.update(family.name + part for part in (*_SUMMARY_PARTS, ""))
        else:
            names.add(family.name)
    return names


def test_the_seeds_four_dashboards_are_there_once_each() -> None:
    boards = dashboards()
    titles = [board["title"] for board in boards.values()]
    for title in TITLES:
        assert titles.count(title) == 1, f"{title!r}: {titles.count(title)} dashboards"
    uids = [board["uid"] for board in boards.values()]
    assert len(set(uids)) == len(uids), uids
    for name, board in boards.items():
        ids = [panel["id"] for panel in panels_of(board)]
        assert len(set(ids)) == len(ids), f"{name}: panel ids repeat"
        assert "genebot" in board["tags"], name  # the dashboards' links list them by this tag


def test_every_dashboard_metric_is_exposed(database: Database) -> None:
    paper_deployment(database)
    api = TestClient(app_for(database))
    api.get("/api/trading/deployments", headers=auth())  # a request: the histogram has series
    text = api.get("/metrics", headers=auth()).text
    exposed = exposed_names(text)
    provisioned = yaml.safe_load(PROVISIONED.read_text())["datasources"][0]["uid"]
    used: set[str] = set()
    for name, board in dashboards().items():
        assert board["schemaVersion"] >= 36, name
        variables = {v["name"]: v for v in board["templating"]["list"]}
        source = variables["DS_PROMETHEUS"]
        assert source["type"] == "datasource" and source["query"] == "prometheus", name
        assert source["current"]["value"] == provisioned, name  # the provisioned datasource
        for variable in variables.values():
            if variable["type"] == "query":
                assert variable["datasource"]["uid"] == DS_VARIABLE, (name, variable["name"])
        for note in board["annotations"]["list"]:
            if not note.get("builtIn"):
                assert note["datasource"]["uid"] == DS_VARIABLE, (name, note["name"])
        queries = promql_of(board)  # the annotations' expr too
        assert queries, f"{name}: no PromQL found"
        for panel in panels_of(board):
            assert panel.get("title"), f"{name}: a panel without a title (id {panel['id']})"
            if panel["type"] == "row":
                continue
            where = f"{name}: {panel['title']}"
            assert panel["datasource"]["uid"] == DS_VARIABLE, where
            assert panel["targets"], f"{where}: no query"
            for tgt in panel["targets"]:
                assert tgt["datasource"]["uid"] == DS_VARIABLE, where
                assert tgt["expr"].strip(), where
        for query in queries:
            assert balanced(query), f"{name}: unbalanced brackets in {query!r}"
            names = metric_names(query)
            assert names, f"{name}: no metric in {query!r}"
            missing = sorted(names - exposed)
            assert not missing, f"{name} charts metrics /metrics does not expose: {missing}"
            used |= names
    bare = {re.sub(r"_(total|bucket|sum|count)$", "", n) for n in used}
    families = {f.name for f in text_string_to_metric_families(text)}
    ours = {f for f in families if f.startswith("genebot_") and not f.endswith("_created")}
    uncharted = sorted(ours - bare)
    assert not uncharted, f"exposed but on no dashboard: {uncharted}"
    for needed in ("process_cpu_seconds_total", "process_resident_memory_bytes"):
        assert needed in used


def test_metric_names_reads_past_functions_labels_and_suffixes() -> None:
    expr = (
        "histogram_quantile(0.99, sum by (le, route) (rate(genebot_http_request_duration_seconds"
        '_bucket{route=~"/api/.*", x="genebot_fake"}[5m]))) / genebot_up'
    )
    assert metric_names(expr) == {"genebot_http_request_duration_seconds_bucket", "genebot_up"}
    assert metric_names(
        'sum by (deployment) (genebot_a{state="X"}) + 2 * max without (state) (genebot_b)'
        " or on (deployment) group_left (mode) genebot_c > bool 1e3 and time() - 5"
    ) == {"genebot_a", "genebot_b", "genebot_c"}
    assert metric_names("rate(process_cpu_seconds_total[$__rate_interval]) * 100") == {
        "process_cpu_seconds_total"
    }
    assert metric_names('label_values(genebot_x{deployment=~"$deployment"}, strategy)') == {
        "genebot_x"
    }
    assert metric_names("label_values(deployment)") == set()
    assert metric_names("genebot_y offset 1h") == {"genebot_y"}
    assert balanced("sum(rate(x[5m]))") and not balanced("sum(rate(x[5m])")
    renamed = "# TYPE genebot_equity_usd gauge\ngenebot_equity_usd 1\n"
    assert "genebot_equity" not in exposed_names(renamed)  # a rename breaks the dashboards test
    summary = "# TYPE genebot_s summary\n"  # a summary with no sample yet
    assert {"genebot_s_sum", "genebot_s_count"} <= exposed_names(summary)
