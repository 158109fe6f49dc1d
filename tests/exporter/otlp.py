"""Helpers building OTLP metric requests and reading /metrics, for the exporter tests."""

from __future__ import annotations

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2
from prometheus_client.parser import text_string_to_metric_families

DELTA = metrics_pb2.AGGREGATION_TEMPORALITY_DELTA
CUMULATIVE = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
PROTOBUF = {"Content-Type": "application/x-protobuf"}
T0 = 1_700_000_000_000_000_000


def attrs(mapping: dict) -> list[KeyValue]:
    out = []
    for key, value in mapping.items():
        if isinstance(value, bool):
            any_value = AnyValue(bool_value=value)
        elif isinstance(value, int):
            any_value = AnyValue(int_value=value)
        elif isinstance(value, float):
            any_value = AnyValue(double_value=value)
        else:
            any_value = AnyValue(string_value=value)
        out.append(KeyValue(key=key, value=any_value))
    return out


def number_point(value, attributes=None, start=T0, time=T0 + 1, as_int=False):
    point = metrics_pb2.NumberDataPoint(attributes=attrs(attributes or {}), start_time_unix_nano=start, time_unix_nano=time)
    if as_int:
        point.as_int = value
    else:
        point.as_double = value
    return point


def histogram_point(bounds, counts, total, attributes=None, start=T0, time=T0 + 1):
    return metrics_pb2.HistogramDataPoint(
        attributes=attrs(attributes or {}), start_time_unix_nano=start, time_unix_nano=time,
        explicit_bounds=bounds, bucket_counts=counts, count=sum(counts), sum=total,
    )


def sum_metric(name, unit, points, temporality=DELTA, monotonic=True, description=""):
    return metrics_pb2.Metric(
        name=name, unit=unit, description=description,
        sum=metrics_pb2.Sum(data_points=points, aggregation_temporality=temporality, is_monotonic=monotonic),
    )


def histogram_metric(name, unit, points, temporality=DELTA, description=""):
    return metrics_pb2.Metric(
        name=name, unit=unit, description=description,
        histogram=metrics_pb2.Histogram(data_points=points, aggregation_temporality=temporality),
    )


def gauge_metric(name, unit, points, description=""):
    return metrics_pb2.Metric(name=name, unit=unit, description=description, gauge=metrics_pb2.Gauge(data_points=points))


def request(*metrics, resource=None, scope="test") -> ExportMetricsServiceRequest:
    resource = {"service.name": "svc"} if resource is None else resource
    return ExportMetricsServiceRequest(
        resource_metrics=[
            metrics_pb2.ResourceMetrics(
                resource={"attributes": attrs(resource)},
                scope_metrics=[metrics_pb2.ScopeMetrics(scope={"name": scope}, metrics=list(metrics))],
            )
        ]
    )


def samples(text: str) -> dict:
    """``{(sample name, frozenset(labels)): value}`` of a text exposition."""
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def values(text: str, name: str) -> dict:
    """``{frozenset(labels): value}`` for one sample name."""
    return {labels: value for (sample, labels), value in samples(text).items() if sample == name}


def labels(**kv) -> frozenset:
    return frozenset(kv.items())
