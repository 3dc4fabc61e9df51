"""The shipped Grafana dashboard and Prometheus alerting rules stay true to the metrics the
controller exports: every PromQL expression in them parses (balanced brackets, well-formed label
matchers and range durations, known functions), every metric they name is a series of a family in
``clew.report.metrics.METRIC_NAMES`` (histograms only through ``_bucket``/``_sum``/``_count``,
counters only through their ``_total`` name), every family is on the dashboard, and the alerts
the runbook promises exist with a duration, a severity and a summary.

The PromQL check is a small tokenizer, not Prometheus' parser; its own tests below show what it
catches."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from clew.report.metrics import METRIC_NAMES, Metrics

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "clew-dashboard.json"
ALERTS = ROOT / "deploy" / "prometheus" / "clew-alerts.yaml"

# -- a basic PromQL checker -------------------------------------------------------------------

_FUNCTIONS = """abs absent absent_over_time avg_over_time ceil changes clamp clamp_max clamp_min
    count_over_time day_of_month day_of_week day_of_year days_in_month delta deriv exp floor
    histogram_avg histogram_count histogram_fraction histogram_quantile histogram_stddev
    histogram_stdvar histogram_sum holt_winters hour idelta increase irate label_join
    label_replace last_over_time ln log10 log2 mad_over_time max_over_time min_over_time minute
    month predict_linear present_over_time quantile_over_time rate resets round scalar sgn sort
    sort_by_label sort_by_label_desc sort_desc sqrt stddev_over_time stdvar_over_time
    sum_over_time time timestamp vector year"""
FUNCTIONS = frozenset(_FUNCTIONS.split())
_AGGREGATIONS = "sum min max avg count stddev stdvar topk bottomk quantile count_values group"
AGGREGATIONS = frozenset(_AGGREGATIONS.split())
LABEL_LISTS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset"}) | LABEL_LISTS
MATCH_OPS = frozenset({"=", "!=", "=~", "!~"})
_DURATION = r"(?:\d+(?:ms|[smhdwy]))+"
_RANGE = re.compile(rf"\s*({_DURATION}|\$\w+|\$\{{\w+\}})\s*(?::\s*({_DURATION})?\s*)?")
_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
    |(?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
    |(?P<duration>\d+(?:ms|[smhdwy])(?:\d+(?:ms|[smhdwy]))*\b)
    |(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    |(?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
    |(?P<op>==|!=|<=|>=|=~|!~|[-+*/%^<>=,:])
    |(?P<open>[(\[{])
    |(?P<close>[)\]}])
    |(?P<var>\$\{\w+\}|\$\w+)
    """,
    re.VERBOSE,
)
_PAIRS = {")": "(", "]": "[", "}": "{"}


class PromQLError(ValueError):
    pass


def tokens(expr: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    position = 0
    while position < len(expr):
        match = _TOKEN.match(expr, position)
        if match is None:
            raise PromQLError(f"unexpected {expr[position : position + 10]!r} at {position}")
        kind = match.lastgroup or ""
        if kind != "space":
            out.append((kind, match.group()))
        position = match.end()
    return out


def metrics_in(expr: str) -> set[str]:
    """The metric names ``expr`` reads; raises :class:`PromQLError` where it is malformed."""
    if not expr.strip():
        raise PromQLError("empty expression")
    toks = tokens(expr)
    names: set[str] = set()
    stack: list[str] = []
    i = 0
    while i < len(toks):
        kind, value = toks[i]
        following = toks[i + 1] if i + 1 < len(toks) else ("", "")
        if kind == "open" and value == "{":
            i = _matchers(toks, i + 1, expr)
            continue
        if kind == "open" and value == "[":
            i = _range(toks, i + 1, expr)
            continue
        if kind == "open":
            stack.append(value)
        elif kind == "close":
            if not stack or stack.pop() != _PAIRS[value]:
                raise PromQLError(f"unbalanced {value!r} in {expr!r}")
        elif kind == "var":
            raise PromQLError(f"template variable {value} outside a range or a string")
        elif kind == "ident" and value in LABEL_LISTS and following == ("open", "("):
            i = _label_list(toks, i + 2, expr)
            continue
        elif kind == "ident" and value == "offset":
            if following[0] != "duration":
                raise PromQLError(f"offset without a duration in {expr!r}")
        elif kind == "ident" and following == ("open", "("):
            if value not in FUNCTIONS | AGGREGATIONS:
                raise PromQLError(f"unknown function {value}() in {expr!r}")
        elif kind == "ident" and value in AGGREGATIONS and following[1] in LABEL_LISTS:
            pass  # `sum by (x) (...)`
        elif kind == "ident" and value not in KEYWORDS:
            names.add(value)
        elif kind == "duration" and toks[i - 1] != ("ident", "offset"):
            raise PromQLError(f"duration {value} outside a range in {expr!r}")
        i += 1
    if stack:
        raise PromQLError(f"unclosed {stack[-1]!r} in {expr!r}")
    return names


def _matchers(toks: list[tuple[str, str]], i: int, expr: str) -> int:
    """``{label op "value", ...}``; returns the index after ``}``."""
    while toks[i : i + 1] != [("close", "}")]:
        if len(toks) < i + 3:
            raise PromQLError(f"unclosed label matchers in {expr!r}")
        (k1, _), (k2, op), (k3, _) = toks[i : i + 3]
        if k1 != "ident" or k2 != "op" or op not in MATCH_OPS or k3 != "string":
            raise PromQLError(f"malformed label matcher in {expr!r}")
        i += 3
        if toks[i : i + 1] == [("op", ",")]:
            i += 1
    return i + 1


def _range(toks: list[tuple[str, str]], i: int, expr: str) -> int:
    """``[5m]``, ``[$__rate_interval]`` or a subquery ``[1h:5m]``; returns the index after."""
    end = next((j for j in range(i, len(toks)) if toks[j] == ("close", "]")), None)
    if end is None:
        raise PromQLError(f"unclosed range in {expr!r}")
    inner = "".join(value for _, value in toks[i:end])
    if not _RANGE.fullmatch(inner):
        raise PromQLError(f"malformed range [{inner}] in {expr!r}")
    return end + 1


def _label_list(toks: list[tuple[str, str]], i: int, expr: str) -> int:
    """``by (a, b)``: label names, not metrics; returns the index after ``)``."""
    while toks[i : i + 1] != [("close", ")")]:
        if i >= len(toks) or toks[i][0] != "ident":
            raise PromQLError(f"malformed label list in {expr!r}")
        i += 1
        if toks[i : i + 1] == [("op", ",")]:
            i += 1
    return i + 1


# -- the metrics, as Prometheus sees them ----------------------------------------------------


def family_types() -> dict[str, str]:
    """Each METRIC_NAMES entry and its type, from the controller's own registry."""
    collected = {f.name: f.type for f in Metrics(runtime=False).registry.collect()}
    types: dict[str, str] = {}
    for name in METRIC_NAMES:
        if name in collected:
            types[name] = collected[name]
        elif name.endswith("_total") and collected.get(name.removesuffix("_total")) == "counter":
            types[name] = "counter"  # client_python names the family without _total
    return types


SERIES_SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("", "_sum", "_count")}


def family_of(series: str, types: dict[str, str]) -> str:
    """The METRIC_NAMES family a series name belongs to; raises for anything else."""
    for family, kind in types.items():
        if series in {family + suffix for suffix in SERIES_SUFFIXES.get(kind, ("",))}:
            return family
    raise PromQLError(f"{series} is not a series of any family in METRIC_NAMES")


# -- the shipped files -------------------------------------------------------------------------


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in items:
        yield panel
        yield from panels(panel.get("panels") or [])


def dashboard_exprs() -> list[str]:
    return [t["expr"] for p in panels(dashboard()["panels"]) for t in p.get("targets") or []]


def dashboard_variable_metrics() -> set[str]:
    found = set()
    for variable in dashboard()["templating"]["list"]:
        query = variable.get("query")
        text = query.get("query", "") if isinstance(query, dict) else str(query or "")
        found |= set(re.findall(r"label_values\(\s*([A-Za-z_:][\w:]*)", text))
    return found


def test_every_family_maps_to_the_registry() -> None:
    types = family_types()
    assert set(types) == set(METRIC_NAMES), set(METRIC_NAMES) - set(types)
    own = {f.name for f in Metrics(runtime=False).registry.collect() if f.name.startswith("clew_")}
    named = {n.removesuffix("_total") if types[n] == "counter" else n for n in METRIC_NAMES}
    assert own == named, "METRIC_NAMES and the registry disagree"


@pytest.mark.parametrize("expr", [*dashboard_exprs(), *(r["expr"] for r in alert_rules())])
def test_every_expression_parses_and_names_known_series(expr: str) -> None:
    types = family_types()
    names = metrics_in(expr)
    assert names, f"no metric in {expr!r}"
    for name in names:
        family_of(name, types)


def test_the_dashboard_shows_every_metric_family() -> None:
    types = family_types()
    used = {family_of(n, types) for e in dashboard_exprs() for n in metrics_in(e)}
    assert used == set(METRIC_NAMES), f"not on the dashboard: {set(METRIC_NAMES) - used}"
    for name in dashboard_variable_metrics():
        family_of(name, types)


def test_the_dashboard_is_well_formed() -> None:
    board = dashboard()
    assert board["uid"] == "clew-controller"
    assert {v["name"] for v in board["templating"]["list"]} == {"datasource", "job"}
    ids = [p["id"] for p in panels(board["panels"])]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in panels(board["panels"]):
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        for target in panel["targets"]:
            assert 'job=~"$job"' in target["expr"], (panel["title"], target["expr"])


def test_the_promised_alerts_exist_with_duration_severity_and_text() -> None:
    rules = alert_rules()
    names = [r["alert"] for r in rules]
    assert len(names) == len(set(names))
    assert {
        "ClewApplicationNotReady",
        "ClewReconcileFailures",
        "ClewDriftCorrectionsSpiking",
        "ClewNoLeader",
        "ClewWebhookUnauthorizedSpike",
        "ClewQueueBackingUp",
    } <= set(names)
    for rule in rules:
        assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert rule["annotations"]["description"], rule["alert"]
    not_ready = next(r for r in rules if r["alert"] == "ClewApplicationNotReady")
    assert not_ready["for"] == "15m"
    assert "clew_application_ready" in not_ready["expr"]


# -- the checker itself ------------------------------------------------------------------------


def test_checker_reads_metrics_and_skips_labels_functions_and_keywords() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (le, result) (rate(clew_x_bucket{job=~"$job"}'
        "[$__rate_interval]))) > 2 * sum without (instance) (clew_y offset 5m)"
        " and on (instance) (clew_leader == bool 1) or max_over_time(clew_z[1h:5m])"
    )
    assert metrics_in(expr) == {"clew_x_bucket", "clew_y", "clew_leader", "clew_z"}
    assert metrics_in("sum(clew_y) by (job)") == {"clew_y"}


@pytest.mark.parametrize(
    ("expr", "complaint"),
    [
        ("sum(rate(clew_x[5m])", "unclosed"),
        ("sum(rate(clew_x[5m])))", "unbalanced"),
        ("sum(rate(clew_x[5m)])", "malformed range"),
        ("sum(rate(clew_x[5m", "unclosed range"),
        ("rat(clew_x[5m])", "unknown function"),
        ("clew_x{job=}", "label matcher"),
        ("clew_x{job=~'a' result}", "label matcher"),
        ("rate(clew_x[5])", "malformed range"),
        ("clew_x offset", "offset"),
        ("clew_x + 5m", "outside a range"),
        ("sum by (job, 5) (clew_x)", "label list"),
        ("clew_x{job=$job}", "label matcher"),
        ("clew_x > $threshold", "template variable"),
        ("", "empty"),
        ("clew_x # comment", "unexpected"),
    ],
)
def test_checker_rejects_malformed_promql(expr: str, complaint: str) -> None:
    with pytest.raises(PromQLError, match=complaint):
        metrics_in(expr)


@pytest.mark.parametrize(
    ("series", "family"),
    [
        ("clew_reconcile_duration_seconds_bucket", "clew_reconcile_duration_seconds"),
        ("clew_reconcile_duration_seconds_sum", "clew_reconcile_duration_seconds"),
        ("clew_fetch_duration_seconds_count", "clew_fetch_duration_seconds"),
        ("clew_reconcile_total", "clew_reconcile_total"),
        ("clew_leader", "clew_leader"),
    ],
)
def test_series_resolve_to_their_family(series: str, family: str) -> None:
    assert family_of(series, family_types()) == family


@pytest.mark.parametrize(
    "series",
    [
        "clew_reconcile_duration_seconds",  # a histogram is read through its series
        "clew_reconcile",  # a counter's samples are named _total
        "clew_reconcile_total_bucket",
        "clew_reconcile_total_count",
        "clew_leader_total",
        "clew_leader_sum",
        "clew_application_ready_bucket",
        "clew_nonexistent",
        "up",
    ],
)
def test_series_outside_the_families_are_refused(series: str) -> None:
    with pytest.raises(PromQLError, match="not a series"):
        family_of(series, family_types())
