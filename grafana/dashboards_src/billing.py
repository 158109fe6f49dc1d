"""Measured vs billed (uid ``genai-lens-billing``): feature B4.

The exporter serves, for each complete UTC day of a bounded window (``window="day"``,
``period="YYYY-MM-DD"``) and for the month to date (``window="month"``, ``period="YYYY-MM"``), what
OpenAI billed (``source="provider"``) next to what genai-lens measured over the same window
(``source="measured"``), as gauges (docs/reconciliation.md):
``genai_lens_billed_cost_usd``, ``genai_lens_billed_tokens{gen_ai_token_type}`` and
``genai_lens_billed_requests``.

Every panel is an instant query of those gauges: a gauge's labels name its window, so the dashboard's
time range does not change the figures. Per side:

- measured: ``sum by (...)`` over every replica (each serves what it applied; they add up);
- provider: ``sum by (...) (max without (instance, pod) (...))``: one replica serves it; the ``max``
  keeps it counted once should two replicas ever both poll the provider.

A row present on one side only still shows, the other side as 0 (``A or (B * 0 and on (period)
<the other side serves the period>)``), provided the other side serves something for that period: a
day the provider has not published (or billing not configured), or one genai-lens measured nothing in
(it was not running yet), shows a dash there and in the difference, not "$0" and a -100% drift. The
recording rules of prometheus/rules_src/billing.py count a missing side the same way. The percent is
``(measured - billed) / billed`` over rows with billed > 0: a row billed 0 shows a dash, never Inf or
NaN.
"""

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.models import dashboard as dm

from .common import COUNT, DS, KEY, MODEL, TOKEN_TYPE, dashboard, datasource_variable, q, row, stat_panel, table_panel

UID = "genai-lens-billing"
COST = "genai_lens_billed_cost_usd"
TOKENS = "genai_lens_billed_tokens"
REQUESTS = "genai_lens_billed_requests"
PERIOD = "period"
BY = f"{PERIOD}, {MODEL}, {KEY}"
PICK = f'{MODEL}=~"$model", {KEY}=~"$api_key"'
COVERS = ["B4"]
MONEY_DECIMALS_TABLE = 4
PERCENT_DECIMALS = 2
NOT_MAPPED = "not mapped"  # an API key id with no alias: genai_lens_api_key is empty

INSTANT = ("Instant query of the reconciliation gauges (docs/reconciliation.md): the figures are those of "
           "the window the labels name, whatever the dashboard's time range.")
ONE_SIDED = ("A model or key on one side only shows 0 on the other side, if that side serves anything for the "
             "period; otherwise a dash (a day the provider has not published or billing not configured, a day "
             "before genai-lens ran), and no difference.")


def _selector(metric: str, source: str, window: str, extra: str = "") -> str:
    matchers = [f'source="{source}"', f'window="{window}"']
    if window == "day":
        matchers.append(f'{PERIOD}=~"$period"')
    if extra:
        matchers.append(extra)
    matchers.append(PICK)
    return f"{metric}{{{', '.join(matchers)}}}"


def measured(metric: str, window: str, extra: str = "", by: str = BY) -> str:
    """What genai-lens measured: summed over every exporter replica."""
    group = f" by ({by})" if by else ""
    return f"sum{group} ({_selector(metric, 'measured', window, extra)})"


def provider(metric: str, window: str, extra: str = "", by: str = BY) -> str:
    """What the provider billed: served by one replica (``max without (instance, pod)`` counts it once)."""
    group = f" by ({by})" if by else ""
    return f"sum{group} (max without (instance, pod) ({_selector(metric, 'provider', window, extra)}))"


def covered(metric: str, window: str, source: str, by: str = BY) -> str:
    """``and on (period) <the periods the side serves anything for>`` (the cards: ``on ()``, the window)."""
    selector = f'{metric}{{source="{source}", window="{window}"}}'
    if by:
        return f"and on ({PERIOD}) group by ({PERIOD}) ({selector})"
    return f"and on () group({selector})"


def sides(metric: str, window: str, extra: str = "", by: str = BY) -> tuple[str, str]:
    """(measured, billed), each with the rows only the other side has as 0, in the periods it covers."""
    m, p = measured(metric, window, extra, by), provider(metric, window, extra, by)
    return (f"{m}\nor ({p} * 0 {covered(metric, window, 'measured', by)})",
            f"{p}\nor ({m} * 0 {covered(metric, window, 'provider', by)})")


def difference(metric: str, window: str, extra: str = "", by: str = BY) -> str:
    m, p = sides(metric, window, extra, by)
    return f"(\n{m}\n)\n- (\n{p}\n)"


def percent(metric: str, window: str, extra: str = "", by: str = BY) -> str:
    """(measured - billed) / billed, only where the provider billed more than 0 (no Inf, no NaN)."""
    m, _ = sides(metric, window, extra, by)
    p = provider(metric, window, extra, by)
    return f"((\n{m}\n)\n- {p})\n/ ({p} > 0)"


def comparison(metric: str, window: str, extra: str = "", by: str = BY) -> list[str]:
    """[measured, billed, difference] expressions."""
    m, p = sides(metric, window, extra, by)
    return [m, p, difference(metric, window, extra, by)]


def _refs(n: int) -> list[str]:
    return [chr(ord("A") + i) for i in range(n)]


def variables() -> list:
    def label_var(name: str, label: str, query: str, text: str, sort: dm.VariableSort):
        return (db.QueryVariable(name).label(label).description(f"Covers: B4. {text}")
                .datasource(DS).query(query)
                .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED).sort(sort)
                .multi(True).include_all(True).all_value(".*")
                .current(dm.VariableOption(text="All", value="$__all")))

    return [
        datasource_variable(),
        label_var("period", "Day", f'label_values({COST}{{window="day"}}, {PERIOD})',
                  "The complete UTC days the exporter serves (the per-day tables; not the month to date).",
                  dm.VariableSort.ALPHABETICAL_DESC),
        label_var("model", "Model", f"label_values({COST}, {MODEL})",
                  "Model families on either side.", dm.VariableSort.ALPHABETICAL_ASC),
        label_var("api_key", "API key", f"label_values({COST}, {KEY})",
                  "Key aliases on either side (All includes the keys with no alias).", dm.VariableSort.ALPHABETICAL_ASC),
    ]


def _with_key_mapping(panel):
    """The API key column: an empty alias (a key id not mapped to one) reads "not mapped"."""
    return panel.override_by_name("API key", [dm.DynamicConfigValue(id_val="mappings", value=[
        {"type": "special", "options": {"match": "empty", "result": {"text": NOT_MAPPED}}}])])


def cost_table(window: str, title: str, period_column: str, text: str):
    queries = comparison(COST, window) + [percent(COST, window)]
    refs = _refs(len(queries))
    rename = {PERIOD: period_column, MODEL: "Model", KEY: "API key"}
    rename.update(dict(zip((f"Value #{r}" for r in refs),
                           ("Measured cost", "Billed cost", "Difference", "Difference %"))))
    panel = table_panel(
        title, f"{text} Measured: genai-lens's cost; billed: the provider's Costs API; difference = measured - "
               f"billed; percent = difference / billed (a dash where billed is 0). {ONE_SIDED} {INSTANT}",
        COVERS, "currencyUSD", [q(e, ref=r, instant=True, table_format=True) for e, r in zip(queries, refs)],
        rename, sort_by=period_column, w=24, h=9)
    panel = panel.decimals(MONEY_DECIMALS_TABLE).override_by_name("Difference %", [
        dm.DynamicConfigValue(id_val="unit", value="percentunit"),
        dm.DynamicConfigValue(id_val="decimals", value=PERCENT_DECIMALS)])
    return _with_key_mapping(panel)


TOKEN_KINDS = (  # (column name, metric, extra matcher)
    ("input", TOKENS, f'{TOKEN_TYPE}="input"'),
    ("cached input", TOKENS, f'{TOKEN_TYPE}="cached_input"'),
    ("output", TOKENS, f'{TOKEN_TYPE}="output"'),
    ("requests", REQUESTS, ""),
)


def token_columns() -> list[str]:
    return [name for kind, _, _ in TOKEN_KINDS
            for name in (f"Measured {kind}", f"Billed {kind}", f"{kind[0].upper()}{kind[1:]} difference")]


def tokens_table(window: str, title: str, period_column: str, text: str):
    queries = [e for _, metric, extra in TOKEN_KINDS for e in comparison(metric, window, extra)]
    refs = _refs(len(queries))
    columns = token_columns()
    rename = {PERIOD: period_column, MODEL: "Model", KEY: "API key"}
    rename.update(dict(zip((f"Value #{r}" for r in refs), columns)))
    panel = table_panel(
        title, f"{text} Tokens (input includes cached input) and successful requests: genai-lens's counts next to "
               f"the provider's Usage API, and measured - billed (they should agree exactly). {ONE_SIDED} {INSTANT}",
        COVERS, COUNT, [q(e, ref=r, instant=True, table_format=True) for e, r in zip(queries, refs)],
        rename, sort_by=period_column, w=24, h=9, units={c: COUNT for c in columns})
    return _with_key_mapping(panel)


def cards() -> list:
    m, p = sides(COST, "month", by="")
    text = ("Month to date (the complete UTC days of this month, from the 1st to today 00:00; none on the 1st), "
            f"all models and keys chosen. {INSTANT}")
    money = [("Measured cost, month to date", "genai-lens's cost of the month's complete days.", m),
             ("Billed cost, month to date", "What the provider's Costs API billed for the same days.", p),
             ("Difference, month to date", "Measured - billed: above 0, genai-lens counted more than was billed.",
              difference(COST, "month", by=""))]
    out = [stat_panel(title, f"{what} {text}", COVERS, "currencyUSD", [q(expr, instant=True)], w=6, decimals=2)
           for title, what, expr in money]
    out.append(stat_panel("Difference %, month to date",
                          f"(Measured - billed) / billed; no value while billed is 0. {text}", COVERS, "percentunit",
                          [q(percent(COST, "month", by=""), instant=True)], w=6, decimals=PERCENT_DECIMALS))
    return out


def build():
    d = dashboard(UID, "genai-lens / Measured vs billed",
                  "What genai-lens measured next to what the provider billed (OpenAI's organization Usage and "
                  "Costs APIs, read by the exporter), per complete UTC day and for the month to date, per model and "
                  "key: cost, tokens and requests, their difference and its percent (docs/reconciliation.md). "
                  "Every panel reads gauges whose labels name their window: the time range does not change them.",
                  ["cost", "billing"], variables_list=variables(), time=("now-1d", "now"))
    d = d.with_row(row("Month to date"))
    for card in cards():
        d = d.with_panel(card)
    d = d.with_panel(cost_table("month", "Cost, month to date", "Month",
                                "Per model and key, month to date."))
    d = d.with_panel(tokens_table("month", "Tokens and requests, month to date", "Month",
                                  "Per model and key, month to date."))
    d = d.with_row(row("Per complete UTC day"))
    d = d.with_panel(cost_table("day", "Cost per day", "Day", "Per complete UTC day (the Day variable), model and key, "
                                                               "latest day first."))
    d = d.with_panel(tokens_table("day", "Tokens and requests per day", "Day",
                                  "Per complete UTC day (the Day variable), model and key, latest day first."))
    return d
