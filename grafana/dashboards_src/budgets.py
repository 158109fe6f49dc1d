"""Budgets (uid ``genai-lens-budgets``): features B1 and B2.

Each budget configured in the exporter (docs/budgets.md) is served as ``genai_lens_budget_usd`` and
``genai_lens_budget_spent_usd``; the panels read those and the budget recording rules, summed over
exporter replicas. A budget's own ``match`` decides what it counts, so this dashboard has no
provider, model or key filters: only ``$budget``.
"""

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.models import dashboard as dm

from .common import DS, bargauge_panel, dashboard, datasource_variable, lines_panel, q, row, table_panel

UID = "genai-lens-budgets"
BUDGET = "genai_lens_budget"
PERIOD = "period"
BY = f"{BUDGET}, {PERIOD}"
PICK = f'{BUDGET}=~"$budget"'
DAYS = "suffix:days"
TIMES = "suffix:x"  # a burn rate: 2.5 x the even pace


def _budget(metric: str) -> str:
    return f"{metric}{{{PICK}}}"


def _recorded(record: str) -> str:
    """A budget recording rule's series without its ``__name__`` (a table would show it as a column)."""
    return f"max by ({BY}) ({_budget(record)})"


AMOUNT = f"max by ({BY}) ({_budget('genai_lens_budget_usd')})"
SPENT = f"sum by ({BY}) ({_budget('genai_lens_budget_spent_usd')})"
RATE_1D = _budget("budget:genai_lens_budget_spent_usd:rate1d")


def variables() -> list:
    return [
        datasource_variable(),
        db.QueryVariable("budget").label("Budget")
        .description("Covers: B1. The budgets the exporter serves (its budgets setting).")
        .datasource(DS).query(f"label_values(genai_lens_budget_usd, {BUDGET})")
        .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED).sort(dm.VariableSort.ALPHABETICAL_ASC)
        .multi(True).include_all(True).all_value(".*")
        .current(dm.VariableOption(text="All", value="$__all")),
    ]


def build():
    overview = table_panel(
        "Budgets",
        "Per budget, in its current calendar period (UTC): the amount, spend so far, the share used, the "
        "forecast at the end of the period (spent + the last day's spend rate x the time left), the days "
        "the rest lasts at that rate (a dash: nothing spent in the last day), and the burn rate over the "
        "last hour (1 x = the even pace that spends exactly the amount).", ["B1"], "currencyUSD",
        [q(AMOUNT, ref="A", instant=True, table_format=True),
         q(SPENT, ref="B", instant=True, table_format=True),
         q(_recorded("budget:genai_lens_budget_spent:ratio"), ref="C", instant=True, table_format=True),
         q(_recorded("budget:genai_lens_budget_spent_usd:forecast_rate1d"), ref="D", instant=True, table_format=True),
         q(f"clamp_min({AMOUNT} - on ({BY}) {SPENT}, 0) / on ({BY}) ({RATE_1D} > 0) / 86400", ref="E",
           instant=True, table_format=True),
         q(_recorded("budget:genai_lens_budget_burn:rate1h"), ref="F", instant=True, table_format=True)],
        {BUDGET: "Budget", PERIOD: "Period", "Value #A": "Amount", "Value #B": "Spent", "Value #C": "Used",
         "Value #D": "Forecast at period end", "Value #E": "Days left at this rate", "Value #F": "Burn rate (1h)"},
        sort_by="Used", w=24, h=7,
        units={"Used": "percentunit", "Days left at this rate": DAYS, "Burn rate (1h)": TIMES})
    # Money on automatic decimals, as in every table (2 decimals would show $1.00K; docs/dashboards.md).
    for column in ("Days left at this rate", "Burn rate (1h)"):
        overview = overview.override_by_name(column, [dm.DynamicConfigValue(id_val="decimals", value=1)])
    used = bargauge_panel(
        "Share of budget used", "Spend so far in the period / the amount, per budget.", ["B1"], "percentunit",
        [q(_budget("budget:genai_lens_budget_spent:ratio"), f"{{{{{BUDGET}}}}}", instant=True)], w=8, h=9)
    burn_down = lines_panel(
        "Budget burn-down",
        "What is left of each budget (amount - spent) against the ideal line, the even pace that spends "
        "exactly the amount by the end of the period (amount x the share of the period left). Above the "
        "line is ahead of plan. Pick This month in the time picker for a whole month.", ["B1"],
        "currencyUSD",
        [q(f"{AMOUNT} - on ({BY}) {SPENT}", f"{{{{{BUDGET}}}}}", "A"),
         q(f"{_budget('budget:genai_lens_budget_usd:ideal_rate')}\n* on ({BY})\n"
           f"{_budget('budget:genai_lens_budget_period:seconds_left')}", f"{{{{{BUDGET}}}}} ideal", "B")],
        w=16, h=9)
    burn_down = burn_down.with_override(
        dm.MatcherConfig(id_val="byFrameRefID", options="B"),
        [dm.DynamicConfigValue(id_val="custom.lineStyle", value={"fill": "dash", "dash": [10, 10]}),
         dm.DynamicConfigValue(id_val="custom.fillOpacity", value=0)])
    burn = lines_panel(
        "Burn rate",
        "Spend rate over the window / the even pace of the budget: 1 x spends exactly the amount over the "
        "period. BudgetBurnRateHigh pages at 14.4 x over 1h and 5m, and warns at 6 x over 6h and 30m "
        "(the defaults; docs/budgets.md).", ["B1", "B2"], TIMES,
        [q(_budget("budget:genai_lens_budget_burn:rate1h"), f"{{{{{BUDGET}}}}} 1h", "A"),
         q(_budget("budget:genai_lens_budget_burn:rate6h"), f"{{{{{BUDGET}}}}} 6h", "B")])
    burn = burn.decimals(1)
    alerts = table_panel(
        "Firing budget alerts",
        "Budget alerts firing now, per budget: BudgetBurnRateHigh, BudgetForecastExceeded, BudgetWarning (one "
        "per warning fraction reached) and BudgetExhausted. Alertmanager groups their notifications by "
        "budget and holds a budget's warnings back while a critical alert fires for it "
        "(prometheus/alertmanager.yml).", ["B2"], "locale",
        [q(f'count by ({BUDGET}, alertname, severity) (ALERTS{{alertstate="firing", {PICK}, {BUDGET}!=""}})', ref="A",
           instant=True, table_format=True)],
        {BUDGET: "Budget", "alertname": "Alert", "severity": "Severity", "Value": "Firing"}, sort_by="Budget",
        w=12, units={"Firing": "locale"})

    d = dashboard(UID, "genai-lens / Budgets",
                  "Spend against each budget the exporter counts (its budgets setting): how much is used, when "
                  "it runs out at the current pace, and the budget alerts. Default range: this month.",
                  ["cost", "budgets"], variables_list=variables(), time=("now/M", "now"))
    d = d.with_row(row("This period"))
    d = d.with_panel(overview).with_panel(used).with_panel(burn_down)
    d = d.with_row(row("Burn rate and alerts"))
    d = d.with_panel(burn).with_panel(alerts)
    return d
