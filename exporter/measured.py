"""What the exporter measured, per UTC day: the genai-lens side of the reconciliation (B4).

::

    measured = MeasuredDays(providers=("openai",))
    measured.add(COST, series_key, 0.25, at=1764633600.0)    # the store calls it for every increment
    measured.rows(now, days=7)        # [Row(window, period, provider, model, api_key, figures), ...]

The store feeds it every increment of the series it compares (``FAMILIES``): cost
(``genai_lens_cost_usd``), input and output tokens (the sum of ``gen_ai_client_token_usage``
by ``gen_ai_token_type``), cached input tokens (``genai_lens_usage_cache_read_input_tokens``) and
successful requests (the count of ``gen_ai_client_operation_duration_seconds`` without
``error_type``), keyed by provider, model family (``model_family``: the date suffix of a model
snapshot removed, as the billing side does) and key alias.

The day is the UTC day of the OTLP point's start time (its time if it has none): a delta point
covers the calls of its export interval, and the SDK exports at each UTC midnight, so a point
does not mix two days (but for the calls of the milliseconds between midnight and that export).
The exporter's clock plays no part, so a batch that arrives late still counts on its own day.

``rows`` gives the complete days (today is never complete) of the last ``days`` days as
``window="day"``, and the complete days of the current month summed as ``window="month"``. Days
older than ``keep_days`` are forgotten. Not thread-safe: used under the store's lock; kept in the
state snapshot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["MeasuredDays", "MeasuredRows", "Row", "model_family", "project_of_alias", "FIGURES", "FAMILIES", "COST", "INPUT", "CACHED_INPUT", "OUTPUT",
           "REQUESTS"]

DAY = 86400
FIGURES = ("cost_usd", "input_tokens", "cached_input_tokens", "output_tokens", "requests")
COST, INPUT, CACHED_INPUT, OUTPUT, REQUESTS = range(5)

# The Prometheus families the figures come from.
FAMILIES = {
    "genai_lens_cost_usd": "cost",
    "gen_ai_client_token_usage": "tokens",
    "genai_lens_usage_cache_read_input_tokens": "cached",
    "gen_ai_client_operation_duration_seconds": "requests",
}

_DATE_SUFFIX = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{8})$")


def model_family(model: str) -> str:
    """A model snapshot's family: ``gpt-4o-mini-2024-07-18`` -> ``gpt-4o-mini``; other names unchanged."""
    return _DATE_SUFFIX.sub("", model or "")


@dataclass(frozen=True, slots=True)
class Row:
    window: str          # "day" | "month"
    period: str          # "YYYY-MM-DD" | "YYYY-MM"
    provider: str
    model: str           # the model family
    api_key: str         # the key alias, or ""
    figures: tuple       # cost_usd, input_tokens, cached_input_tokens, output_tokens, requests


class MeasuredDays:
    """Per-day sums of the compared figures; see the module docstring."""

    def __init__(self, providers=("openai",), keep_days: int = 40):
        self.providers = frozenset(providers)
        self.keep_days = keep_days
        self._days: dict[int, dict[tuple[str, str, str], list[float]]] = {}

    def add(self, figure: int, key: tuple, amount: float, at: float) -> None:
        """Count ``amount`` of ``figure`` for the series ``key`` ((label, value) pairs) on the UTC
        day holding ``at`` (epoch seconds)."""
        if amount == 0:
            return
        labels = dict(key)
        provider = labels.get("gen_ai_provider_name", "")
        if provider not in self.providers:
            return
        day = int(at // DAY) * DAY
        cells = self._days.get(day)
        if cells is None:
            if self._days and day < max(self._days) - self.keep_days * DAY:
                return  # older than anything kept: it could never be served
            cells = self._days[day] = {}
            self._prune()
        cell_key = (provider, model_family(labels.get("gen_ai_request_model", "")), labels.get("genai_lens_api_key", ""))
        cell = cells.get(cell_key)
        if cell is None:
            cell = cells[cell_key] = [0.0] * len(FIGURES)
        cell[figure] += amount

    def _prune(self) -> None:
        newest = max(self._days)
        for day in [d for d in self._days if d < newest - self.keep_days * DAY]:
            del self._days[day]

    def rows(self, now: float, days: int) -> list[Row]:
        today = int(now // DAY) * DAY
        month = datetime.fromtimestamp(today, tz=UTC).replace(day=1).timestamp()
        out: list[Row] = []
        month_sums: dict[tuple, list[float]] = {}
        for day in sorted(self._days):
            if day >= today:
                continue  # not complete
            cells = self._days[day]
            if day >= today - days * DAY:
                period = datetime.fromtimestamp(day, tz=UTC).strftime("%Y-%m-%d")
                for (provider, model, key), figures in sorted(cells.items()):
                    out.append(Row("day", period, provider, model, key, tuple(figures)))
            if day >= month:
                for cell_key, figures in cells.items():
                    sums = month_sums.setdefault(cell_key, [0.0] * len(FIGURES))
                    for i, value in enumerate(figures):
                        sums[i] += value
        period = datetime.fromtimestamp(month, tz=UTC).strftime("%Y-%m")
        for (provider, model, key), figures in sorted(month_sums.items()):
            out.append(Row("month", period, provider, model, key, tuple(figures)))
        return out

    def snapshot(self) -> list:
        return [[day, [[list(k), v] for k, v in cells.items()]] for day, cells in sorted(self._days.items())]

    def restore(self, data) -> None:
        """Load a :meth:`snapshot`. Raises ``ValueError`` if malformed."""
        days: dict[int, dict] = {}
        try:
            for day, cells in data or []:
                days[int(day)] = {tuple(str(p) for p in k): [float(v) for v in values] for k, values in cells}
                if any(len(k) != 3 or len(v) != len(FIGURES) for k, v in days[int(day)].items()):
                    raise ValueError("bad cell")
        except (TypeError, ValueError) as error:
            raise ValueError(f"malformed measured-days state: {error}") from error
        self._days = days


def project_of_alias(projects: dict[str, str]) -> dict[str, str]:
    """alias -> project id from ``billing.openai.projects`` (project -> alias), for the aliases that
    exactly one project maps to."""
    found: dict[str, list[str]] = {}
    for project, alias in projects.items():
        found.setdefault(alias, []).append(project)
    return {alias: ids[0] for alias, ids in found.items() if len(ids) == 1}


class MeasuredRows:
    """The ledger's rows as ``exporter.billing.BilledCollector`` serves them (``source="measured"``)::

        BilledCollector(poller, measured=MeasuredRows(store, days=7, projects={"team-search": "proj_abc"}))

    ``projects`` names the OpenAI project of a key alias, when the configuration maps exactly one
    project to it; other rows have ``openai_project=""``."""

    def __init__(self, store, days: int, projects: dict[str, str] | None = None):
        self.store = store
        self.days = days
        self.projects = dict(projects or {})

    def rows(self) -> list[tuple[tuple, tuple]]:
        """``[((window, period, provider, model, api_key, project), figures), ...]``, figures in
        ``FIGURES`` order."""
        store = self.store
        with store.lock:
            rows = store.measured.rows(store.clock(), self.days) if store.measured is not None else []
        return [((r.window, r.period, r.provider, r.model, r.api_key, self.projects.get(r.api_key, "")), r.figures)
                for r in rows]
