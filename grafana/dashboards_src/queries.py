"""Walk generated dashboards for their queries, and substitute Grafana variables like Grafana does.

    for query in iter_queries(dashboard_json):
        expr = substitute(query.expr, {"model": ["gpt-4o", "gpt-4.1"], "provider": ALL, ...},
                          range_s=3600, interval_s=15)

Substitution follows Grafana 11's Prometheus data source:
- ``$__range`` = ``<seconds>s``, ``$__range_s`` = seconds, ``$__range_ms`` = milliseconds;
- ``$__interval`` = the query step (``<seconds>s``), ``$__interval_ms``;
- ``$__rate_interval`` = max(``$__interval`` + scrape interval, 4 x scrape interval);
- a multi-value / include-All variable used in a regex matcher: one value regex-escaped,
  several as ``(a|b)`` each escaped, All as the variable's allValue (``.*`` here);
- ``$name``, ``${name}``, ``${name:raw}`` and ``[[name]]`` for any other variable (granularity, datasource, ...).
"""

import re
from typing import Iterator, NamedTuple

ALL = "$__all"
ALL_VALUE = ".*"
_COVERS = re.compile(r"Covers:\s*([A-Z0-9, ]+)")
_REGEX_SPECIALS = re.compile(r"[$^*{}\[\]'+?.()|]")


class Query(NamedTuple):
    dashboard_uid: str
    panel_title: str
    ref_id: str
    expr: str
    instant: bool
    covers: tuple[str, ...]
    interval: str  # the query's min step ("" or e.g. "$granularity")
    time_from: str  # the panel's relative time override ("" or e.g. "now/M")
    exemplar: bool = False  # Grafana also asks for the exemplars of the series it selects (B5)


def covers(description: str) -> tuple[str, ...]:
    """Feature IDs listed after ``Covers:`` in a description."""
    match = _COVERS.search(description or "")
    return tuple(i.strip() for i in match.group(1).split(",") if i.strip()) if match else ()


def iter_panels(dashboard: dict) -> Iterator[dict]:
    """Every non-row panel, including panels nested in collapsed rows."""
    for panel in dashboard.get("panels", []):
        if panel.get("type") == "row":
            yield from panel.get("panels") or []
        else:
            yield panel


def iter_queries(dashboard: dict) -> Iterator[Query]:
    """Every Prometheus query of every panel of a dashboard."""
    for panel in iter_panels(dashboard):
        for target in panel.get("targets", []):
            yield Query(dashboard["uid"], panel["title"], target["refId"], target["expr"],
                        bool(target.get("instant")), covers(panel.get("description", "")),
                        target.get("interval", ""), panel.get("timeFrom", ""), bool(target.get("exemplar")))


def regex_escape(value: str) -> str:
    """Grafana's prometheusSpecialRegexEscape (the result sits inside a PromQL string)."""
    return _REGEX_SPECIALS.sub(lambda m: "\\\\" + m.group(0), value.replace("\\", "\\\\\\\\"))


def format_value(value, all_value: str = ALL_VALUE) -> str:
    """A variable value as Grafana writes it into a Prometheus query."""
    if value == ALL or value == [ALL]:
        return all_value
    if isinstance(value, (list, tuple)):
        escaped = [regex_escape(v) for v in value]
        return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"
    return str(value)


def _duration(seconds: float) -> str:
    return f"{int(seconds)}s" if seconds >= 1 else f"{int(seconds * 1000)}ms"


def substitute(expr: str, values: dict, *, range_s: int, interval_s: float = 15, scrape_interval_s: float = 15,
               regex_vars: tuple[str, ...] = ("api_key", "model", "provider", "billing", "budget", "period")) -> str:
    """Return ``expr`` with Grafana's built-in and dashboard variables replaced.

    ``values`` maps variable names to a string, a list of strings, or ``ALL``. Names in
    ``regex_vars`` (the multi-select filters) are formatted as regexes; others are raw.
    """
    rate_interval = max(interval_s + scrape_interval_s, 4 * scrape_interval_s)
    builtins = {
        "__range_ms": str(range_s * 1000), "__range_s": str(range_s), "__range": f"{range_s}s",
        "__interval_ms": str(int(interval_s * 1000)), "__interval": _duration(interval_s),
        "__rate_interval": _duration(rate_interval),
    }
    formatted = {name: (format_value(v) if name in regex_vars else format_value(v, all_value=str(v)))
                 for name, v in values.items()}
    formatted.update(builtins)

    def replace(match: re.Match) -> str:
        name = match.group("a") or match.group("b") or match.group("c")
        if name not in formatted:
            raise KeyError(f"no value for variable ${name} in {expr!r}")
        return formatted[name]

    pattern = r"\$\{(?P<a>\w+)(?::raw)?\}|\[\[(?P<b>\w+)\]\]|\$(?P<c>\w+)"
    return re.sub(pattern, replace, expr)
