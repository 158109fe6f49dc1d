"""The OpenTelemetry instruments genai-lens records, as DESIGN.md names them.

    instruments = Instruments.shared(meter_provider)
    instruments.queue.put(call)     # a finished telemetry.Call; recorded at the next collection

A finished call is queued on the app's thread and turned into its histogram
records and counter increments by ``record`` on the metric reader's thread
(``deferred``); counters are summed in-process (``counters``). Both keep the
OpenTelemetry SDK's per-measurement work off the app's call path; the data
exported is the same. Each record carries the call's span context, so the
points' exemplars name the calls' traces (``exemplars``). With ``histograms``
(``configure()`` passes them, with the exporter that merges their points into
each batch) the histograms are aggregated in-process too (``histograms``),
at a thirtieth of the SDK's cost per value.
"""

from __future__ import annotations

import threading
import weakref

from opentelemetry import metrics

from . import attributes as a
from .counters import SummedCounter
from .deferred import RecordQueue
from .exemplars import NO_SPAN, call_context
from .histograms import LocalHistograms
from .version import __version__

__all__ = ["Instruments"]


_shared: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_shared_lock = threading.Lock()


class Instruments:
    @classmethod
    def shared(cls, meter_provider=None, histograms: LocalHistograms | None = None) -> "Instruments":
        """One set per meter provider: the summed counters report totals, so two sets on one
        provider (two instrumentors each with its own Telemetry) would overwrite each other.
        ``histograms`` (``configure()`` passes them) applies when the set is made, the first time."""
        provider = meter_provider if meter_provider is not None else metrics.get_meter_provider()
        with _shared_lock:
            instruments = _shared.get(provider)
            if instruments is None:
                instruments = _shared[provider] = cls(provider, histograms=histograms)
            return instruments

    def __init__(self, meter_provider=None, queue_limit: int = 10_000, histograms: LocalHistograms | None = None):
        self.queue = RecordQueue(self.record, queue_limit)
        meter = metrics.get_meter("sdk_instrumentation", __version__, meter_provider,
                                  schema_url="https://opentelemetry.io/schemas/1.37.0")
        # In-process histograms when the exporter merges them in (``histograms``), else the SDK's.
        self.local = histograms is not None

        def histogram(name: str):
            unit, description = a.INSTRUMENTS[name]
            if histograms is not None:
                return histograms.histogram(name, unit, description, a.HISTOGRAM_BUCKETS[name])
            return meter.create_histogram(name, unit=unit, description=description,
                                          explicit_bucket_boundaries_advisory=list(a.HISTOGRAM_BUCKETS[name]))

        self.duration = histogram(a.METRIC_OPERATION_DURATION)
        self.token_usage = histogram(a.METRIC_TOKEN_USAGE)
        self.time_to_first_chunk = histogram(a.METRIC_TIME_TO_FIRST_CHUNK)
        self.time_per_output_chunk = histogram(a.METRIC_TIME_PER_OUTPUT_CHUNK)
        self.throughput = histogram(a.METRIC_THROUGHPUT)

        # Each counter's collect callback applies the queued calls first (whichever runs first
        # drains; the SDK runs every callback before it reads the histograms' storages).
        drain = self.queue.drain

        def counter(name: str) -> SummedCounter:
            unit, description = a.INSTRUMENTS[name]
            return SummedCounter(meter, name, before_observe=drain, unit=unit, description=description)

        self.cost = counter(a.METRIC_COST)
        self.web_search_calls = counter(a.METRIC_WEB_SEARCH_CALLS)
        self.unpriced_requests = counter(a.METRIC_UNPRICED_REQUESTS)
        self.cache_read_tokens = counter(a.METRIC_CACHE_READ_TOKENS)

    def record(self, call) -> None:
        """Every metric of one finished ``telemetry.Call`` (run by ``queue.drain``), each with the
        call's span as its context, for exemplars (``exemplars``)."""
        context = call_context(call.span_context)  # for the SDK's instruments
        # The local histograms take the span context itself; the SDK's a context, never None (the
        # SDK would fall back to the current context: on the app's thread, when the queue is full,
        # that is the app's span, not the call's).
        span = (call.span_context if context is not None else None) if self.local else (context or NO_SPAN)
        attrs = {
            a.OPERATION_NAME: call.operation,
            a.PROVIDER_NAME: call.provider,
            a.REQUEST_MODEL: call.request_model,
            a.API_KEY: call.key_label,
            a.BILLING: call.billing,
        }
        if call.web_search:
            attrs[a.WEB_SEARCH] = "true"
        if call.extra:
            attrs.update(call.extra)
        if call.error_type is None:
            self.duration.record(call.duration, attrs, span)
        else:
            self.duration.record(call.duration, {**attrs, a.ERROR_TYPE: call.error_type}, span)
        if call.stream and call.first_chunk_at is not None:
            self.time_to_first_chunk.record(call.first_chunk_at - call.started_at, attrs, span)
            if self.local:
                self.time_per_output_chunk.record_many(call.chunk_gaps, attrs, span)
            else:
                record = self.time_per_output_chunk.record
                for gap in call.chunk_gaps:
                    record(gap, attrs, span)
        usage = call.usage
        if usage is None:
            reason = call.unpriced_reason  # answered, but with no usage: unpriced, never free
            if reason is not None:
                self.unpriced_requests.add(1, {**attrs, a.UNPRICED_REASON: reason}, context)
            return
        self.token_usage.record(usage.input_tokens, {**attrs, a.TOKEN_TYPE: a.TOKEN_INPUT}, span)
        if call.operation != "embeddings":
            self.token_usage.record(usage.output_tokens, {**attrs, a.TOKEN_TYPE: a.TOKEN_OUTPUT}, span)
        if usage.web_search_calls:
            self.web_search_calls.add(usage.web_search_calls, attrs, context)
        if usage.cache_read_tokens:
            self.cache_read_tokens.add(usage.cache_read_tokens, attrs, context)
        if call.throughput is not None:
            self.throughput.record(call.throughput, attrs, span)
        if not call.priced:  # pricing raised: no cost, and not "unpriced" either
            return
        cost = call.cost
        if cost is None:
            self.unpriced_requests.add(1, {**attrs, a.UNPRICED_REASON: call.unpriced_reason}, context)
        else:
            add = self.cost.add
            source = cost.source
            add(cost.input, {**attrs, a.COST_SOURCE: source, a.COST_TYPE: a.COST_INPUT}, context)
            add(cost.output, {**attrs, a.COST_SOURCE: source, a.COST_TYPE: a.COST_OUTPUT}, context)
            add(cost.other, {**attrs, a.COST_SOURCE: source, a.COST_TYPE: a.COST_OTHER}, context)
