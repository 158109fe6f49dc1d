"""Shared pieces of the genai-lens dashboards: the data source, the filters F1-F6, panel helpers.

Every panel helper takes ``covers`` (feature IDs of docs/features.md) and writes
``Covers: <IDs>`` into the panel description, sets a unit, the ``$datasource`` data source
and a "No data in range" empty state.

PromQL conventions (see docs/dashboards.md):
- cards and tables: ``increase(<counter>[$__range])`` as an instant query, summed;
- bars over time: ``increase(<counter>[$granularity] offset -$granularity)`` with the query's min
  step (``interval``) set to ``$granularity``, so each bar is one Hour / Day / Week / Month bucket,
  the bar at t holding the bucket that starts at t. The window looks forward because Grafana 11
  rounds both ends of a range query down to a multiple of the step: a window ending at t would
  never show the current (open) bucket, and would label each bucket with its end.
"""

from grafana_foundation_sdk.builders import bargauge, common as cb, dashboard as db, piechart, prometheus, stat, table, timeseries
from grafana_foundation_sdk.models import common as cm, dashboard as dm, piechart as pcm, prometheus as pm

DATASOURCE_UID = "prometheus"
DS = dm.DataSourceRef(type_val="prometheus", uid="${datasource}")
NO_DATA = "No data in range"
EMPTY_CELL = "–"  # a table cell without a value

# Label names (DESIGN.md).
PROVIDER = "gen_ai_provider_name"
MODEL = "gen_ai_request_model"
OPERATION = "gen_ai_operation_name"
KEY = "genai_lens_api_key"
BILLING = "genai_lens_billing"
COST_TYPE = "genai_lens_cost_type"
COST_SOURCE = "genai_lens_cost_source"  # provider | genai-prices | pricing-file
TOKEN_TYPE = "gen_ai_token_type"
WEB_SEARCH = "genai_lens_web_search"
SUCCEEDED = 'error_type=""'  # calls without error_type succeeded

# Metric names (DESIGN.md).
COST = "genai_lens_cost_usd_total"
TOKENS = "gen_ai_client_token_usage_sum"
CALLS = "gen_ai_client_operation_duration_seconds_count"
DURATION_SUM = "gen_ai_client_operation_duration_seconds_sum"
DURATION_BUCKET = "gen_ai_client_operation_duration_seconds_bucket"
TTFC_BUCKET = "gen_ai_client_operation_time_to_first_chunk_seconds_bucket"
TTFC_SUM = "gen_ai_client_operation_time_to_first_chunk_seconds_sum"
TTFC_COUNT = "gen_ai_client_operation_time_to_first_chunk_seconds_count"
THROUGHPUT_SUM = "genai_lens_throughput_tokens_per_second_sum"
THROUGHPUT_COUNT = "genai_lens_throughput_tokens_per_second_count"
WEB_SEARCH_CALLS = "genai_lens_web_search_calls_total"

# The filters F3-F6 as one label-matcher list.
FILTER = f'{PROVIDER}=~"$provider", {MODEL}=~"$model", {KEY}=~"$api_key", {BILLING}=~"$billing"'

TOKENS_PER_SECOND = "suffix:tokens/s"  # Grafana adds the space: "52.1 tokens/s"
# Counts (requests, tokens, models): Grafana's "locale" unit with no decimals, so 1520 shows as
# "1,520" (not "1.52 K" as with "short") and an increase() extrapolated to 16.2 shows as "16".
COUNT = "locale"


def quantile(q: float, bucket: str, by: str = "") -> str:
    """``histogram_quantile(q, ...)`` of successful calls' ``bucket`` over $__rate_interval, in seconds."""
    return (f"histogram_quantile({q}, sum by (le{', ' + by if by else ''}) "
            f"(rate({sel(bucket, SUCCEEDED)}[$__rate_interval])))")


def sel(metric: str, extra: str = "") -> str:
    """``metric{<filters>[, extra]}``."""
    return f"{metric}{{{FILTER}{', ' + extra if extra else ''}}}"


def inc(metric: str, extra: str = "", window: str = "$__range") -> str:
    """``increase(metric{<filters>}[window])``; a ``$granularity`` window looks forward
    (``offset -$granularity``) so the bar at t is the bucket [t, t + granularity]."""
    shift = f" offset -{window}" if window == "$granularity" else ""
    return f"increase({sel(metric, extra)}[{window}]{shift})"


def total(metric: str, extra: str = "", by: str = "", window: str = "$__range") -> str:
    """``sum [by (...)] (increase(metric{<filters>}[window]))``."""
    group = f" by ({by})" if by else ""
    return f"sum{group} ({inc(metric, extra, window)})"


def describe(text: str, covers: list[str]) -> str:
    return f"{text}\n\nCovers: {', '.join(covers)}"


# ---------------------------------------------------------------- variables

def datasource_variable() -> db.DatasourceVariable:
    """``$datasource``: the Prometheus data source every panel queries (default uid ``prometheus``)."""
    return (db.DatasourceVariable("datasource").label("Data source").type("prometheus")
            .current(dm.VariableOption(text="Prometheus", value=DATASOURCE_UID)))


def variables(model_multi: bool = True) -> list:
    """The $datasource variable and the filters F1, F3-F6."""
    def label_var(name: str, label: str, metric_label: str, covers: str, depends: str = ""):
        return (db.QueryVariable(name).label(label)
                .description(f"Covers: {covers}")
                .datasource(DS)
                .query(f"label_values({CALLS}{depends}, {metric_label})")
                .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
                .sort(dm.VariableSort.ALPHABETICAL_ASC)
                .multi(model_multi if name == "model" else True)
                .include_all(True).all_value(".*")
                .current(dm.VariableOption(text="All", value="$__all")))

    return [
        datasource_variable(),
        db.CustomVariable("granularity").label("Granularity")
        .description("Covers: F1. Bucket size of the bar charts and period tables.")
        .values("Hour : 1h,Day : 1d,Week : 1w,Month : 30d")
        .current(dm.VariableOption(text="Day", value="1d")),
        label_var("api_key", "API key", KEY, "F3"),
        label_var("provider", "Provider", PROVIDER, "F5"),
        label_var("model", "Model", MODEL, "F4, F5", f'{{{PROVIDER}=~"$provider"}}'),
        db.CustomVariable("billing").label("Billing")
        .description("Covers: F6. Pay-as-you-go by default; subscription usage is kept apart.")
        .values("payg,subscription").include_all(True).all_value(".*")
        .current(dm.VariableOption(text="payg", value="payg")),
    ]


def dashboard(uid: str, title: str, description: str, tags: list[str], variables_list: list | None = None,
              time: tuple[str, str] = ("now-7d", "now")) -> db.Dashboard:
    """A dashboard with the shared settings: UTC (F2), last 7 days, the shared variables (unless given).

    Every dashboard reads only the series, whichever path made them: the SDK's metrics or the spans
    of any other instrumentation on /v1/traces (B6, tests/integration/test_any_instrumentation.py)."""
    return (db.Dashboard(title).uid(uid).description(description + "\n\nCovers: F2, B6")
            .tags(["genai-lens", *tags]).timezone("utc").time(*time)
            .refresh("1m").editable().tooltip(dm.DashboardCursorSync.CROSSHAIR)
            .variables(variables() if variables_list is None else variables_list)
            .link(db.DashboardLink("genai-lens").type(dm.DashboardLinkType.DASHBOARDS)
                  .tags(["genai-lens"]).as_dropdown(True).include_vars(True).keep_time(True)))


# ---------------------------------------------------------------- queries

def q(expr: str, legend: str = "__auto", ref: str = "A", instant: bool = False, table_format: bool = False,
      interval: str = "", exemplar: bool = False) -> prometheus.Dataquery:
    """A Prometheus query. ``exemplar``: Grafana also asks Prometheus for the exemplars of the series
    it selects and draws them as points linked to their trace (B5): only where the query's value is
    in the metric's own unit (no ``* 1000``), since Grafana plots an exemplar at its raw value."""
    query = prometheus.Dataquery().expr(expr).ref_id(ref).legend_format(legend).datasource(DS)
    if exemplar:
        query = query.exemplar(True)
    query = query.instant() if instant else query.range()
    if table_format:
        query = query.format(pm.PromQueryFormat.TABLE)
    if interval:
        query = query.interval(interval)
    return query


# ---------------------------------------------------------------- panels

def _common(panel, title: str, text: str, covers: list[str], unit: str, w: int, h: int, count_decimals: bool = True):
    panel = (panel.title(title).description(describe(text, covers)).datasource(DS)
             .unit(unit).no_value(NO_DATA).span(w).height(h))
    return panel.decimals(0) if unit == COUNT and count_decimals else panel


def stat_panel(title: str, text: str, covers: list[str], unit: str, queries: list, w: int = 6, h: int = 4,
               text_mode: cm.BigValueTextMode = cm.BigValueTextMode.VALUE, decimals: int | None = None):
    panel = _common(stat.Panel(), title, text, covers, unit, w, h).targets(queries)
    panel = (panel.text_mode(text_mode).graph_mode(cm.BigValueGraphMode.NONE)
             .color_mode(cm.BigValueColorMode.NONE)
             .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False)))
    return panel.decimals(decimals) if decimals is not None else panel


def bars_panel(title: str, text: str, covers: list[str], unit: str, queries: list, w: int = 12, h: int = 8,
               stacked: bool = True, panel_interval: bool = True):
    """Bars over time, one bar per $granularity bucket.

    The bar queries carry their own min step (``interval="$granularity"``); ``panel_interval`` also
    sets it on the panel, for every query. Off, other queries of the panel (a line over the bars)
    keep Grafana's normal step.
    """
    panel = _common(timeseries.Panel(), title, text, covers, unit, w, h).targets(queries)
    if panel_interval:
        panel = panel.interval("$granularity")
    # The bar at t holds the bucket [t, t + granularity]: drawn after t, not centred on it; from 0
    # (stacked bars otherwise start the axis at the smallest stack).
    panel = (panel.draw_style(cm.GraphDrawStyle.BARS).fill_opacity(80).line_width(1)
             .bar_alignment(cm.BarAlignment.AFTER).axis_soft_min(0)
             .stacking(cb.StackingConfig().mode(cm.StackingMode.NORMAL if stacked else cm.StackingMode.NONE))
             .legend(cb.VizLegendOptions().display_mode(cm.LegendDisplayMode.TABLE)
                     .placement(cm.LegendPlacement.RIGHT).show_legend(True).calcs(["sum"]))
             .tooltip(cb.VizTooltipOptions().mode(cm.TooltipDisplayMode.MULTI).sort(cm.SortOrder.DESCENDING)))
    return panel


def lines_panel(title: str, text: str, covers: list[str], unit: str, queries: list, w: int = 12, h: int = 8):
    return (_common(timeseries.Panel(), title, text, covers, unit, w, h).targets(queries)
            .draw_style(cm.GraphDrawStyle.LINE).line_width(2).fill_opacity(10)
            .legend(cb.VizLegendOptions().display_mode(cm.LegendDisplayMode.TABLE)
                    .placement(cm.LegendPlacement.BOTTOM).show_legend(True).calcs(["mean", "max"])))


def table_panel(title: str, text: str, covers: list[str], unit: str, queries: list, rename: dict[str, str],
                sort_by: str, w: int = 12, h: int = 8, units: dict[str, str] | None = None):
    """An instant table: one query per column, merged on the label columns, renamed, sorted.

    ``unit`` is the default of every column; ``units`` overrides it per (renamed) column, and a
    ``COUNT`` column also gets 0 decimals.

    CSV export: panel menu > Inspect > Data > Download CSV (Grafana's own).
    """
    excluded = {"Time": True}
    panel = (_common(table.Panel(), title, text + " Export: panel menu > Inspect > Data > Download CSV.",
                     covers, unit, w, h, count_decimals=False)
             .targets(queries)
             .with_transformation(dm.DataTransformerConfig(id_val="merge", options={}))
             .with_transformation(dm.DataTransformerConfig(id_val="organize", options={
                 "excludeByName": excluded,
                 "renameByName": rename,
                 "indexByName": {name: i for i, name in enumerate(rename)},
             }))
             # A cell with no value (a model with no output tokens, an unpriced model's cost) shows a
             # dash, not the panel's "No data in range".
             .mappings([dm.SpecialValueMap(dm.DashboardSpecialValueMapOptions(
                 match=dm.SpecialValueMatch.NULL_AND_NAN, result=dm.ValueMappingResult(text=EMPTY_CELL)))])
             .sort_by([cb.TableSortByFieldState().display_name(sort_by).desc(True)])
             .footer(cb.TableFooterOptions().show(False).reducer(["sum"])))
    for field, field_unit in (units or {}).items():
        properties = [dm.DynamicConfigValue(id_val="unit", value=field_unit)]
        if field_unit == COUNT:
            properties.append(dm.DynamicConfigValue(id_val="decimals", value=0))
        panel = panel.override_by_name(field, properties)
    return panel


def pie_panel(title: str, text: str, covers: list[str], unit: str, queries: list, w: int = 8, h: int = 8):
    return (_common(piechart.Panel(), title, text, covers, unit, w, h).targets(queries)
            .pie_type(pcm.PieChartType.DONUT)
            .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
            .legend(piechart.PieChartLegendOptions().display_mode(cm.LegendDisplayMode.TABLE)
                    .placement(cm.LegendPlacement.RIGHT).show_legend(True).values(["value", "percent"])))


def bargauge_panel(title: str, text: str, covers: list[str], unit: str, queries: list, w: int = 8, h: int = 8):
    """Horizontal bars from 0, one colour per series (not the default red-above-80 thresholds, which
    would paint every throughput bar red)."""
    return (_common(bargauge.Panel(), title, text, covers, unit, w, h).targets(queries)
            .orientation(cm.VizOrientation.HORIZONTAL).display_mode(cm.BarGaugeDisplayMode.BASIC)
            .min(0).color_scheme(db.FieldColor().mode(dm.FieldColorModeId.PALETTE_CLASSIC))
            .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False)))


def row(title: str) -> db.Row:
    return db.Row(title)
