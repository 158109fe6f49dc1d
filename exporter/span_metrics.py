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

Every point carries exemplars of the spans that made it (trace id, span id, the span's end time and
the value it contributed): a histogram point one in each bucket spans fell in (``le``), the last
span whose value fell in it; a sum point one, the last span that added to it, with that span's
increment. Spans without a valid trace id (16 bytes, not all zero) and span id (8 bytes, not all
zero) give none. Costs are the SDK's pricing engine's (``Pricing.price``), unchanged.

Each ``ScopeSpans`` is read with ``genai_spans.spans_of`` (its attributes left serialized, see
genai_spans); the points of a label set are summed in one ``_Series`` per (operation, provider,
model, caller, web search) of a resource.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from dataclasses import dataclass, field

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2

from sdk_instrumentation import attributes as a
from sdk_instrumentation.usage import COST_SOURCES

from .genai_spans import SELF_SCOPES, SpanCall, read_span, resource_values, spans_of

__all__ = ["SpanConverter", "Converted"]

DELTA = metrics_pb2.AGGREGATION_TEMPORALITY_DELTA
_BASE_CACHE = 4096  # label sets whose labels are kept serialized (cleared when full) ...
_CACHED_LABELS = 2048  # ... when at most this many bytes: at most a few MB in all
_POINT_TYPES = (metrics_pb2.NumberDataPoint, metrics_pb2.HistogramDataPoint)
_DAY_NS = 86400 * 1_000_000_000
_NO_TRACE_ID, _NO_SPAN_ID = bytes(16), bytes(8)
_INT64_MAX = 2**63 - 1
_INPUT = ((a.TOKEN_TYPE, a.TOKEN_INPUT),)
_OUTPUT = ((a.TOKEN_TYPE, a.TOKEN_OUTPUT),)
_NO_USAGE = ((a.UNPRICED_REASON, a.UNPRICED_NO_USAGE),)
_NO_PRICE = ((a.UNPRICED_REASON, a.UNPRICED_NO_PRICE),)


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
    """One histogram point: count, sum, bucket counts (``le``: a value goes to the first bound >= it,
    or past the last) and per bucket ``(value, exemplar)`` of its last span with one, an exemplar
    being ``(trace_id, span_id, end time)``."""

    __slots__ = ("bounds", "count", "total", "buckets", "exemplars")

    def __init__(self, bounds: tuple):
        self.bounds = bounds
        self.count = 0
        self.total = 0.0
        self.buckets = [0] * (len(bounds) + 1)
        self.exemplars: list[tuple | None] = [None] * (len(bounds) + 1)

    def add(self, value: float, exemplar: tuple | None) -> None:
        index = bisect_left(self.bounds, value)
        self.count += 1
        self.total += value
        self.buckets[index] += 1
        if exemplar is not None:
            self.exemplars[index] = (value, exemplar)


class _Sum:
    """One sum point: count of spans, total and ``(increment, exemplar)`` of the last span with one."""

    __slots__ = ("count", "total", "exemplar")

    def __init__(self):
        self.count = 0
        self.total = 0.0
        self.exemplar: tuple | None = None

    def add(self, value: float, exemplar: tuple | None) -> None:
        self.count += 1
        self.total += value
        if exemplar is not None:
            self.exemplar = (value, exemplar)


class _Series:
    """The points of the calls of one label set (``labels``, sorted), each in its own slot."""

    __slots__ = ("labels", "serialized", "duration", "errors", "time_to_first_chunk", "input_tokens", "output_tokens",
                 "throughput", "web_search_calls", "no_usage", "no_price", "costs", "cache_read_tokens", "start")

    def __init__(self, labels: tuple, serialized: dict, start: int = 0):
        buckets = a.HISTOGRAM_BUCKETS
        self.labels = labels
        self.start = start  # the earliest end of its spans: the points' start time (the UTC day they count on)
        self.serialized = serialized  # point type -> the labels as its serialized attributes
        self.duration = _Histogram(buckets[a.METRIC_OPERATION_DURATION])
        self.errors: dict[str, _Histogram] = {}  # error.type -> the duration of the calls that failed so
        self.time_to_first_chunk = _Histogram(buckets[a.METRIC_TIME_TO_FIRST_CHUNK])
        self.input_tokens = _Histogram(buckets[a.METRIC_TOKEN_USAGE])
        self.output_tokens = _Histogram(buckets[a.METRIC_TOKEN_USAGE])
        self.throughput = _Histogram(buckets[a.METRIC_THROUGHPUT])
        self.web_search_calls = _Sum()
        self.cache_read_tokens = _Sum()
        self.no_usage = _Sum()
        self.no_price = _Sum()
        self.costs: dict[str, tuple[_Sum, _Sum, _Sum]] = {}  # genai_lens.cost.source -> input, output, other

    def points(self) -> list[tuple[str, tuple, _Histogram | _Sum]]:
        """``(metric, labels beyond the series', point)`` of every point a span added to."""
        out = [(a.METRIC_OPERATION_DURATION, (), self.duration)]
        out += [(a.METRIC_OPERATION_DURATION, ((a.ERROR_TYPE, error),), point) for error, point in self.errors.items()]
        out += [(a.METRIC_TIME_TO_FIRST_CHUNK, (), self.time_to_first_chunk),
                (a.METRIC_TOKEN_USAGE, _INPUT, self.input_tokens), (a.METRIC_TOKEN_USAGE, _OUTPUT, self.output_tokens),
                (a.METRIC_THROUGHPUT, (), self.throughput), (a.METRIC_WEB_SEARCH_CALLS, (), self.web_search_calls),
                (a.METRIC_CACHE_READ_TOKENS, (), self.cache_read_tokens),
                (a.METRIC_UNPRICED_REQUESTS, _NO_USAGE, self.no_usage),
                (a.METRIC_UNPRICED_REQUESTS, _NO_PRICE, self.no_price)]
        for source, costs in self.costs.items():
            out += [(a.METRIC_COST, ((a.COST_SOURCE, source), (a.COST_TYPE, kind)), point)
                    for kind, point in zip((a.COST_INPUT, a.COST_OUTPUT, a.COST_OTHER), costs)]
        return [point for point in out if point[2].count]


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
            resource_attributes = resource_values(resource_spans.resource)
            series: dict[tuple, _Series] = {}
            for scope_spans in resource_spans.scope_spans:
                if scope_spans.scope.name in SELF_SCOPES:  # counted by the SDK already: not even read
                    converted.skipped_own += len(scope_spans.spans)
                    continue
                try:
                    spans = spans_of(scope_spans)
                except ValueError as error:  # never for protobuf's own bytes; a rejection all the same
                    converted.rejected_spans += len(scope_spans.spans)
                    converted.errors.append(f"scope {scope_spans.scope.name!r}: {error}")
                    continue
                for span in spans:
                    try:
                        call = read_span(span, resource_attributes, self.key_attributes)
                    except (ValueError, TypeError, OverflowError) as error:
                        converted.rejected_spans += 1
                        converted.errors.append(f"span {span.name!r}: {error}")
                        continue
                    if call is None:
                        continue
                    self._points(call, series)
                    converted.spans += 1
            if series:
                self._emit(out, resource_spans.resource, series, now)
        return converted

    def _base(self, key: tuple) -> tuple[tuple, dict]:
        """The sorted label pairs every point of a call has, for its (operation, provider, model, api
        key, web search), and their serialization per point type (cached: one billing look-up and
        one serialization per label set)."""
        base = self._bases.get(key)
        if base is None:
            operation, provider, model, api_key, web_search = key
            attrs = {a.OPERATION_NAME: operation, a.PROVIDER_NAME: provider, a.REQUEST_MODEL: model,
                     a.BILLING: self.pricing.billing(provider, model, api_key)}
            if api_key:
                attrs[a.API_KEY] = api_key
            if web_search:
                attrs[a.WEB_SEARCH] = "true"
            labels = tuple(sorted(attrs.items()))
            base = labels, {kind: _serialized(kind, labels) for kind in _POINT_TYPES}
            if len(base[1][metrics_pb2.HistogramDataPoint]) <= _CACHED_LABELS:
                if len(self._bases) >= _BASE_CACHE:
                    self._bases.clear()
                self._bases[key] = base
        return base

    def _points(self, call: SpanCall, series: dict) -> None:
        usage = call.usage
        web_search = usage is not None and usage.web_search_calls > 0
        key = (call.operation, call.provider, call.model, call.api_key, web_search)
        # One set of points per UTC day the spans ended on: the store counts a point on the day of its
        # start time (exporter/measured.py), so a batch spanning midnight is split there.
        ended = call.end_time_unix_nano
        day = ended // _DAY_NS if ended else -1
        points = series.get((key, day))
        if points is None:
            points = series[(key, day)] = _Series(*self._base(key), start=ended)
        elif ended and ended < points.start:
            points.start = ended
        trace_id, span_id = call.trace_id, call.span_id
        exemplar = None
        if len(trace_id) == 16 and len(span_id) == 8 and trace_id != _NO_TRACE_ID and span_id != _NO_SPAN_ID:
            exemplar = (trace_id, span_id, call.end_time_unix_nano)

        if call.error_type:
            duration = points.errors.get(call.error_type)
            if duration is None:
                duration = points.errors[call.error_type] = _Histogram(a.HISTOGRAM_BUCKETS[a.METRIC_OPERATION_DURATION])
            duration.add(call.duration, exemplar)
        else:
            points.duration.add(call.duration, exemplar)
        if call.stream and call.time_to_first_chunk is not None:
            points.time_to_first_chunk.add(call.time_to_first_chunk, exemplar)
        if usage is None:
            if call.error_type is None:  # answered, but with no usage: unpriced, never free
                points.no_usage.add(1, exemplar)
            return
        points.input_tokens.add(usage.input_tokens, exemplar)
        if call.operation != "embeddings":
            points.output_tokens.add(usage.output_tokens, exemplar)
        if usage.web_search_calls:
            points.web_search_calls.add(usage.web_search_calls, exemplar)
        if usage.cache_read_tokens:
            points.cache_read_tokens.add(usage.cache_read_tokens, exemplar)
        if usage.output_tokens > 0:
            seconds = call.duration - (call.time_to_first_chunk or 0.0) if call.stream else call.duration
            if seconds > 0:
                points.throughput.add(usage.output_tokens / seconds, exemplar)
        cost = (self._pricing or self.pricing).price(call.provider, call.model, usage, call.service_tier)
        if cost is None:
            points.no_price.add(1, exemplar)
            return
        costs = points.costs.get(cost.source)
        if costs is None:
            costs = points.costs[cost.source] = (_Sum(), _Sum(), _Sum())
        costs[0].add(cost.input, exemplar)
        costs[1].add(cost.output, exemplar)
        costs[2].add(cost.other, exemplar)

    @staticmethod
    def _emit(out, resource, series: dict, now: int) -> None:
        resource_metrics = out.resource_metrics.add()
        resource_metrics.resource.CopyFrom(resource)
        scope_metrics = resource_metrics.scope_metrics.add()
        scope_metrics.scope.name = "genai_lens.exporter.spans"
        metrics: dict[str, metrics_pb2.Metric] = {}
        for one in series.values():
            for name, extra, entry in one.points():
                m = metrics.get(name)
                if m is None:
                    unit, description = a.INSTRUMENTS[name]
                    m = metrics[name] = scope_metrics.metrics.add(name=name, unit=unit, description=description)
                if isinstance(entry, _Histogram):
                    exemplars = [pair for pair in entry.exemplars if pair is not None]
                    m.histogram.aggregation_temporality = DELTA
                    point = m.histogram.data_points.add(start_time_unix_nano=one.start or now, time_unix_nano=now,
                                                        count=entry.count, sum=entry.total,
                                                        explicit_bounds=entry.bounds, bucket_counts=entry.buckets)
                else:
                    exemplars = [] if entry.exemplar is None else [entry.exemplar]
                    m.sum.aggregation_temporality = DELTA
                    m.sum.is_monotonic = True
                    point = m.sum.data_points.add(start_time_unix_nano=one.start or now, time_unix_nano=now)
                    if name == a.METRIC_COST:
                        point.as_double = entry.total
                    else:
                        point.as_int = min(int(entry.total), _INT64_MAX)  # each count is at most int64 too
                for value, (trace_id, span_id, time_unix_nano) in exemplars:
                    point.exemplars.add(trace_id=trace_id, span_id=span_id, time_unix_nano=time_unix_nano,
                                        as_double=float(value))
                # the labels, parsed from their serialization: ten times faster than making KeyValues
                kind = type(point)
                more = _EXTRAS.get((kind, extra))
                point.MergeFromString(one.serialized[kind] + (_serialized(kind, extra) if more is None else more))


def _serialized(point_type, labels: tuple) -> bytes:
    """``labels`` as the serialized attributes of a ``point_type`` (NumberDataPoint or HistogramDataPoint):
    a serialized message's repeated field is the concatenation of its items, so these add up."""
    return point_type(attributes=[common_pb2.KeyValue(key=key, value=common_pb2.AnyValue(string_value=str(value)))
                                  for key, value in labels]).SerializeToString()


# the labels beyond a series' own that do not come from the spans, serialized
_EXTRAS = {(kind, extra): _serialized(kind, extra) for kind in _POINT_TYPES
           for extra in [(), _INPUT, _OUTPUT, _NO_USAGE, _NO_PRICE]
           + [((a.COST_SOURCE, source), (a.COST_TYPE, cost_type)) for source in COST_SOURCES
              for cost_type in (a.COST_INPUT, a.COST_OUTPUT, a.COST_OTHER)]}
