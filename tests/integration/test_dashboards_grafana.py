"""What a Grafana user sees, for every panel, computed by Grafana 12.4's and 13.2's own front-end code.

The ``live`` pipeline (real workload, real exporter, real Prometheus) is evaluated by
``grafana/frontend/src/evaluate.mjs`` (see tests/grafana_view.py) at ``live.now``, a scrape timestamp,
over the last 5 minutes (so the step of range panels is the 1 s scrape interval and the short
workload is inside the aligned range). Expected values come from ``expectations(live)``: the
workload's token counts and published prices, not the exporter. Assertions are on the displayed
strings: cards, table columns and cells, legend names, pie slices, bars per bucket, the empty state.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from tests import grafana_view
from tests.integration.test_dashboards_prometheus import ALL_FILTERS, BARS, budget_spend, expectations, seconds
from tests.workload_expectations import total

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = {p.stem: json.loads(p.read_text()) for p in sorted((ROOT / "grafana" / "dashboards").glob("*.json"))}
RANGE = {"from": "now-5m", "to": "now"}
GRANULARITIES = ("1h", "1d", "1w", "30d")
NO_DATA = "No data in range"
MODEL, KEY, PROVIDER = "gen_ai_request_model", "genai_lens_api_key", "gen_ai_provider_name"
RAW = re.compile(r"Value #|__name__|\{|=|gen_ai_|genai_lens_")

pytestmark = pytest.mark.skipif(not all(grafana_view.available(line) for line in grafana_view.LINES),
                                reason="needs node and npm ci in grafana/frontend/grafana-*")


def scenarios(live):
    """(name, uid, time, variables) of every evaluation the tests read."""
    out = []
    for uid in DASHBOARDS:  # every dashboard at Day; the ones whose bars the tests read at every granularity
        for granularity in GRANULARITIES if uid in ("genai-lens-overview", "genai-lens-usage") else ("1d",):
            out.append((f"all-{granularity}", uid, RANGE, {**ALL_FILTERS, "granularity": granularity}))
    out.append(("empty", "genai-lens-cost", {"from": "now-30d", "to": "now-20d"}, {"granularity": "1d"}))
    out.append(("empty", "genai-lens-usage", {"from": "now-30d", "to": "now-20d"}, {"granularity": "1d"}))
    out.append(("slice", "genai-lens-cost", RANGE, {**ALL_FILTERS, "model": ["gpt-4o"], "api_key": ["team-search"]}))
    return out


@pytest.fixture(scope="module", params=grafana_view.LINES)
def shown(request, live):
    """``{(scenario, uid): Shown}`` for one Grafana line."""
    cases = scenarios(live)
    requests = [grafana_view.request(DASHBOARDS[uid], live.prom.url, now=live.now, time=time, variables=variables,
                                     scrape_interval="1s") for _, uid, time, variables in cases]
    results = grafana_view.evaluate_many(request.param, requests)
    return {(name, uid): result for (name, uid, _, _), result in zip(cases, results)}


def money(value: float, decimals: int = 2) -> str:
    return f"${value:.{decimals}f}"


def count(value: float) -> str:
    return f"{round(value):,}"


def close_to_shown(text: str, value: float) -> bool:
    """The displayed number (prefix, unit and scale stripped) is ``value`` rounded to the digits shown."""
    number = re.search(r"-?\d[\d,]*\.?\d*", text).group(0).replace(",", "")
    digits = len(number.split(".")[1]) if "." in number else 0
    scale = 1e3 if text.rstrip().endswith("K") else 1.0
    return abs(float(number) * scale - value) <= 0.5 * 10 ** -digits * scale + 1e-12


def one(values: dict) -> float:
    (value,) = values.values()
    return value


def test_no_errors_and_no_raw_names(shown):
    checked = 0
    for (scenario, uid), result in shown.items():
        for panel in result["panels"]:
            if panel["type"] == "row":
                continue
            assert not panel.get("errors"), (uid, panel["title"], panel.get("errors"))
            s = panel["shown"]
            names = [v["title"] for v in s.get("values", []) + s.get("slices", [])]
            names += s.get("columns", []) + [series["name"] for series in s.get("series", [])]
            for name in names:
                assert not RAW.search(name), (scenario, uid, panel["title"], name)
                checked += 1
    assert checked > 100


def test_cards_show_the_exact_strings(shown, live):
    result = shown[("all-1d", "genai-lens-cost")]
    want = expectations(live)
    cost = one(want[("genai-lens-cost", "Total cost", "A")])
    for title in ("Total cost", "Input cost", "Output cost", "Other cost"):
        value = one(want[("genai-lens-cost", title, "A")])
        assert result.panel(title)["shown"]["strings"] == [money(value)], title
    assert result.panel("Average cost per request")["shown"]["strings"] == [
        money(one(want[("genai-lens-cost", "Average cost per request", "A")]), 6)]
    assert result.panel("Average cost per 1M tokens")["shown"]["strings"] == [
        money(one(want[("genai-lens-cost", "Average cost per 1M tokens", "A")]), 4)]
    usage = shown[("all-1d", "genai-lens-usage")]
    for title in ("Total token usage", "Input token usage", "Output token usage", "Total API requests"):
        assert usage.panel(title)["shown"]["strings"] == [count(one(want[("genai-lens-usage", title, "A")]))], title
    assert usage.panel("Provider count")["shown"]["strings"] == ["2"]
    rate = one(want[("genai-lens-usage", "Average success rate", "A")])
    assert usage.panel("Average success rate")["shown"]["strings"] == [f"{rate * 100:.2f}%"]
    overview = shown[("all-1d", "genai-lens-overview")]
    assert overview.panel("Total cost")["shown"]["strings"] == [money(cost)]
    assert overview.panel("Cost details: models")["shown"]["strings"] == ["5"]
    assert overview.panel("Total tokens")["shown"]["strings"] == [count(total(live.records, "tokens")[()])]


def test_cost_by_source(shown, live):
    """B3: the provider-priced call and the genai-prices-priced rest, named by source, and the share of
    spend that is an estimate."""
    result = shown[("all-1d", "genai-lens-cost")]
    slices = {s["title"]: s for s in result.panel("Cost by source")["shown"]["slices"]}
    provider = total(live.records, "cost", genai_lens_cost_source="provider")[()]
    assert provider == pytest.approx(0.0375, abs=1e-12)
    estimated = total(live.records, "cost", genai_lens_cost_source="genai-prices")[()]
    assert set(slices) == {"provider", "genai-prices"}
    for name, value in (("provider", provider), ("genai-prices", estimated)):
        assert slices[name]["prefix"] == "$" and close_to_shown(slices[name]["text"], value), slices[name]
    assert slices["provider"]["text"] == "0.0375"
    share = estimated / (estimated + provider)
    assert result.panel("Estimated share of spend")["shown"]["strings"] == [f"{share * 100:.1f}%"]


def test_budgets(shown, live):
    """B1: per budget, the amount, what the workload spent against it and the share used, as displayed;
    the forecast, days left and burn rate in their units; the burn-down's lines per budget ending at
    amount - spent."""
    result = shown[("all-1d", "genai-lens-budgets")]
    spend = budget_spend(live.records)
    amounts = {name: amount for name, (_, amount, _) in spend.items()}
    spent = {name: used for name, (_, _, used) in spend.items()}
    table = result.panel("Budgets")["shown"]
    assert table["columns"] == ["Budget", "Period", "Amount", "Spent", "Used", "Forecast at period end",
                                "Days left at this rate", "Burn rate (1h)"]
    rows = {row[0]: row for row in table["rows"]}
    assert set(rows) == set(amounts)
    # sorted by the share used, highest first
    assert [row[0] for row in table["rows"]] == sorted(amounts, key=lambda n: -spent[n] / amounts[n])
    assert rows["team-search-daily"][1:3] == ["day", "$20"]
    assert rows["all-spend-monthly"][1:3] == ["month", "$1K"]
    for name, row in rows.items():
        assert row[3].startswith("$") and close_to_shown(row[3], spent[name]), row
        assert row[4].endswith("%") and close_to_shown(row[4], spent[name] / amounts[name] * 100), row
        assert row[5].startswith("$") and row[6].endswith(" days") and row[7].endswith(" x"), row
    gauges = {v["title"]: v for v in result.panel("Share of budget used")["shown"]["values"]}
    assert set(gauges) == set(amounts)
    for name, gauge in gauges.items():
        assert gauge["suffix"] == "%" and close_to_shown(gauge["text"], spent[name] / amounts[name] * 100)
    lines = {s["name"]: s for s in result.panel("Budget burn-down")["shown"]["series"]}
    assert set(lines) == set(amounts) | {f"{name} ideal" for name in amounts}
    for name in amounts:
        assert lines[name]["points"][-1][1] == pytest.approx(amounts[name] - spent[name], abs=1e-9)
        assert lines[name]["points"][0][1] == amounts[name]  # before the workload: all of it left
        assert 0 < lines[f"{name} ideal"]["points"][-1][1] <= amounts[name]
    burn = {s["name"] for s in result.panel("Burn rate")["shown"]["series"]}
    assert burn == {f"{name} {window}" for name in amounts for window in ("1h", "6h")}
    assert result.panel("Firing budget alerts")["shown"]["rows"] == []


def test_text_cards_show_names(shown, live):
    want = expectations(live)
    usage = shown[("all-1d", "genai-lens-usage")]
    overview = shown[("all-1d", "genai-lens-overview")]

    def label(key, name):
        (labels,) = want[key]
        return dict(labels)[name]

    (primary,) = usage.panel("Primary provider")["shown"]["values"]
    assert primary["title"] == label(("genai-lens-usage", "Primary provider", "A"), PROVIDER)
    assert primary["text"] == count(one(want[("genai-lens-usage", "Primary provider", "A")]))
    (fastest,) = usage.panel("Fastest response provider")["shown"]["values"]
    assert fastest["title"] == label(("genai-lens-usage", "Fastest response provider", "A"), PROVIDER)
    fast, slow = usage.panel("Fastest / slowest model")["shown"]["values"]
    assert fast["title"] == "fastest: " + label(("genai-lens-usage", "Fastest / slowest model", "A"), MODEL)
    assert slow["title"] == "slowest: " + label(("genai-lens-usage", "Fastest / slowest model", "B"), MODEL)
    assert fast["numeric"] == pytest.approx(one(want[("genai-lens-usage", "Fastest / slowest model", "A")]), rel=1e-9)
    top, top_share = overview.panel("Top model")["shown"]["values"]
    assert top["title"] == label(("genai-lens-overview", "Top model", "A"), MODEL)
    assert close_to_shown(top["text"], one(want[("genai-lens-overview", "Top model", "A")]))
    assert top_share["suffix"] == "%" and close_to_shown(
        top_share["text"], 100 * one(want[("genai-lens-overview", "Top model", "B")]))


def test_tables_show_named_columns_and_formatted_cells(shown, live):
    want = expectations(live)
    cost = shown[("all-1d", "genai-lens-cost")]
    by_key = cost.panel("Cost by API key")["shown"]
    assert by_key["columns"] == ["API key", "Total cost", "Requests"]
    spend = {dict(k)[KEY]: v for k, v in want[("genai-lens-cost", "Cost by API key", "A")].items()}
    calls = {dict(k)[KEY]: v for k, v in want[("genai-lens-cost", "Cost by API key", "B")].items()}
    assert [row[0] for row in by_key["rows"]] == sorted(spend, key=spend.get, reverse=True)  # sorted by cost, desc
    for key, shown_cost, shown_calls in by_key["rows"]:
        assert shown_calls == count(calls[key]) and close_to_shown(shown_cost, spend[key]), key
    details = cost.panel("Provider details")["shown"]
    assert details["columns"] == ["Provider", "Model", "Calls", "Input tokens", "Output tokens", "Cost per call",
                                  "Total cost"]
    rows = {(r[0], r[1]): r for r in details["rows"]}
    expected_calls = want[("genai-lens-cost", "Provider details", "A")]
    assert set(rows) == {(dict(k)[PROVIDER], dict(k)[MODEL]) for k in expected_calls}
    for ref, column in (("A", 2), ("B", 3), ("C", 4)):
        for k, v in want[("genai-lens-cost", "Provider details", ref)].items():
            assert rows[(dict(k)[PROVIDER], dict(k)[MODEL])][column] == count(v), (ref, k)
    # No value in a cell (the unpriced model's cost, the embedding model's output tokens): a dash.
    assert rows[("openai", "genai-lens-unpriced-model")][5:] == ["–", "–"]
    assert rows[("openai", "text-embedding-3-small")][4] == "–"
    usage = shown[("all-1d", "genai-lens-usage")]
    assert usage.panel("Usage by API key")["shown"]["columns"] == ["API key", "Input tokens", "Output tokens", "Requests"]
    assert usage.panel("Web search usage")["shown"]["columns"] == ["Model", "Tokens", "Requests", "Web search calls"]
    distribution = shown[("all-1d", "genai-lens-overview")].panel("Model distribution")["shown"]
    assert distribution["columns"] == ["Model", "Share of spend", "Spend"]
    assert all(row[1].endswith("%") and row[2].startswith("$") for row in distribution["rows"])


def test_pies_show_one_named_slice_per_label(shown, live):
    want = expectations(live)
    for uid, title, label in (("genai-lens-cost", "Cost breakdown by type", "genai_lens_cost_type"),
                              ("genai-lens-cost", "Cost by source", "genai_lens_cost_source"),
                              ("genai-lens-cost", "Cost by provider share", PROVIDER),
                              ("genai-lens-usage", "Request distribution by provider", PROVIDER),
                              ("genai-lens-overview", "Model distribution chart", MODEL)):
        slices = shown[("all-1d", uid)].panel(title)["shown"]["slices"]
        expected = {dict(k)[label]: v for k, v in want[(uid, title, "A")].items()}
        assert {s["title"]: s["numeric"] for s in slices} == pytest.approx(expected, rel=1e-9, abs=1e-12), title
        assert sum(s["percent"] for s in slices) == pytest.approx(1.0)
    requests = shown[("all-1d", "genai-lens-usage")].panel("Request distribution by provider")["shown"]["slices"]
    assert all(s["text"] == count(s["numeric"]) for s in requests)  # whole requests, not "16.2"


@pytest.mark.parametrize("granularity", GRANULARITIES)
def test_bars_one_named_series_per_label_and_the_cumulative_line(shown, live, granularity):
    overview = shown[(f"all-{granularity}", "genai-lens-overview")]
    series = overview.panel("Model costs")["shown"]["series"]
    line = next(s for s in series if s["name"] == "Cumulative total")
    assert line["legend"] is None  # off the legend: a "Total" of a running total means nothing
    bars = [s for s in series if s is not line]
    by_model = total(live.records, "cost", (MODEL,))
    assert {s["name"] for s in bars} == {dict(k)[MODEL] for k, v in by_model.items()}
    exact = total(live.records, "cost")[()]
    # The line ends at the range's total, exactly (a counter difference, no extrapolation) ...
    assert line["points"][-1][1] == pytest.approx(exact, rel=1e-12, abs=1e-9)
    # ... is drawn across the whole range on its own step (the range is shorter than every bucket), from 0
    # before the workload, never falling, while the open bucket's bars (increase() extrapolates past the
    # last sample) lie within [exact, 1.5 x exact].
    values = [p[1] for p in line["points"]]
    assert len(values) > 100 and values[0] == 0 and values == sorted(values)
    assert {p[0] for s in bars for p in s["points"]} == {math.floor(live.now / seconds(granularity)) * seconds(granularity) * 1000}
    bucket = sum(p[1] for s in bars for p in s["points"])
    assert exact - 1e-9 <= bucket <= 1.5 * exact + 1e-9
    usage = shown[(f"all-{granularity}", "genai-lens-usage")]
    for s in usage.panel("Usage by model")["shown"]["series"]:
        assert re.fullmatch(r"\d{1,3}(,\d{3})*", s["legend"]["sum"]), s  # whole tokens with separators


def test_filtered_selection(shown, live):
    result = shown[("slice", "genai-lens-cost")]
    match = {MODEL: "gpt-4o", KEY: "team-search"}
    cost = total(live.records, "cost", **match)[()]
    calls = total(live.records, "calls", **match)[()]
    assert result.panel("Total cost")["shown"]["strings"] == [money(cost)]
    (row,) = result.panel("Cost by API key")["shown"]["rows"]
    assert row[0] == "team-search" and row[2] == count(calls)


def test_empty_range_shows_the_no_data_text(shown):
    for uid in ("genai-lens-cost", "genai-lens-usage"):
        for panel in shown[("empty", uid)]["panels"]:
            if panel["type"] in ("stat", "bargauge"):
                assert panel["shown"]["strings"] == [NO_DATA], (uid, panel["title"])
            elif panel["type"] == "table":
                assert panel["shown"]["rows"] == [], (uid, panel["title"])
            elif panel["type"] in ("timeseries", "piechart"):
                assert panel["noData"] and panel["noValue"] == NO_DATA, (uid, panel["title"])


@pytest.fixture(scope="module", params=grafana_view.LINES)
def shown_history(request, history):
    """The overview and cost dashboards over the 35 days of history, Week and Month, as Grafana shows them."""
    data = history.history
    cases = [(uid, g) for uid in {uid for uid, _ in BARS} for g in ("1w", "30d")]
    requests = [grafana_view.request(DASHBOARDS[uid], history.prom.url, now=data.END,
                                     time={"from": data.START * 1000, "to": data.END * 1000},
                                     variables={**ALL_FILTERS, "granularity": g}, scrape_interval="1s")
                for uid, g in cases]
    return data, dict(zip(cases, grafana_view.evaluate_many(request.param, requests)))


@pytest.mark.parametrize("granularity", ["1w", "30d"])
def test_history_bars_per_bucket_and_the_cumulative_line(shown_history, granularity):
    """Closed buckets: every bar shows exactly its bucket's growth, and the line at each bucket end is the
    sum of the bars so far (Week: the range starts on a bucket boundary)."""
    data, results = shown_history
    g = seconds(granularity)
    starts = list(range(math.floor(data.START / g) * g, data.END, g))
    for (uid, title), (metric, label) in BARS.items():
        series = results[(uid, granularity)].panel(title)["shown"]["series"]
        bars = {s["name"]: {p[0] // 1000: p[1] for p in s["points"] if p[1] is not None} for s in series
                if s["name"] != "Cumulative total"}
        want = {}
        for start in starts:
            for name, value in data.bucket(metric, label, start, start + g).items():
                want.setdefault(name, {})[start] = value
        assert {name: {t: v for t, v in points.items() if v} for name, points in bars.items()} == want, (title, granularity)
    if granularity == "1w":
        series = results[("genai-lens-overview", granularity)].panel("Model costs")["shown"]["series"]
        line = {p[0] // 1000: p[1] for p in next(s for s in series if s["name"] == "Cumulative total")["points"]}
        step = min(b - a for a, b in zip(sorted(line), sorted(line)[1:]))
        cumulative = 0.0
        for start in starts:
            cumulative += sum(data.bucket("cost", MODEL, start, start + g).values())
            assert line[start + g - step] == pytest.approx(cumulative, rel=1e-12), start
        assert line[max(line)] == pytest.approx(cumulative, rel=1e-12)
