"""Recording rules, named ``level:metric:operations``.

``level`` lists the labels kept (``billing`` = genai_lens_billing, ``provider`` =
gen_ai_provider_name, ``model`` = gen_ai_request_model, ``key`` =
genai_lens_api_key, ``token_type`` = gen_ai_token_type); ``metric`` is the
served metric name (``_total`` dropped); ``operations`` is what was applied.
"""

BILLING = "genai_lens_billing"
PROVIDER = "gen_ai_provider_name"
MODEL = "gen_ai_request_model"
KEY = "genai_lens_api_key"
TOKEN_TYPE = "gen_ai_token_type"
BUDGET = "genai_lens_budget, period"  # a budget's identity on its series

BURN_WINDOWS = ("5m", "30m", "1h", "6h")  # the windows of the recorded burn rates

COST = "genai_lens_cost_usd_total"
TOKENS_SUM = "gen_ai_client_token_usage_sum"
DURATION = "gen_ai_client_operation_duration_seconds"
TTFC = "gen_ai_client_operation_time_to_first_chunk_seconds"


def _by(*labels: str) -> str:
    return ", ".join(labels)


def _success_ratio(labels: str) -> str:
    # Calls without error_type succeeded. "or ... * 0" keeps the ratio at 0
    # (instead of absent) when every call in the window failed.
    total = f"sum by ({labels}) (rate({DURATION}_count[5m]))"
    ok = f'sum by ({labels}) (rate({DURATION}_count{{error_type=""}}[5m]))'
    return f"(\n  {ok}\n  or\n  {total} * 0\n)\n/\n{total}"


def _quantile(q: float, metric: str, labels: str) -> str:
    return f"histogram_quantile({q}, sum by (le, {labels}) (rate({metric}_bucket[5m])))"


def recording_rules() -> list[dict]:
    """Return the recording rules as a list of ``{"record", "expr"}`` dicts."""
    bpmk = _by(BILLING, PROVIDER, MODEL, KEY)
    pm = _by(PROVIDER, MODEL)
    return [
        # Cost, USD per second.
        {"record": "billing_provider_model_key:genai_lens_cost_usd:rate5m",
         "expr": f"sum by ({bpmk}) (rate({COST}[5m]))"},
        {"record": "billing:genai_lens_cost_usd:rate1h",
         "expr": f"sum by ({BILLING}) (rate({COST}[1h]))"},
        {"record": "billing:genai_lens_cost_usd:rate1d",
         "expr": f"sum by ({BILLING}) (rate({COST}[1d]))"},
        # Tokens per second, by token type.
        {"record": "billing_provider_model_key_token_type:gen_ai_client_token_usage_sum:rate5m",
         "expr": f"sum by ({bpmk}, {TOKEN_TYPE}) (rate({TOKENS_SUM}[5m]))"},
        # Requests per second (one duration observation per call).
        {"record": "billing_provider_model_key:gen_ai_client_operation_duration_seconds_count:rate5m",
         "expr": f"sum by ({bpmk}) (rate({DURATION}_count[5m]))"},
        # Success ratio (0..1).
        {"record": "provider:gen_ai_client_operation_success:ratio_rate5m",
         "expr": _success_ratio(PROVIDER)},
        {"record": "provider_model:gen_ai_client_operation_success:ratio_rate5m",
         "expr": _success_ratio(pm)},
        # Latency and time-to-first-chunk quantiles, seconds.
        {"record": "provider_model:gen_ai_client_operation_duration_seconds:p50_rate5m",
         "expr": _quantile(0.5, DURATION, pm)},
        {"record": "provider_model:gen_ai_client_operation_duration_seconds:p95_rate5m",
         "expr": _quantile(0.95, DURATION, pm)},
        {"record": "provider_model:gen_ai_client_operation_time_to_first_chunk_seconds:p50_rate5m",
         "expr": _quantile(0.5, TTFC, pm)},
        {"record": "provider_model:gen_ai_client_operation_time_to_first_chunk_seconds:p95_rate5m",
         "expr": _quantile(0.95, TTFC, pm)},
        # Budgets (docs/budgets.md): the share spent, the rate that would use a budget exactly over
        # its period (USD/s), and the burn rate (spend rate / that rate; 1 = on track to spend it all).
        {"record": "budget:genai_lens_budget_spent:ratio",
         "expr": f"sum by ({BUDGET}) (genai_lens_budget_spent_usd)\n/ on ({BUDGET})\n"
                 f"max by ({BUDGET}) (genai_lens_budget_usd)"},
        {"record": "budget:genai_lens_budget_usd:ideal_rate",
         "expr": f'max by ({BUDGET}) (genai_lens_budget_usd{{period="day"}}) / 86400\n'
                 f'or max by ({BUDGET}) (genai_lens_budget_usd{{period="week"}}) / 604800\n'
                 f'or max by ({BUDGET}) (genai_lens_budget_usd{{period="month"}}) / (86400 * scalar(days_in_month()))'},
        *[{"record": f"budget:genai_lens_budget_burn:rate{window}",
           "expr": f"sum by ({BUDGET}) (rate(genai_lens_budget_spent_usd[{window}]))\n/ on ({BUDGET})\n"
                   "budget:genai_lens_budget_usd:ideal_rate"}
          for window in BURN_WINDOWS],
        # Seconds from now to the end of each budget's calendar period (UTC; weeks end on Sunday):
        # the rest of today, plus the whole days left after it.
        {"record": "budget:genai_lens_budget_period:seconds_left",
         "expr": _seconds_left()},
        # The last day's spend rate (USD/s), and the forecast at the end of the period: spent + that
        # rate x the time left. A day's rate averages the daily cycle, so a busy afternoon is not
        # taken for the whole month.
        {"record": "budget:genai_lens_budget_spent_usd:rate1d",
         "expr": f"sum by ({BUDGET}) (rate(genai_lens_budget_spent_usd[1d]))"},
        {"record": "budget:genai_lens_budget_spent_usd:forecast_rate1d",
         "expr": f"sum by ({BUDGET}) (genai_lens_budget_spent_usd)\n+ on ({BUDGET})\n"
                 f"budget:genai_lens_budget_spent_usd:rate1d\n* on ({BUDGET})\n"
                 "budget:genai_lens_budget_period:seconds_left"},
    ]


def _seconds_left() -> str:
    today_left = "(86400 - time() % 86400)"
    days_after_today = {
        "day": None,
        # day_of_week(): 0 is Sunday; a week starts on Monday, so Sunday has 0 days after it.
        "week": "((7 - scalar(day_of_week())) % 7)",
        "month": "(scalar(days_in_month()) - scalar(day_of_month()))",
    }
    return "\nor ".join(
        f'max by ({BUDGET}) (genai_lens_budget_usd{{period="{period}"}}) * 0 + {today_left}'
        + (f" + 86400 * {days}" if days else "")
        for period, days in days_after_today.items())
