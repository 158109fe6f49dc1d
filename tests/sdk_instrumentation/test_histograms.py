"""In-process histograms (sdk_instrumentation/histograms.py): the SDK's aggregation, merged into its export."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (AggregationTemporality, InMemoryMetricReader, MetricExporter,
                                              MetricExportResult, PeriodicExportingMetricReader)
from opentelemetry.sdk.metrics import Histogram as HistogramInstrument
from opentelemetry.sdk.resources import Resource
from opentelemetry.trace import SpanContext, TraceFlags

import sdk_instrumentation as lens
from sdk_instrumentation import attributes as a
from sdk_instrumentation.exemplars import call_context
from sdk_instrumentation.histograms import SCOPE, LocalHistograms, LocalHistogramsExporter
from sdk_instrumentation.setup import DELTA_TEMPORALITY

BOUNDS = a.DURATION_BUCKETS
VALUES = [0.005, 0.01, 0.0100001, 0.3, 0.32, 2.0, 100.0, 0.0, 7.5]  # on, above and past the bounds
ATTRS = {"gen_ai.request.model": "gpt-4o", "gen_ai.provider.name": "openai"}
SPAN = SpanContext(0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, False, TraceFlags(1))


class InMemoryMetricExporter(MetricExporter):
    """Keeps every batch it is given (the SDK has an in-memory reader, not an exporter)."""

    def __init__(self, preferred_temporality=None):
        super().__init__(preferred_temporality=preferred_temporality)
        self.batches = []

    def export(self, metrics_data, timeout_millis: float = 10_000, **kwargs):
        self.batches.append(metrics_data)
        return MetricExportResult.SUCCESS

    def get_finished_metrics_data(self):
        return list(self.batches)

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs) -> None:
        pass


def _sdk_point(values, span_context=None):
    reader = InMemoryMetricReader(preferred_temporality=DELTA_TEMPORALITY)
    provider = MeterProvider(metric_readers=[reader])
    histogram = provider.get_meter("x").create_histogram("h", unit="s", explicit_bucket_boundaries_advisory=list(BOUNDS))
    context = call_context(span_context)
    for value in values:
        histogram.record(value, ATTRS, context)
    (point,) = reader.get_metrics_data().resource_metrics[0].scope_metrics[0].metrics[0].data.data_points
    provider.shutdown()
    return point


def _local_metric(local: LocalHistograms):
    (metric,) = local.metrics()
    return metric


def test_the_points_are_the_sdk_aggregation():
    local = LocalHistograms()
    histogram = local.histogram("h", "s", "d", BOUNDS)
    histogram.record(VALUES[0], ATTRS, SPAN)
    histogram.record_many(VALUES[1:], ATTRS, SPAN)
    histogram.record(-1.0, ATTRS)  # negative: not recorded, as by the SDK
    metric = _local_metric(local)
    (point,) = metric.data.data_points
    sdk = _sdk_point(VALUES + [-1.0], SPAN)
    assert (metric.name, metric.unit, metric.data.aggregation_temporality) == ("h", "s", AggregationTemporality.DELTA)
    assert dict(point.attributes) == dict(sdk.attributes)
    assert (point.count, point.sum, point.min, point.max) == (sdk.count, sdk.sum, sdk.min, sdk.max)
    assert list(point.bucket_counts) == list(sdk.bucket_counts)
    assert tuple(point.explicit_bounds) == tuple(sdk.explicit_bounds)
    # Exemplars: the last value of each bucket that has one, with the span's ids, as the SDK's reservoir.
    ours = [(e.value, e.trace_id, e.span_id) for e in point.exemplars]
    theirs = [(e.value, e.trace_id, e.span_id) for e in sdk.exemplars]
    assert ours == theirs and len(ours) == sum(1 for c in point.bucket_counts if c)


def test_delta_points_reset_and_idle_sets_give_none():
    local = LocalHistograms()
    histogram = local.histogram("h", "s", "d", BOUNDS)
    histogram.record(0.5, ATTRS)
    histogram.record(0.7, {**ATTRS, "gen_ai.request.model": "gpt-4o-mini"})
    (metric,) = local.metrics(now=10**18)
    first = metric.data.data_points
    assert sorted(p.count for p in first) == [1, 1] and {p.time_unix_nano for p in first} == {10**18}
    assert all(p.exemplars == [] for p in first)  # no span: no exemplar
    assert local.metrics(now=10**18 + 5) == []  # nothing new
    histogram.record(3.0, ATTRS)
    (metric,) = local.metrics(now=10**18 + 9)
    (second,) = metric.data.data_points
    # Delta: from the previous collection to this one, as the SDK's points.
    assert (second.count, second.sum, second.start_time_unix_nano, second.time_unix_nano) == (1, 3.0, 10**18 + 5, 10**18 + 9)


def test_cumulative_points_keep_the_totals():
    local = LocalHistograms(cumulative=True)
    histogram = local.histogram("h", "s", "d", BOUNDS)
    histogram.record(0.5, ATTRS)
    _local_metric(local)
    histogram.record(1.5, ATTRS)
    metric = _local_metric(local)
    (point,) = metric.data.data_points
    assert (point.count, point.sum, metric.data.aggregation_temporality) == (2, 2.0, AggregationTemporality.CUMULATIVE)


def test_exemplars_off_by_the_standard_filter(monkeypatch):
    monkeypatch.setenv("OTEL_METRICS_EXEMPLAR_FILTER", "always_off")
    local = LocalHistograms()
    local.histogram("h", "s", "d", BOUNDS).record(0.5, ATTRS, SPAN)
    assert _local_metric(local).data.data_points[0].exemplars == []


def test_the_exporter_merges_them_into_each_batch_with_the_sdk_metrics():
    resource = Resource.create({"service.name": "merge"})
    inner = InMemoryMetricExporter(preferred_temporality=DELTA_TEMPORALITY)
    local = LocalHistograms()
    reader = PeriodicExportingMetricReader(LocalHistogramsExporter(inner, local, resource), export_interval_millis=3_600_000)
    provider = MeterProvider(resource=resource, metric_readers=[reader])
    provider.get_meter(SCOPE).create_counter("c").add(2, ATTRS)
    provider.get_meter("other").create_counter("o").add(1)
    local.histogram("h", "s", "d", BOUNDS).record(0.5, ATTRS, SPAN)
    provider.force_flush()
    (data,) = inner.get_finished_metrics_data()
    (resource_metrics,) = data.resource_metrics
    assert resource_metrics.resource == resource
    scopes = {sm.scope.name: [m.name for m in sm.metrics] for sm in resource_metrics.scope_metrics}
    assert scopes == {SCOPE: ["c", "h"], "other": ["o"]}  # added to the SDK's own scope, once
    provider.force_flush()
    # Nothing new for the SDK: its reader exports nothing (configure()'s dropped-points observable
    # counter is observed at every collection, so there every collection exports).
    assert len(inner.get_finished_metrics_data()) == 1
    assert local.cumulative is False
    cumulative = LocalHistograms()
    LocalHistogramsExporter(InMemoryMetricExporter(), cumulative, resource)  # the SDK's default: cumulative
    assert cumulative.cumulative is True
    provider.shutdown()


def test_a_batch_with_no_sdk_metrics_still_gets_them():
    resource = Resource.create({"service.name": "alone"})
    inner = InMemoryMetricExporter(preferred_temporality={HistogramInstrument: AggregationTemporality.DELTA})
    local = LocalHistograms()
    exporter = LocalHistogramsExporter(inner, local, resource)
    local.histogram("h", "s", "d", BOUNDS).record(0.5, ATTRS)
    from opentelemetry.sdk.metrics.export import MetricsData

    exporter.export(MetricsData([]))
    (data,) = inner.get_finished_metrics_data()
    assert [(rm.resource, [m.name for sm in rm.scope_metrics for m in sm.metrics]) for rm in data.resource_metrics] == [
        (resource, ["h"])]


@pytest.fixture
def receiver():
    from exporter.app import create_app
    from exporter.settings import Settings
    from sdk_instrumentation.local_server import LocalServer

    with LocalServer(create_app(Settings(new_series_hold_seconds=0))) as server:
        yield server


def test_configure_sends_them_to_the_exporter_exactly(receiver, fake_provider, openai_client):
    """configure(): the real client's calls and streams reach a real exporter through the local histograms."""
    import httpx

    from tests.exporter.otlp import values

    lens.uninstrument()
    configured = lens.configure(endpoint=receiver.url, service_name="local-histograms", set_global=False,
                                export_interval_seconds=3600)
    try:
        # First, only a failed call: histograms alone still make a batch.
        with pytest.raises(Exception):
            openai_client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}],
                                                  extra_headers={"x-fake-fault": "429"})
        configured.force_flush()
        failed = values(httpx.get(receiver.url + "/metrics", timeout=10).text,
                        "gen_ai_client_operation_duration_seconds_count")
        assert [(dict(k)["error_type"], v) for k, v in failed.items()] == [("429", 1.0)]
        headers = {"x-fake-input-tokens": "1000", "x-fake-output-tokens": "100", "x-fake-chunks": "5"}
        for _ in range(3):
            openai_client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}],
                                                  extra_headers=headers)
        list(openai_client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}],
                                                   stream=True, extra_headers=headers))
        configured.force_flush()
    finally:
        configured.shutdown()
    text = httpx.get(receiver.url + "/metrics", timeout=10).text
    count = values(text, "gen_ai_client_operation_duration_seconds_count")
    assert sum(count.values()) == 5
    tokens = values(text, "gen_ai_client_token_usage_sum")
    assert sorted(tokens.values()) == [400.0, 4000.0]  # 4 calls x 100 output, x 1000 input
    assert sum(values(text, "gen_ai_client_operation_time_to_first_chunk_seconds_count").values()) == 1
    assert sum(values(text, "gen_ai_client_operation_time_per_output_chunk_seconds_count").values()) == 4  # 5 chunks
