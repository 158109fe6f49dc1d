"""Alert rules, built from the knobs in ``thresholds.py``.

Spend alerts look at pay-as-you-go spend only (``genai_lens_billing="payg"``):
subscription usage is prepaid. Each alert carries a ``severity`` label and
``summary``, a templated ``description`` and ``runbook_url`` annotations.
"""

from .billing import billing_alert_rules
from .recording import BUDGET  # a budget's identity on its series

# Spend alerts read the raw counter rather than the recorded rate1h/rate1d series: alert and
# recording groups run concurrently, so a recorded input can lag one evaluation (and vanish
# from an instant query if the interval exceeds the 5m lookback); the raw form also lets
# "offset 1d/1w" work from the first day the counter has history.
PAYG_COST = 'genai_lens_cost_usd_total{genai_lens_billing="payg"}'


def _payg_rate(window: str, offset: str = "") -> str:
    off = f" offset {offset}" if offset else ""
    return f"sum by (genai_lens_billing) (rate({PAYG_COST}[{window}]{off}))"


PAYG_RATE1H = _payg_rate("1h")
PAYG_RATE1D = _payg_rate("1d")


def _alert(name: str, knobs: dict, runbook_base: str, expr: str, summary: str, description: str) -> dict:
    return {
        "alert": name,
        "expr": expr,
        "for": str(knobs["for"]),
        "labels": {"severity": str(knobs["severity"])},
        "annotations": {
            "summary": summary,
            "description": description,
            "runbook_url": f"{runbook_base}#{name.lower()}",
        },
    }


def alert_rules(t: dict) -> list[dict]:
    """Return the enabled alert rules for merged thresholds ``t``."""
    rb = t["runbook_base"]
    rules = []

    k = t["SpendRateHigh"]
    rules.append(_alert(
        "SpendRateHigh", k, rb,
        f"{PAYG_RATE1H} * 3600 > {k['usd_per_hour']}",
        "LLM spend rate is above {} USD/hour".format(k["usd_per_hour"]),
        "Pay-as-you-go LLM spend averaged {{ $value | printf \"%.2f\" }} USD/hour over the last hour, "
        f"above the {k['usd_per_hour']} USD/hour threshold.",
    ))

    k = t["SpendSpike"]
    rules.append(_alert(
        "SpendSpike", k, rb,
        f"(\n  {PAYG_RATE1H} * 3600 > {k['min_usd_per_hour']}\n)\n"
        f"and\n(\n  {PAYG_RATE1H}\n  >\n  {k['factor']} * {_payg_rate('1h', '1d')}\n)\n"
        f"and\n(\n  {PAYG_RATE1H}\n  >\n  {k['factor']} * {_payg_rate('1h', '1w')}\n)",
        "LLM spend is {}x the same hour yesterday and last week".format(k["factor"]),
        "Pay-as-you-go LLM spend over the last hour is {{ $value | printf \"%.2f\" }} USD/hour, more than "
        f"{k['factor']} times the same hour one day and one week ago.",
    ))

    k = t["MonthlySpendForecastOverBudget"]
    rules.append(_alert(
        "MonthlySpendForecastOverBudget", k, rb,
        f"{PAYG_RATE1D} * 86400 * scalar(days_in_month()) > {k['budget_usd']}",
        "Forecast monthly LLM spend is above the {} USD budget".format(k["budget_usd"]),
        "At the last 24 hours' pay-as-you-go spend rate, this month's LLM spend comes to "
        "{{ $value | printf \"%.2f\" }} USD (run rate x days in month), above the "
        f"{k['budget_usd']} USD monthly budget.",
    ))

    k = t["ProviderErrorRatioHigh"]
    rules.append(_alert(
        "ProviderErrorRatioHigh", k, rb,
        f"1 - provider:gen_ai_client_operation_success:ratio_rate5m > {k['ratio']}",
        "LLM provider {{ $labels.gen_ai_provider_name }} is failing calls",
        "{{ $value | humanizePercentage }} of calls to {{ $labels.gen_ai_provider_name }} failed over "
        f"the last 5 minutes (threshold {k['ratio']}).",
    ))

    k = t["TimeToFirstChunkSlow"]
    rules.append(_alert(
        "TimeToFirstChunkSlow", k, rb,
        "provider_model:gen_ai_client_operation_time_to_first_chunk_seconds:p95_rate5m"
        f" > {k['p95_seconds']}",
        "Slow time to first token for {{ $labels.gen_ai_request_model }}",
        "p95 time to first chunk of {{ $labels.gen_ai_provider_name }} / {{ $labels.gen_ai_request_model }} "
        f"is {{{{ $value | humanizeDuration }}}} (threshold {k['p95_seconds']} s).",
    ))

    k = t["UnpricedModelSeen"]
    rules.append(_alert(
        "UnpricedModelSeen", k, rb,
        "sum by (gen_ai_provider_name, gen_ai_request_model, service_name) "
        "(increase(genai_lens_unpriced_requests_total[15m])) > 0",
        "Calls to {{ $labels.gen_ai_request_model }} have no cost",
        "{{ $value | printf \"%.0f\" }} calls to {{ $labels.gen_ai_provider_name }} / "
        "{{ $labels.gen_ai_request_model }} from {{ $labels.service_name }} in the last 15 minutes had no "
        "cost (no known price, or no token usage in the response: its genai_lens_unpriced_reason label "
        "says which), so it is missing from every cost panel.",
    ))

    k = t["ExporterDown"]
    job = k["job"]
    rules.append(_alert(
        "ExporterDown", k, rb,
        f'up{{job="{job}"}} == 0 or absent(up{{job="{job}"}})',
        "The genai-lens exporter is down or not scraped",
        f'Prometheus cannot scrape job "{job}" ({{{{ $labels.instance }}}}): LLM cost and usage '
        "metrics are not being collected.",
    ))

    k = t["ExporterSeriesOverflow"]
    rules.append(_alert(
        "ExporterSeriesOverflow", k, rb,
        "sum by (job, instance) (increase(genai_lens_exporter_series_overflow_total[10m])) > 0",
        "The genai-lens exporter is dropping series past its cardinality limit",
        "{{ $labels.instance }} refused {{ $value | printf \"%.0f\" }} new series in the last 10 minutes; "
        "their data is folded into overflow series or dropped.",
    ))

    rules += budget_alert_rules(t)
    rules += billing_alert_rules(t, _alert)
    return [r for r in rules if _enabled(t[r["alert"]])]


def _budget_query(expr: str) -> str:
    """A template fragment: the value of ``expr`` for the alert's budget (``%s`` takes its name)."""
    return ('{{ with printf `' + expr.replace("%s", "genai_lens_budget=%q") + '` $labels.genai_lens_budget | query }}'
            '{{ . | first | value | printf "%.2f" }}{{ end }}')


BUDGET_SPENT = _budget_query("sum(genai_lens_budget_spent_usd{%s})")
BUDGET_AMOUNT = _budget_query("max(genai_lens_budget_usd{%s})")
BUDGET_NAME = "{{ $labels.genai_lens_budget }}"


# Spent / amount, summed over replicas (as budget:genai_lens_budget_spent:ratio, read raw like the
# spend alerts above).
SPENT_RATIO = (f"  sum by ({BUDGET}) (genai_lens_budget_spent_usd)\n  / on ({BUDGET})\n"
               f"  max by ({BUDGET}) (genai_lens_budget_usd)")


def _burn(window: str) -> str:
    return (f"sum by ({BUDGET}) (rate(genai_lens_budget_spent_usd[{window}]))\n"
            f"  / on ({BUDGET}) budget:genai_lens_budget_usd:ideal_rate")


def budget_alert_rules(t: dict) -> list[dict]:
    """The per-budget alerts: burn rate (fast and slow), forecast, warning fractions, exhausted.

    Every one is labelled with the budget (``genai_lens_budget`` and ``period``), so Alertmanager
    can group and inhibit by budget (prometheus/alertmanager.yml).
    """
    rb = t["runbook_base"]
    rules = []

    k = t["BudgetBurnRateHigh"]
    for speed in ("fast", "slow"):
        rate, long_w, short_w = k[f"{speed}_burn_rate"], k[f"{speed}_long_window"], k[f"{speed}_short_window"]
        rule = _alert(
            "BudgetBurnRateHigh", {"for": k[f"{speed}_for"], "severity": k[f"{speed}_severity"]}, rb,
            f"(\n  {_burn(long_w)}\n  > {rate}\n)\nand on ({BUDGET})\n(\n  {_burn(short_w)}\n  > {rate}\n)",
            f"Budget {BUDGET_NAME} is burning {rate}x faster than its pace",
            f"Budget {BUDGET_NAME} ({{{{ $labels.period }}}}) was spent {{{{ $value | printf \"%.1f\" }}}}x faster "
            f"over the last {long_w} (and still over the last {short_w}) than the pace that uses it exactly by the "
            f"end of the {{{{ $labels.period }}}} (threshold {rate}x). Spent so far: {BUDGET_SPENT} of "
            f"{BUDGET_AMOUNT} USD.",
        )
        rule["labels"]["window"] = speed
        rules.append(rule)

    k = t["BudgetForecastExceeded"]
    rules.append(_alert(
        "BudgetForecastExceeded", k, rb,
        f"budget:genai_lens_budget_spent_usd:forecast_rate1d\n> on ({BUDGET})\nmax by ({BUDGET}) (genai_lens_budget_usd)",
        f"Budget {BUDGET_NAME} is forecast to run out before the end of its period",
        f"At the last day's spend rate, budget {BUDGET_NAME} ends the {{{{ $labels.period }}}} at "
        f"{{{{ $value | printf \"%.2f\" }}}} USD, above its {BUDGET_AMOUNT} USD (spent so far: {BUDGET_SPENT} USD).",
    ))

    k = t["BudgetWarning"]
    rules.append(_alert(
        "BudgetWarning", k, rb,
        f"(\n{SPENT_RATIO}\n)\n>= on ({BUDGET}) group_right\n"
        f"max by ({BUDGET}, warn_at) (genai_lens_budget_warning_ratio)",
        f"Budget {BUDGET_NAME} has passed {{{{ $labels.warn_at | humanizePercentage }}}} of its amount",
        f"Budget {BUDGET_NAME} has spent {{{{ $value | humanizePercentage }}}} of its amount for this "
        f"{{{{ $labels.period }}}} ({BUDGET_SPENT} of {BUDGET_AMOUNT} USD), past its warning fraction {{{{ $labels.warn_at }}}}.",
    ))

    k = t["BudgetExhausted"]
    rules.append(_alert(
        "BudgetExhausted", k, rb,
        f"(\n{SPENT_RATIO}\n)\n>= 1",
        f"Budget {BUDGET_NAME} is spent",
        f"Budget {BUDGET_NAME} has spent {{{{ $value | humanizePercentage }}}} of its amount for this "
        f"{{{{ $labels.period }}}}: {BUDGET_SPENT} of {BUDGET_AMOUNT} USD.",
    ))
    return rules


def _enabled(knobs: dict) -> bool:
    value = knobs["enabled"]
    return value if isinstance(value, bool) else str(value).lower() not in ("false", "0", "no")
