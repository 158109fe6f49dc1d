"""Per-model detail (uid ``genai-lens-model``): opened from *Total cost by model* (C7) with ``var-model``."""

from .common import (COUNT, DURATION_BUCKET, SUCCEEDED, CALLS, COST, COST_TYPE, DURATION_SUM, THROUGHPUT_COUNT, THROUGHPUT_SUM, TOKEN_TYPE, TOKENS,
                     TOKENS_PER_SECOND, TTFC_BUCKET, bars_panel, dashboard, lines_panel, q, quantile, row, sel, stat_panel,
                     total)

UID = "genai-lens-model"


def build():
    cards = [
        stat_panel("Model cost", "Spend on the selected model(s) in the range.", ["C7"], "currencyUSD",
                   [q(total(COST), "Cost", instant=True)], w=4, decimals=2),
        stat_panel("Model requests", "Calls to the selected model(s).", ["C7"], COUNT,
                   [q(total(CALLS), "Requests", instant=True)], w=4),
        stat_panel("Model tokens", "Input + output tokens.", ["C7"], COUNT,
                   [q(total(TOKENS), "Tokens", instant=True)], w=4),
        stat_panel("Model cost per request", "Cost / calls.", ["C7"], "currencyUSD",
                   [q(f"{total(COST)} / {total(CALLS)}", "Per request", instant=True)], w=4, decimals=6),
        stat_panel("Model average latency", "Mean duration of successful calls, ms.", ["C7"], "ms",
                   [q(f"{total(DURATION_SUM, SUCCEEDED)} / {total(CALLS, SUCCEEDED)} * 1000", "Latency", instant=True)],
                   w=4),
        stat_panel("Model average throughput", "Mean per-call output tokens / generation seconds.", ["C7"],
                   TOKENS_PER_SECOND,
                   [q(f"{total(THROUGHPUT_SUM, SUCCEEDED)} / {total(THROUGHPUT_COUNT, SUCCEEDED)}", "Throughput",
                      instant=True)], w=4,
                   decimals=1),
    ]
    charts = [
        bars_panel("Model cost by type", "Input, output, other cost per $granularity bucket.", ["C7", "F1"],
                   "currencyUSD", [q(total(COST, by=COST_TYPE, window="$granularity"), f"{{{{{COST_TYPE}}}}}",
                                     interval="$granularity")]),
        bars_panel("Model tokens by type", "Input and output tokens per $granularity bucket.", ["C7", "F1"],
                   COUNT, [q(total(TOKENS, by=TOKEN_TYPE, window="$granularity"), f"{{{{{TOKEN_TYPE}}}}}",
                               interval="$granularity")]),
        lines_panel("Model latency", "p50 / p95 duration of successful calls; the points are exemplars, "
                    "each linked to the trace of a call.", ["C7", "B5"], "s",
                    [q(quantile(0.5, DURATION_BUCKET), "p50", "A", exemplar=True),
                     q(quantile(0.95, DURATION_BUCKET), "p95", "B", exemplar=True)]),
        lines_panel("Model time to first token", "p50 / p95 time to first chunk of streaming calls; the points "
                    "are exemplars, each linked to the trace of a call.", ["C7", "B5"], "s",
                    [q(quantile(0.5, TTFC_BUCKET), "p50", "A", exemplar=True),
                     q(quantile(0.95, TTFC_BUCKET), "p95", "B", exemplar=True)]),
        lines_panel("Model success rate", "Calls without error / all calls, per $__rate_interval.", ["C7"],
                    "percentunit",
                    [q(f'(sum(rate({sel(CALLS, SUCCEEDED)}[$__rate_interval])) or '
                       f"sum(rate({sel(CALLS)}[$__rate_interval])) * 0) / sum(rate({sel(CALLS)}[$__rate_interval]))",
                       "success rate")]),
    ]
    d = dashboard(UID, "genai-lens / Model detail",
                  "One model's cost, usage and performance; opened by clicking a model in "
                  "Cost analytics > Total cost by model.", ["cost", "model"])
    d = d.with_row(row("Model"))
    for panel in cards + charts:
        d = d.with_panel(panel)
    return d
