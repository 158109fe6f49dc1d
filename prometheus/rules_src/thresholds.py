"""The knobs of the alert rules: one dict, one entry per alert.

Every number an operator may want to change lives here and nowhere else.
``render_rules`` merges a caller's overrides over these defaults, so a Helm
chart can pass only what it exposes, and may pass template strings such as
``"{{ .Values.alerts.spendRateHigh.usdPerHour }}"`` in place of numbers:
values are written into the PromQL with ``str()``.

Per alert:
- ``enabled``: drop the alert from the rendered file when false
- ``severity``: the ``severity`` label
- ``for``: the pending window
- an alert made of several rules (``BudgetBurnRateHigh``: ``fast_*`` and ``slow_*``) has a
  ``severity`` and ``for`` per rule, prefixed with the rule's name
- the alert's own thresholds (documented in docs/rules.md)

``runbook_base`` is the URL prefix of ``docs/runbook.md``; each alert's
``runbook_url`` is ``<runbook_base>#<alert name in lower case>``.
"""

import copy

DEFAULT_THRESHOLDS = {
    "runbook_base": "docs/runbook.md",
    "SpendRateHigh": {
        "enabled": True,
        "severity": "warning",
        "for": "15m",
        "usd_per_hour": 10,
    },
    "SpendSpike": {
        "enabled": True,
        "severity": "warning",
        "for": "30m",
        "factor": 3,
        "min_usd_per_hour": 1,
    },
    "MonthlySpendForecastOverBudget": {
        "enabled": True,
        "severity": "warning",
        "for": "1h",
        "budget_usd": 1000,
    },
    "ProviderErrorRatioHigh": {
        "enabled": True,
        "severity": "critical",
        "for": "10m",
        "ratio": 0.05,
    },
    "TimeToFirstChunkSlow": {
        "enabled": True,
        "severity": "warning",
        "for": "15m",
        "p95_seconds": 5,
    },
    "UnpricedModelSeen": {
        "enabled": True,
        "severity": "info",
        "for": "5m",
    },
    "ExporterDown": {
        "enabled": True,
        "severity": "critical",
        "for": "5m",
        "job": "genai-lens",
    },
    "ExporterSeriesOverflow": {
        "enabled": True,
        "severity": "warning",
        "for": "5m",
    },
    # Per budget (docs/budgets.md). Burn rate = spend rate / the rate that uses the budget exactly
    # over its period. Two rules, each requiring both of its windows: a fast pair that pages (14.4x
    # over 1h spends 2% of a 30-day budget) and a slow pair that warns (6x over 6h spends 5%).
    "BudgetBurnRateHigh": {
        "enabled": True,
        "fast_severity": "critical",
        "fast_for": "2m",
        "fast_burn_rate": 14.4,
        "fast_long_window": "1h",
        "fast_short_window": "5m",
        "slow_severity": "warning",
        "slow_for": "15m",
        "slow_burn_rate": 6,
        "slow_long_window": "6h",
        "slow_short_window": "30m",
    },
    "BudgetForecastExceeded": {
        "enabled": True,
        "severity": "warning",
        "for": "1h",
    },
    "BudgetWarning": {
        "enabled": True,
        "severity": "warning",
        "for": "5m",
    },
    "BudgetExhausted": {
        "enabled": True,
        "severity": "critical",
        "for": "2m",
    },
    # Measured vs billed (docs/reconciliation.md), for each complete day: the day's total and each
    # model's. Fires when measured - billed exceeds both ``percent`` of the billed cost and
    # ``min_usd`` (so cents on a quiet day do not page); ``for`` lets the provider's figures for
    # yesterday settle.
    "CostEstimateDrift": {
        "enabled": True,
        "severity": "warning",
        "for": "1h",
        "percent": 5,
        "min_usd": 1,
    },
}


def merge_thresholds(overrides: dict | None) -> dict:
    """Return DEFAULT_THRESHOLDS with ``overrides`` merged in (one level deep).

    >>> merge_thresholds({"SpendRateHigh": {"usd_per_hour": 50}})["SpendRateHigh"]["for"]
    '15m'
    """
    merged = copy.deepcopy(DEFAULT_THRESHOLDS)
    for key, value in (overrides or {}).items():
        if key not in merged:
            raise KeyError(f"unknown threshold key {key!r}; known: {sorted(merged)}")
        if isinstance(merged[key], dict):
            unknown = set(value) - set(merged[key])
            if unknown:
                raise KeyError(f"unknown knobs for {key}: {sorted(unknown)}")
            merged[key].update(value)
        else:
            merged[key] = value
    return merged
