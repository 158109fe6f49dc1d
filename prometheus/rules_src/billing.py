"""Measured vs billed (docs/reconciliation.md): recording rules and the CostEstimateDrift alert.

The exporter serves gauges ``genai_lens_billed_cost_usd``, ``genai_lens_billed_tokens``
(with ``gen_ai_token_type``) and ``genai_lens_billed_requests``, each with ``source``
(``measured``: what genai-lens counted, ``provider``: what the provider billed), ``window``
(``day`` / ``month``), ``period`` (``YYYY-MM-DD`` / ``YYYY-MM``), ``gen_ai_provider_name``,
``gen_ai_request_model`` (the model family), ``genai_lens_api_key`` and ``openai_project``.

Levels (as in recording.py): ``source``; ``window`` = window and period; ``provider``,
``model``, ``key``, ``token_type``. Per metric:

- ``source_window_provider_model_key[_token_type]:<metric>:sum``: each side summed. The
  measured side is summed over replicas (each serves what it applied) and projects; the provider
  side is taken once per series (``max without (instance, pod)``: a second replica polling the
  same organization, or an old pod during a rollout, serves the same figures and must not double
  them), then summed over projects.
- ``window_provider_model_key[_token_type]:<metric>:measured_minus_billed`` and ``:drift_ratio``
  (``(measured - billed) / billed``); the same per model (all keys) and per provider
  (``window_provider[_token_type]``: all models and keys).

A side missing for a cell counts as 0 (a model billed but never measured is a drift of -100%)
provided that side serves something for the same window, period and provider: a period the
provider has not published (or a poller that is not configured), or one genai-lens measured
nothing in (it was not running), is not compared. The ratio is absent where nothing is billed
(the difference then shows the drift).
"""

from .recording import KEY, MODEL, PROVIDER, TOKEN_TYPE

SOURCE = "source"
WINDOW = "window, period"
COVERAGE = f"{WINDOW}, {PROVIDER}"  # what a side must serve for its missing cells to count as 0

COST = "genai_lens_billed_cost_usd"
TOKENS = "genai_lens_billed_tokens"
REQUESTS = "genai_lens_billed_requests"
METRICS = ((COST, ()), (TOKENS, (TOKEN_TYPE,)), (REQUESTS, ()))

# level name -> labels kept, before a metric's extra labels
LEVELS = {
    "window_provider_model_key": (WINDOW, PROVIDER, MODEL, KEY),
    "window_provider_model": (WINDOW, PROVIDER, MODEL),
    "window_provider": (WINDOW, PROVIDER),
}


def _level(level: str, extra: tuple) -> tuple[str, str]:
    """``(rule level name, labels)`` of a level for a metric with labels ``extra``."""
    suffix = "".join(f"_{e.removeprefix('gen_ai_')}" for e in extra)
    return level + suffix, ", ".join(LEVELS[level] + extra)


def sum_rule(metric: str, extra: tuple = ()) -> str:
    name, _ = _level("window_provider_model_key", extra)
    return f"source_{name}:{metric}:sum"


def diff_rule(metric: str, level: str, extra: tuple = ()) -> str:
    return f"{_level(level, extra)[0]}:{metric}:measured_minus_billed"


def ratio_rule(metric: str, level: str, extra: tuple = ()) -> str:
    return f"{_level(level, extra)[0]}:{metric}:drift_ratio"


def _side(metric: str, extra: tuple, source: str, labels: str) -> str:
    return f'sum by ({labels}) ({sum_rule(metric, extra)}{{{SOURCE}="{source}"}})'


def _covered(metric: str, extra: tuple, source: str) -> str:
    return f'group by ({COVERAGE}) ({sum_rule(metric, extra)}{{{SOURCE}="{source}"}})'


def _cell_diff(metric: str, extra: tuple) -> str:
    _, cell = _level("window_provider_model_key", extra)
    measured = _side(metric, extra, "measured", cell)
    billed = _side(metric, extra, "provider", cell)
    return (
        f"(\n  {measured}\n  or on ({cell})\n"
        f"  ({billed} * 0\n   and on ({COVERAGE}) {_covered(metric, extra, 'measured')})\n)\n"
        f"- on ({cell})\n"
        f"(\n  {billed}\n  or on ({cell})\n"
        f"  ({measured} * 0\n   and on ({COVERAGE}) {_covered(metric, extra, 'provider')})\n)"
    )


def billing_recording_rules() -> list[dict]:
    """The rules of the ``genai-lens-billing`` group (each side's sum first: a group runs in order)."""
    rules = []
    for metric, extra in METRICS:
        _, cell = _level("window_provider_model_key", extra)
        rules.append({
            "record": sum_rule(metric, extra),
            "expr": f'sum by ({SOURCE}, {cell}) ({metric}{{{SOURCE}="measured"}})\nor\n'
                    f'sum by ({SOURCE}, {cell}) (max without (instance, pod) ({metric}{{{SOURCE}="provider"}}))',
        })
        cell_diff = diff_rule(metric, "window_provider_model_key", extra)
        for level in LEVELS:
            _, labels = _level(level, extra)
            diff = _cell_diff(metric, extra) if level == "window_provider_model_key" else \
                f"sum by ({labels}) ({cell_diff})"
            rules.append({"record": diff_rule(metric, level, extra), "expr": diff})
            rules.append({
                "record": ratio_rule(metric, level, extra),
                "expr": f"{diff_rule(metric, level, extra)}\n/ on ({labels})\n"
                        f"({_side(metric, extra, 'provider', labels)} > 0)",
            })
    return rules


# --- CostEstimateDrift ---------------------------------------------------------------------------
def _query(expr: str, labels: tuple, fmt: str, otherwise: str, suffix: str = "") -> str:
    """A template fragment: the value of ``expr`` (``%s`` takes matchers for the alert's values of
    ``labels``) formatted with ``fmt`` and followed by ``suffix``, or ``otherwise`` when the query
    returns nothing."""
    matchers = ",".join(f"{label}=%q" for label in labels)
    args = " ".join(f"$labels.{label}" for label in labels)
    return ("{{ with printf `" + expr.replace("%s", matchers) + "` " + args + " | query }}"
            "{{ . | first | value | " + fmt + " }}" + suffix + "{{ else }}" + otherwise + "{{ end }}")


def _drift_alert(k: dict, level: str, what: str) -> tuple[str, str]:
    """(expr, description) of one CostEstimateDrift rule at ``level``."""
    on = ", ".join(LEVELS[level])
    names = tuple(on.split(", "))
    diff = f'{diff_rule(COST, level)}{{window="day"}}'
    billed = f'sum by ({on}) ({sum_rule(COST)}{{{SOURCE}="provider",window="day"}})'
    expr = (
        f"{diff}\n"
        f"and on ({on})\n(\n  abs({diff}) > {k['min_usd']}\n)\n"
        f"and on ({on})\n(\n  abs({diff})\n  > on ({on})\n"
        f"  {k['percent']} / 100 * ({billed} or on ({on}) {diff} * 0)\n)"
    )
    measured_q = _query(f'sum({sum_rule(COST)}{{{SOURCE}="measured",%s}})', names, 'printf "%.2f"', "0.00")
    billed_q = _query(f'sum({sum_rule(COST)}{{{SOURCE}="provider",%s}})', names, 'printf "%.2f"', "0.00")
    ratio_q = _query(f"{ratio_rule(COST, level)}{{%s}}", names, "humanizePercentage", "nothing billed",
                     " of the bill")
    description = (
        f"genai-lens measured {measured_q} USD for {what} on {{{{ $labels.period }}}} (UTC) and "
        f"{{{{ $labels.gen_ai_provider_name }}}} billed {billed_q} USD: measured minus billed is "
        f"{{{{ $value | printf \"%.2f\" }}}} USD ({ratio_q}), beyond both {k['percent']}% and "
        f"{k['min_usd']} USD."
    )
    return expr, description


def billing_alert_rules(t: dict, make_alert) -> list[dict]:
    """CostEstimateDrift: two rules, labelled ``scope``: ``total`` (the day, all models and keys) and
    ``model`` (each model of the day, all keys). ``make_alert`` is alerts._alert."""
    rb = t["runbook_base"]
    k = t["CostEstimateDrift"]
    rules = []
    for scope, level, what, summary in (
        ("total", "window_provider", "all {{ $labels.gen_ai_provider_name }} calls",
         "Measured LLM cost on {{ $labels.period }} differs from the bill by more than PERCENT%"),
        ("model", "window_provider_model", "{{ $labels.gen_ai_provider_name }} / {{ $labels.gen_ai_request_model }}",
         "Measured cost of {{ $labels.gen_ai_request_model }} on {{ $labels.period }} differs from the bill "
         "by more than PERCENT%"),
    ):
        expr, description = _drift_alert(k, level, what)
        summary = summary.replace("PERCENT", str(k["percent"]))
        rule = make_alert("CostEstimateDrift", k, rb, expr, summary, description)
        rule["labels"]["scope"] = scope
        rules.append(rule)
    return rules
