"""Measured vs billed (B4): every panel query of ``genai-lens-billing`` asked of a real Prometheus
(Debian's 2.42) holding hand-written reconciliation gauges, then the panels as Grafana 12.4 and 13.2
show them (Grafana's own front-end code, tests/grafana_view.py).

Two exporter replicas are two tiny HTTP servers on 127.0.0.1 serving a fixed text page, scraped every
second (``pod`` labels ``exporter-a`` / ``exporter-b``, as on Kubernetes):

- replica a serves measured figures and the provider's (it is the one with ``billing.openai``);
- replica b serves measured figures only; the two replicas' measured figures add up.

The provider's side holds a model only billed (``o3``), a cost split over two OpenAI projects mapped to
one key alias, a key id with no alias (``genai_lens_api_key=""``), a day billed $0 and a day before
genai-lens ran (DAY0: nothing measured); the measured side holds a key only measured (``team-new``)
and a day the provider has not published (DAY3). A missing row counts as 0 only in a period its side
serves. A second Prometheus scrapes replica b alone: the provider serves nothing, so billed, the
difference and the percent are empty, not "billed $0".

Every number is a multiple of 1/16, so sums and differences are exact in floating point.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from grafana.dashboards_src.queries import ALL, iter_queries, substitute
from tests import grafana_view
from tests.grafana.test_dashboards import REGEX_VARS
from tests.prometheus_server import PrometheusServer

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = json.loads((ROOT / "grafana" / "dashboards" / "genai-lens-billing.json").read_text())
COST, TOKENS, REQUESTS = "genai_lens_billed_cost_usd", "genai_lens_billed_tokens", "genai_lens_billed_requests"
DAY0, DAY1, DAY2, DAY3, MONTH = "2025-03-02", "2025-03-03", "2025-03-04", "2025-03-05", "2025-03"
ROW = ("period", "gen_ai_request_model", "genai_lens_api_key")
DEFAULTS = {"datasource": "prometheus", "period": ALL, "model": ALL, "api_key": ALL}

# ------------------------------------------------------------------ the hand-written gauges

# (source, window, period, model, key alias, OpenAI project, cost)
COSTS = {
    "a": [
        ("measured", "day", DAY2, "gpt-4o", "team-search", "proj_a", 1.25),
        ("measured", "day", DAY2, "gpt-4o-mini", "team-support", "proj_s", 0.5),
        ("measured", "day", DAY1, "gpt-4o", "team-search", "proj_a", 1.0),
        ("measured", "day", DAY1, "gpt-4o-mini", "team-support", "proj_s", 0.125),
        ("measured", "day", DAY3, "gpt-4o", "team-search", "proj_a", 0.5),  # the provider has not published DAY3
        ("measured", "month", MONTH, "gpt-4o", "team-search", "proj_a", 2.25),
        ("measured", "month", MONTH, "gpt-4o-mini", "team-support", "proj_s", 0.625),
        # two projects mapped to one alias: their costs add up
        ("provider", "day", DAY2, "gpt-4o", "team-search", "proj_a", 1.5),
        ("provider", "day", DAY2, "gpt-4o", "team-search", "proj_b", 0.5),
        ("provider", "day", DAY2, "gpt-4o-mini", "team-support", "proj_s", 0.5),
        ("provider", "day", DAY2, "o3", "team-search", "proj_a", 0.25),  # a model only billed
        ("provider", "day", DAY2, "gpt-4o", "", "", 0.0625),  # a key id with no alias
        ("provider", "day", DAY1, "gpt-4o", "team-search", "proj_a", 1.0),
        ("provider", "day", DAY1, "gpt-4o-mini", "team-support", "proj_s", 0.0),  # billed $0
        ("provider", "day", DAY0, "gpt-4o", "team-search", "proj_a", 0.75),  # genai-lens did not run on DAY0
        ("provider", "month", MONTH, "gpt-4o", "team-search", "proj_a", 2.5),
        ("provider", "month", MONTH, "gpt-4o", "team-search", "proj_b", 0.5),
        ("provider", "month", MONTH, "o3", "team-search", "proj_a", 0.25),
        ("provider", "month", MONTH, "gpt-4o-mini", "team-support", "proj_s", 0.625),
        ("provider", "month", MONTH, "gpt-4o", "", "", 0.0625),
    ],
    "b": [
        ("measured", "day", DAY2, "gpt-4o", "team-search", "proj_a", 1.25),
        ("measured", "day", DAY2, "gpt-4o", "team-new", "", 0.375),  # a key only measured
        ("measured", "day", DAY2, "gpt-4o", "", "", 0.0625),
        ("measured", "month", MONTH, "gpt-4o", "team-search", "proj_a", 1.5),
        ("measured", "month", MONTH, "gpt-4o", "team-new", "", 0.375),
        ("measured", "month", MONTH, "gpt-4o", "", "", 0.0625),
    ],
}
# (source, window, period, model, key alias, project, (input, cached input, output, requests))
USAGE = {
    "a": [
        ("measured", "day", DAY2, "gpt-4o", "team-search", "proj_a", (1000, 200, 300, 4)),
        ("measured", "day", DAY2, "gpt-4o-mini", "team-support", "proj_s", (2000, 0, 100, 5)),
        ("measured", "month", MONTH, "gpt-4o", "team-search", "proj_a", (3000, 400, 700, 9)),
        ("measured", "month", MONTH, "gpt-4o-mini", "team-support", "proj_s", (2000, 0, 100, 5)),
        ("provider", "day", DAY2, "gpt-4o", "team-search", "proj_a", (1000, 300, 300, 4)),
        ("provider", "day", DAY2, "gpt-4o", "team-search", "proj_b", (500, 0, 100, 2)),
        ("provider", "day", DAY2, "gpt-4o-mini", "team-support", "proj_s", (1990, 0, 100, 5)),
        ("provider", "day", DAY2, "o3", "team-search", "proj_a", (100, 0, 50, 1)),
        ("provider", "month", MONTH, "gpt-4o", "team-search", "proj_a", (3500, 500, 800, 11)),
        ("provider", "month", MONTH, "gpt-4o-mini", "team-support", "proj_s", (1990, 0, 100, 5)),
        ("provider", "month", MONTH, "o3", "team-search", "proj_a", (100, 0, 50, 1)),
    ],
    "b": [
        ("measured", "day", DAY2, "gpt-4o", "team-search", "proj_a", (500, 100, 100, 2)),
        ("measured", "day", DAY2, "gpt-4o", "team-new", "", (70, 10, 7, 1)),
        ("measured", "month", MONTH, "gpt-4o", "team-search", "proj_a", (500, 100, 100, 2)),
        ("measured", "month", MONTH, "gpt-4o", "team-new", "", (70, 10, 7, 1)),
    ],
}
TOKEN_TYPES = ("input", "cached_input", "output")


def page(replica: str) -> str:
    """The replica's /metrics: the three gauge families of docs/reconciliation.md."""
    def labels(source, window, period, model, key, project, **extra):
        pairs = {"source": source, "window": window, "period": period, "gen_ai_provider_name": "openai",
                 "gen_ai_request_model": model, "genai_lens_api_key": key, "openai_project": project, **extra}
        return ",".join(f'{k}="{v}"' for k, v in pairs.items())

    lines = [f"# TYPE {COST} gauge"]
    lines += [f"{COST}{{{labels(*row[:6])}}} {row[6]!r}" for row in COSTS[replica]]
    lines.append(f"# TYPE {TOKENS} gauge")
    for row in USAGE[replica]:
        for token_type, value in zip(TOKEN_TYPES, row[6]):
            lines.append(f"{TOKENS}{{{labels(*row[:6], gen_ai_token_type=token_type)}}} {value}")
    lines.append(f"# TYPE {REQUESTS} gauge")
    lines += [f"{REQUESTS}{{{labels(*row[:6])}}} {row[6][3]}" for row in USAGE[replica]]
    return "\n".join(lines) + "\n"


class Replica:
    """A static /metrics page on 127.0.0.1 (a free port), served from a thread."""

    def __init__(self, text: str):
        body = text.encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.target = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def config(targets: dict[str, str]) -> str:
    jobs = "".join(f'      - targets: ["{target}"]\n        labels: {{pod: "exporter-{name}"}}\n'
                   for name, target in targets.items())
    return ("global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "scrape_configs:\n  - job_name: genai-lens\n    static_configs:\n" + jobs)


def served_count(replicas) -> int:
    return sum(len(COSTS[r]) for r in replicas)


@pytest.fixture(scope="module")
def proms():
    """``{"both": Prometheus scraping replicas a and b, "measured-only": one scraping b alone}``."""
    replicas = {name: Replica(page(name)) for name in COSTS}
    started = []
    try:
        out = {}
        for scenario, names in (("both", ("a", "b")), ("measured-only", ("b",))):
            prom = PrometheusServer(config({n: replicas[n].target for n in names})).start()
            started.append(prom)
            out[scenario] = prom
        for scenario, names in (("both", ("a", "b")), ("measured-only", ("b",))):
            prom = out[scenario]
            prom.wait_for_targets_up(len(names))
            prom.wait_until(f"count({COST})", lambda r, n=served_count(names): r and float(r[0]["value"][1]) == n)
        yield out
    finally:
        for prom in started:
            prom.stop()
        for replica in replicas.values():
            replica.close()


# ------------------------------------------------------------------ running the panels' queries

QUERIES = {(q.panel_title, q.ref_id): q for q in iter_queries(DASHBOARD)}


def run(prom, title: str, ref: str, **values) -> dict[tuple, float]:
    """One panel query, variables substituted as Grafana does, at now: ``{row labels: value}``."""
    query = QUERIES[(title, ref)]
    assert query.instant
    expr = substitute(query.expr, {**DEFAULTS, **values}, range_s=86400, interval_s=60, scrape_interval_s=1,
                      regex_vars=REGEX_VARS)
    out = {}
    for r in prom.query(expr):
        metric = r["metric"]
        assert "__name__" not in metric and set(metric) <= set(ROW), (title, ref, metric)
        out[tuple(metric.get(label, "") for label in ROW)] = float(r["value"][1])
    return out


def table(prom, title: str, **values) -> dict[tuple, tuple]:
    """The merged table: ``{(period, model, key): (value of A, B, ...)}``, None where a query has no row."""
    refs = sorted(ref for t, ref in QUERIES if t == title)
    columns = [run(prom, title, ref, **values) for ref in refs]
    rows = set().union(*columns)
    return {row: tuple(column.get(row) for column in columns) for row in rows}


def card(prom, title: str, **values):
    """A card's value, or None (no data)."""
    result = run(prom, title, "A", **values)
    assert set(result) <= {("", "", "")}, result
    return result.get(("", "", ""))


COST_PER_DAY = {  # (period, model, key): (measured, billed, difference, difference / billed)
    (DAY2, "gpt-4o", "team-search"): (2.5, 2.0, 0.5, 0.25),  # two replicas; two projects
    (DAY2, "gpt-4o-mini", "team-support"): (0.5, 0.5, 0.0, 0.0),
    (DAY2, "o3", "team-search"): (0.0, 0.25, -0.25, -1.0),  # only billed: measured 0
    (DAY2, "gpt-4o", "team-new"): (0.375, 0.0, 0.375, None),  # only measured: billed 0, no percent
    (DAY2, "gpt-4o", ""): (0.0625, 0.0625, 0.0, 0.0),  # a key id with no alias
    (DAY1, "gpt-4o", "team-search"): (1.0, 1.0, 0.0, 0.0),
    (DAY1, "gpt-4o-mini", "team-support"): (0.125, 0.0, 0.125, None),  # billed $0: no Inf, no NaN
    (DAY0, "gpt-4o", "team-search"): (None, 0.75, None, None),  # nothing measured that day: not compared
    (DAY3, "gpt-4o", "team-search"): (0.5, None, None, None),  # not published by the provider: not compared
}
COST_MONTH = {
    (MONTH, "gpt-4o", "team-search"): (3.75, 3.0, 0.75, 0.25),
    (MONTH, "gpt-4o-mini", "team-support"): (0.625, 0.625, 0.0, 0.0),
    (MONTH, "o3", "team-search"): (0.0, 0.25, -0.25, -1.0),
    (MONTH, "gpt-4o", "team-new"): (0.375, 0.0, 0.375, None),
    (MONTH, "gpt-4o", ""): (0.0625, 0.0625, 0.0, 0.0),
}
# measured, billed, difference of input, cached input, output tokens and requests
TOKENS_PER_DAY = {
    (DAY2, "gpt-4o", "team-search"): (1500, 1500, 0, 300, 300, 0, 400, 400, 0, 6, 6, 0),
    (DAY2, "gpt-4o-mini", "team-support"): (2000, 1990, 10, 0, 0, 0, 100, 100, 0, 5, 5, 0),
    (DAY2, "o3", "team-search"): (0, 100, -100, 0, 0, 0, 0, 50, -50, 0, 1, -1),
    (DAY2, "gpt-4o", "team-new"): (70, 0, 70, 10, 0, 10, 7, 0, 7, 1, 0, 1),
}
TOKENS_MONTH = {
    (MONTH, "gpt-4o", "team-search"): (3500, 3500, 0, 500, 500, 0, 800, 800, 0, 11, 11, 0),
    (MONTH, "gpt-4o-mini", "team-support"): (2000, 1990, 10, 0, 0, 0, 100, 100, 0, 5, 5, 0),
    (MONTH, "o3", "team-search"): (0, 100, -100, 0, 0, 0, 0, 50, -50, 0, 1, -1),
    (MONTH, "gpt-4o", "team-new"): (70, 0, 70, 10, 0, 10, 7, 0, 7, 1, 0, 1),
}
CARDS = ("Measured cost, month to date", "Billed cost, month to date", "Difference, month to date",
         "Difference %, month to date")


def test_every_panel_query_is_instant_and_answers(proms):
    assert {title for title, _ in QUERIES} == {
        *CARDS, "Cost, month to date", "Tokens and requests, month to date", "Cost per day",
        "Tokens and requests per day"}
    for (title, ref), query in QUERIES.items():
        assert query.instant and query.covers == ("B4",), (title, ref)
        assert run(proms["both"], title, ref), (title, ref)


def test_cost_per_day_and_month_to_date(proms):
    """Measured summed over both replicas, billed over both projects; one-sided rows with 0 on the other
    side; the percent only where billed > 0."""
    assert table(proms["both"], "Cost per day") == COST_PER_DAY
    assert table(proms["both"], "Cost, month to date") == COST_MONTH


def test_tokens_and_requests_per_day_and_month_to_date(proms):
    assert table(proms["both"], "Tokens and requests per day") == {k: tuple(map(float, v)) for k, v in TOKENS_PER_DAY.items()}
    assert table(proms["both"], "Tokens and requests, month to date") == {
        k: tuple(map(float, v)) for k, v in TOKENS_MONTH.items()}


def test_month_to_date_cards(proms):
    prom = proms["both"]
    assert [card(prom, title) for title in CARDS[:3]] == [4.8125, 3.9375, 0.875]
    assert card(prom, CARDS[3]) == pytest.approx(0.875 / 3.9375, rel=1e-15)
    # one model (as Grafana escapes it), a model only billed, a key only measured, two models
    assert [card(prom, t, model=["gpt-4o"]) for t in CARDS] == [4.1875, 3.0625, 1.125, 1.125 / 3.0625]
    assert [card(prom, t, model=["o3"]) for t in CARDS] == [0.0, 0.25, -0.25, -1.0]
    assert [card(prom, t, api_key=["team-new"]) for t in CARDS] == [0.375, 0.0, 0.375, None]
    assert [card(prom, t, model=["gpt-4o-mini", "o3"]) for t in CARDS] == [0.625, 0.875, -0.25, -0.25 / 0.875]


def test_filters_slice_the_tables(proms):
    prom = proms["both"]
    assert table(prom, "Cost per day", period=[DAY1]) == {k: v for k, v in COST_PER_DAY.items() if k[0] == DAY1}
    assert table(prom, "Cost per day", period=[DAY2, DAY1], api_key=["team-search"]) == {
        k: v for k, v in COST_PER_DAY.items() if k[2] == "team-search" and k[0] in (DAY1, DAY2)}
    assert table(prom, "Cost, month to date", model=["o3"]) == {(MONTH, "o3", "team-search"): (0.0, 0.25, -0.25, -1.0)}
    # the Day variable does not apply to the month to date
    assert table(prom, "Cost, month to date", period=[DAY1]) == COST_MONTH
    assert table(prom, "Tokens and requests per day", model=["gpt-4o"], api_key=["team-new"]) == {
        (DAY2, "gpt-4o", "team-new"): (70.0, 0.0, 70.0, 10.0, 0.0, 10.0, 7.0, 0.0, 7.0, 1.0, 0.0, 1.0)}


def test_provider_not_reporting_leaves_billed_empty(proms):
    """Replica b alone: the measured figures, and no billed $0, difference or percent."""
    prom = proms["measured-only"]
    assert table(prom, "Cost per day") == {
        (DAY2, "gpt-4o", "team-search"): (1.25, None, None, None),
        (DAY2, "gpt-4o", "team-new"): (0.375, None, None, None),
        (DAY2, "gpt-4o", ""): (0.0625, None, None, None)}
    assert [card(prom, t) for t in CARDS] == [1.9375, None, None, None]
    tokens = table(prom, "Tokens and requests, month to date")
    assert tokens[(MONTH, "gpt-4o", "team-new")] == (70.0, None, None, 10.0, None, None, 7.0, None, None, 1.0, None, None)


def test_variables_list_what_either_side_serves(proms):
    """$period: the days (of either side); $model, $api_key: the values of either side (an empty alias is
    not an option; All, ``.*``, includes it)."""
    want = {"period": {DAY0, DAY1, DAY2, DAY3}, "model": {"gpt-4o", "gpt-4o-mini", "o3"},
            "api_key": {"team-search", "team-support", "team-new"}}
    client = httpx.Client(timeout=10)
    got = {}
    for variable in DASHBOARD["templating"]["list"]:
        if variable["type"] == "query":
            selector, label = variable["query"][len("label_values("):-1].rsplit(", ", 1)
            body = client.get(f"{proms['both'].url}/api/v1/label/{label}/values",
                              params={"match[]": selector, "start": time.time() - 86400, "end": time.time()}).json()
            got[variable["name"]] = set(body["data"])
    client.close()
    assert got == want


# ------------------------------------------------------------------ what Grafana shows

DASH = "\u2013"


@pytest.fixture(scope="module", params=grafana_view.LINES)
def shown(request, proms):
    if not grafana_view.available(request.param):
        pytest.skip("needs node and npm ci in grafana/frontend/grafana-*")
    now = time.time()
    cases = {"both": {}, "o3": {"model": ["o3"]}, "measured-only": {}}
    requests = [grafana_view.request(DASHBOARD, proms["measured-only" if name == "measured-only" else "both"].url,
                                     now=now, variables=variables, scrape_interval="1s")
                for name, variables in cases.items()]
    return dict(zip(cases, grafana_view.evaluate_many(request.param, requests)))


def test_grafana_shows_the_cards(shown):
    for panel in shown["both"]["panels"]:
        assert not panel.get("errors"), (panel["title"], panel.get("errors"))
    strings = [shown["both"].panel(t)["shown"]["strings"] for t in CARDS]
    assert strings == [["$4.81"], ["$3.94"], ["$0.88"], ["22.22%"]]
    assert [shown["o3"].panel(t)["shown"]["strings"] for t in CARDS] == [["$0.00"], ["$0.25"], ["-$0.25"], ["-100.00%"]]
    assert [shown["measured-only"].panel(t)["shown"]["strings"] for t in CARDS] == [
        ["$1.94"], ["No data in range"], ["No data in range"], ["No data in range"]]


def test_grafana_shows_the_cost_table(shown):
    day = shown["both"].panel("Cost per day")["shown"]
    assert day["columns"] == ["Day", "Model", "API key", "Measured cost", "Billed cost", "Difference", "Difference %"]
    assert [row[0] for row in day["rows"]] == [DAY3] + [DAY2] * 5 + [DAY1] * 2 + [DAY0]  # latest day first
    assert sorted(day["rows"]) == sorted([
        [DAY2, "gpt-4o", "team-search", "$2.5000", "$2.0000", "$0.5000", "25.00%"],
        [DAY2, "gpt-4o-mini", "team-support", "$0.5000", "$0.5000", "$0.0000", "0.00%"],
        [DAY2, "o3", "team-search", "$0.0000", "$0.2500", "-$0.2500", "-100.00%"],
        [DAY2, "gpt-4o", "team-new", "$0.3750", "$0.0000", "$0.3750", DASH],
        [DAY2, "gpt-4o", "not mapped", "$0.0625", "$0.0625", "$0.0000", "0.00%"],
        [DAY1, "gpt-4o", "team-search", "$1.0000", "$1.0000", "$0.0000", "0.00%"],
        [DAY1, "gpt-4o-mini", "team-support", "$0.1250", "$0.0000", "$0.1250", DASH],
        [DAY0, "gpt-4o", "team-search", DASH, "$0.7500", DASH, DASH],
        [DAY3, "gpt-4o", "team-search", "$0.5000", DASH, DASH, DASH],
    ])
    month = shown["both"].panel("Cost, month to date")["shown"]
    assert month["columns"][0] == "Month" and len(month["rows"]) == len(COST_MONTH)
    assert [MONTH, "gpt-4o", "team-search", "$3.7500", "$3.0000", "$0.7500", "25.00%"] in month["rows"]


def test_grafana_shows_the_tokens_table(shown):
    tokens = shown["both"].panel("Tokens and requests per day")["shown"]
    assert tokens["columns"] == [
        "Day", "Model", "API key", "Measured input", "Billed input", "Input difference", "Measured cached input",
        "Billed cached input", "Cached input difference", "Measured output", "Billed output", "Output difference",
        "Measured requests", "Billed requests", "Requests difference"]
    assert sorted(tokens["rows"]) == sorted([
        [DAY2, "gpt-4o", "team-search", "1,500", "1,500", "0", "300", "300", "0", "400", "400", "0", "6", "6", "0"],
        [DAY2, "gpt-4o-mini", "team-support", "2,000", "1,990", "10", "0", "0", "0", "100", "100", "0", "5", "5", "0"],
        [DAY2, "o3", "team-search", "0", "100", "-100", "0", "0", "0", "0", "50", "-50", "0", "1", "-1"],
        [DAY2, "gpt-4o", "team-new", "70", "0", "70", "10", "0", "10", "7", "0", "7", "1", "0", "1"],
    ])


def test_grafana_provider_not_reporting(shown):
    """The columns stay; billed, the difference and the percent are dashes, never "$0.0000"."""
    day = shown["measured-only"].panel("Cost per day")["shown"]
    assert day["columns"] == ["Day", "Model", "API key", "Measured cost", "Billed cost", "Difference", "Difference %"]
    assert sorted(day["rows"]) == sorted([[DAY2, "gpt-4o", "team-search", "$1.2500", DASH, DASH, DASH],
                                          [DAY2, "gpt-4o", "team-new", "$0.3750", DASH, DASH, DASH],
                                          [DAY2, "gpt-4o", "not mapped", "$0.0625", DASH, DASH, DASH]])
