"""Every dashboard query and every rule, asked of a real Prometheus (Debian's 2.42) after a known workload.

The ``live`` fixture (conftest.py) runs the demo workload (48 calls: 3 keys, 5 models, both
providers, streams, web search, 429/500 faults) plus one call to an unpriced model through the real
clients, the SDK and the exporter, scraped every second. Queries are substituted the way Grafana 11
does (``Grafana`` below) and evaluated with the dashboard's "now" = ``live.now``, a scrape
timestamp: ``increase()`` then adds no extrapolation at the end, and none at the start because
every series starts at 0 (the exporter's new-series hold), so cards and tables are exact.
Expected numbers come from ``tests/workload_expectations.py`` (published prices, the workload's
token counts), never from the exporter; only latency and throughput, which depend on timing, are
checked against the sums and counts the exporter serves (the definition the panel must compute).

Week and Month buckets are checked on the ``history`` fixture: 35 days loaded with promtool.
"""

from __future__ import annotations

import calendar
import functools
import json
import math
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from grafana.dashboards_src.queries import ALL, iter_queries, substitute
from tests.grafana.test_dashboards import all_expressions, names_in
from tests.integration.conftest import History
from tests.integration.pipeline import BUDGETS, JOB, RULE_FILES, SCRAPE_INTERVAL_S
from tests.workload_expectations import total

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = {path.stem: json.loads(path.read_text()) for path in sorted((ROOT / "grafana" / "dashboards").glob("*.json"))}
MODEL, PROVIDER, KEY = "gen_ai_request_model", "gen_ai_provider_name", "genai_lens_api_key"
COST_TYPE, TOKEN_TYPE, OPERATION = "genai_lens_cost_type", "gen_ai_token_type", "gen_ai_operation_name"
COST_SOURCE = "genai_lens_cost_source"
GRANULARITIES = {"Hour": "1h", "Day": "1d", "Week": "1w", "Month": "30d"}
SECONDS = {"h": 3600, "d": 86400, "w": 604800}
ALL_FILTERS = {"api_key": ALL, "model": ALL, "provider": ALL, "billing": "payg", "budget_usd": "1000",
               "datasource": "prometheus", "budget": ALL, "period": ALL}

# Queries that legitimately return nothing for this workload, with the reason.
EMPTY_OK = {
    ("genai-lens-overview", "Spend rate vs yesterday and last week", "B"):
        "offset 1d: the same hour one day before the test, when this Prometheus held no data",
    ("genai-lens-overview", "Spend rate vs yesterday and last week", "C"):
        "offset 1w: the same hour one week before the test, when this Prometheus held no data",
    ("genai-lens-budgets", "Firing budget alerts", "A"):
        "no budget alert fires within its `for` (2m and more) in this short workload; "
        "tests/integration/test_alertmanager.py evaluates the panel with alerts firing",
    **{(q.dashboard_uid, q.panel_title, q.ref_id): "billing not configured in this pipeline; "
       "tests/integration/test_dashboard_billing.py evaluates every billing panel with reconciliation data"
       for q in iter_queries(DASHBOARDS["genai-lens-billing"])},
}
# Budget figures that depend on the time of evaluation (a rate over the last day, the time left in the
# period): checked for their sign and labels, not their exact value.
BUDGET_RATES = {("genai-lens-budgets", "Budgets", ref) for ref in "DEF"}

# The bar panels (one bar per $granularity bucket): counter and grouping label of query A.
BARS = {
    ("genai-lens-cost", "Total cost by model"): ("cost", MODEL),
    ("genai-lens-cost", "Cost by type over time"): ("cost", COST_TYPE),
    ("genai-lens-cost", "Cost by source over time"): ("cost", COST_SOURCE),
    ("genai-lens-usage", "Usage by model"): ("tokens", MODEL),
    ("genai-lens-usage", "Usage by token type"): ("tokens", TOKEN_TYPE),
    ("genai-lens-overview", "Model costs"): ("cost", MODEL),
    ("genai-lens-model", "Model cost by type"): ("cost", COST_TYPE),
    ("genai-lens-model", "Model tokens by type"): ("tokens", TOKEN_TYPE),
}


def seconds(duration: str) -> int:
    return int(duration[:-1]) * SECONDS[duration[-1]]


def all_queries():
    return [q for dashboard in DASHBOARDS.values() for q in iter_queries(dashboard)]


class Grafana:
    """Runs a panel query like Grafana 11's Prometheus data source, with "now" fixed.

    - ``$__range`` = the dashboard range (from the start of the UTC month for ``timeFrom: now/M``);
    - range queries: step = the query's min interval (``$granularity``, else the data source's scrape
      interval, here Prometheus' 1 s) or range / max data points if larger; start and end rounded
      down to a multiple of the step (Grafana's AlignTimeRange); ``$__interval`` = step,
      ``$__rate_interval`` = max(step + scrape interval, 4 x scrape interval);
    - instant queries: evaluated at "now", unaligned.
    """

    def __init__(self, prom, now: float, range_s: int, max_data_points: int = 1000):
        self.prom, self.now, self.range_s, self.max_data_points = prom, now, range_s, max_data_points

    def range_of(self, query) -> int:
        if query.time_from == "now/M":
            day = datetime.fromtimestamp(self.now, timezone.utc)
            return round(self.now - day.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp())
        return self.range_s

    def step(self, query, values) -> int:
        minimum = seconds(values["granularity"]) if query.interval == "$granularity" else SCRAPE_INTERVAL_S
        return max(minimum, math.ceil(self.range_of(query) / self.max_data_points))

    def expr(self, query, values) -> str:
        return substitute(query.expr, values, range_s=self.range_of(query), interval_s=self.step(query, values),
                          scrape_interval_s=SCRAPE_INTERVAL_S)

    def run(self, query, values) -> list:
        expr = self.expr(query, values)
        if query.instant:
            return self.prom.query(expr, time=self.now)
        step = self.step(query, values)
        start = math.floor((self.now - self.range_of(query)) / step) * step
        end = math.floor(self.now / step) * step
        return self.prom.query_range(expr, start, end, step)


def vector(result) -> dict[tuple, float]:
    """An instant result as ``{sorted label pairs: value}``."""
    return {tuple(sorted((k, v) for k, v in r["metric"].items() if k != "__name__")): float(r["value"][1])
            for r in result}


def canon(expected: dict[tuple, float]) -> dict[tuple, float]:
    return {tuple(sorted(key)): value for key, value in expected.items()}


def ratio(a: dict, b: dict, scale: float = 1.0) -> dict:
    return {k: a[k] / b[k] * scale for k in a if k in b}


def top(values: dict, highest: bool = True) -> dict:
    key = (max if highest else min)(values, key=values.get)
    return {key: values[key]}


def assert_vector(got: dict, want: dict, what: str):
    assert set(got) == set(want), what
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=1e-12, abs=1e-9), (what, key)


# ------------------------------------------------------------------ what the exporter serves

@functools.lru_cache(maxsize=4)
def served(text: str) -> list:
    """``[(name, labels, value)]`` of every sample in a /metrics text."""
    return [(s.name, s.labels, s.value) for family in text_string_to_metric_families(text) for s in family.samples]


def served_sum(text: str, name: str, by: tuple = (), succeeded: bool = False) -> dict[tuple, float]:
    """Sum of the served samples named ``name`` by labels ``by``; only calls without ``error_type`` if ``succeeded``."""
    sums: dict[tuple, float] = {}
    for sample_name, labels, value in served(text):
        if sample_name == name and not (succeeded and labels.get("error_type")):
            key = tuple((label, labels[label]) for label in by)
            sums[key] = sums.get(key, 0.0) + value
    return sums


# ------------------------------------------------------------------ the exact numbers

def budget_spend(records) -> dict[str, tuple[str, float, float]]:
    """``{budget name: (period, amount, what the workload spent against it)}`` for pipeline.BUDGETS."""
    return {b["name"]: (b["period"], float(b["amount_usd"]), total(records, "cost", **b["match"]).get((), 0.0))
            for b in BUDGETS}


def expectations(live) -> dict[tuple, dict]:
    """``{(dashboard uid, panel title, ref id): {label pairs: value}}`` for cards, tables, pies, bar gauges."""
    r = live.records

    def t(metric, *by, **match):
        return total(r, metric, tuple(by), **match)

    cost, calls, tokens = t("cost"), t("calls"), t("tokens")
    by_model = t("cost", MODEL)
    share = {k: v / cost[()] for k, v in by_model.items()}
    pm = (PROVIDER, MODEL)
    text = live.metrics_text

    def avg(name, by=(), scale=1.0):
        """Mean over successful calls: latency, throughput and time to first chunk leave failed calls out."""
        return ratio(served_sum(text, f"{name}_sum", by, succeeded=True),
                     served_sum(text, f"{name}_count", by, succeeded=True), scale)

    latency = "gen_ai_client_operation_duration_seconds"
    throughput = "genai_lens_throughput_tokens_per_second"
    now = datetime.fromtimestamp(live.now, timezone.utc)
    to_month_end = (calendar.monthrange(now.year, now.month)[1] - now.day + 1) * 86400 - live.now % 86400
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()
    cost_usage = {
        ("genai-lens-cost", "Total cost", "A"): cost,
        ("genai-lens-cost", "Input cost", "A"): t("cost", genai_lens_cost_type="input"),
        ("genai-lens-cost", "Output cost", "A"): t("cost", genai_lens_cost_type="output"),
        ("genai-lens-cost", "Other cost", "A"): t("cost", genai_lens_cost_type="other"),
        ("genai-lens-cost", "Average cost per request", "A"): ratio(cost, calls),
        ("genai-lens-cost", "Average cost per 1M tokens", "A"): ratio(cost, tokens, 1e6),
        ("genai-lens-cost", "Cost breakdown by type", "A"): t("cost", COST_TYPE),
        ("genai-lens-cost", "Cost by operation", "A"): t("cost", OPERATION),
        ("genai-lens-cost", "Cost by provider share", "A"): t("cost", PROVIDER),
        ("genai-lens-cost", "Cost by API key", "A"): t("cost", KEY),
        ("genai-lens-cost", "Cost by API key", "B"): t("calls", KEY),
        ("genai-lens-cost", "Cost by provider", "A"): t("cost", PROVIDER),
        ("genai-lens-cost", "Cost by provider", "B"): t("calls", PROVIDER),
        ("genai-lens-cost", "Provider details", "A"): t("calls", *pm),
        ("genai-lens-cost", "Provider details", "B"): t("tokens", *pm, gen_ai_token_type="input"),
        ("genai-lens-cost", "Provider details", "C"): t("tokens", *pm, gen_ai_token_type="output"),
        ("genai-lens-cost", "Provider details", "D"): ratio(t("cost", *pm), t("calls", *pm)),
        ("genai-lens-cost", "Provider details", "E"): t("cost", *pm),
        ("genai-lens-cost", "Cost by source", "A"): t("cost", COST_SOURCE),
        ("genai-lens-cost", "Estimated share of spend", "A"):
            ratio({(): cost[()] - t("cost", genai_lens_cost_source="provider")[()]}, cost),
        ("genai-lens-usage", "Total token usage", "A"): tokens,
        ("genai-lens-usage", "Input token usage", "A"): t("tokens", gen_ai_token_type="input"),
        ("genai-lens-usage", "Output token usage", "A"): t("tokens", gen_ai_token_type="output"),
        ("genai-lens-usage", "Total API requests", "A"): calls,
        ("genai-lens-usage", "Usage by API key", "A"): t("tokens", KEY, gen_ai_token_type="input"),
        ("genai-lens-usage", "Usage by API key", "B"): t("tokens", KEY, gen_ai_token_type="output"),
        ("genai-lens-usage", "Usage by API key", "C"): t("calls", KEY),
        ("genai-lens-usage", "Web search usage", "A"): t("tokens", MODEL, genai_lens_web_search="true"),
        ("genai-lens-usage", "Web search usage", "B"): t("calls", MODEL, genai_lens_web_search="true"),
        ("genai-lens-usage", "Web search usage", "C"): t("web_search_calls", MODEL),
        ("genai-lens-usage", "Primary provider", "A"): top(t("calls", PROVIDER)),
        ("genai-lens-usage", "Provider count", "A"): {(): float(len(t("calls", PROVIDER)))},
        ("genai-lens-usage", "Average success rate", "A"): ratio(t("calls", error_type=""), calls),
        ("genai-lens-usage", "Fastest response provider", "A"): top(avg(latency, (PROVIDER,), 1000), highest=False),
        ("genai-lens-usage", "Token distribution by provider", "A"): t("tokens", PROVIDER),
        ("genai-lens-usage", "Request distribution by provider", "A"): t("calls", PROVIDER),
        ("genai-lens-usage", "Average latency", "A"): avg(latency, (), 1000),
        ("genai-lens-usage", "Average throughput", "A"): avg(throughput),
        ("genai-lens-usage", "Fastest / slowest model", "A"): top(avg(latency, (MODEL,), 1000), highest=False),
        ("genai-lens-usage", "Fastest / slowest model", "B"): top(avg(latency, (MODEL,), 1000)),
        ("genai-lens-usage", "Highest / lowest throughput model", "A"): top(avg(throughput, (MODEL,))),
        ("genai-lens-usage", "Highest / lowest throughput model", "B"): top(avg(throughput, (MODEL,)), highest=False),
        ("genai-lens-usage", "Average first token latency by model", "A"):
            avg("gen_ai_client_operation_time_to_first_chunk_seconds", (MODEL,), 1000),
        ("genai-lens-usage", "Throughput by model", "A"): avg(throughput, (MODEL,)),
    }
    overview = {
        ("genai-lens-overview", "Total cost", "A"): cost,
        ("genai-lens-overview", "Total tokens", "A"): tokens,
        ("genai-lens-overview", "Avg cost / 1M tokens", "A"): ratio(cost, tokens, 1e6),
        ("genai-lens-overview", "Top model", "A"): top(by_model),
        ("genai-lens-overview", "Top model", "B"): top(share),
        ("genai-lens-overview", "Cost details: total cost", "A"): cost,
        ("genai-lens-overview", "Cost details: total tokens", "A"): tokens,
        ("genai-lens-overview", "Cost details: cost per token", "A"): ratio(cost, tokens),
        ("genai-lens-overview", "Cost details: models", "A"): {(): float(sum(1 for v in by_model.values() if v > 0))},
        ("genai-lens-overview", "Cost details: share of spend per model", "A"): share,
        ("genai-lens-overview", "Model distribution", "A"): share,
        ("genai-lens-overview", "Model distribution", "B"): by_model,
        ("genai-lens-overview", "Model distribution chart", "A"): by_model,
        ("genai-lens-overview", "Budget forecast (this month)", "C"): {(): 1000.0},
    }
    if month_start <= live.started:  # the whole workload falls in this UTC month
        # rate(cost[1d]) at a scrape timestamp, series starting at 0: exactly the growth / 86400.
        overview[("genai-lens-overview", "Budget forecast (this month)", "A")] = cost
        overview[("genai-lens-overview", "Budget forecast (this month)", "B")] = {
            (): cost[()] + cost[()] / 86400 * to_month_end}
    model = {
        ("genai-lens-model", "Model cost", "A"): cost,
        ("genai-lens-model", "Model requests", "A"): calls,
        ("genai-lens-model", "Model tokens", "A"): tokens,
        ("genai-lens-model", "Model cost per request", "A"): ratio(cost, calls),
        ("genai-lens-model", "Model average latency", "A"): avg(latency, (), 1000),
        ("genai-lens-model", "Model average throughput", "A"): avg(throughput),
    }
    # Budgets (pipeline.BUDGETS): amounts, and what the workload spent against each; no alert fires.
    spend = budget_spend(r)

    def per_budget(value):
        return {(("genai_lens_budget", name), ("period", period)): value(amount, spent)
                for name, (period, amount, spent) in spend.items()}

    used = per_budget(lambda amount, spent: spent / amount)
    budgets = {
        ("genai-lens-budgets", "Budgets", "A"): per_budget(lambda amount, spent: amount),
        ("genai-lens-budgets", "Budgets", "B"): per_budget(lambda amount, spent: spent),
        ("genai-lens-budgets", "Budgets", "C"): used,
        ("genai-lens-budgets", "Share of budget used", "A"): used,
        ("genai-lens-budgets", "Firing budget alerts", "A"): {},
    }
    return {key: canon(value) for key, value in {**cost_usage, **overview, **model, **budgets}.items()}


# ------------------------------------------------------------------ tests

def test_prometheus_stored_what_the_exporter_serves(live):
    """At ``now`` Prometheus holds, for every GenAI series, the value the exporter serves (final values)."""
    got = {}
    for r in live.prom.query('{__name__=~"gen_ai_.+|genai_lens_.+", __name__!~"genai_lens_exporter_.+"}',
                             time=live.now):
        labels = {k: v for k, v in r["metric"].items() if k not in ("job", "instance")}
        got[tuple(sorted(labels.items()))] = float(r["value"][1])
    want = {tuple(sorted({"__name__": name, **labels}.items())): value
            for name, labels, value in served(live.metrics_text)
            if name.startswith(("gen_ai_", "genai_lens_")) and not name.startswith("genai_lens_exporter_")}
    assert len(want) > 500
    assert got == want


def test_every_query_of_every_panel_answers_with_data(live):
    """Every target of every panel, each granularity, All filters, payg: no error, and data unless listed."""
    grafana = Grafana(live.prom, live.now, math.ceil(live.now - live.started) + 5)
    checked, empty = 0, set()
    for query in all_queries():
        granularities = GRANULARITIES.values() if "granularity" in query.expr + query.interval else ["1d"]
        for granularity in granularities:
            result = grafana.run(query, {**ALL_FILTERS, "granularity": granularity})  # raises on any API error
            checked += 1
            if query.instant:
                has_data = any(math.isfinite(float(r["value"][1])) for r in result)
            else:
                has_data = any(math.isfinite(float(v)) for r in result for _, v in r["values"])
            if not has_data:
                empty.add((query.dashboard_uid, query.panel_title, query.ref_id))
    assert empty == set(EMPTY_OK)
    assert checked == len(all_queries()) + 3 * sum(1 for q in all_queries() if q.interval == "$granularity")


def test_cards_and_tables_show_the_exact_numbers(live):
    """Instant targets at a scrape timestamp: the numbers the workload implies (cost to 1e-9 USD)."""
    grafana = Grafana(live.prom, live.now, math.ceil(live.now - live.started) + 5)
    want = expectations(live)
    queries = {(q.dashboard_uid, q.panel_title, q.ref_id): q for q in all_queries()}
    instant = {key for key, q in queries.items() if q.instant}
    month_panel = {key for key in instant if key[1] == "Budget forecast (this month)"}
    assert instant - month_panel - BUDGET_RATES - set(EMPTY_OK) <= set(want) and set(want) <= set(queries)
    for key, expected in want.items():
        got = vector(grafana.run(queries[key], {**ALL_FILTERS, "granularity": "1d"}))
        assert_vector(got, expected, key)
    # the budgets' rates: each budget has spent, so its forecast is at least what it spent, its days
    # left are positive (or absent once spent), its burn rate positive
    spent = want[("genai-lens-budgets", "Budgets", "B")]
    forecast, days, burn = (vector(grafana.run(queries[key], {**ALL_FILTERS, "granularity": "1d"}))
                            for key in sorted(BUDGET_RATES))
    assert set(forecast) == set(burn) == set(spent) and set(days) <= set(spent)
    assert all(forecast[k] >= spent[k] and burn[k] > 0 for k in spent) and all(v > 0 for v in days.values())
    # a few headline figures, spelled out
    cost = want[("genai-lens-cost", "Total cost", "A")][()]
    assert want[("genai-lens-usage", "Total API requests", "A")] == {(): 50.0}
    assert want[("genai-lens-usage", "Average success rate", "A")] == {(): 46 / 50}
    assert want[("genai-lens-usage", "Provider count", "A")] == {(): 2.0}
    assert want[("genai-lens-overview", "Cost details: models", "A")] == {(): 5.0}
    assert list(want[("genai-lens-usage", "Primary provider", "A")]) == [((PROVIDER, "openai"),)]
    assert 0.1 < cost < 10
    # the unpriced model has calls and tokens but no cost rows in the provider details table
    unpriced = ((PROVIDER, "openai"), (MODEL, "genai-lens-unpriced-model"))
    assert unpriced in want[("genai-lens-cost", "Provider details", "A")]
    assert unpriced not in want[("genai-lens-cost", "Provider details", "E")]


def test_filters_slice_the_numbers(live):
    """$model / $api_key / $provider as Grafana writes them (one value escaped, several as (a|b)): the slice's cost."""
    grafana = Grafana(live.prom, live.now, math.ceil(live.now - live.started) + 5)
    queries = {(q.dashboard_uid, q.panel_title, q.ref_id): q for q in all_queries()}
    redacted = sorted({r.labels[KEY] for r in live.records if "…" in r.labels[KEY]})
    assert len(redacted) == 2
    cases = [
        ({"model": ["gpt-4o"], "api_key": ["team-search"]},
         {MODEL: ("gpt-4o",), KEY: ("team-search",)}),
        ({"model": ["gpt-4o-mini", "gemini-2.5-flash"], "api_key": redacted},
         {MODEL: ("gpt-4o-mini", "gemini-2.5-flash"), KEY: tuple(redacted)}),
        ({"provider": ["gcp.gemini"]}, {PROVIDER: ("gcp.gemini",)}),
    ]
    for values, match in cases:
        records = [r for r in live.records if all(r.labels[label] in allowed for label, allowed in match.items())]
        want_cost = total(records, "cost")
        assert want_cost[()] > 0
        for key in (("genai-lens-cost", "Total cost", "A"), ("genai-lens-model", "Model cost", "A"),
                    ("genai-lens-overview", "Total cost", "A")):
            got = vector(grafana.run(queries[key], {**ALL_FILTERS, "granularity": "1d", **values}))
            assert_vector(got, canon(want_cost), (key, values))
        got = vector(grafana.run(queries[("genai-lens-usage", "Total API requests", "A")],
                                 {**ALL_FILTERS, "granularity": "1d", **values}))
        assert_vector(got, canon(total(records, "calls")), values)
    # subscription billing: nothing in this workload
    assert grafana.run(queries[("genai-lens-cost", "Total cost", "A")],
                       {**ALL_FILTERS, "granularity": "1d", "billing": "subscription"}) == []


def test_live_bars_and_cumulative_line(live):
    """Bars show the current bucket, one series per label value; the cumulative line ends at the total.

    A bucket still open at "now" is extrapolated by increase() past the last sample (by half a
    scrape interval's worth of growth), so live bars are checked within [exact, 1.5 x exact];
    the history test checks closed buckets exactly.
    """
    grafana = Grafana(live.prom, live.now, math.ceil(live.now - live.started) + 5)
    queries = {(q.dashboard_uid, q.panel_title, q.ref_id): q for q in all_queries()}
    assert {(q.dashboard_uid, q.panel_title) for q in all_queries() if q.interval == "$granularity"} == set(BARS)
    for (uid, title), (metric, label) in BARS.items():
        want = {k[0][1]: v for k, v in total(live.records, metric, (label,)).items()}
        for granularity in GRANULARITIES.values():
            g = seconds(granularity)
            result = grafana.run(queries[(uid, title, "A")], {**ALL_FILTERS, "granularity": granularity})
            bars = {r["metric"][label]: sum(float(v) for _, v in r["values"]) for r in result}
            assert set(bars) == set(want), (title, granularity)
            if math.floor(live.started / g) == math.floor(live.now / g):  # the workload sits in one bucket
                for name, value in want.items():
                    assert value - 1e-9 <= bars[name] <= 1.5 * value + 1e-9, (title, granularity, name)
    (line,) = grafana.run(queries[("genai-lens-overview", "Model costs", "B")], {**ALL_FILTERS, "granularity": "1d"})
    assert float(line["values"][-1][1]) == pytest.approx(total(live.records, "cost")[()], rel=1e-12, abs=1e-9)
    # The line runs across the whole range on its own step: 0 before the workload, never falling.
    values = [float(v) for _, v in line["values"]]
    assert values[0] == 0.0 and values == sorted(values)


def test_variable_options_list_what_the_workload_used(live):
    """The api_key / provider / model variables (label_values over calls) offer exactly the workload's values."""
    client = httpx.Client(timeout=10)
    for uid, dashboard in DASHBOARDS.items():
        if uid == "genai-lens-billing":  # its variables: tests/integration/test_dashboard_billing.py
            continue
        for variable in dashboard["templating"]["list"]:
            if variable["type"] != "query":
                continue
            inner = variable["query"][len("label_values("):-1]
            selector, label = inner.rsplit(", ", 1)
            selector = selector.replace('"$provider"', '".*"')
            body = client.get(f"{live.prom.url}/api/v1/label/{label}/values",
                              params={"match[]": selector, "start": live.started, "end": live.now}).json()
            assert body["status"] == "success"
            if label == "genai_lens_budget":  # the budgets dashboard: the budgets the exporter serves
                assert set(body["data"]) == {b["name"] for b in BUDGETS} == {"all-spend-monthly", "team-search-daily"}
                continue
            assert set(body["data"]) == {r.labels[label] for r in live.records if r.metric == "calls"}, variable["name"]
    client.close()


def test_every_name_a_dashboard_or_rule_uses_is_served(live):
    """Metric and label names in every dashboard and rule expression exist in the exporter's live /metrics."""
    samples = served(live.metrics_text)
    metrics = {name for name, _, _ in samples}
    labels = {label for _, sample_labels, _ in samples for label in sample_labels}
    recorded_rules = {r["record"] for f in RULE_FILES for g in yaml.safe_load(f.read_text())["groups"]
                      for r in g["rules"] if "record" in r}
    used_metrics, used_labels = set(), set()
    for expr in all_expressions():
        m, lab = names_in(expr)
        used_metrics |= m
        used_labels |= lab
    # the reconciliation gauges: not served while the pipeline has no billing (test_dashboard_billing.py)
    billed = {"genai_lens_billed_cost_usd", "genai_lens_billed_tokens", "genai_lens_billed_requests"}
    assert used_metrics - recorded_rules - {"up", "ALERTS"} - billed <= metrics
    assert used_labels - {"job", "instance", "pod", "alertname", "alertstate", "severity",
                          "source", "window", "openai_project"} <= labels
    assert {"genai_lens_unpriced_requests_total", "genai_lens_exporter_series_overflow_total", "le"} <= metrics | labels
    assert len(used_metrics - recorded_rules) >= 12


def test_recording_rules_have_results_and_every_rule_is_healthy(live):
    """All rules load and evaluate without error; every recording rule yields series after the workload."""
    groups = [g for f in live.rule_files for g in yaml.safe_load(f.read_text())["groups"]]
    names = [r.get("record") or r["alert"] for g in groups for r in g["rules"]]
    records = [r["record"] for g in groups for r in g["rules"] if "record" in r]
    assert len(records) == 41 and len(names) == 56
    # The billing group's rules read the reconciliation gauges, which this pipeline (no billing.openai)
    # does not serve: tests/integration/test_reconciliation.py evaluates them with data, promtool each one.
    billing = {r["record"] for g in groups if g["name"] == "genai-lens-billing" for r in g["rules"]}
    assert len(billing) == 21

    def healthy(groups_now):
        rules = [r for g in groups_now for r in g["rules"]]
        return rules if len(rules) == len(names) and all(r["health"] == "ok" for r in rules) else None

    deadline = time.monotonic() + 20  # groups are evaluated every second (conftest.fast_rule_files)
    while not (rules := healthy(live.prom.rules())):
        assert time.monotonic() < deadline, live.prom.rules()
        time.sleep(0.2)
    assert sorted(r["name"] for r in rules) == sorted(names)
    assert all(r.get("lastError", "") == "" for r in rules)
    for name in records:
        if name not in billing:
            live.prom.wait_until(name, lambda r: len(r) > 0, timeout=20)
    by_series = vector(live.prom.query("billing_provider_model_key:genai_lens_cost_usd:rate5m"))
    want = total(live.records, "cost", ("genai_lens_billing", PROVIDER, MODEL, KEY))
    assert set(by_series) == set(canon(want))
    up = live.prom.query(f'up{{job="{JOB}"}}')
    assert [float(r["value"][1]) for r in up] == [1.0]
    # the budgets' share spent: the workload's whole cost, and team-search's, of their amounts
    ratio = vector(live.prom.query("budget:genai_lens_budget_spent:ratio", time=live.now))
    spent = {name: used / amount for name, (_, amount, used) in budget_spend(live.records).items()}
    assert {dict(k)["genai_lens_budget"]: v for k, v in ratio.items()} == pytest.approx(spent, rel=1e-9)


@pytest.mark.parametrize("granularity", ["1w", "30d"])
def test_week_and_month_bars_over_history(history, granularity):
    """35 days loaded with promtool: each Week / Month bar is exactly the counter's growth in its bucket."""
    data: History = history.history
    g = seconds(granularity)
    grafana = Grafana(history.prom, float(data.END), data.END - data.START)
    queries = {(q.dashboard_uid, q.panel_title, q.ref_id): q for q in all_queries()}
    starts = list(range(math.floor(data.START / g) * g, data.END, g))
    assert len(starts) == (5 if granularity == "1w" else 2)
    for (uid, title), (metric, label) in BARS.items():
        result = grafana.run(queries[(uid, title, "A")], {**ALL_FILTERS, "granularity": granularity})
        got = {}
        for r in result:
            for t, v in r["values"]:
                got[(int(t), r["metric"][label])] = float(v)
        want = {(start, name): value for start in starts
                for name, value in data.bucket(metric, label, start, start + g).items()}
        assert got == want, (title, granularity)
        assert {start for start, _ in want} == set(starts) and len({name for _, name in want}) >= 2
