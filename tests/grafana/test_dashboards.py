"""The committed dashboards: up to date, well-formed, covering docs/features.md, using docs/design.md's names only."""

import json
import pathlib
import re
import subprocess
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"  # the project's own copies of the feature list and the name contract
sys.path.insert(0, str(ROOT))

from grafana.dashboards_src import DASHBOARDS, render_dashboards  # noqa: E402
from grafana.dashboards_src.queries import ALL, covers, iter_panels, iter_queries, substitute  # noqa: E402

DASHBOARD_DIR = ROOT / "grafana" / "dashboards"
RULE_FILES = sorted((ROOT / "prometheus" / "rules").glob("*.yml"))
UIDS = {"genai-lens-cost.json": "genai-lens-cost", "genai-lens-usage.json": "genai-lens-usage",
        "genai-lens-overview.json": "genai-lens-overview", "genai-lens-model.json": "genai-lens-model",
        "genai-lens-budgets.json": "genai-lens-budgets", "genai-lens-billing.json": "genai-lens-billing"}
UNITS = {"currencyUSD", "ms", "s", "locale", "percentunit", "suffix:tokens/s", "suffix:x"}  # "s": the exemplar panels (B5)
# The budgets dashboard reads only the budget series, which a budget's own match fills: it has the
# $budget variable instead of the shared filters, and opens on this month.
BUDGETS = "genai-lens-budgets.json"
# Measured vs billed (B4) reads only the reconciliation gauges (docs/reconciliation.md): its own $period,
# $model and $api_key over them, no granularity or billing filter, and opens on the last day (the gauges
# name their window, so the range does not matter).
BILLING = "genai-lens-billing.json"
DEFAULT_RANGES = {BUDGETS: {"from": "now/M", "to": "now"}, BILLING: {"from": "now-1d", "to": "now"}}
# The reconciliation series and their labels (docs/reconciliation.md, which docs/design.md refers to).
BILLING_METRICS = {"genai_lens_billed_cost_usd", "genai_lens_billed_tokens", "genai_lens_billed_requests"}
BILLING_LABELS = {"source", "window", "period", "openai_project"}
# The variables substituted in every query: the multi-select ones are written as regexes.
REGEX_VARS = ("api_key", "model", "provider", "billing", "budget", "period")


def committed() -> dict[str, dict]:
    return {name: json.loads((DASHBOARD_DIR / name).read_text()) for name in DASHBOARDS}


def test_committed_json_matches_a_fresh_render(tmp_path):
    for name, data in render_dashboards().items():
        fresh = tmp_path / name
        fresh.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        assert fresh.read_text() == (DASHBOARD_DIR / name).read_text(), f"{name}: run python scripts/generate.py"
    result = subprocess.run([sys.executable, "scripts/generate.py", "--check"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert (result.returncode, result.stdout) == (0, "")


def test_fixed_uids_utc_and_default_range():
    for name, data in committed().items():
        assert data["uid"] == UIDS[name]
        assert data["timezone"] == "utc"
        assert data["time"] == DEFAULT_RANGES.get(name, {"from": "now-7d", "to": "now"})


def test_shared_filters_on_every_dashboard():
    for name, data in committed().items():
        variables = {v["name"]: v for v in data["templating"]["list"]}
        if name == BUDGETS:
            assert set(variables) == {"datasource", "budget"}
            assert (variables["budget"]["multi"], variables["budget"]["includeAll"], variables["budget"]["allValue"],
                    variables["budget"]["query"]) == (True, True, ".*", "label_values(genai_lens_budget_usd, genai_lens_budget)")
            continue
        if name == BILLING:
            assert list(variables) == ["datasource", "period", "model", "api_key"]
            assert variables["datasource"]["current"]["value"] == "prometheus"
            assert {n: (v["query"], v["multi"], v["includeAll"], v["allValue"], v["current"]["value"])
                    for n, v in variables.items() if n != "datasource"} == {
                "period": ('label_values(genai_lens_billed_cost_usd{window="day"}, period)', True, True, ".*", ALL),
                "model": ("label_values(genai_lens_billed_cost_usd, gen_ai_request_model)", True, True, ".*", ALL),
                "api_key": ("label_values(genai_lens_billed_cost_usd, genai_lens_api_key)", True, True, ".*", ALL),
            }
            assert variables["period"]["sort"] == 2  # alphabetical descending: the latest day first
            continue
        assert variables["datasource"]["current"]["value"] == "prometheus"
        assert variables["granularity"]["query"] == "Hour : 1h,Day : 1d,Week : 1w,Month : 30d"
        for name in ("api_key", "model", "provider"):
            assert (variables[name]["multi"], variables[name]["includeAll"], variables[name]["allValue"]) == (
                True, True, ".*")
            assert variables[name]["query"].startswith("label_values(gen_ai_client_operation_duration_seconds_count")
        assert variables["billing"]["current"]["value"] == "payg"
        assert variables["billing"]["query"] == "payg,subscription"


def test_every_panel_has_covers_unit_datasource_and_empty_state():
    for data in committed().values():
        for panel in iter_panels(data):
            assert covers(panel["description"]), panel["title"]
            defaults = panel["fieldConfig"]["defaults"]
            assert defaults["unit"] in UNITS, panel["title"]
            assert defaults["noValue"] == "No data in range"
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert panel["targets"] and all(t["datasource"]["uid"] == "${datasource}" for t in panel["targets"])


def test_counts_show_as_integers_with_thousands_separators():
    """Requests, tokens and model counts use the "locale" unit with 0 decimals, never "short" ("1.52 K")."""
    count_fields = 0
    for data in committed().values():
        for panel in iter_panels(data):
            defaults = panel["fieldConfig"]["defaults"]
            if defaults["unit"] == "locale" and panel["type"] != "table":
                assert defaults["decimals"] == 0, panel["title"]
                count_fields += 1
            for override in panel["fieldConfig"]["overrides"]:
                props = {p["id"]: p["value"] for p in override["properties"]}
                if props.get("unit") == "locale":
                    assert props["decimals"] == 0, (panel["title"], override["matcher"])
                    count_fields += 1
    assert count_fields >= 25


def test_latency_and_throughput_count_successful_calls_only():
    """Every duration, throughput and time-to-first-chunk query selects error_type="" (no failed calls)."""
    timing = ("gen_ai_client_operation_duration_seconds_sum", "genai_lens_throughput_tokens_per_second",
              "gen_ai_client_operation_time_to_first_chunk_seconds")
    seen = 0
    for data in committed().values():
        for query in iter_queries(data):
            for selector in re.findall(r"(\w+)\{([^}]*)\}", query.expr):
                if selector[0].startswith(timing) or (
                        selector[0] == "gen_ai_client_operation_duration_seconds_count" and "_seconds_sum" in query.expr):
                    assert 'error_type=""' in selector[1], (query.panel_title, query.expr)
                    seen += 1
    assert seen >= 20


def test_bars_tables_and_gauges_draw_what_they_mean():
    """Bars drawn after their bucket start from 0; an empty table cell is a dash; gauges from 0 in series colours."""
    seen = {"bars": 0, "table": 0, "bargauge": 0}
    for data in committed().values():
        for panel in iter_panels(data):
            defaults = panel["fieldConfig"]["defaults"]
            if panel["type"] == "timeseries" and defaults["custom"]["drawStyle"] == "bars":
                assert (defaults["custom"]["barAlignment"], defaults["custom"]["axisSoftMin"]) == (1, 0), panel["title"]
                seen["bars"] += 1
            elif panel["type"] == "table":
                assert defaults["mappings"] == [{"type": "special", "options": {
                    "match": "null+nan", "result": {"text": "\u2013"}}}], panel["title"]
                seen["table"] += 1
            elif panel["type"] == "bargauge":
                assert (defaults["min"], defaults["color"]["mode"]) == (0, "palette-classic"), panel["title"]
                seen["bargauge"] += 1
    assert seen == {"bars": 8, "table": 12, "bargauge": 4}


def test_tables_are_instant_table_queries_merged():
    tables = [p for d in committed().values() for p in iter_panels(d) if p["type"] == "table"]
    assert len(tables) == 12
    for panel in tables:
        assert all(t["instant"] and t["format"] == "table" for t in panel["targets"])
        assert [t["id"] for t in panel["transformations"]] == ["merge", "organize"]
        assert "Download CSV" in panel["description"]


def test_bars_rebucket_by_granularity():
    bars = [p for d in committed().values() for p in iter_panels(d)
            if p["type"] == "timeseries" and p["fieldConfig"]["defaults"]["custom"]["drawStyle"] == "bars"]
    assert len(bars) == 8
    for panel in bars:
        first = panel["targets"][0]
        assert first["interval"] == "$granularity" and "[$granularity]" in first["expr"]


def test_cost_by_model_links_to_model_detail():
    cost = committed()["genai-lens-cost.json"]
    panel = next(p for p in iter_panels(cost) if p["title"] == "Total cost by model")
    links = panel["fieldConfig"]["overrides"][0]["properties"][0]["value"]
    assert links[0]["url"].startswith("/d/genai-lens-model/")
    assert "var-model=${__field.labels.gen_ai_request_model}" in links[0]["url"]


def feature_ids() -> set[str]:
    text = (DOCS / "features.md").read_text()
    return set(re.findall(r"^- ([FCUPRVB]\d+) ", text, flags=re.M))


# Features beyond the product pages not built yet: none.
NOT_YET_BUILT: set[str] = set()


def test_exemplar_panels():
    """B5: the latency, time-to-first-token and cost panels ask for exemplars, each on a query whose
    value is in the metric's own unit (Grafana draws an exemplar at its raw value), and only they."""
    asked = {}
    for data in committed().values():
        for panel in iter_panels(data):
            exemplar = [t for t in panel["targets"] if t.get("exemplar")]
            if exemplar:
                asked[(data["uid"], panel["title"])] = panel
                assert "B5" in covers(panel["description"]), panel["title"]
                assert len(exemplar) == len(panel["targets"]) and panel["type"] == "timeseries"
                assert all("* 1000" not in t["expr"] for t in exemplar)
                unit = panel["fieldConfig"]["defaults"]["unit"]
                metrics = tuple(sorted({m for t in exemplar for m in re.findall(r"[a-z_]+_(?:bucket|total)\b", t["expr"])}))
                assert (unit, metrics) in {("s", ("gen_ai_client_operation_duration_seconds_bucket",)),
                                           ("s", ("gen_ai_client_operation_time_to_first_chunk_seconds_bucket",)),
                                           ("currencyUSD", ("genai_lens_cost_usd_total",))}, (panel["title"], unit, metrics)
            elif "B5" in covers(panel["description"]):
                raise AssertionError(f"{panel['title']} covers B5 without asking for exemplars")
    assert sorted(asked) == [
        ("genai-lens-cost", "Total cost by model"),
        ("genai-lens-model", "Model latency"), ("genai-lens-model", "Model time to first token"),
        ("genai-lens-usage", "First token latency by model"), ("genai-lens-usage", "Latency by model"),
    ]


def test_every_feature_is_covered():
    ids = feature_ids()
    assert len(ids) == 6 + 12 + 8 + 6 + 6 + 9 + 6
    seen = set()
    for data in committed().values():
        seen |= set(covers(data["description"]))
        seen |= {i for v in data["templating"]["list"] for i in covers(v.get("description", ""))}
        seen |= {i for p in iter_panels(data) for i in covers(p["description"])}
    assert ids - seen == NOT_YET_BUILT
    assert seen - ids == set()
    alerts = {r["alert"] for f in RULE_FILES for g in yaml.safe_load(f.read_text())["groups"]
              for r in g["rules"] if "alert" in r}
    assert {"SpendRateHigh", "SpendSpike", "MonthlySpendForecastOverBudget"} <= alerts  # V8, V9


# ------------------------------------------------------------ names

def design_names() -> tuple[set[str], set[str]]:
    """Metric and label names of DESIGN.md's 'Prometheus names' section, with histogram series expanded."""
    text = (DOCS / "design.md").read_text()
    section = text.split("### Prometheus names", 1)[1].split("\n### ", 1)[0]
    metrics, labels = set(), set()
    for name in re.findall(r"`([a-z_{},*]+)`", section):
        if name.endswith("_{bucket,sum,count}") or name.endswith("_*"):
            base = name.split("_{")[0] if "{" in name else name[:-2]
            metrics |= {f"{base}_bucket", f"{base}_sum", f"{base}_count"}
        elif name.endswith(("_total", "_usd", "_ratio")):  # counters, and the budget gauges (USD, a fraction)
            metrics.add(name)
        elif not name.endswith("_") and "{" not in name:
            labels.add(name)
    return metrics, labels


STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
IDENT = re.compile(r"(?<![\w.$])([a-zA-Z_:][\w:]*)(\s*\()?")
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool", "and", "or",
            "unless", "start", "end", "inf", "nan"}


def names_in(expr: str) -> tuple[set[str], set[str]]:
    """(metric names, label names) referenced by a PromQL expression."""
    expr = STRINGS.sub('""', expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range and subquery windows
    expr = re.sub(r"\$\w+", "", expr)
    labels = set()
    for group in re.findall(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", expr):
        labels |= {x.strip() for x in group.split(",") if x.strip()}
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    for matchers in re.findall(r"\{([^}]*)\}", expr):
        labels |= set(re.findall(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)", matchers))
    expr = re.sub(r"\{[^}]*\}", "", expr)
    metrics = {m.group(1) for m in IDENT.finditer(expr) if not m.group(2) and m.group(1).lower() not in KEYWORDS}
    return metrics, labels


def test_names_in_expressions_parse_as_expected():
    metrics, labels = names_in(
        'sum by (le, gen_ai_request_model) (rate(x_bucket{a=~"$m", error_type=""}[$__rate_interval] offset 1d))'
        ' / on() group_left() scalar(y_total @ start()) * 1e6 > bool 0')
    assert (metrics, labels) == ({"x_bucket", "y_total"}, {"le", "gen_ai_request_model", "a", "error_type"})


def all_expressions() -> list[str]:
    exprs = []
    for data in committed().values():
        exprs += [q.expr for q in iter_queries(data)]
        for v in data["templating"]["list"]:
            if v["type"] == "query":
                exprs.append(re.sub(r"label_values\((.*), (\w+)\)", r"\1 by (\2)", v["query"]))
    for f in RULE_FILES:
        exprs += [r["expr"] for g in yaml.safe_load(f.read_text())["groups"] for r in g["rules"]]
    return exprs


def test_only_design_names_in_dashboards_and_rules():
    design_metrics, design_labels = design_names()
    assert "genai_lens_cost_usd_total" in design_metrics
    assert "gen_ai_client_operation_time_to_first_chunk_seconds_bucket" in design_metrics
    assert "genai_lens_throughput_tokens_per_second_sum" in design_metrics
    assert {"gen_ai_provider_name", "error_type", "genai_lens_billing", "service_name"} <= design_labels
    recorded = {r["record"] for f in RULE_FILES for g in yaml.safe_load(f.read_text())["groups"]
                for r in g["rules"] if "record" in r}
    # Prometheus' own: up, and ALERTS (the firing budget alerts table) with its labels.
    reconciliation = (DOCS / "reconciliation.md").read_text()
    assert all(f"`{name}`" in reconciliation for name in BILLING_METRICS | BILLING_LABELS)
    allowed_metrics = design_metrics | recorded | BILLING_METRICS | {
        "up", "ALERTS", "genai_lens_exporter_series_overflow_total"}
    # instance and pod: the billing panels count the provider's figures once, "max without (instance, pod)"
    allowed_labels = design_labels | BILLING_LABELS | {"le", "job", "instance", "pod", "alertname", "alertstate",
                                                       "severity"}
    used_metrics, used_labels = set(), set()
    for expr in all_expressions():
        metrics, labels = names_in(expr)
        used_metrics |= metrics
        used_labels |= labels
    assert used_metrics - allowed_metrics == set()
    assert used_labels - allowed_labels == set()
    assert len(used_metrics) >= 12


# ------------------------------------------------------------ substitution

def test_substitute_like_grafana():
    expr = ('sum(increase(c{gen_ai_request_model=~"$model", gen_ai_provider_name=~"${provider}", '
            'genai_lens_billing=~"$billing"}[$__range])) + rate(c[$__rate_interval]) + x[$granularity] '
            '+ vector($budget_usd) + $__range_s + [[granularity]]')
    got = substitute(expr, {"model": ["gpt-4.1", "gemini-2.5-flash"], "provider": ALL, "billing": ["payg"],
                            "granularity": "1d", "budget_usd": "1000"}, range_s=3600, interval_s=30)
    assert got == ('sum(increase(c{gen_ai_request_model=~"(gpt-4\\\\.1|gemini-2\\\\.5-flash)", '
                   'gen_ai_provider_name=~".*", genai_lens_billing=~"payg"}[3600s])) + rate(c[60s]) + x[1d] '
                   '+ vector(1000) + 3600 + 1d')
    # $__rate_interval is at least four scrape intervals
    assert substitute("[$__rate_interval]", {}, range_s=60, interval_s=15) == "[60s]"
    with pytest.raises(KeyError):
        substitute("$unknown", {}, range_s=60)


def test_iter_queries_yields_every_target():
    queries = [q for d in committed().values() for q in iter_queries(d)]
    targets = sum(len(p["targets"]) for d in committed().values() for p in iter_panels(d))
    assert len(queries) == targets
    budget = [q for q in queries if q.panel_title == "Budget forecast (this month)"]
    assert [(q.ref_id, q.instant, q.covers, q.time_from) for q in budget] == [
        ("A", True, ("V9",), "now/M"), ("B", True, ("V9",), "now/M"), ("C", True, ("V9",), "now/M")]


def test_every_query_is_valid_promql_after_substitution(tmp_path):
    """promtool parses every panel query (variables substituted) as a recording rule expression."""
    values = {"model": ["gpt-4o-mini", "gemini-2.5-flash"], "provider": ALL, "api_key": ALL, "billing": ["payg"],
              "granularity": "1d", "budget_usd": "1000", "datasource": "prometheus", "budget": ["team-a", "b.1"],
              "period": ["2025-03-04", "2025-03-03"]}
    rules = [{"record": f"check:q{i}", "expr": substitute(q.expr, values, range_s=86400, interval_s=60,
                                                           regex_vars=REGEX_VARS)}
             for i, q in enumerate(q for d in committed().values() for q in iter_queries(d))]
    path = tmp_path / "queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard-queries", "rules": rules}]}))
    result = subprocess.run(["/usr/bin/promtool", "check", "rules", str(path)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout


# ------------------------------------------------------------ measured vs billed (B4)

def _billing_expressions(metric: str, window: str, extra: str = "", by: bool = True) -> dict[str, str]:
    """The four expressions of a comparison, spelled out: measured, billed, difference, difference / billed."""
    group = " by (period, gen_ai_request_model, genai_lens_api_key)" if by else ""
    day = ', period=~"$period"' if window == "day" else ""
    extra = f", {extra}" if extra else ""
    pick = 'gen_ai_request_model=~"$model", genai_lens_api_key=~"$api_key"'
    m = f'sum{group} ({metric}{{source="measured", window="{window}"{day}{extra}, {pick}}})'
    p = f'sum{group} (max without (instance, pod) ({metric}{{source="provider", window="{window}"{day}{extra}, {pick}}}))'
    def covered(source):  # the periods a side serves anything for (the cards: the window)
        selector = f'{metric}{{source="{source}", window="{window}"}}'
        return f"and on (period) group by (period) ({selector})" if by else f"and on () group({selector})"

    measured = f"{m}\nor ({p} * 0 {covered('measured')})"
    billed = f"{p}\nor ({m} * 0 {covered('provider')})"
    return {"measured": measured, "billed": billed, "difference": f"(\n{measured}\n)\n- (\n{billed}\n)",
            "percent": f"((\n{measured}\n)\n- {p})\n/ ({p} > 0)"}


def billing_panels() -> dict[str, dict]:
    return {p["title"]: p for p in iter_panels(committed()[BILLING])}


def test_billing_cards_month_to_date():
    panels = billing_panels()
    want = _billing_expressions("genai_lens_billed_cost_usd", "month", by=False)
    assert want["measured"] == (
        'sum (genai_lens_billed_cost_usd{source="measured", window="month", gen_ai_request_model=~"$model", '
        'genai_lens_api_key=~"$api_key"})\n'
        'or (sum (max without (instance, pod) (genai_lens_billed_cost_usd{source="provider", window="month", '
        'gen_ai_request_model=~"$model", genai_lens_api_key=~"$api_key"})) * 0 '
        'and on () group(genai_lens_billed_cost_usd{source="measured", window="month"}))')
    for title, kind, unit in (("Measured cost, month to date", "measured", "currencyUSD"),
                              ("Billed cost, month to date", "billed", "currencyUSD"),
                              ("Difference, month to date", "difference", "currencyUSD"),
                              ("Difference %, month to date", "percent", "percentunit")):
        panel = panels[title]
        (target,) = panel["targets"]
        assert (panel["type"], target["expr"], target["instant"]) == ("stat", want[kind], True), title
        assert (panel["fieldConfig"]["defaults"]["unit"], panel["fieldConfig"]["defaults"]["decimals"]) == (unit, 2)
        assert panel["options"]["reduceOptions"]["calcs"] == ["lastNotNull"]


def _columns(panel) -> list[str]:
    organize = panel["transformations"][1]["options"]
    return sorted(organize["renameByName"], key=organize["indexByName"].get)


def test_billing_cost_tables():
    panels = billing_panels()
    for title, window, first in (("Cost per day", "day", "Day"), ("Cost, month to date", "month", "Month")):
        panel = panels[title]
        want = _billing_expressions("genai_lens_billed_cost_usd", window)
        assert [(t["refId"], t["expr"], t["instant"], t["format"]) for t in panel["targets"]] == [
            (ref, want[kind], True, "table") for ref, kind in zip("ABCD", ("measured", "billed", "difference", "percent"))]
        rename = panel["transformations"][1]["options"]["renameByName"]
        assert [rename[c] for c in _columns(panel)] == [
            first, "Model", "API key", "Measured cost", "Billed cost", "Difference", "Difference %"]
        assert panel["options"]["sortBy"] == [{"desc": True, "displayName": first}]
        defaults = panel["fieldConfig"]["defaults"]
        assert (defaults["unit"], defaults["decimals"]) == ("currencyUSD", 4)
        overrides = {o["matcher"]["options"]: {p["id"]: p["value"] for p in o["properties"]}
                     for o in panel["fieldConfig"]["overrides"]}
        assert overrides == {
            "Difference %": {"unit": "percentunit", "decimals": 2},
            "API key": {"mappings": [{"type": "special", "options": {"match": "empty",
                                                                     "result": {"text": "not mapped"}}}]}}


def test_billing_tokens_tables():
    panels = billing_panels()
    kinds = (("input", "genai_lens_billed_tokens", 'gen_ai_token_type="input"'),
             ("cached input", "genai_lens_billed_tokens", 'gen_ai_token_type="cached_input"'),
             ("output", "genai_lens_billed_tokens", 'gen_ai_token_type="output"'),
             ("requests", "genai_lens_billed_requests", ""))
    for title, window, first in (("Tokens and requests per day", "day", "Day"),
                                 ("Tokens and requests, month to date", "month", "Month")):
        panel = panels[title]
        want = [e for _, metric, extra in kinds
                for e in list(_billing_expressions(metric, window, extra).values())[:3]]
        assert [(t["expr"], t["instant"], t["format"]) for t in panel["targets"]] == [(e, True, "table") for e in want]
        columns = [name for kind, _, _ in kinds
                   for name in (f"Measured {kind}", f"Billed {kind}", f"{kind.capitalize()} difference")]
        rename = panel["transformations"][1]["options"]["renameByName"]
        assert [rename[c] for c in _columns(panel)] == [first, "Model", "API key", *columns]
        assert panel["fieldConfig"]["defaults"]["unit"] == "locale"
        overrides = {o["matcher"]["options"]: {p["id"]: p["value"] for p in o["properties"]}
                     for o in panel["fieldConfig"]["overrides"]}
        assert {c: overrides[c] for c in columns} == {c: {"unit": "locale", "decimals": 0} for c in columns}


def test_billing_panels_say_the_time_range_does_not_matter():
    data = committed()[BILLING]
    assert (data["title"], "genai-lens" in data["tags"]) == ("genai-lens / Measured vs billed", True)
    assert [p["title"] for p in data["panels"]] == [
        "Month to date", "Measured cost, month to date", "Billed cost, month to date", "Difference, month to date",
        "Difference %, month to date", "Cost, month to date", "Tokens and requests, month to date",
        "Per complete UTC day", "Cost per day", "Tokens and requests per day"]
    for panel in iter_panels(data):
        assert covers(panel["description"]) == ("B4",), panel["title"]
        assert "whatever the dashboard's time range" in panel["description"], panel["title"]
        assert "$" not in panel["description"]  # Grafana would interpolate a variable there
        for target in panel["targets"]:
            assert target["instant"] and not re.search(r"\[[^\]]*\]|\$__", target["expr"]), target["expr"]
