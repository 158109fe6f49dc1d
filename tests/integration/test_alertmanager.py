"""Alertmanager in the loop: budget and spend alerts from a real workload, through Debian's Prometheus
and Alertmanager, to a webhook receiver.

The exporter serves two budgets; the real ``openai`` client, instrumented by the SDK, makes one call
per budget's key against the fake provider, and both are delivered in one export batch, so each
budget's spend jumps from 0 at one scrape. Prometheus evaluates the project's rules every second
with short burn-rate windows and no ``for`` (the only changes; ``render_rules`` knobs); Alertmanager
runs the shipped ``prometheus/alertmanager.yml`` with its receivers pointed at the test's webhook and
its waits shortened (nothing else changed).

- team-search spends 0.45 USD of 0.01 a day: BudgetExhausted and the fast BudgetBurnRateHigh page,
  in one notification grouped by the budget; its warnings (BudgetWarning, the slow burn rate, the
  forecast) are inhibited, so no ticket ever names team-search.
- team-support spends 0.027 USD of 0.05 a month: BudgetWarning (0.5) and the slow burn rate go to the
  ticket receiver grouped by the budget.
- SpendRateHigh, which has no budget, is delivered as a ticket although critical alerts fire.
- Spend stops: the burn-rate alerts' short windows empty, and each resolves with a notification.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
import yaml

import sdk_instrumentation as lens
from exporter.app import create_app
from exporter.budgets import period_start
from exporter.demo import Step, demo_aliases, make_clients, run_workload
from exporter.settings import Settings
from grafana.dashboards_src.queries import ALL, iter_queries, substitute
from prometheus.rules_src import render_rules
from sdk_instrumentation.fake_provider import FakeProvider
from sdk_instrumentation.local_server import LocalServer
from tests import grafana_view
from tests.alertmanager_server import ALERTMANAGER, AlertmanagerServer, WebhookReceiver
from tests.prometheus_server import PrometheusServer
from tests.workload_expectations import recorded, total

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which(ALERTMANAGER) is None,
                                reason="needs Debian's prometheus-alertmanager (/usr/bin/prometheus-alertmanager)")

SEARCH = Step("chat", "gpt-4o", 0, input_tokens=100_000, output_tokens=20_000)          # key 0: team-search
SUPPORT = Step("chat", "gpt-4o-mini", 1, input_tokens=100_000, output_tokens=20_000)    # key 1: team-support
BUDGETS = [
    {"name": "team-search", "match": {"genai_lens_api_key": "team-search"}, "period": "day",
     "amount_usd": 0.01, "warn_at": [0.5]},
    {"name": "team-support", "match": {"genai_lens_api_key": "team-support"}, "period": "month",
     "amount_usd": 0.05, "warn_at": [0.5]},
]
# A budget spent in seconds burns at rates in the tens of thousands: spend X USD in one scrape, and
# the burn over a window of w seconds is (X / w) / (amount / period seconds):
#   team-search (day):    0.45 x 86,400 / (0.01 w): 129,600 over 30s, 388,800 over 10s, 64,800 over 60s
#   team-support (month): 0.027 x 2,678,400 (31 days) / (0.05 w): 48,211 over 30s, 24,106 over 60s
# (30 days: 46,656 and 23,328). So the fast pair (100,000 over 30s and 10s) pages for team-search
# only, and the slow pair (10,000 over 60s and 20s) fires for both.
KNOBS = {
    "BudgetBurnRateHigh": {"fast_burn_rate": 100000, "fast_long_window": "30s", "fast_short_window": "10s",
                           "fast_for": "0s", "slow_burn_rate": 10000, "slow_long_window": "60s",
                           "slow_short_window": "20s", "slow_for": "0s"},
    "BudgetForecastExceeded": {"for": "0s"},
    "BudgetWarning": {"for": "0s"},
    "BudgetExhausted": {"for": "0s"},
    "SpendRateHigh": {"for": "0s", "usd_per_hour": 0.1},
    **{name: {"enabled": False} for name in ("SpendSpike", "MonthlySpendForecastOverBudget", "ProviderErrorRatioHigh",
                                             "TimeToFirstChunkSlow", "UnpricedModelSeen", "ExporterDown",
                                             "ExporterSeriesOverflow")},
}


def alertmanager_config(webhook_url: str) -> str:
    """The shipped example, with the receivers' URLs pointed at ``webhook_url`` and the waits shortened."""
    config = yaml.safe_load((ROOT / "prometheus" / "alertmanager.yml").read_text())
    config["route"].update(group_wait="1s", group_interval="1s", repeat_interval="1h")
    for receiver in config["receivers"]:
        for hook in receiver["webhook_configs"]:
            hook["url"] = webhook_url + "/" + receiver["name"]
    return yaml.safe_dump(config)


def rule_files(directory: Path) -> list[Path]:
    paths = []
    for name, document in render_rules(KNOBS).items():
        for group in document["groups"]:
            group["interval"] = "1s"
        path = directory / name
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        paths.append(path)
    return paths


def alerts_in(posts, path: str, **group_labels) -> list[dict]:
    """Every alert (as posted, with its status) in the notifications to ``path`` for that group."""
    return [alert for p, body in posts if p == path and body["groupLabels"] == group_labels for alert in body["alerts"]]


def firing(alerts) -> set[tuple]:
    return {(a["labels"]["alertname"], a["labels"]["severity"]) for a in alerts if a["status"] == "firing"}


def resolved(alerts) -> set[tuple]:
    return {(a["labels"]["alertname"], a["labels"]["severity"]) for a in alerts if a["status"] == "resolved"}


def test_budget_and_spend_alerts_through_alertmanager(tmp_path):
    records = recorded([SEARCH, SUPPORT])
    search_usd = total(records, "cost", genai_lens_api_key="team-search")[()]
    support_usd = total(records, "cost", genai_lens_api_key="team-support")[()]
    assert (round(search_usd, 6), round(support_usd, 6)) == (0.45, 0.027)  # gpt-4o and gpt-4o-mini list prices

    exporter = LocalServer(create_app(Settings.load(new_series_hold_seconds=2.5, state_file=None, budgets=BUDGETS)))
    provider = FakeProvider()
    with exporter, LocalServer(provider.app) as provider_server, WebhookReceiver() as hooks, \
            AlertmanagerServer(alertmanager_config(hooks.url)) as am:
        config = (
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            f"alerting:\n  alertmanagers:\n    - static_configs: [{{targets: ['{am.address}']}}]\n"
            f"scrape_configs:\n  - job_name: genai-lens\n    static_configs: [{{targets: ['127.0.0.1:{exporter.port}']}}]\n")
        with PrometheusServer(config, rule_files=rule_files(tmp_path), extra_args=["--rules.alert.resend-delay=1s"]) as prom:
            prom.wait_for_targets_up(1)
            configured = lens.configure(endpoint=exporter.url, service_name="alerting", api_key_aliases=demo_aliases(),
                                        export_interval_seconds=60, set_global=False)
            try:
                run_workload([SEARCH, SUPPORT], make_clients(provider_server.url))
                configured.force_flush()  # one batch: both budgets' spend lands in one scrape
            finally:
                configured.shutdown()
            spent_at = time.time()

            # team-search pages: both critical alerts in one notification, grouped by the budget.
            def both_critical(body):
                return firing(body["alerts"]) == {("BudgetExhausted", "critical"), ("BudgetBurnRateHigh", "critical")}

            posts = hooks.wait_for(lambda p: any(path == "/page" and both_critical(body) for path, body in p),
                                   "team-search to page")
            first = next(body for path, body in posts if path == "/page" and both_critical(body))
            assert first["groupLabels"] == {"genai_lens_budget": "team-search"}
            assert first["receiver"] == "page" and first["status"] == "firing"
            assert first["commonLabels"] == {"genai_lens_budget": "team-search", "period": "day", "severity": "critical"}
            by_name = {a["labels"]["alertname"]: a for a in first["alerts"]}
            exhausted = by_name["BudgetExhausted"]
            assert exhausted["labels"] == {"alertname": "BudgetExhausted", "severity": "critical",
                                           "genai_lens_budget": "team-search", "period": "day"}
            assert exhausted["annotations"] == {
                "summary": "Budget team-search is spent",
                "description": "Budget team-search has spent 4500% of its amount for this day: 0.45 of 0.01 USD.",
                "runbook_url": "docs/runbook.md#budgetexhausted",
            }
            burn = by_name["BudgetBurnRateHigh"]
            assert burn["labels"] == {"alertname": "BudgetBurnRateHigh", "severity": "critical", "window": "fast",
                                      "genai_lens_budget": "team-search", "period": "day"}
            assert burn["annotations"]["summary"] == "Budget team-search is burning 100000x faster than its pace"
            assert burn["annotations"]["description"].endswith(
                "over the last 30s (and still over the last 10s) than the pace that uses it exactly by the end of the "
                "day (threshold 100000x). Spent so far: 0.45 of 0.01 USD.")

            # team-support's warnings, grouped by the budget, as tickets. The month's forecast (spent +
            # the last day's rate x the time left) is far above 0.05 USD except in the last day of a
            # month, when it may not be.
            month_left = period_start("month", period_start("month", spent_at) + 32 * 86400) - spent_at
            want = {("BudgetWarning", "warning"), ("BudgetBurnRateHigh", "warning")}
            if month_left > 2 * 86400:
                want.add(("BudgetForecastExceeded", "warning"))
            posts = hooks.wait_for(lambda p: want <= firing(alerts_in(p, "/ticket", genai_lens_budget="team-support")),
                                   "team-support's tickets")
            support = alerts_in(posts, "/ticket", genai_lens_budget="team-support")
            warning = next(a for a in support if a["labels"]["alertname"] == "BudgetWarning")
            assert warning["labels"] == {"alertname": "BudgetWarning", "severity": "warning", "warn_at": "0.5",
                                         "genai_lens_budget": "team-support", "period": "month"}
            assert warning["annotations"] == {
                "summary": "Budget team-support has passed 50% of its amount",
                "description": "Budget team-support has spent 54% of its amount for this month (0.03 of 0.05 USD), "
                               "past its warning fraction 0.5.",
                "runbook_url": "docs/runbook.md#budgetwarning",
            }
            assert {a["labels"]["alertname"] for a in support} <= {"BudgetWarning", "BudgetBurnRateHigh",
                                                                   "BudgetForecastExceeded"}

            # SpendRateHigh has no budget: the critical budget alerts do not inhibit it.
            posts = hooks.wait_for(lambda p: alerts_in(p, "/ticket", alertname="SpendRateHigh"), "SpendRateHigh")
            spend = alerts_in(posts, "/ticket", alertname="SpendRateHigh")[0]
            assert spend["labels"] == {"alertname": "SpendRateHigh", "severity": "warning", "genai_lens_billing": "payg"}
            assert spend["annotations"]["summary"] == "LLM spend rate is above 0.1 USD/hour"

            # Alertmanager holds team-search's warnings as inhibited by its critical alerts.
            def search_warnings_inhibited(alerts):
                mine = [a for a in alerts if a["labels"].get("genai_lens_budget") == "team-search"
                        and a["labels"]["severity"] == "warning"]
                names = {a["labels"]["alertname"] for a in mine}
                return ({"BudgetWarning", "BudgetBurnRateHigh", "BudgetForecastExceeded"} <= names
                        and all(a["status"]["state"] == "suppressed" and a["status"]["inhibitedBy"] for a in mine))

            am.wait_until(search_warnings_inhibited, "team-search's warnings inhibited", timeout=30)

            # B2: the budgets dashboard's "Firing budget alerts" table, at a moment every alert fired.
            def budget_alerts(result):
                return {(r["metric"]["genai_lens_budget"], r["metric"]["alertname"], r["metric"]["severity"]):
                        float(r["value"][1]) for r in result}

            want = {("team-search", "BudgetExhausted", "critical"): 1.0,
                    ("team-search", "BudgetBurnRateHigh", "critical"): 1.0,
                    ("team-search", "BudgetBurnRateHigh", "warning"): 1.0,
                    ("team-search", "BudgetWarning", "warning"): 1.0,
                    ("team-search", "BudgetForecastExceeded", "warning"): 1.0,
                    ("team-support", "BudgetWarning", "warning"): 1.0,
                    ("team-support", "BudgetBurnRateHigh", "warning"): 1.0}
            firing_now = 'ALERTS{alertstate="firing", genai_lens_budget!=""}'
            prom.wait_until(firing_now, lambda r: set(want) <= set(budget_alerts(
                [{"metric": x["metric"], "value": [0, 1]} for x in r])), timeout=20)
            at = time.time()
            dashboard = json.loads((ROOT / "grafana" / "dashboards" / "genai-lens-budgets.json").read_text())
            (query,) = [q for q in iter_queries(dashboard) if q.panel_title == "Firing budget alerts"]
            got = budget_alerts(prom.query(substitute(query.expr, {"budget": ALL}, range_s=300), time=at))
            assert {k: v for k, v in got.items() if k[1] != "BudgetForecastExceeded" or k[0] == "team-search"} == want
            if grafana_view.available("13.2"):
                table = grafana_view.evaluate("13.2", dashboard, prom.url, now=at, time={"from": "now-5m", "to": "now"},
                                              variables={"budget": ALL, "datasource": "prometheus"},
                                              scrape_interval="1s").panel("Firing budget alerts")["shown"]
                assert table["columns"] == ["Budget", "Alert", "Severity", "Firing"]
                rows = [tuple(row) for row in table["rows"] if not (row[0] == "team-support" and row[1] == "BudgetForecastExceeded")]
                assert sorted(rows) == sorted((*key, "1") for key in want)

            # Spend has stopped: each burn-rate alert resolves when its short window (10s, 20s) empties.
            posts = hooks.wait_for(
                lambda p: ("BudgetBurnRateHigh", "critical") in resolved(alerts_in(p, "/page", genai_lens_budget="team-search"))
                and ("BudgetBurnRateHigh", "warning") in resolved(alerts_in(p, "/ticket", genai_lens_budget="team-support")),
                "the burn-rate alerts to resolve", timeout=90)
            last_page = [body for p, body in posts if p == "/page"][-1]
            assert firing(last_page["alerts"]) == {("BudgetExhausted", "critical")}  # still spent
            assert resolved(last_page["alerts"]) == {("BudgetBurnRateHigh", "critical")}
            assert time.time() - spent_at >= 10  # not before the fast short window emptied

            # Never a ticket for team-search: every one of its warnings stayed inhibited.
            assert alerts_in(hooks.snapshot(), "/ticket", genai_lens_budget="team-search") == []
            assert {p for p, _ in hooks.snapshot()} == {"/page", "/ticket"}
            assert prom.query('count(ALERTS{alertstate="firing", genai_lens_budget="team-search"})')
