"""Aggregation: delta and cumulative sums, histograms, gauges, refusals, cardinality, holds."""

import math

import pytest
from tests.exporter.otlp import (
    CUMULATIVE,
    T0,
    gauge_metric,
    histogram_metric,
    histogram_point,
    number_point,
    request,
    sum_metric,
)
from opentelemetry.proto.metrics.v1 import metrics_pb2

from exporter.store import OVERFLOW_LABELS, Store

KEY = (("gen_ai_provider_name", "openai"), ("genai_lens_api_key", "k1"), ("service_name", "svc"))
POINT = {"gen_ai.provider.name": "openai", "genai_lens.api_key": "k1"}


def values(store, name):
    return {s.key: s.value for s in store.families_by_name[name].series.values()}


def test_delta_points_are_added():
    store = Store(hold_seconds=0)
    for value in (0.25, 0.5, 1e-9):
        result = store.ingest(request(sum_metric("genai_lens.cost", "usd", [number_point(value, POINT)])))
        assert (result.accepted, result.rejected) == (1, {})
    assert values(store, "genai_lens_cost_usd") == {KEY: pytest.approx(0.750000001, abs=1e-12)}
    assert store.families_by_name["genai_lens_cost_usd"].kind == "counter"


def test_cumulative_points_become_deltas_with_resets():
    store = Store(hold_seconds=0)

    def post(value, start, time):
        metric = sum_metric("genai_lens.cost", "usd", [number_point(value, POINT, start=start, time=time)], temporality=CUMULATIVE)
        return store.ingest(request(metric, resource={"service.name": "svc", "service.instance.id": "a"}))

    post(2.0, T0, T0 + 10)  # a new stream counts from zero: +2
    post(5.0, T0, T0 + 20)  # +3
    post(5.0, T0, T0 + 20)  # a retried batch: +0
    post(1.0, T0 + 25, T0 + 30)  # start time changed: a restart, +1
    post(4.0, T0 + 25, T0 + 40)  # +3
    post(0.5, T0 + 25, T0 + 50)  # value fell with the same start: a reset, +0.5
    result = post(9.0, T0 + 25, T0 + 45)  # older than the last point: refused
    assert result.rejected == {"out_of_order": 1}
    assert values(store, "genai_lens_cost_usd") == {KEY: 2 + 3 + 1 + 3 + 0.5}


def test_cumulative_streams_of_many_processes_sum_into_one_series():
    store = Store(hold_seconds=0)
    for pid in range(100):
        for value in (1, 3):  # each process: cumulative 1 then 3
            metric = sum_metric("genai_lens.unpriced.requests", "{request}", [number_point(value, POINT, time=T0 + value, as_int=True)], temporality=CUMULATIVE)
            resource = {"service.name": "svc", "service.instance.id": f"id-{pid}", "host.name": f"h{pid % 7}", "process.pid": pid}
            store.ingest(request(metric, resource=resource))
    assert values(store, "genai_lens_unpriced_requests") == {KEY: 300}
    assert len(store.streams) == 100


def test_hundred_processes_delta_make_one_set_of_series():
    store = Store(hold_seconds=0)
    for pid in range(100):
        resource = {"service.name": "svc", "service.instance.id": f"id-{pid}", "host.name": f"host-{pid}", "process.pid": 1000 + pid}
        store.ingest(request(
            sum_metric("genai_lens.cost", "usd", [number_point(0.01, POINT)]),
            histogram_metric("gen_ai.client.token.usage", "{token}", [histogram_point([10, 100], [0, 1, 0], 50, POINT)]),
            resource=resource,
        ))
    assert values(store, "genai_lens_cost_usd") == {KEY: pytest.approx(1.0, abs=1e-9)}
    (series,) = store.families_by_name["gen_ai_client_token_usage"].series.values()
    assert (series.key, series.counts, series.sum) == (KEY, [0, 100, 0], 5000)
    assert store.series_count() == 2


def test_histogram_delta_and_cumulative_and_bounds_mismatch():
    store = Store(hold_seconds=0)
    bounds = [0.1, 1.0]
    store.ingest(request(histogram_metric("gen_ai.client.operation.duration", "s", [histogram_point(bounds, [1, 2, 0], 1.5, POINT)])))
    store.ingest(request(histogram_metric("gen_ai.client.operation.duration", "s", [histogram_point(bounds, [0, 1, 1], 3.5, POINT)])))
    for counts, total, start in (([1, 0, 0], 0.05, T0), ([2, 1, 0], 0.65, T0), ([0, 1, 0], 0.5, T0 + 5)):
        point = histogram_point(bounds, counts, total, POINT, start=start, time=T0 + 10 + start - T0 + sum(counts))
        store.ingest(request(histogram_metric("gen_ai.client.operation.duration", "s", [point], temporality=CUMULATIVE)))
    result = store.ingest(request(histogram_metric("gen_ai.client.operation.duration", "s", [histogram_point([0.5], [1, 0], 0.2, POINT)])))
    assert result.accepted == 0 and result.rejected == {"bounds_mismatch": 1}
    assert "bounds [0.5] differ from the series' [0.1, 1.0]" in result.error_message
    (series,) = store.families_by_name["gen_ai_client_operation_duration_seconds"].series.values()
    # delta 1,2,0 + 0,1,1; cumulative 1,0,0 then 2,1,0 (+1,1,0) then a restart 0,1,0
    assert series.counts == [1 + 0 + 1 + 1 + 0, 2 + 1 + 0 + 1 + 1, 0 + 1]
    assert series.sum == pytest.approx(1.5 + 3.5 + 0.05 + 0.6 + 0.5)


def test_invalid_histograms_are_rejected():
    store = Store(hold_seconds=0)
    bad_counts = histogram_point([1.0, 2.0], [1, 1], 1.0, POINT)  # 2 counts for 2 bounds
    wrong_count = histogram_point([1.0], [1, 1], 1.0, POINT)
    wrong_count.count = 5
    unsorted = histogram_point([2.0, 1.0], [1, 1, 1], 1.0, POINT)
    nan_sum = histogram_point([1.0], [1, 1], math.nan, POINT)
    result = store.ingest(request(histogram_metric("h", "s", [bad_counts, wrong_count, unsorted, nan_sum])))
    assert result.rejected == {"invalid_histogram": 3, "non_finite_value": 1}
    assert result.accepted == 0


def test_gauges_keep_the_last_value_and_updown_sums_add():
    store = Store(hold_seconds=60)  # gauges are never held
    store.ingest(request(gauge_metric("queue.fill", "1", [number_point(0.5, POINT)])))
    store.ingest(request(gauge_metric("queue.fill", "1", [number_point(0.25, POINT)])))
    store.ingest(request(sum_metric("active.calls", "{call}", [number_point(3, POINT, as_int=True)], monotonic=False)))
    store.ingest(request(sum_metric("active.calls", "{call}", [number_point(-1, POINT, as_int=True)], monotonic=False)))
    assert values(store, "queue_fill_ratio") == {KEY: 0.25}
    assert values(store, "active_calls") == {KEY: 2}
    assert {f.name: f.kind for f in store.families_by_name.values()} == {"queue_fill_ratio": "gauge", "active_calls": "gauge"}
    store.release_held()
    assert not any(s.held for f in store.families_by_name.values() for s in f.series.values())


def test_refused_kinds_and_bad_values_have_reasons():
    store = Store(hold_seconds=0)
    expo = metrics_pb2.Metric(name="latency", exponential_histogram=metrics_pb2.ExponentialHistogram(
        data_points=[metrics_pb2.ExponentialHistogramDataPoint(count=1)] * 2, aggregation_temporality=1))
    summary = metrics_pb2.Metric(name="rpc", summary=metrics_pb2.Summary(data_points=[metrics_pb2.SummaryDataPoint(count=1)]))
    empty = metrics_pb2.Metric(name="nothing")
    unspecified = sum_metric("u", "", [number_point(1.0, POINT)], temporality=0)
    bad = sum_metric("genai_lens.cost", "usd", [
        number_point(math.nan, POINT), number_point(math.inf, POINT), number_point(-math.inf, POINT),
        number_point(-0.5, POINT), metrics_pb2.NumberDataPoint(), number_point(0.125, POINT),
    ])
    result = store.ingest(request(expo, summary, empty, unspecified, bad))
    assert result.accepted == 1
    assert result.rejected == {
        "unsupported_exponential_histogram": 2, "unsupported_summary": 1, "no_data": 1,
        "unspecified_temporality": 1, "non_finite_value": 3, "negative_value": 1, "missing_value": 1,
    }
    assert result.error_message.startswith("10 data points rejected: latency: exponential histograms are not supported")
    assert values(store, "genai_lens_cost_usd") == {KEY: 0.125}
    assert store.points_rejected["non_finite_value"] == 3 and store.points_received == 11


def test_type_conflicts_are_rejected():
    store = Store(hold_seconds=0)
    store.ingest(request(sum_metric("x", "", [number_point(1.0, POINT)])))
    result = store.ingest(request(gauge_metric("x", "", [number_point(1.0, POINT)])))
    assert result.rejected == {"type_conflict": 1}


def test_label_allow_and_deny_lists():
    point = {**POINT, "server.address": "api.openai.com", "gen_ai.response.model": "gpt-x-2025"}
    deny = Store(hold_seconds=0, label_deny=["server.address", "gen_ai_response_model"])
    deny.ingest(request(sum_metric("genai_lens.cost", "usd", [number_point(1.0, point)])))
    assert values(deny, "genai_lens_cost_usd") == {KEY: 1.0}
    allow = Store(hold_seconds=0, label_allow=["gen_ai.provider.name", "service_name"])
    allow.ingest(request(sum_metric("genai_lens.cost", "usd", [number_point(1.0, point)])))
    assert values(allow, "genai_lens_cost_usd") == {(("gen_ai_provider_name", "openai"), ("service_name", "svc")): 1.0}
    resources = Store(hold_seconds=0, resource_labels=["service.name", "deployment.environment"])
    resources.ingest(request(sum_metric("c", "", [number_point(1.0)]), resource={"service.name": "s", "deployment.environment": "prod", "host.name": "h"}))
    assert values(resources, "c") == {(("deployment_environment", "prod"), ("service_name", "s")): 1.0}


def test_series_limit_folds_into_one_overflow_series():
    store = Store(hold_seconds=0, series_limit=3)
    points = [number_point(1.0, {"genai_lens.api_key": f"k{i}"}) for i in range(10)]
    store.ingest(request(sum_metric("genai_lens.cost", "usd", points)))
    store.ingest(request(sum_metric("genai_lens.cost", "usd", [number_point(0.5, {"genai_lens.api_key": "k0"}), number_point(2.0, {"genai_lens.api_key": "k9"})])))
    family = store.families_by_name["genai_lens_cost_usd"]
    assert {dict(s.key)["genai_lens_api_key"]: s.value for s in family.series.values()} == {"k0": 1.5, "k1": 1.0, "k2": 1.0}
    assert (family.overflow.key, family.overflow.value, family.overflowed) == (OVERFLOW_LABELS, 9.0, 8)
    assert store.series_count() == 4


def test_new_series_are_held_at_zero_for_the_window_and_one_scrape():
    now = [1000.0]
    store = Store(hold_seconds=60, clock=lambda: now[0])
    store.ingest(request(sum_metric("genai_lens.cost", "usd", [number_point(0.25, POINT)])))
    (series,) = store.families_by_name["genai_lens_cost_usd"].series.values()
    assert series.held and series.value == 0.25
    now[0] = 1059.0
    store.release_held()
    assert series.held and series.served  # served at zero to this scrape
    now[0] = 1060.0
    store.release_held()
    assert not series.held


def test_held_series_unseen_by_any_scrape_stays_held_past_the_window():
    now = [1000.0]
    store = Store(hold_seconds=1, clock=lambda: now[0])
    store.ingest(request(sum_metric("genai_lens.cost", "usd", [number_point(0.25, POINT)])))
    now[0] = 5000.0
    store.release_held()
    (series,) = store.families_by_name["genai_lens_cost_usd"].series.values()
    assert series.held  # the first scrape after the window still sees zero
    store.release_held()
    assert not series.held


def test_stale_cumulative_streams_are_forgotten():
    now = [1000.0]
    store = Store(hold_seconds=0, stream_ttl=100, clock=lambda: now[0])
    store.ingest(request(sum_metric("c", "", [number_point(1.0)], temporality=CUMULATIVE)))
    assert len(store.streams) == 1
    now[0] = 1200.0
    store.ingest(request(sum_metric("other", "", [number_point(1.0)])))
    assert len(store.streams) == 0
    assert values(store, "c") == {(("service_name", "svc"),): 1.0}


def test_stream_limit():
    store = Store(hold_seconds=0, max_streams=2)
    points = [number_point(1.0, {"k": str(i)}) for i in range(3)]
    result = store.ingest(request(sum_metric("c", "", points, temporality=CUMULATIVE)))
    assert (result.accepted, result.rejected) == (2, {"stream_limit": 1})
