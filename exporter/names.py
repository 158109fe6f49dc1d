"""OpenTelemetry to Prometheus name translation.

The standard translation (the OpenTelemetry "Prometheus and OpenMetrics
compatibility" spec, as the OpenTelemetry Collector does it), so dashboards
work the same behind a Collector::

    >>> metric_name("genai_lens.cost", "usd", "counter")
    ('genai_lens_cost_usd', 'usd')
    >>> metric_name("gen_ai.client.operation.duration", "s", "histogram")
    ('gen_ai_client_operation_duration_seconds', 'seconds')
    >>> metric_name("gen_ai.client.token.usage", "{token}", "histogram")
    ('gen_ai_client_token_usage', '')
    >>> label_name("gen_ai.provider.name")
    'gen_ai_provider_name'

``metric_name`` returns the family name *without* ``_total``: counters get
it from ``prometheus_client`` when rendered (``genai_lens_cost_usd_total``).
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["metric_name", "label_name", "unit_suffix"]

# UCUM units as the spec maps them; anything not listed is kept as written.
_UNITS = {
    "d": "days",
    "h": "hours",
    "min": "minutes",
    "s": "seconds",
    "ms": "milliseconds",
    "us": "microseconds",
    "ns": "nanoseconds",
    "By": "bytes",
    "KiBy": "kibibytes",
    "MiBy": "mebibytes",
    "GiBy": "gibibytes",
    "TiBy": "tibibytes",
    "KBy": "kilobytes",
    "MBy": "megabytes",
    "GBy": "gigabytes",
    "TBy": "terabytes",
    "m": "meters",
    "V": "volts",
    "A": "amperes",
    "J": "joules",
    "W": "watts",
    "g": "grams",
    "Cel": "celsius",
    "Hz": "hertz",
    "%": "percent",
}
_PER_UNITS = {"s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week", "mo": "month", "y": "year"}

_INVALID = re.compile(r"[^a-zA-Z0-9_:]")
_INVALID_LABEL = re.compile(r"[^a-zA-Z0-9_]")
_UNDERSCORES = re.compile(r"__+")
_ANNOTATION = re.compile(r"\{[^}]*\}")


def _clean(text: str, pattern: re.Pattern) -> str:
    return _UNDERSCORES.sub("_", pattern.sub("_", text)).strip("_")


@lru_cache(maxsize=1024)
def unit_suffix(unit: str, kind: str = "counter") -> str:
    """The Prometheus unit word for an OpenTelemetry (UCUM) unit, or ``''``.

    ``s`` -> ``seconds``, ``tokens/s`` -> ``tokens_per_second``, ``usd`` ->
    ``usd``; annotations such as ``{token}`` are dropped; ``1`` becomes
    ``ratio`` on gauges only.
    """
    unit = _ANNOTATION.sub("", unit or "").strip()
    if not unit:
        return ""
    if unit == "1":
        return "ratio" if kind == "gauge" else ""
    main, _, per = unit.partition("/")
    words = []
    if main:
        words.append(_UNITS.get(main, main))
    if per:
        words.append("per_" + _PER_UNITS.get(per, per))
    return _clean("_".join(words), _INVALID_LABEL)


@lru_cache(maxsize=4096)
def metric_name(name: str, unit: str, kind: str) -> tuple[str, str]:
    """``(family name, unit word)`` for an OpenTelemetry metric.

    ``kind`` is ``counter``, ``gauge`` or ``histogram``. The unit word is
    appended unless the name already ends with it; ``_total`` is never part
    of the family name (a trailing one is removed, counters get it back when
    rendered).
    """
    base = _clean(name, _INVALID)
    if base and base[0].isdigit():
        base = "_" + base
    suffix = unit_suffix(unit, kind)
    if base.endswith("_total"):
        base = base[: -len("_total")]
    if suffix and not base.endswith("_" + suffix) and base != suffix:
        base = f"{base}_{suffix}"
    return base, suffix


@lru_cache(maxsize=4096)
def label_name(key: str) -> str:
    """The Prometheus label name for an attribute key (dots and other
    invalid characters become ``_``; a leading digit gets ``key_``)."""
    label = _UNDERSCORES.sub("_", _INVALID_LABEL.sub("_", key))
    if label and label[0].isdigit():
        label = "key_" + label
    if label.startswith("_"):  # reserved in Prometheus (``__``) and by the OpenTelemetry spec (``_``)
        label = "key" + label
    return label or "key_"
