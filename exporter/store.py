"""The aggregated series: what OTLP points become and what ``/metrics`` serves.

::

    store = Store(series_limit=2000)
    result = store.ingest(request)        # an ExportMetricsServiceRequest
    result.accepted, result.rejected      # points, and {reason: points}
    for family in store.families():       # Family objects, read under store.lock
        ...

* A series is the Prometheus family plus its point attributes (translated,
  filtered by the allow and deny lists) plus the kept resource attributes
  (``service_name``). Other resource attributes (hosts, pids, instance ids)
  are dropped, so any number of processes make one set of series.
* Sums become counters (monotonic) or gauges (not monotonic); delta points
  are added; cumulative points are turned into deltas per *stream*, keyed by
  the full original identity (resource attributes, scope, metric, point
  attributes), with resets detected by a changed start time or a falling
  value.
* Histograms keep explicit buckets; a point whose bounds differ from the
  family's is rejected. Gauges keep the last value received.
* Past ``series_limit`` series in a family, new label sets fold into one
  ``otel_metric_overflow="true"`` series, so totals stay right.
* A new counter or histogram series is *held*: served at zero for
  ``hold_seconds`` and until a scrape received it at zero, while its
  increments accumulate. Prometheus then sees ``0`` before the first real
  value, so ``increase()`` and ``rate()`` count a new series' first
  increments. A release (:meth:`Store.release`) is made durable before the
  value is served (``exporter.commit``), so a restart holds again exactly
  the series no scrape has seen a value of.
* Exemplars (``exemplars=True``): a point's OTLP exemplars that name a span
  (16-byte trace id, 8-byte span id, a finite value) are kept, the latest per
  histogram bucket (by value, ``le``) and one per counter series: at most
  buckets + 1 per series, served in OpenMetrics (``Series.exemplars``, items
  ``(trace id hex, span id hex, value, time in Unix nanoseconds)``). They are not part
  of the snapshot: after a restart they come back with the next calls.

Everything is guarded by ``store.lock`` (a ``threading.Lock``).
"""

from __future__ import annotations

import base64
import bisect
import json
import operator
import sys
import threading
import time
from dataclasses import dataclass, field

from opentelemetry.proto.metrics.v1 import metrics_pb2

from .budgets import BudgetTracker, parse_budgets
from .measured import CACHED_INPUT, COST, INPUT, OUTPUT, REQUESTS, MeasuredDays
from .names import label_name, metric_name

COST_FAMILY = "genai_lens_cost_usd"  # the counter budgets are counted from

__all__ = ["Store", "Family", "Series", "IngestResult", "OVERFLOW_LABELS", "OTHER_VALUE", "REASONS"]

OVERFLOW_LABELS = (("otel_metric_overflow", "true"),)
OTHER_VALUE = "__other__"  # the value a label takes past its label_value_limits

DELTA = metrics_pb2.AGGREGATION_TEMPORALITY_DELTA
CUMULATIVE = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
_NO_RECORDED_VALUE = metrics_pb2.DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK

#: Every reason a point can be rejected for (the ``reason`` label of
#: ``genai_lens_exporter_points_rejected_total``), with what it means.
REASONS = {
    "unsupported_exponential_histogram": "exponential histograms are not supported; use explicit bucket histograms",
    "unsupported_summary": "summaries are not supported",
    "no_data": "metric has no data",
    "unspecified_temporality": "aggregation temporality is unspecified",
    "missing_value": "number point has no value",
    "non_finite_value": "value is NaN or infinite",
    "negative_value": "counter value is negative",
    "invalid_histogram": "bucket counts do not match bounds or count, or bounds are not increasing",
    "bounds_mismatch": "histogram bounds differ from the series' bounds",
    "type_conflict": "metric name already used with another type",
    "invalid_name": "metric name is empty after translation",
    "metric_limit": "too many metric names",
    "stream_limit": "too many cumulative streams",
    "out_of_order": "cumulative point older than the last one of its stream",
}


@dataclass
class IngestResult:
    """What one request did: points accepted, points rejected by reason, and messages."""

    accepted: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)

    @property
    def rejected_count(self) -> int:
        return sum(self.rejected.values())

    def reject(self, reason: str, metric: str, count: int = 1) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + count
        if len(self.messages) < 10:
            message = f"{metric}: {REASONS[reason]}"
            if message not in self.messages:
                self.messages.append(message)

    @property
    def error_message(self) -> str:
        if not self.rejected:
            return ""
        return f"{self.rejected_count} data points rejected: " + "; ".join(self.messages)


class Series:
    """One label set: a counter or gauge ``value``, or histogram ``counts`` (per bucket, not
    cumulative) and ``sum``. ``held`` series render as zero; see the module docstring."""

    __slots__ = ("key", "value", "counts", "sum", "created", "hold_until", "held", "served", "exemplars")

    def __init__(self, key: tuple, created: float, buckets: int = 0, hold_until: float = 0.0):
        self.key = key
        self.exemplars: list | None = None  # one slot per bucket (histograms) or one (counters)
        self.value = 0.0
        self.counts = [0] * buckets if buckets else None
        self.sum = 0.0
        self.created = created
        self.hold_until = hold_until
        self.held = hold_until > 0
        self.served = False


class Family:
    """One Prometheus metric family: ``counter``, ``gauge`` or ``histogram``."""

    __slots__ = ("name", "kind", "help", "unit", "bounds", "series", "overflow", "overflowed")

    def __init__(self, name: str, kind: str, help: str, unit: str, bounds: tuple | None = None):
        self.name = name
        self.kind = kind
        self.help = help
        self.unit = unit
        self.bounds = bounds
        self.series: dict[tuple, Series] = {}
        self.overflow: Series | None = None
        self.overflowed = 0


def _any_value(value) -> str:
    kind = value.WhichOneof("value")
    if kind is None or kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind == "int_value":
        return str(value.int_value)
    if kind == "double_value":
        return repr(value.double_value)
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    if kind == "array_value":
        return json.dumps([_any_value(v) for v in value.array_value.values])
    return json.dumps({kv.key: _any_value(kv.value) for kv in value.kvlist_value.values}, sort_keys=True)


def _raw_attributes(attributes) -> tuple:
    """``((key, value as text), ...)`` in the order sent."""
    raw = tuple([(kv.key, kv.value.string_value) for kv in attributes])
    if all(map(_second, raw)):  # the common case: every value a non-empty string
        return raw
    return tuple([(kv.key, kv.value.string_value or _any_value(kv.value)) for kv in attributes])


_second = operator.itemgetter(1)

# Bounds of the label caches (``Store._labels``, ``Store._keys``).
_CACHE_ENTRIES = 16_384
_CACHE_CHARS = 4 * 1024 * 1024
_CACHED_KEY_CHARS = 256


def _finite(value: float) -> bool:
    return value - value == 0.0  # False for NaN and infinities, fast


# The families the measured-days ledger reads (exporter/measured.py).
_MEASURED_COUNTERS = {"genai_lens_cost_usd": COST, "genai_lens_usage_cache_read_input_tokens": CACHED_INPUT}
_MEASURED_HISTOGRAMS = frozenset({"gen_ai_client_token_usage", "gen_ai_client_operation_duration_seconds"})


def _point_day_time(point, temporality, now: float) -> float:
    """When a point's increments happened, for the day they count in: a delta point's start (its
    interval holds the calls), a cumulative point's time; the exporter's clock if it has neither."""
    if temporality == DELTA and point.start_time_unix_nano:
        return point.start_time_unix_nano / 1e9
    return point.time_unix_nano / 1e9 if point.time_unix_nano else now


_TRACE_ID_ZERO = bytes(16)
_SPAN_ID_ZERO = bytes(8)


def _keep_exemplars(series: Series, exemplars, bounds: tuple | None, now: float) -> None:
    """Keep the exemplars that name a span: the latest per bucket of ``bounds`` (a histogram) or
    the latest (a counter, ``bounds`` None). Others are ignored, never an error."""
    slots = series.exemplars
    if slots is None:
        slots = series.exemplars = [None] * (len(bounds) + 1 if bounds is not None else 1)
    for exemplar in exemplars:
        trace_id, span_id = exemplar.trace_id, exemplar.span_id
        if len(trace_id) != 16 or len(span_id) != 8 or trace_id == _TRACE_ID_ZERO or span_id == _SPAN_ID_ZERO:
            continue
        which = exemplar.WhichOneof("value")
        if which == "as_double":
            value = exemplar.as_double
            if not _finite(value):
                continue
        elif which == "as_int":
            value = float(exemplar.as_int)
        else:
            continue
        at = exemplar.time_unix_nano or int(now * 1e9)
        index = bisect.bisect_left(bounds, value) if bounds is not None else 0
        kept = slots[index]
        if kept is None or at >= kept[3]:
            slots[index] = (trace_id.hex(), span_id.hex(), value, at)


class Store:
    """Thread-safe aggregation of OTLP metric points into Prometheus series."""

    def __init__(
        self,
        *,
        series_limit: int = 2000,
        metric_limit: int = 1000,
        label_allow=(),
        label_deny=(),
        resource_labels=("service.name",),
        hold_seconds: float = 60.0,
        stream_ttl: float = 3600.0,
        max_streams: int = 200_000,
        budgets=(),
        label_value_limits=None,
        exemplars: bool = True,
        measured: MeasuredDays | None = None,
        clock=time.time,
    ):
        self.series_limit = series_limit
        self.metric_limit = metric_limit
        self.label_allow = set(label_allow)
        self.label_deny = set(label_deny)
        self.resource_labels = tuple(resource_labels)
        self.hold_seconds = hold_seconds
        self.stream_ttl = stream_ttl
        self.max_streams = max_streams
        self.exemplars = exemplars
        # Per-UTC-day sums of the figures reconciled with the provider's billing (docs/reconciliation.md).
        self.measured = measured
        self.clock = clock
        self.lock = threading.Lock()
        self.families_by_name: dict[str, Family] = {}
        self.streams: dict[tuple, list] = {}
        self.points_received = 0
        self.points_rejected: dict[str, int] = {}
        self._labels: dict[str, str | None] = {}
        self._interned: dict = {}
        self._keys: dict = {}
        self._keys_chars = 0
        self._next_sweep = clock() + min(stream_ttl, 60.0)
        # Spend per configured budget (``exporter.budgets``), fed by every cost increment.
        self.budgets = BudgetTracker(parse_budgets(budgets))
        self._budgeted = bool(self.budgets.budgets)
        # At most N distinct values per label (label name -> N): later values become OTHER_VALUE,
        # totals kept. Values a budget matches on are always kept.
        self.label_value_limits = dict(label_value_limits or {})
        self._reserved: dict[str, set[str]] = {}
        for budget in self.budgets.budgets:
            for label, value in budget.match:
                self._reserved.setdefault(label, set()).add(value)
        self._label_values: dict[str, set[str]] = {}
        self._folded_keys: dict[tuple, tuple[str, ...]] = {}  # a folded series key -> the labels folded in it
        self.points_folded: dict[str, int] = dict.fromkeys(self.label_value_limits, 0)

    # -- labels ---------------------------------------------------------

    def _label_for(self, key: str) -> str | None:
        """The label name an attribute key becomes, or None if it is dropped (cached)."""
        label = self._labels.get(key, False)
        if label is False:
            label = label_name(key) if len(key) <= _CACHED_KEY_CHARS else label_name.__wrapped__(key)  # huge keys: uncached
            if key in self.label_deny or label in self.label_deny:
                label = None
            elif self.label_allow and key not in self.label_allow and label not in self.label_allow:
                label = None
            if len(key) <= _CACHED_KEY_CHARS:  # bounded: a flood of new or huge keys cannot grow it
                if len(self._labels) >= _CACHE_ENTRIES:
                    self._labels.clear()
                self._labels[key] = label
        return label

    def _resource_labels(self, attributes) -> tuple:
        wanted = {}
        for key, text in _raw_attributes(attributes):
            if key in self.resource_labels and text:
                label = self._label_for(key)
                if label:
                    wanted[label] = text
        return tuple(sorted(wanted.items()))

    def _key(self, raw: tuple, resource: tuple) -> tuple:
        """The series key (sorted label pairs) for raw point attributes and resource labels (cached)."""
        cache_key = (raw, resource)
        key = self._keys.get(cache_key)
        if key is None:
            key = self._make_key(raw, resource)
            # A cache of the hot label sets, bounded in entries and in label text (floods of new or
            # huge label values must not grow it past a few MB).
            size = sum([len(k) + len(v) for k, v in raw]) + sum([len(v) for _, v in resource])
            if size <= _CACHE_CHARS // 64:
                if len(self._keys) >= _CACHE_ENTRIES or self._keys_chars + size > _CACHE_CHARS:
                    self._keys.clear()
                    self._keys_chars = 0
                self._keys[cache_key] = key
                self._keys_chars += size
        if self._folded_keys:  # one count per point whose label value became OTHER_VALUE
            for label in self._folded_keys.get(key, ()):
                self.points_folded[label] += 1
        return key

    def _make_key(self, raw: tuple, resource: tuple) -> tuple:
        labels = {}
        label_for = self._label_for
        for key, text in raw:
            if text:
                label = label_for(key)
                if label:
                    labels[label] = text
        if resource:
            labels.update(resource)
        folded = ()
        for label, limit in self.label_value_limits.items():
            value = labels.get(label)
            if value is None:
                continue
            known = self._label_values.setdefault(label, set())
            if value in known:
                continue
            if len(known) < limit or value in self._reserved.get(label, ()):
                known.add(value)
            else:
                labels[label] = OTHER_VALUE
                folded += (label,)
        key = tuple(sorted(labels.items()))
        if folded:
            self._folded_keys[key] = folded
        return key

    def _intern(self, key: tuple) -> tuple:
        """Share the label pairs of new series, so a series costs one small tuple."""
        shared = self._interned
        out = []
        for pair in key:
            same = shared.get(pair)
            if same is None:
                same = shared[pair] = (sys.intern(pair[0]), pair[1])
            out.append(same)
        return tuple(out)

    # -- series ---------------------------------------------------------

    def _family(self, name: str, unit: str, kind: str, description: str, otel_name: str, result: IngestResult, count: int):
        family = self.families_by_name.get(name)
        if family is None:
            if len(self.families_by_name) >= self.metric_limit:
                result.reject("metric_limit", otel_name, count)
                return None
            family = Family(name, kind, description or f"{otel_name}", unit)
            self.families_by_name[name] = family
        elif family.kind != kind:
            result.reject("type_conflict", otel_name, count)
            return None
        return family

    def _series(self, family: Family, key: tuple, now: float) -> Series:
        series = family.series.get(key)
        if series is not None:
            return series
        buckets = len(family.bounds) + 1 if family.kind == "histogram" else 0
        hold = now + self.hold_seconds if (self.hold_seconds > 0 and family.kind != "gauge") else 0.0
        if len(family.series) >= self.series_limit:
            family.overflowed += 1
            if family.overflow is None:
                family.overflow = Series(OVERFLOW_LABELS, now, buckets, hold)
            return family.overflow
        series = family.series[self._intern(key)] = Series(key, now, buckets, hold)
        return series

    # -- ingest ---------------------------------------------------------

    def ingest(self, request) -> IngestResult:
        """Aggregate an ``ExportMetricsServiceRequest``; returns what was accepted and rejected."""
        result = IngestResult()
        with self.lock:
            now = self.clock()
            for resource_metrics in request.resource_metrics:
                resource_attributes = resource_metrics.resource.attributes
                resource = self._resource_labels(resource_attributes)
                identity = None
                for scope_metrics in resource_metrics.scope_metrics:
                    scope = (scope_metrics.scope.name, scope_metrics.scope.version)
                    for metric in scope_metrics.metrics:
                        data = metric.WhichOneof("data")
                        if data == "sum":
                            points = metric.sum.data_points
                            temporality = metric.sum.aggregation_temporality
                            kind = "counter" if metric.sum.is_monotonic else "gauge"
                        elif data == "histogram":
                            points = metric.histogram.data_points
                            temporality = metric.histogram.aggregation_temporality
                            kind = "histogram"
                        elif data == "gauge":
                            points = metric.gauge.data_points
                            temporality = None
                            kind = "gauge"
                        else:
                            if data == "exponential_histogram":
                                result.reject("unsupported_exponential_histogram", metric.name, len(metric.exponential_histogram.data_points))
                            elif data == "summary":
                                result.reject("unsupported_summary", metric.name, len(metric.summary.data_points))
                            else:
                                result.reject("no_data", metric.name)
                            continue
                        if not points:
                            continue
                        if temporality == CUMULATIVE and identity is None:
                            identity = tuple(sorted(_raw_attributes(resource_attributes)))
                        if temporality not in (None, DELTA, CUMULATIVE):
                            result.reject("unspecified_temporality", metric.name, len(points))
                            continue
                        name, unit = metric_name(metric.name, metric.unit, kind)
                        if not name:
                            result.reject("invalid_name", metric.name, len(points))
                            continue
                        family = self._family(name, unit, kind, metric.description, metric.name, result, len(points))
                        if family is None:
                            continue
                        stream_prefix = (name, identity, scope) if temporality == CUMULATIVE else None
                        if kind == "histogram":
                            self._histogram_points(family, metric.name, points, temporality, resource, stream_prefix, now, result)
                        else:
                            self._number_points(family, metric.name, points, temporality, resource, stream_prefix, now, result)
            self.points_received += result.accepted + result.rejected_count
            for reason, count in result.rejected.items():
                self.points_rejected[reason] = self.points_rejected.get(reason, 0) + count
            if now >= self._next_sweep:
                self._sweep_streams(now)
        return result

    def _number_points(self, family, otel_name, points, temporality, resource, stream_prefix, now, result):
        monotonic = family.kind == "counter"
        streams = self.streams
        for point in points:
            if point.flags & _NO_RECORDED_VALUE:
                continue
            which = point.WhichOneof("value")
            if which == "as_double":
                value = point.as_double
                if not _finite(value):
                    result.reject("non_finite_value", otel_name)
                    continue
            elif which == "as_int":
                value = point.as_int
            else:
                result.reject("missing_value", otel_name)
                continue
            if monotonic and value < 0:
                result.reject("negative_value", otel_name)
                continue
            raw = _raw_attributes(point.attributes)
            if stream_prefix is not None:
                stream_key = (stream_prefix, tuple(sorted(raw)))
                state = streams.get(stream_key)
                start = point.start_time_unix_nano
                if state is None:
                    if len(streams) >= self.max_streams:
                        result.reject("stream_limit", otel_name)
                        continue
                    delta = value
                    streams[stream_key] = [start, point.time_unix_nano, value, now]
                else:
                    if point.time_unix_nano < state[1]:
                        result.reject("out_of_order", otel_name)
                        continue
                    if (start and start != state[0]) or (monotonic and value < state[2]):
                        delta = value  # a reset: the stream started again from zero
                    else:
                        delta = value - state[2]
                    state[0] = start
                    state[1] = point.time_unix_nano
                    state[2] = value
                    state[3] = now
            else:
                delta = value
            key = self._key(raw, resource)
            series = self._series(family, key, now)
            if temporality is None:
                series.value = float(value)
            else:
                series.value += delta
                if self._budgeted and family.name == COST_FAMILY and monotonic:
                    self.budgets.add(key, delta, now)
                if monotonic and point.exemplars and self.exemplars:
                    _keep_exemplars(series, point.exemplars, None, now)
                if self.measured is not None and monotonic:
                    figure = _MEASURED_COUNTERS.get(family.name)
                    if figure is not None:
                        self.measured.add(figure, key, delta, _point_day_time(point, temporality, now))
            result.accepted += 1

    def _histogram_points(self, family, otel_name, points, temporality, resource, stream_prefix, now, result):
        streams = self.streams
        for point in points:
            if point.flags & _NO_RECORDED_VALUE:
                continue
            bounds = tuple(point.explicit_bounds)
            counts = tuple(point.bucket_counts) or (point.count,)
            if len(counts) != len(bounds) + 1 or sum(counts) != point.count or (bounds != family.bounds and (any(
                not (a < b) for a, b in zip(bounds, bounds[1:])
            ) or not all(_finite(b) for b in bounds))):  # the family's bounds were checked when they came
                result.reject("invalid_histogram", otel_name)
                continue
            total = point.sum if point.HasField("sum") else 0.0
            if not _finite(total):
                result.reject("non_finite_value", otel_name)
                continue
            if family.bounds is None:
                family.bounds = bounds
            elif bounds != family.bounds:
                result.reject("bounds_mismatch", otel_name)
                if len(result.messages) < 10:
                    result.messages.append(f"{otel_name}: bounds {list(bounds)} differ from the series' {list(family.bounds)}")
                continue
            raw = _raw_attributes(point.attributes)
            if stream_prefix is not None:
                stream_key = (stream_prefix, tuple(sorted(raw)))
                state = streams.get(stream_key)
                start = point.start_time_unix_nano
                if state is None:
                    if len(streams) >= self.max_streams:
                        result.reject("stream_limit", otel_name)
                        continue
                    delta_counts, delta_sum = counts, total
                    streams[stream_key] = [start, point.time_unix_nano, counts, total, now]
                else:
                    if point.time_unix_nano < state[1]:
                        result.reject("out_of_order", otel_name)
                        continue
                    previous = state[2]
                    if (start and start != state[0]) or any(c < p for c, p in zip(counts, previous)):
                        delta_counts, delta_sum = counts, total
                    else:
                        delta_counts = [c - p for c, p in zip(counts, previous)]
                        delta_sum = total - state[3]
                    state[0] = start
                    state[1] = point.time_unix_nano
                    state[2] = counts
                    state[3] = total
                    state[4] = now
            else:
                delta_counts, delta_sum = counts, total
            key = self._key(raw, resource)
            series = self._series(family, key, now)
            series_counts = series.counts
            for i, c in enumerate(delta_counts):
                if c:
                    series_counts[i] += c
            series.sum += delta_sum
            if point.exemplars and self.exemplars:
                _keep_exemplars(series, point.exemplars, family.bounds, now)
            if self.measured is not None and family.name in _MEASURED_HISTOGRAMS:
                self._measure_histogram(family.name, key, delta_counts, delta_sum,
                                        _point_day_time(point, temporality, now))
            result.accepted += 1

    def _measure_histogram(self, name: str, key: tuple, delta_counts, delta_sum: float, at: float) -> None:
        labels = dict(key)
        if name == "gen_ai_client_token_usage":
            figure = {"input": INPUT, "output": OUTPUT}.get(labels.get("gen_ai_token_type"))
            if figure is not None:
                self.measured.add(figure, key, delta_sum, at)
        elif "error_type" not in labels:  # successful calls: what the provider counts as requests
            self.measured.add(REQUESTS, key, sum(delta_counts), at)

    def _sweep_streams(self, now: float) -> None:
        """Forget cumulative streams not seen for ``stream_ttl`` seconds (their series stay)."""
        cutoff = now - self.stream_ttl
        for key in [k for k, state in self.streams.items() if state[-1] < cutoff]:
            del self.streams[key]
        self._next_sweep = now + min(self.stream_ttl, 60.0)

    # -- reading --------------------------------------------------------

    def _held_rows(self):
        for family in self.families_by_name.values():
            if family.kind == "gauge":
                continue
            for series in family.series.values():
                if series.held:
                    yield family, series
            if family.overflow is not None and family.overflow.held:
                yield family, family.overflow

    def releasable(self, now: float | None = None) -> list[tuple[str, tuple]]:
        """The held series due for release, as ``(family name, label key)``: their hold time has
        passed and a scrape saw them at zero (:meth:`mark_served`)."""
        now = self.clock() if now is None else now
        with self.lock:
            return [(family.name, series.key) for family, series in self._held_rows()
                    if series.served and now >= series.hold_until]

    def release(self, items) -> int:
        """Serve these ``(family name, label key)`` series at their value from now on; returns how
        many were held. With a state file the committer calls this only once the release is in the
        write-ahead log, so a restart never serves zero again where Prometheus saw a value."""
        released = 0
        with self.lock:
            for name, key in items:
                family = self.families_by_name.get(name)
                if family is None:
                    continue
                series = family.overflow if key == OVERFLOW_LABELS else family.series.get(key)
                if series is not None and series.held:
                    series.held = False
                    released += 1
        return released

    def mark_served(self, rows) -> None:
        """Note that a scrape received these held series (from a render) at zero."""
        with self.lock:
            for series in rows:
                series.served = True

    def release_held(self, now: float | None = None) -> None:
        """One scrape's turn without a state file: release what is due, then count every series
        still held as served at zero."""
        self.release(self.releasable(now))
        with self.lock:
            for _, series in self._held_rows():
                series.served = True

    def series_count(self) -> int:
        return sum(len(f.series) + (f.overflow is not None) for f in self.families_by_name.values())

    # -- state ----------------------------------------------------------

    def snapshot(self) -> dict:
        """Everything needed to continue after a restart, as JSON-ready data."""
        with self.lock:
            families = []
            for family in self.families_by_name.values():
                rows = []
                for series in list(family.series.values()) + ([family.overflow] if family.overflow else []):
                    value = [series.counts, series.sum] if family.kind == "histogram" else series.value
                    rows.append([[list(p) for p in series.key], value, series.created, series.held])
                families.append(
                    {
                        "name": family.name,
                        "kind": family.kind,
                        "help": family.help,
                        "unit": family.unit,
                        "bounds": list(family.bounds) if family.bounds is not None else None,
                        "overflowed": family.overflowed,
                        "series": rows,
                    }
                )
            streams = [
                [[prefix[0], [list(p) for p in prefix[1]], list(prefix[2])], [list(p) for p in raw], [
                    list(v) if isinstance(v, tuple) else v for v in state
                ]]
                for (prefix, raw), state in self.streams.items()
            ]
            data = {"version": 1, "saved_at": self.clock(), "families": families, "streams": streams,
                    "budgets": self.budgets.snapshot()}
            if self.measured is not None:
                data["measured"] = self.measured.snapshot()
            return data

    def restore(self, data: dict) -> None:
        """Load a :meth:`snapshot` (into an empty store). Raises ``ValueError`` if malformed."""
        if not isinstance(data, dict) or data.get("version") != 1:
            raise ValueError("not a genai-lens state snapshot (version 1)")
        now = self.clock()
        families: dict[str, Family] = {}
        streams: dict[tuple, list] = {}
        try:
            for item in data["families"]:
                bounds = tuple(float(b) for b in item["bounds"]) if item["bounds"] is not None else None
                family = Family(str(item["name"]), str(item["kind"]), str(item["help"]), str(item["unit"]), bounds)
                if family.kind not in ("counter", "gauge", "histogram"):
                    raise ValueError(f"unknown kind {family.kind!r}")
                family.overflowed = int(item["overflowed"])
                buckets = len(bounds) + 1 if family.kind == "histogram" else 0
                for key_list, value, created, held in item["series"]:
                    key = tuple((str(k), str(v)) for k, v in key_list)
                    series = Series(key, float(created), buckets, now + self.hold_seconds if held else 0.0)
                    if family.kind == "histogram":
                        counts, total = value
                        if len(counts) != buckets:
                            raise ValueError(f"{family.name}: bucket count mismatch")
                        series.counts = [int(c) for c in counts]
                        series.sum = float(total)
                    else:
                        series.value = float(value)
                    if key == OVERFLOW_LABELS:
                        family.overflow = series
                    else:
                        family.series[self._intern(key)] = series
                families[family.name] = family
            for (name, identity, scope), raw, state in data["streams"]:
                key = (
                    (str(name), tuple(tuple(p) for p in identity), tuple(scope)),
                    tuple(tuple(p) for p in raw),
                )
                streams[key] = [tuple(v) if isinstance(v, list) else v for v in state]
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"malformed state snapshot: {error}") from error
        budgets = BudgetTracker(self.budgets.budgets)
        try:
            budgets.restore(data.get("budgets", {}))
        except ValueError as error:
            raise ValueError(f"malformed state snapshot: {error}") from error
        measured = None
        if self.measured is not None:
            measured = MeasuredDays(self.measured.providers, self.measured.keep_days)
            try:
                measured.restore(data.get("measured", []))
            except ValueError as error:
                raise ValueError(f"malformed state snapshot: {error}") from error
        with self.lock:
            self.families_by_name = families
            self.streams = streams
            self.budgets = budgets
            if measured is not None:
                self.measured = measured
            # The values admitted before the restart stay admitted.
            for family in families.values():
                for key in family.series:
                    for label, value in key:
                        if label in self.label_value_limits and value != OTHER_VALUE:
                            self._label_values.setdefault(label, set()).add(value)
