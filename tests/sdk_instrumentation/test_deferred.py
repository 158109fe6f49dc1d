"""Queued histogram records: applied exactly once at collection, bounded when nobody collects."""

import threading

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from sdk_instrumentation.instruments import Instruments


def points(reader, name):
    data = reader.get_metrics_data()
    return [p for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics if m.name == name
            for p in m.data.data_points]


def test_records_are_applied_at_collection_exactly_once():
    reader = InMemoryMetricReader()
    instruments = Instruments(MeterProvider(metric_readers=[reader]))
    attrs = {"gen_ai.request.model": "gpt-4o"}
    for value in (0.1, 0.2, 0.3):
        instruments.duration.record(value, attrs)
    instruments.time_per_output_chunk.record_each([0.01, 0.02], attrs)
    assert len(instruments.queue) == 4
    [duration] = points(reader, "gen_ai.client.operation.duration")
    assert duration.count == 3 and abs(duration.sum - 0.6) < 1e-12
    [gaps] = points(reader, "gen_ai.client.operation.time_per_output_chunk")
    assert gaps.count == 2
    assert len(instruments.queue) == 0
    assert points(reader, "gen_ai.client.operation.duration")[0].count == 3  # cumulative: nothing applied twice


def test_queue_is_bounded_without_a_reader_and_loses_nothing():
    reader = InMemoryMetricReader()
    instruments = Instruments(MeterProvider(metric_readers=[reader]), queue_limit=100)

    def work():
        for _ in range(1000):
            instruments.token_usage.record(2, {"gen_ai.token.type": "input"})

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(instruments.queue) <= 101
    [tokens] = points(reader, "gen_ai.client.token.usage")
    assert tokens.count == 4000 and tokens.sum == 8000


def test_instruments_are_shared_per_meter_provider():
    provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    assert Instruments.shared(provider) is Instruments.shared(provider)
    assert Instruments.shared(provider) is not Instruments.shared(MeterProvider())
