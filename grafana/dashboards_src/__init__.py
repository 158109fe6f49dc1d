"""genai-lens Grafana dashboards as code (grafana-foundation-sdk, Grafana 11).

    from grafana.dashboards_src import render_dashboards
    for file_name, dashboard in render_dashboards().items(): ...

``scripts/generate.py`` writes them to ``grafana/dashboards/<file name>``.
"""

import json

from grafana_foundation_sdk.cog.encoder import JSONEncoder

from . import billing, budgets, cost, model, overview, usage

__all__ = ["DASHBOARDS", "render_dashboards", "to_dict"]

DASHBOARDS = {
    "genai-lens-cost.json": cost.build,
    "genai-lens-usage.json": usage.build,
    "genai-lens-overview.json": overview.build,
    "genai-lens-model.json": model.build,
    "genai-lens-budgets.json": budgets.build,
    "genai-lens-billing.json": billing.build,
}


def to_dict(builder) -> dict:
    """Build a dashboard builder into plain JSON data."""
    data = json.loads(json.dumps(builder.build(), cls=JSONEncoder))
    # Fixed panel ids, in layout order, so links and the committed JSON stay stable.
    for panel_id, panel in enumerate(data.get("panels", []), start=1):
        panel["id"] = panel_id
    return data


def render_dashboards() -> dict[str, dict]:
    """Return ``{file name: dashboard JSON data}`` for every dashboard."""
    return {name: to_dict(build()) for name, build in DASHBOARDS.items()}
