"""LLM cost metrics overview (uid ``genai-lens-overview``): seed 004, features V1-V9."""

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.models import common as cm, dashboard as dm

from .common import (COUNT, COST, MODEL, TOKENS, bargauge_panel, bars_panel, dashboard, lines_panel, pie_panel, q, row,
                     sel, stat_panel, table_panel, total)

UID = "genai-lens-overview"

# Spend from the start of the time range to each point: the counter's latest value in the step
# after the point (looking forward, like the bars, so the last point includes the latest sample)
# minus the counter at the query's start (@ start(): the range start aligned down to the line's
# own step, not to $granularity, so the line is drawn across the whole range even when the range
# is shorter than one bucket, and its last point is the Total cost card's spend, unextrapolated).
# At each bucket end it is the sum of the bars so far (exactly when the range starts on a bucket
# boundary). A series born inside the range started at 0 (the exporter serves new series at 0
# first), so it counts in full; an exporter restart without its state file breaks the line.
CUMULATIVE = (f"(sum(last_over_time({sel(COST)}[$__interval] offset -$__interval)) or vector(0))"
              f" - (sum({sel(COST)} @ start()) or vector(0))")

# Seconds from now to the end of the current UTC month.
TO_MONTH_END = "(scalar(days_in_month() - day_of_month()) + 1) * 86400 - time() % 86400"


def build():
    name = cm.BigValueTextMode.VALUE_AND_NAME
    share = f"{total(COST, by=MODEL)} / scalar({total(COST)})"
    cards = [
        stat_panel("Total cost", "Spend on all models in the time range, USD.", ["V1"], "currencyUSD",
                   [q(total(COST), "Total cost", instant=True)], decimals=2),
        stat_panel("Total tokens", "Input + output tokens of all calls.", ["V2"], COUNT,
                   [q(total(TOKENS), "Total tokens", instant=True)]),
        stat_panel("Avg cost / 1M tokens", "Total cost / total tokens x 1,000,000.", ["V3"], "currencyUSD",
                   [q(f"{total(COST)} / {total(TOKENS)} * 1e6", "Per 1M tokens", instant=True)], decimals=4),
        stat_panel("Top model", "The model with the largest spend, its spend and its share of all spend.", ["V4"],
                   "currencyUSD",
                   [q(f"topk(1, {total(COST, by=MODEL)})", f"{{{{{MODEL}}}}}", "A", True),
                    q(f"topk(1, {share})", "share", "B", True)], text_mode=name)
        .override_by_query("B", [dm.DynamicConfigValue(id_val="unit", value="percentunit")]),
    ]
    chart = bars_panel(
        "Model costs",
        "Bars: spend per model per $granularity bucket. Line: cumulative spend since the start of the time "
        "range (counter at each point - counter at the range start); it ends at the Total cost.",
        ["V5", "F1"], "currencyUSD",
        [q(total(COST, by=MODEL, window="$granularity"), f"{{{{{MODEL}}}}}", "A", interval="$granularity"),
         q(CUMULATIVE, "Cumulative total", "B")], w=24, h=10, panel_interval=False)
    chart = chart.override_by_query("B", [
        dm.DynamicConfigValue(id_val="custom.drawStyle", value="line"),
        dm.DynamicConfigValue(id_val="custom.fillOpacity", value=0),
        dm.DynamicConfigValue(id_val="custom.lineWidth", value=2),
        dm.DynamicConfigValue(id_val="custom.stacking", value={"group": "B", "mode": "none"}),
        dm.DynamicConfigValue(id_val="custom.axisPlacement", value="right"),
        dm.DynamicConfigValue(id_val="color", value={"mode": "fixed", "fixedColor": "gray"}),
        # Off the legend: its "Total" column would add up the running total's points. The tooltip
        # shows the line's value at a point; the bars' totals in the legend add up to its end.
        dm.DynamicConfigValue(id_val="custom.hideFrom", value={"legend": True, "tooltip": False, "viz": False}),
    ])
    summary = [
        stat_panel("Cost details: total cost", "Absolute spend in the range.", ["V6"], "currencyUSD",
                   [q(total(COST), "Total cost", instant=True)], w=4, decimals=2),
        stat_panel("Cost details: total tokens", "Absolute tokens processed.", ["V6"], COUNT,
                   [q(total(TOKENS), "Total tokens", instant=True)], w=4),
        stat_panel("Cost details: cost per token", "Total cost / total tokens, USD per token.", ["V6"],
                   "currencyUSD", [q(f"{total(COST)} / {total(TOKENS)}", "Per token", instant=True)], w=4,
                   decimals=8),
        stat_panel("Cost details: models", "Number of models with spend in the range.", ["V6"], COUNT,
                   [q(f"count({total(COST, by=MODEL)} > 0)", "Models", instant=True)], w=4),
        bargauge_panel("Cost details: share of spend per model", "Each model's share of total spend.", ["V6"],
                       "percentunit", [q(share, f"{{{{{MODEL}}}}}", instant=True)]),
    ]
    distribution = [
        table_panel("Model distribution", "Model, share of spend and amount spent.", ["V7"], COUNT,
                    [q(share, ref="A", instant=True, table_format=True),
                     q(total(COST, by=MODEL), ref="B", instant=True, table_format=True)],
                    {MODEL: "Model", "Value #A": "Share of spend", "Value #B": "Spend"}, sort_by="Spend",
                    units={"Share of spend": "percentunit", "Spend": "currencyUSD"}),
        pie_panel("Model distribution chart", "Share of spend per model.", ["V7"], "currencyUSD",
                  [q(total(COST, by=MODEL), f"{{{{{MODEL}}}}}", instant=True)], w=12),
    ]
    rate = f"sum(rate({sel(COST)}[1h])) * 3600"
    alerts = [
        lines_panel("Spend rate vs yesterday and last week",
                    "Spend rate over the last hour (USD/hour) against the same hour one day and one week "
                    "before; the SpendRateHigh and SpendSpike alerts watch these (docs/runbook.md).",
                    ["V8"], "currencyUSD",
                    [q(rate, "now", "A"),
                     q(f"sum(rate({sel(COST)}[1h] offset 1d)) * 3600", "1 day before", "B"),
                     q(f"sum(rate({sel(COST)}[1h] offset 1w)) * 3600", "1 week before", "C")]),
        stat_panel("Budget forecast (this month)",
                   "Month to date: spend since the start of the UTC month (panel time: now/M). Forecast: month "
                   "to date + the last 24 hours' spend rate x the time left in the month. Budget: the "
                   "$budget_usd variable (the MonthlySpendForecastOverBudget alert has its own knob).",
                   ["V9"], "currencyUSD",
                   [q(total(COST), "Month to date", "A", True),
                    q(f"{total(COST)} + sum(rate({sel(COST)}[1d])) * ({TO_MONTH_END})", "Forecast", "B", True),
                    q("vector($budget_usd)", "Budget", "C", True)], w=12, h=8, text_mode=name)
        .time_from("now/M").hide_time_override(False),
    ]
    d = dashboard(UID, "genai-lens / LLM cost metrics",
                  "A summary of AI spending: cards, model costs over time, cost details and model "
                  "distribution, spend alerts and budget forecast.", ["cost", "overview"])
    d = d.with_variable(db.TextBoxVariable("budget_usd").label("Monthly budget (USD)")
                        .description("Covers: V9. Budget line of the forecast panel.").default_value("1000")
                        .current(dm.VariableOption(text="1000", value="1000")))
    d = d.with_row(row("Overview"))
    for panel in cards:
        d = d.with_panel(panel)
    d = d.with_panel(chart)
    d = d.with_row(row("Cost details"))
    for panel in summary + distribution:
        d = d.with_panel(panel)
    d = d.with_row(row("Spending alerts and budget"))
    for panel in alerts:
        d = d.with_panel(panel)
    return d
