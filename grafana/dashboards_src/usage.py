"""Usage analytics (uid ``genai-lens-usage``): seeds 002 and 003, rows Usage / Provider / Performance."""

from grafana_foundation_sdk.models import common as cm

from .common import (COUNT, DURATION_BUCKET, SUCCEEDED, CALLS, DURATION_SUM, KEY, MODEL, PROVIDER, THROUGHPUT_COUNT, THROUGHPUT_SUM, TOKEN_TYPE, TOKENS,
                     TOKENS_PER_SECOND, TTFC_BUCKET, TTFC_COUNT, TTFC_SUM, WEB_SEARCH, WEB_SEARCH_CALLS,
                     bargauge_panel, bars_panel, dashboard, lines_panel, pie_panel, q, quantile, row, sel, stat_panel,
                     table_panel, total)

UID = "genai-lens-usage"


def _tokens(kind: str = "") -> str:
    return total(TOKENS, f'{TOKEN_TYPE}="{kind}"' if kind else "")


# Latency, throughput and time to first token count successful calls only: a call answered 429 in
# 3 ms must not make its model the fastest.
def _avg_latency_ms(by: str = "") -> str:
    return f"{total(DURATION_SUM, SUCCEEDED, by=by)} / {total(CALLS, SUCCEEDED, by=by)} * 1000"


def _avg_throughput(by: str = "") -> str:
    return f"{total(THROUGHPUT_SUM, SUCCEEDED, by=by)} / {total(THROUGHPUT_COUNT, SUCCEEDED, by=by)}"


def build():
    name = cm.BigValueTextMode.VALUE_AND_NAME
    usage = [
        stat_panel("Total token usage", "Input + output tokens in the time range.", ["U1"], COUNT,
                   [q(_tokens(), "Total", instant=True)]),
        stat_panel("Input token usage", "Input (prompt) tokens of all requests.", ["U2"], COUNT,
                   [q(_tokens("input"), "Input", instant=True)]),
        stat_panel("Output token usage", "Output tokens of all responses.", ["U3"], COUNT,
                   [q(_tokens("output"), "Output", instant=True)]),
        stat_panel("Total API requests", "Calls in the time range, failed ones included.", ["U4"], COUNT,
                   [q(total(CALLS), "Requests", instant=True)]),
        bars_panel("Usage by model", "Input + output tokens per model per $granularity bucket.", ["U5", "F1"],
                   COUNT, [q(total(TOKENS, by=MODEL, window="$granularity"), f"{{{{{MODEL}}}}}",
                               interval="$granularity")]),
        bars_panel("Usage by token type", "Input and output tokens per $granularity bucket.", ["U6", "F1"],
                   COUNT, [q(total(TOKENS, by=TOKEN_TYPE, window="$granularity"), f"{{{{{TOKEN_TYPE}}}}}",
                               interval="$granularity")]),
        table_panel("Usage by API key", "Input tokens, output tokens and requests per API key.", ["U7"], COUNT,
                    [q(total(TOKENS, f'{TOKEN_TYPE}="input"', by=KEY), ref="A", instant=True, table_format=True),
                     q(total(TOKENS, f'{TOKEN_TYPE}="output"', by=KEY), ref="B", instant=True, table_format=True),
                     q(total(CALLS, by=KEY), ref="C", instant=True, table_format=True)],
                    {KEY: "API key", "Value #A": "Input tokens", "Value #B": "Output tokens",
                     "Value #C": "Requests"}, sort_by="Requests",
                    units={"Input tokens": COUNT, "Output tokens": COUNT, "Requests": COUNT}),
        table_panel("Web search usage",
                    "Per model, requests that had web search enabled: their tokens, request count and "
                    "web search tool calls.", ["U8"], COUNT,
                    [q(total(TOKENS, f'{WEB_SEARCH}="true"', by=MODEL), ref="A", instant=True, table_format=True),
                     q(total(CALLS, f'{WEB_SEARCH}="true"', by=MODEL), ref="B", instant=True, table_format=True),
                     q(total(WEB_SEARCH_CALLS, by=MODEL), ref="C", instant=True, table_format=True)],
                    {MODEL: "Model", "Value #A": "Tokens", "Value #B": "Requests", "Value #C": "Web search calls"},
                    sort_by="Requests", units={"Tokens": COUNT, "Requests": COUNT, "Web search calls": COUNT}),
    ]
    provider = [
        stat_panel("Primary provider", "The provider that carried the most requests, and its request count.",
                   ["P1"], COUNT, [q(f"topk(1, {total(CALLS, by=PROVIDER)})", f"{{{{{PROVIDER}}}}}",
                                       instant=True)], text_mode=name),
        stat_panel("Provider count", "Number of providers with at least one request in the range.", ["P2"],
                   COUNT, [q(f"count({total(CALLS, by=PROVIDER)} > 0)", "Providers", instant=True)]),
        stat_panel("Average success rate", "Calls without error / all calls.", ["P3"], "percentunit",
                   [q(f'({total(CALLS, SUCCEEDED)} or {total(CALLS)} * 0) / {total(CALLS)}',
                      "Success rate", instant=True)], decimals=2),
        stat_panel("Fastest response provider", "Provider with the lowest average duration of successful calls (ms).", ["P4"],
                   "ms", [q(f"bottomk(1, {_avg_latency_ms(PROVIDER)})", f"{{{{{PROVIDER}}}}}", instant=True)],
                   text_mode=name),
        pie_panel("Token distribution by provider", "Input + output tokens per provider.", ["P5"], COUNT,
                  [q(total(TOKENS, by=PROVIDER), f"{{{{{PROVIDER}}}}}", instant=True)], w=12),
        pie_panel("Request distribution by provider", "Requests per provider.", ["P6"], COUNT,
                  [q(total(CALLS, by=PROVIDER), f"{{{{{PROVIDER}}}}}", instant=True)], w=12),
    ]
    performance = [
        stat_panel("Average latency", "Mean duration of successful calls: sum of durations / number of calls, in ms.", ["R1"],
                   "ms", [q(_avg_latency_ms(), "Latency", instant=True)]),
        stat_panel("Average throughput",
                   "Mean of per-call throughput, output tokens / generation seconds (after the first chunk "
                   "for streams).", ["R2"], TOKENS_PER_SECOND,
                   [q(_avg_throughput(), "Throughput", instant=True)], decimals=1),
        stat_panel("Fastest / slowest model", "Models with the lowest and the highest average latency of successful calls.", ["R3"],
                   "ms", [q(f"bottomk(1, {_avg_latency_ms(MODEL)})", f"fastest: {{{{{MODEL}}}}}", "A", True),
                          q(f"topk(1, {_avg_latency_ms(MODEL)})", f"slowest: {{{{{MODEL}}}}}", "B", True)],
                   text_mode=name),
        stat_panel("Highest / lowest throughput model", "Models with the highest and lowest average throughput.",
                   ["R4"], TOKENS_PER_SECOND,
                   [q(f"topk(1, {_avg_throughput(MODEL)})", f"highest: {{{{{MODEL}}}}}", "A", True),
                    q(f"bottomk(1, {_avg_throughput(MODEL)})", f"lowest: {{{{{MODEL}}}}}", "B", True)],
                   text_mode=name, decimals=1),
        lines_panel("Latency by model",
                    "p50 and p95 duration of successful calls per model (histogram_quantile over "
                    "$__rate_interval). The points are exemplars: hover one to open the trace of a call.",
                    ["R1", "B5"], "s",
                    [q(quantile(0.5, DURATION_BUCKET, MODEL), f"p50 {{{{{MODEL}}}}}", "A", exemplar=True),
                     q(quantile(0.95, DURATION_BUCKET, MODEL), f"p95 {{{{{MODEL}}}}}", "B", exemplar=True)]),
        lines_panel("First token latency by model",
                    "p50 and p95 time to first chunk of streaming calls per model (histogram_quantile over "
                    "$__rate_interval); filter with the Model variable. The points are exemplars: hover one "
                    "to open the trace of a call.", ["R5", "B5"], "s",
                    [q(quantile(0.5, TTFC_BUCKET, MODEL), f"p50 {{{{{MODEL}}}}}", "A", exemplar=True),
                     q(quantile(0.95, TTFC_BUCKET, MODEL), f"p95 {{{{{MODEL}}}}}", "B", exemplar=True)]),
        bargauge_panel("Average first token latency by model", "Mean time to first chunk per model over the range.",
                       ["R5"], "ms",
                       [q(f"{total(TTFC_SUM, SUCCEEDED, by=MODEL)} / {total(TTFC_COUNT, SUCCEEDED, by=MODEL)} * 1000",
                          f"{{{{{MODEL}}}}}", instant=True)], w=12),
        bargauge_panel("Throughput by model", "Mean per-call throughput per model over the range.", ["R6"],
                       TOKENS_PER_SECOND, [q(_avg_throughput(MODEL), f"{{{{{MODEL}}}}}", instant=True)], w=12),
    ]
    d = dashboard(UID, "genai-lens / Usage analytics",
                  "Tokens, requests, providers and performance of LLM calls. Pay-as-you-go only by default.",
                  ["usage"])
    for title, panels in (("Usage", usage), ("Provider", provider), ("Performance", performance)):
        d = d.with_row(row(title))
        for panel in panels:
            d = d.with_panel(panel)
    return d
