"""GenAI client spans from any OpenTelemetry instrumentation, turned into genai-lens' metrics.

::

    converter = SpanConverter()                        # prices with sdk_instrumentation.pricing
    converted = converter.convert(trace_request)       # an ExportTraceServiceRequest
    converted.request                                  # an ExportMetricsServiceRequest, for the store
    converted.spans, converted.rejected_spans

Each GenAI span (one that names a GenAI operation or provider and a model, in any of the attribute
variants of ``genai_spans.ATTRIBUTES``) becomes the points the genai-lens SDK records for a call:
duration (with ``error.type`` when it failed), input and output tokens, cost by type and source,
time to first chunk for streams, throughput, web search calls, or an unpriced request. Points with
the same attributes are summed, so a batch of spans makes one delta point per series. Spans made by
the genai-lens SDK itself (instrumentation scope ``sdk_instrumentation``) are skipped: the SDK sends
their metrics on ``/v1/metrics``. The result goes through the same store, write-ahead log and
idempotency window as ``/v1/metrics``.
"""

from __future__ import annotations

import bisect
import threading
import time
from dataclasses import dataclass, field

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2

from sdk_instrumentation import attributes as a

from .genai_spans import SELF_SCOPES, SpanCall, read_span

__all__ = ["SpanConverter", "Converted"]

DELTA = metrics_pb2.AGGREGATION_TEMPORALITY_DELTA
_BASE_CACHE = 10_000  # label sets whose base labels are cached (cleared when full)


@dataclass
class Converted:
    request: ExportMetricsServiceRequest
    spans: int = 0            # GenAI spans turned into points
    skipped_own: int = 0      # spans of the genai-lens SDK's scope (their metrics come on /v1/metrics)
    rejected_spans: int = 0   # GenAI spans that could not be read (partial_success)
    errors: list[str] = field(default_factory=list)

    @property
    def error_message(self) -> str:
        return "; ".join(self.errors[:5])


class _Histogram:
    __slots__ = ("bounds", "count", "total", "buckets")

    def __init__(self, bounds):
        self.bounds = bounds
        self.count = 0
        self.total = 0.0
        self.buckets = [0] * (len(bounds) + 1)

    def add(self, value: float) -> None:
        self.count += 1
        self.total += value
        self.buckets[bisect.bisect_left(self.bounds, value)] += 1


class SpanConverter:
    """Turns OTLP trace requests into OTLP metric requests (thread-safe: no shared mutable state
    but the pricing cache).

    ``pricing``: a ``sdk_instrumentation.pricing.Pricing`` (the SDK's engine); by default one is made
    with ``pricing_file`` at the first span, so an exporter that never receives spans does not load
    the price data. ``key_attributes``: span or resource attributes that name the caller, in order;
    the first present fills ``genai_lens.api_key``. Without one the label is absent.
    """

    def __init__(self, pricing=None, key_attributes: tuple[str, ...] = (a.API_KEY,), pricing_file=None,
                 clock=time.time):
        self._pricing = pricing
        self._pricing_file = pricing_file
        self._lock = threading.Lock()
        self.key_attributes = tuple(key_attributes)
        self.clock = clock
        self._bases: dict[tuple, tuple] = {}

    @property
    def pricing(self):
        if self._pricing is None:
            with self._lock:
                if self._pricing is None:
                    from sdk_instrumentation.pricing import Pricing
                    self._pricing = Pricing(self._pricing_file)
        return self._pricing

    def convert(self, request) -> Converted:
        out = ExportMetricsServiceRequest()
        converted = Converted(out)
        now = int(self.clock() * 1e9)
        for resource_spans in request.resource_spans:
            resource_attributes = {kv.key: kv.value for kv in resource_spans.resource.attributes}
            histograms: dict[tuple, _Histogram] = {}
            sums: dict[tuple, float] = {}
            for scope_spans in resource_spans.scope_spans:
                if scope_spans.scope.name in SELF_SCOPES:  # counted by the SDK already: not even read
                    converted.skipped_own += len(scope_spans.spans)
                    continue
                for span in scope_spans.spans:
                    try:
                        call = read_span(span, resource_attributes, self.key_attributes)
                    except (ValueError, TypeError, OverflowError) as error:
                        converted.rejected_spans += 1
                        converted.errors.append(f"span {span.name!r}: {error}")
                        continue
                    if call is None:
                        continue
                    self._points(call, histograms, sums)
                    converted.spans += 1
            if histograms or sums:
                self._emit(out, resource_spans.resource, histograms, sums, now)
        return converted

    def _base(self, call: SpanCall) -> tuple:
        """The sorted label pairs every point of the call has (cached: one billing look-up per label set)."""
        key = (call.operation, call.provider, call.model, call.api_key, bool(call.web_search_calls))
        base = self._bases.get(key)
        if base is None:
            attrs = {a.OPERATION_NAME: call.operation, a.PROVIDER_NAME: call.provider, a.REQUEST_MODEL: call.model,
                     a.BILLING: self.pricing.billing(call.provider, call.model, call.api_key)}
            if call.api_key:
                attrs[a.API_KEY] = call.api_key
            if call.web_search_calls:
                attrs[a.WEB_SEARCH] = "true"
            base = tuple(sorted(attrs.items()))
            if len(self._bases) >= _BASE_CACHE:
                self._bases.clear()
            self._bases[key] = base
        return base

    def _points(self, call: SpanCall, histograms: dict, sums: dict) -> None:
        pricing = self.pricing
        base = self._base(call)

        def hist(metric: str, extra: tuple, value: float) -> None:
            key = (metric, base + extra)
            entry = histograms.get(key)
            if entry is None:
                entry = histograms[key] = _Histogram(a.HISTOGRAM_BUCKETS[metric])
            entry.add(value)

        def add(metric: str, extra: tuple, value: float) -> None:
            key = (metric, base + extra)
            sums[key] = sums.get(key, 0.0) + value

        hist(a.METRIC_OPERATION_DURATION, ((a.ERROR_TYPE, call.error_type),) if call.error_type else (), call.duration)
        if call.stream and call.time_to_first_chunk is not None:
            hist(a.METRIC_TIME_TO_FIRST_CHUNK, (), call.time_to_first_chunk)
        usage = call.usage
        if usage is None:
            if call.error_type is None:  # answered, but with no usage: unpriced, never free
                add(a.METRIC_UNPRICED_REQUESTS, ((a.UNPRICED_REASON, a.UNPRICED_NO_USAGE),), 1)
            return
        hist(a.METRIC_TOKEN_USAGE, ((a.TOKEN_TYPE, a.TOKEN_INPUT),), usage.input_tokens)
        if call.operation != "embeddings":
            hist(a.METRIC_TOKEN_USAGE, ((a.TOKEN_TYPE, a.TOKEN_OUTPUT),), usage.output_tokens)
        if usage.web_search_calls:
            add(a.METRIC_WEB_SEARCH_CALLS, (), usage.web_search_calls)
        if usage.output_tokens > 0:
            seconds = call.duration - (call.time_to_first_chunk or 0.0) if call.stream else call.duration
            if seconds > 0:
                hist(a.METRIC_THROUGHPUT, (), usage.output_tokens / seconds)
        cost = pricing.price(call.provider, call.model, usage, call.service_tier)
        if cost is None:
            add(a.METRIC_UNPRICED_REQUESTS, ((a.UNPRICED_REASON, a.UNPRICED_NO_PRICE),), 1)
            return
        source = (a.COST_SOURCE, cost.source)
        add(a.METRIC_COST, (source, (a.COST_TYPE, a.COST_INPUT)), cost.input)
        add(a.METRIC_COST, (source, (a.COST_TYPE, a.COST_OUTPUT)), cost.output)
        add(a.METRIC_COST, (source, (a.COST_TYPE, a.COST_OTHER)), cost.other)

    @staticmethod
    def _emit(out, resource, histograms: dict, sums: dict, now: int) -> None:
        resource_metrics = out.resource_metrics.add()
        resource_metrics.resource.CopyFrom(resource)
        scope_metrics = resource_metrics.scope_metrics.add()
        scope_metrics.scope.name = "genai_lens.exporter.spans"
        metrics: dict[str, metrics_pb2.Metric] = {}

        def metric(name: str, unit: str, description: str) -> metrics_pb2.Metric:
            found = metrics.get(name)
            if found is None:
                found = metrics[name] = scope_metrics.metrics.add(name=name, unit=unit, description=description)
            return found

        for (name, labels), entry in histograms.items():
            m = metric(name, *a.INSTRUMENTS[name])
            m.histogram.aggregation_temporality = DELTA
            point = m.histogram.data_points.add(start_time_unix_nano=now, time_unix_nano=now, count=entry.count,
                                                sum=entry.total, explicit_bounds=entry.bounds, bucket_counts=entry.buckets)
            _attributes(point, labels)
        for (name, labels), value in sums.items():
            m = metric(name, *a.INSTRUMENTS[name])
            m.sum.aggregation_temporality = DELTA
            m.sum.is_monotonic = True
            point = m.sum.data_points.add(start_time_unix_nano=now, time_unix_nano=now)
            if name == a.METRIC_COST:
                point.as_double = value
            else:
                point.as_int = int(value)
            _attributes(point, labels)


def _attributes(point, labels: tuple) -> None:
    for key, value in labels:
        point.attributes.append(common_pb2.KeyValue(key=key, value=common_pb2.AnyValue(string_value=str(value))))
