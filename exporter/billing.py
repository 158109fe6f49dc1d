"""Measured vs billed: the figures of complete UTC days, and the ``genai_lens_billed_*`` gauges.

::

    from exporter.billing import BilledCollector, Figures, RowKey, Snapshot, model_family

    model_family("gpt-4o-mini-2024-07-18")          # "gpt-4o-mini": the name both sides are compared on
    windows(date(2026, 1, 20), days=7)   # Windows(start=Jan 1, day_start=Jan 13, month_start=Jan 1, end=Jan 20)

    collector = BilledCollector(poller)              # serves poller.snapshot as source="provider"
    collector = BilledCollector(poller, measured=MeasuredRows(store, days=7))   # and source="measured"
    render([collector], accept)                      # exporter.collector.render, as /metrics does

A ``Snapshot`` is immutable: ``rows`` maps ``RowKey(window, period, model, api_key, project)`` to
``Figures(cost_usd, input_tokens, cached_input_tokens, output_tokens, requests)``, with
``window="day"`` rows per complete UTC day of the last ``days`` days (``period="2026-01-19"``) and
``window="month"`` rows summing the complete days of the current month (``period="2026-01"``;
none on the 1st). The OpenAI poller (``exporter.billing_openai``) builds one per complete poll.

``BilledCollector`` serves every source as ``genai_lens_billed_cost_usd``,
``genai_lens_billed_tokens{gen_ai_token_type=input|cached_input|output}`` and
``genai_lens_billed_requests``, gauges labelled ``source, window, period, gen_ai_provider_name,
gen_ai_request_model, genai_lens_api_key, openai_project`` (docs/reconciliation.md; an unmapped
key or project is the empty value), one family per name, the measured rows
(``exporter.measured.MeasuredRows``) beside the provider's. With a poller, also
``genai_lens_exporter_billing_up``, ``..._last_success_timestamp_seconds`` (0 before the first
complete poll) and ``..._errors_total{reason}`` (every reason, from 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from types import MappingProxyType
from typing import Iterable, Mapping, NamedTuple

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

# One model_family for both sides: gpt-4o-mini-2024-07-18 -> gpt-4o-mini, claude-3-5-sonnet-20241022 ->
# claude-3-5-sonnet (a trailing -YYYY-MM-DD or -YYYYMMDD removed); gpt-4-0613 is kept as it is.
from .measured import model_family

__all__ = [
    "model_family", "windows", "day_of", "unix", "Windows", "RowKey", "Figures", "Snapshot", "EMPTY", "build_rows",
    "BilledCollector", "LABELS", "TOKEN_TYPES", "ERROR_REASONS",
]

LABELS = ("source", "window", "period", "gen_ai_provider_name", "gen_ai_request_model", "genai_lens_api_key",
          "openai_project")
TOKEN_TYPES = ("input", "cached_input", "output")
ERROR_REASONS = ("unauthorized", "rate_limited", "server_error", "network", "bad_response")


class Windows(NamedTuple):
    """The days one poll reads: ``[start, end)``; day rows from ``day_start``, month rows from ``month_start``."""

    start: date
    day_start: date
    month_start: date
    end: date  # today, never served


def windows(today: date, days: int) -> Windows:
    """The windows of ``today`` (UTC): the last ``days`` complete days, and the month's complete days."""
    day_start = today - timedelta(days=days)
    month_start = today.replace(day=1)
    return Windows(min(day_start, month_start), day_start, month_start, today)


def day_of(unix_seconds: float) -> date:
    """The UTC date of a unix time."""
    return datetime.fromtimestamp(unix_seconds, timezone.utc).date()


def unix(day: date) -> int:
    """Unix seconds of ``day`` 00:00 UTC."""
    return int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp())


class RowKey(NamedTuple):
    window: str  # "day" or "month"
    period: str  # "YYYY-MM-DD" or "YYYY-MM"
    model: str  # model_family(...)
    api_key: str  # the alias, or ""
    project: str  # the project id, or ""


@dataclass(frozen=True)
class Figures:
    cost_usd: float = 0.0
    input_tokens: int = 0  # cached included
    cached_input_tokens: int = 0
    output_tokens: int = 0
    requests: int = 0


@dataclass(frozen=True)
class Snapshot:
    """The figures of one complete read; ``polled_at``: unix seconds of that read (None: never)."""

    rows: Mapping[RowKey, Figures]
    polled_at: float | None = None
    windows: Windows | None = None


EMPTY = Snapshot(MappingProxyType({}))


def build_rows(cells: Iterable[tuple[date, str, str, str, list[float], int, int, int, int]],
               w: Windows) -> Mapping[RowKey, Figures]:
    """Day and month rows from per-day cells ``(day, model, api key, project, cost parts, input, cached,
    output, requests)``: day rows for days from ``w.day_start``, month rows summing the days from
    ``w.month_start`` (before ``w.end``). Costs are ``math.fsum`` of all the parts, so a month is exact
    whatever the order. Cells for the same key are added."""
    sums: dict[RowKey, list] = {}
    for day, model, api_key, project, costs, n_in, n_cached, n_out, n_req in cells:
        if not w.start <= day < w.end:
            continue
        keys = []
        if day >= w.day_start:
            keys.append(RowKey("day", day.isoformat(), model, api_key, project))
        if day >= w.month_start:
            keys.append(RowKey("month", day.strftime("%Y-%m"), model, api_key, project))
        for key in keys:
            total = sums.setdefault(key, [[], 0, 0, 0, 0])
            total[0].extend(costs)
            total[1] += n_in
            total[2] += n_cached
            total[3] += n_out
            total[4] += n_req
    return MappingProxyType({key: Figures(math.fsum(costs), n_in, n_cached, n_out, n_req)
                             for key, (costs, n_in, n_cached, n_out, n_req) in sorted(sums.items())})


class BilledCollector:
    """A ``prometheus_client`` collector of the ``genai_lens_billed_*`` gauges.

    ``poller``: an ``exporter.billing_openai.OpenAIBillingPoller`` (or None), served as
    ``source="provider"`` with its health series. ``measured``: an ``exporter.measured.MeasuredRows``
    (or None), served as ``source="measured"`` in the same families, so each name is served once
    (a second ``# TYPE`` of a name would fail the scrape).
    """

    provider_name = "openai"

    def __init__(self, poller=None, measured=None):
        self.poller = poller
        self.measured = measured

    def collect(self):
        cost = GaugeMetricFamily("genai_lens_billed_cost_usd", "Cost per complete UTC day and month to date, in USD: "
                                 "as billed (source=provider) and as genai-lens measured (source=measured).",
                                 labels=LABELS, unit="usd")
        tokens = GaugeMetricFamily("genai_lens_billed_tokens", "Tokens per complete UTC day and month to date, by "
                                   "gen_ai_token_type (input, cached_input, output): billed and measured.",
                                   labels=LABELS + ("gen_ai_token_type",))
        requests = GaugeMetricFamily("genai_lens_billed_requests", "Successful model requests per complete UTC day "
                                     "and month to date: billed and measured.", labels=LABELS)
        rows = []
        if self.poller is not None:
            rows += [(("provider", key.window, key.period, self.provider_name, key.model, key.api_key, key.project),
                      (f.cost_usd, f.input_tokens, f.cached_input_tokens, f.output_tokens, f.requests))
                     for key, f in self.poller.snapshot.rows.items()]
        if self.measured is not None:
            rows += [(("measured",) + labels, figures) for labels, figures in self.measured.rows()]
        for labels, (cost_usd, input_tokens, cached_input_tokens, output_tokens, requests_) in rows:
            labels = list(labels)
            cost.add_metric(labels, cost_usd)
            tokens.add_metric(labels + ["input"], input_tokens)
            tokens.add_metric(labels + ["cached_input"], cached_input_tokens)
            tokens.add_metric(labels + ["output"], output_tokens)
            requests.add_metric(labels, requests_)
        yield from (cost, tokens, requests)
        if self.poller is None:
            return
        health = self.poller.health()
        provider = [self.provider_name]
        up = GaugeMetricFamily("genai_lens_exporter_billing_up", "1 when the last poll of the provider's usage "
                               "and cost APIs read every page, else 0.", labels=["provider"])
        up.add_metric(provider, health.up)
        yield up
        success = GaugeMetricFamily("genai_lens_exporter_billing_last_success_timestamp_seconds",
                                    "Unix time of the last poll that read every page (0: none yet).",
                                    labels=["provider"], unit="seconds")
        success.add_metric(provider, health.last_success or 0.0)
        yield success
        errors = CounterMetricFamily("genai_lens_exporter_billing_errors", "Failed requests to the provider's "
                                     "usage and cost APIs, by reason.", labels=["provider", "reason"])
        for reason in ERROR_REASONS:
            errors.add_metric(provider + [reason], health.errors.get(reason, 0))
        yield errors
