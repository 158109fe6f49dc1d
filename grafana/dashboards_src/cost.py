"""Cost analytics (uid ``genai-lens-cost``): seeds 000 and 001, features C1-C12."""

from grafana_foundation_sdk.models import dashboard as dm

from .common import (COUNT, CALLS, COST, COST_SOURCE, COST_TYPE, KEY, MODEL, OPERATION, PROVIDER, TOKEN_TYPE, TOKENS, bars_panel,
                     dashboard, pie_panel, q, row, stat_panel, table_panel, total)

UID = "genai-lens-cost"
MODEL_UID = "genai-lens-model"

# The C7 click-through: the model under the cursor becomes the detail view's $model.
MODEL_LINK = (f"/d/{MODEL_UID}/genai-lens-model-detail?var-model=${{__field.labels.{MODEL}}}"
              "&${datasource:queryparam}&${api_key:queryparam}&${provider:queryparam}"
              "&${billing:queryparam}&${granularity:queryparam}&${__url_time_range}")


def _cost_type(kind: str) -> str:
    return total(COST, f'{COST_TYPE}="{kind}"')


def build():
    cards = [
        stat_panel("Total cost", "Spend in the time range: input + output + other, USD.", ["C1"], "currencyUSD",
                   [q(total(COST), "Total", instant=True)], w=4, decimals=2),
        stat_panel("Input cost", "Cost of input (prompt) tokens, including cached input.", ["C2"], "currencyUSD",
                   [q(_cost_type("input"), "Input", instant=True)], w=4, decimals=2),
        stat_panel("Output cost", "Cost of output tokens, including reasoning tokens.", ["C3"], "currencyUSD",
                   [q(_cost_type("output"), "Output", instant=True)], w=4, decimals=2),
        stat_panel("Other cost", "Non-token costs: web search calls, per-request fees, images.", ["C4"],
                   "currencyUSD", [q(_cost_type("other"), "Other", instant=True)], w=4, decimals=2),
        stat_panel("Average cost per request", "Total cost / number of calls (failed calls included).", ["C5"],
                   "currencyUSD", [q(f"{total(COST)} / {total(CALLS)}", "Per request", instant=True)], w=4,
                   decimals=6),
        stat_panel("Average cost per 1M tokens", "Total cost / (input + output tokens) x 1,000,000.", ["C6"],
                   "currencyUSD", [q(f"{total(COST)} / {total(TOKENS)} * 1e6", "Per 1M tokens", instant=True)],
                   w=4, decimals=4),
    ]
    by_model = bars_panel(
        "Total cost by model",
        "Spend per model per $granularity bucket; compare models side by side. "
        "Click a bar to open that model's detail view. The points are exemplars: one call's cost, "
        "linked to its trace.",
        ["C7", "F1", "B5"], "currencyUSD",
        [q(total(COST, by=MODEL, window="$granularity"), f"{{{{{MODEL}}}}}", interval="$granularity",
           exemplar=True)],
        w=16, h=9,
    )
    by_model = by_model.with_override(
        dm.MatcherConfig(id_val="byFrameRefID", options="A"),
        [dm.DynamicConfigValue(id_val="links", value=[
            {"title": "Open ${__field.labels.gen_ai_request_model} details", "url": MODEL_LINK}])],
    )
    by_type = pie_panel("Cost breakdown by type", "Share of spend by cost type: input, output, other.", ["C8"],
                        "currencyUSD", [q(total(COST, by=COST_TYPE), f"{{{{{COST_TYPE}}}}}", instant=True)])
    by_type_time = bars_panel("Cost by type over time", "Input, output and other cost per $granularity bucket.",
                              ["C8", "F1"], "currencyUSD",
                              [q(total(COST, by=COST_TYPE, window="$granularity"), f"{{{{{COST_TYPE}}}}}",
                                 interval="$granularity")])
    by_operation = pie_panel("Cost by operation", "Spend by operation: chat, embeddings, generate_content, ...",
                             ["C9"], "currencyUSD",
                             [q(total(COST, by=OPERATION), f"{{{{{OPERATION}}}}}", instant=True)])
    by_provider_pie = pie_panel("Cost by provider share", "Share of spend by provider.", ["C9"], "currencyUSD",
                                [q(total(COST, by=PROVIDER), f"{{{{{PROVIDER}}}}}", instant=True)])
    by_key = table_panel(
        "Cost by API key", "Total cost and number of calls per API key (alias or redacted key).",
        ["C10", "U7"], COUNT,
        [q(total(COST, by=KEY), ref="A", instant=True, table_format=True),
         q(total(CALLS, by=KEY), ref="B", instant=True, table_format=True)],
        {KEY: "API key", "Value #A": "Total cost", "Value #B": "Requests"}, sort_by="Total cost",
        units={"Total cost": "currencyUSD", "Requests": COUNT})
    by_provider = table_panel(
        "Cost by provider", "Total spend and calls per provider; click a column header to sort.",
        ["C11", "C9"], COUNT,
        [q(total(COST, by=PROVIDER), ref="A", instant=True, table_format=True),
         q(total(CALLS, by=PROVIDER), ref="B", instant=True, table_format=True)],
        {PROVIDER: "Provider", "Value #A": "Total cost", "Value #B": "Requests"}, sort_by="Total cost",
        units={"Total cost": "currencyUSD", "Requests": COUNT})
    pm = f"{PROVIDER}, {MODEL}"
    details = table_panel(
        "Provider details",
        "Per model under each provider: calls, input and output tokens, cost per call, total cost.",
        ["C12"], COUNT,
        [q(total(CALLS, by=pm), ref="A", instant=True, table_format=True),
         q(total(TOKENS, f'{TOKEN_TYPE}="input"', by=pm), ref="B", instant=True, table_format=True),
         q(total(TOKENS, f'{TOKEN_TYPE}="output"', by=pm), ref="C", instant=True, table_format=True),
         q(f"{total(COST, by=pm)} / {total(CALLS, by=pm)}", ref="D", instant=True, table_format=True),
         q(total(COST, by=pm), ref="E", instant=True, table_format=True)],
        {PROVIDER: "Provider", MODEL: "Model", "Value #A": "Calls", "Value #B": "Input tokens",
         "Value #C": "Output tokens", "Value #D": "Cost per call", "Value #E": "Total cost"},
        sort_by="Total cost", w=24, units={"Calls": COUNT, "Input tokens": COUNT, "Output tokens": COUNT, "Cost per call": "currencyUSD",
               "Total cost": "currencyUSD"})

    # B3: what priced the spend. Only the provider's own figure is a bill; the rest is an estimate
    # from token counts and a price list.
    _by_provider = total(COST, f'{COST_SOURCE}="provider"')
    by_source = pie_panel(
        "Cost by source",
        "Share of spend by what priced it: the provider's own reported cost (provider), genai-prices' price "
        "data (genai-prices), or a pricing file (pricing-file: yours, or the shipped file of prices "
        "genai-prices lacks).", ["B3"], "currencyUSD",
        [q(total(COST, by=COST_SOURCE), f"{{{{{COST_SOURCE}}}}}", instant=True)])
    estimated = stat_panel(
        "Estimated share of spend",
        "The part of the total cost that genai-lens estimated from token counts and prices, rather than "
        "read from the provider's own reported cost.", ["B3"], "percentunit",
        [q(f"({total(COST)} - ({_by_provider} or vector(0))) / {total(COST)}", "Estimated", instant=True)],
        w=4, h=8, decimals=1)
    by_source_time = bars_panel(
        "Cost by source over time", "Spend per $granularity bucket by what priced it.", ["B3", "F1"],
        "currencyUSD",
        [q(total(COST, by=COST_SOURCE, window="$granularity"), f"{{{{{COST_SOURCE}}}}}", interval="$granularity")])

    d = dashboard(UID, "genai-lens / Cost analytics",
                  "What LLM calls cost, by model, type, operation, provider and API key. "
                  "Pay-as-you-go only by default (Billing filter).", ["cost"])
    d = d.with_row(row("Cost overview"))
    for panel in cards:
        d = d.with_panel(panel)
    d = d.with_panel(by_model).with_panel(by_type.span(8).height(9))
    d = d.with_row(row("Cost breakdowns"))
    for panel in (by_type_time, by_key, by_operation, by_provider_pie):
        d = d.with_panel(panel)
    d = d.with_row(row("Provider cost"))
    d = d.with_panel(by_provider.span(24)).with_panel(details)
    d = d.with_row(row("What priced the spend"))
    d = d.with_panel(by_source).with_panel(estimated).with_panel(by_source_time)
    return d
