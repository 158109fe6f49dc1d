"""Rendering the store for ``GET /metrics`` with ``prometheus_client``.

::

    body, content_type = render([StoreCollector(store), registry], request.headers.get("accept"))

``StoreCollector`` yields one ``prometheus_client`` metric family per store
family (HELP from the OpenTelemetry description, TYPE, UNIT in OpenMetrics)
plus the exporter's own ``genai_lens_exporter_*`` gauges and counters derived
from the store. ``render`` picks the text format or OpenMetrics from the
scraper's ``Accept`` header with ``prometheus_client``'s own encoders.
Exemplars (``trace_id``, ``span_id``, value, time) appear on counter and
histogram bucket samples in OpenMetrics only: the text format has no place for
them. ``_created`` samples (when the series was first seen) appear only in
OpenMetrics and only when ``created_timestamps`` is on: Prometheus 2.x stores
them as separate ``*_created`` series; newer ones can use them as created
timestamps.
"""

from __future__ import annotations

import contextvars

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.samples import Exemplar, Sample, Timestamp
from prometheus_client.utils import floatToGoString

from .store import Store

__all__ = ["StoreCollector", "CommitterCollector", "render"]

# Whether the render in progress is OpenMetrics (set by ``render``).
_openmetrics = contextvars.ContextVar("genai_lens_openmetrics", default=False)
# Where the render in progress lists the held series it serves at zero (``render(held=...)``).
_held = contextvars.ContextVar("genai_lens_held", default=None)


class CommitterCollector:
    """The committer's own figures: requests applied and repeated, durable commits and fsyncs,
    log records replayed at start, the log's size."""

    def __init__(self, committer):
        self.committer = committer

    def collect(self):
        c = self.committer
        yield CounterMetricFamily("genai_lens_exporter_requests_applied", "OTLP requests applied to the series.",
                                  value=c.applied)
        yield CounterMetricFamily("genai_lens_exporter_requests_duplicate",
                                  "Requests whose Idempotency-Key was already applied: answered, not applied again.",
                                  value=c.duplicates)
        yield GaugeMetricFamily("genai_lens_exporter_idempotency_keys", "Idempotency-Key values remembered.",
                                value=len(c.keys))
        if c.wal is not None:
            yield CounterMetricFamily("genai_lens_exporter_wal_commits",
                                      "Groups of requests made durable together (one fsync each).", value=c.commits)
            yield CounterMetricFamily("genai_lens_exporter_wal_fsyncs", "fsync calls on the write-ahead log.",
                                      value=c.wal.fsyncs)
            yield GaugeMetricFamily("genai_lens_exporter_wal_bytes", "Size of the write-ahead log.", value=c.wal.size)
            yield GaugeMetricFamily("genai_lens_exporter_wal_replayed_records",
                                    "Write-ahead log records applied at start.", value=c.replayed)


class StoreCollector:
    """A ``prometheus_client`` collector serving a :class:`~exporter.store.Store`."""

    def __init__(self, store: Store, *, created_timestamps: bool = False):
        self.store = store
        self.created_timestamps = created_timestamps

    def collect(self):
        openmetrics = _openmetrics.get()
        created = self.created_timestamps and openmetrics
        store = self.store
        families = []
        held = _held.get()
        with store.lock:
            for family in store.families_by_name.values():
                families.append(self._family(family, created, openmetrics and store.exemplars, held))
            series_gauge = GaugeMetricFamily(
                "genai_lens_exporter_series", "Series held, per metric (the overflow series included).", labels=["metric"]
            )
            overflow = CounterMetricFamily(
                "genai_lens_exporter_series_overflow",
                "Data points folded into an overflow series because the metric reached the series limit.",
                labels=["metric"],
            )
            for family in store.families_by_name.values():
                series_gauge.add_metric([family.name], len(family.series) + (family.overflow is not None))
                overflow.add_metric([family.name], family.overflowed)
            received = CounterMetricFamily("genai_lens_exporter_points_received", "OTLP data points received.")
            received.add_metric([], store.points_received)
            rejected = CounterMetricFamily(
                "genai_lens_exporter_points_rejected", "OTLP data points rejected, by reason.", labels=["reason"]
            )
            for reason, count in sorted(store.points_rejected.items()):
                rejected.add_metric([reason], count)
            streams = GaugeMetricFamily(
                "genai_lens_exporter_cumulative_streams", "Cumulative OTLP streams tracked to turn them into deltas."
            )
            streams.add_metric([], len(store.streams))
            folded = CounterMetricFamily(
                "genai_lens_exporter_label_values_folded",
                "Data points whose label value was replaced by __other__ past label_value_limits, by label.",
                labels=["label"])
            for label, count in sorted(store.points_folded.items()):
                folded.add_metric([label], count)
            budget_families = [folded]
            if store.budgets.budgets:
                now = store.clock()
                amount = GaugeMetricFamily("genai_lens_budget_usd", "The amount of each configured budget, in USD.",
                                           labels=["genai_lens_budget", "period"])
                spent = GaugeMetricFamily("genai_lens_budget_spent_usd",
                                          "Spend since the start of each budget's current period (UTC), in USD.",
                                          labels=["genai_lens_budget", "period"])
                warning = GaugeMetricFamily(
                    "genai_lens_budget_warning_ratio",
                    "Each warning fraction (warn_at) of each budget; BudgetWarning fires when spent reaches it.",
                    labels=["genai_lens_budget", "period", "warn_at"])
                for budget in store.budgets.budgets:
                    amount.add_metric([budget.name, budget.period], budget.amount_usd)
                    spent.add_metric([budget.name, budget.period], store.budgets.spent(budget, now))
                    for fraction in budget.warn_at:
                        warning.add_metric([budget.name, budget.period, format(fraction, "g")], fraction)
                budget_families += [amount, spent, warning]
        yield from families
        yield from budget_families
        yield from (series_gauge, overflow, received, rejected, streams)

    @staticmethod
    def _family(family, created: bool, exemplars: bool = False, held_rows: list | None = None) -> Metric:
        name = family.name
        metric = Metric(name, family.help, family.kind, family.unit)
        samples = metric.samples
        rows = list(family.series.values())
        if family.overflow is not None:
            rows.append(family.overflow)
        if held_rows is not None and family.kind != "gauge":
            held_rows.extend(series for series in rows if series.held)
        if family.kind == "counter":
            total = name + "_total"
            created_name = name + "_created"
            for series in rows:
                labels = dict(series.key)
                exemplar = None
                if exemplars and series.exemplars and not series.held:
                    exemplar = _exemplar(series.exemplars[0])
                samples.append(Sample(total, labels, 0.0 if series.held else series.value, None, exemplar))
                if created:
                    samples.append(Sample(created_name, labels, series.created, None, None))
        elif family.kind == "gauge":
            for series in rows:
                samples.append(Sample(name, dict(series.key), series.value, None, None))
        else:
            bucket_name, count_name, sum_name = name + "_bucket", name + "_count", name + "_sum"
            created_name = name + "_created"
            les = [floatToGoString(b) for b in family.bounds] + ["+Inf"]
            for series in rows:
                labels = dict(series.key)
                held = series.held
                kept = series.exemplars if exemplars and not held else None
                running = 0
                for i, (le, count) in enumerate(zip(les, series.counts)):
                    if not held:
                        running += count
                    exemplar = _exemplar(kept[i]) if kept is not None and kept[i] is not None else None
                    samples.append(Sample(bucket_name, {**labels, "le": le}, running, None, exemplar))
                samples.append(Sample(count_name, labels, running, None, None))
                samples.append(Sample(sum_name, labels, 0.0 if held else series.sum, None, None))
                if created:
                    samples.append(Sample(created_name, labels, series.created, None, None))
        return metric


def _exemplar(kept) -> Exemplar | None:
    """An OpenMetrics exemplar from a kept ``(trace id, span id, value, time)``; Grafana links
    ``trace_id`` to the trace."""
    if kept is None:
        return None
    trace_id, span_id, value, at = kept
    return Exemplar({"trace_id": trace_id, "span_id": span_id}, value, Timestamp(at // 1_000_000_000, at % 1_000_000_000))


def render(collectors, accept: str | None, created_timestamps: bool = False,
           held: list | None = None) -> tuple[bytes, str]:
    """``(body, content type)`` for a scrape of ``collectors`` (objects with ``collect()``: a
    :class:`StoreCollector`, a ``CollectorRegistry``), in the format ``accept`` asks for.

    ``_created`` samples of ``prometheus_client``'s own counters and histograms are kept only
    in OpenMetrics and only with ``created_timestamps`` (Prometheus before 3.x stores them
    as separate series). ``held``, a list, receives the held series this render serves at
    zero (for ``Store.mark_served`` once the scraper is known to have had the answer in time)."""
    encoder, content_type = choose_encoder(accept or "")
    openmetrics = content_type.startswith("application/openmetrics-text")
    token, held_token = _openmetrics.set(openmetrics), _held.set(held)
    try:
        return encoder(_Exposition(collectors, openmetrics and created_timestamps)), content_type
    finally:
        _openmetrics.reset(token)
        _held.reset(held_token)


class _Exposition:
    def __init__(self, collectors, keep_created: bool):
        self.collectors = collectors
        self.keep_created = keep_created

    def collect(self):
        for collector in self.collectors:
            if self.keep_created or isinstance(collector, StoreCollector):
                yield from collector.collect()
                continue
            for metric in collector.collect():
                created = metric.name + "_created"
                metric.samples = [s for s in metric.samples if s.name != created]
                yield metric
