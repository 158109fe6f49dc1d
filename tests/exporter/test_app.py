"""The HTTP service: OTLP/HTTP ingest over real HTTP, errors, tokens, limits, a stock SDK."""

import gzip
import json
import math

import httpx
import pytest
from google.protobuf import json_format
from google.rpc import status_pb2
from hypothesis import given, settings, strategies as st
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from tests.exporter.otlp import PROTOBUF, histogram_metric, histogram_point, labels, number_point, request, sum_metric, values

COST = sum_metric("genai_lens.cost", "usd", [number_point(0.25, {"gen_ai.provider.name": "openai", "genai_lens.api_key": "k1"})])
COST_LABELS = labels(gen_ai_provider_name="openai", genai_lens_api_key="k1", service_name="svc")


def status(response) -> status_pb2.Status:
    message = status_pb2.Status()
    if response.headers["content-type"].startswith("application/json"):
        json_format.Parse(response.text, message)
    else:
        message.ParseFromString(response.content)
    return message


def test_protobuf_ingest(exporter):
    server = exporter()
    response = server.post(request(COST))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-protobuf"
    assert ExportMetricsServiceResponse.FromString(response.content) == ExportMetricsServiceResponse()
    assert values(server.metrics(), "genai_lens_cost_usd_total") == {COST_LABELS: 0.25}


def test_json_ingest_per_the_otlp_json_mapping(exporter):
    server = exporter()
    body = {
        "resourceMetrics": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]},
            "scopeMetrics": [{
                "scope": {"name": "s"},
                "metrics": [
                    {"name": "genai_lens.cost", "unit": "usd", "sum": {
                        "aggregationTemporality": 1, "isMonotonic": True,
                        "dataPoints": [{"asDouble": 0.125, "timeUnixNano": "1700000000000000000",
                                        "attributes": [{"key": "genai_lens.api_key", "value": {"stringValue": "k2"}}]}]}},
                    {"name": "gen_ai.client.token.usage", "unit": "{token}", "histogram": {
                        "aggregationTemporality": 1,
                        "dataPoints": [{"count": "3", "sum": 120, "bucketCounts": ["1", "2", "0"], "explicitBounds": [16, 64],
                                        "attributes": [{"key": "gen_ai.token.type", "value": {"stringValue": "input"}}],
                                        "exemplars": [{"asDouble": 1, "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174"}]}]}},
                    {"name": "rpc", "summary": {"dataPoints": [{"count": "1", "sum": 1}]}},
                ],
                "someFutureField": {"x": 1},
            }],
        }]
    }
    response = server.client.post(server.url + "/v1/metrics", content=json.dumps(body), headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"partialSuccess": {"rejectedDataPoints": "1", "errorMessage": "1 data points rejected: rpc: summaries are not supported"}}
    text = server.metrics()
    assert values(text, "genai_lens_cost_usd_total") == {labels(genai_lens_api_key="k2", service_name="svc"): 0.125}
    assert values(text, "gen_ai_client_token_usage_bucket") == {
        labels(gen_ai_token_type="input", service_name="svc", le="16.0"): 1,
        labels(gen_ai_token_type="input", service_name="svc", le="64.0"): 3,
        labels(gen_ai_token_type="input", service_name="svc", le="+Inf"): 3,
    }
    assert values(text, "gen_ai_client_token_usage_sum") == {labels(gen_ai_token_type="input", service_name="svc"): 120}
    assert values(text, "genai_lens_exporter_points_rejected_total") == {labels(reason="unsupported_summary"): 1}


def test_gzip_bodies(exporter):
    server = exporter()
    response = server.client.post(
        server.url + "/v1/metrics", content=gzip.compress(request(COST).SerializeToString()),
        headers={**PROTOBUF, "Content-Encoding": "gzip"},
    )
    assert response.status_code == 200
    assert values(server.metrics(), "genai_lens_cost_usd_total") == {COST_LABELS: 0.25}


def test_partial_success_in_protobuf(exporter):
    server = exporter()
    bad = sum_metric("genai_lens.cost", "usd", [number_point(math.nan), number_point(-1.0), number_point(0.5)])
    hist = histogram_metric("h", "s", [histogram_point([1.0], [1, 0], 0.5), histogram_point([2.0], [1, 0], 0.5)])
    response = server.post(request(bad, hist))
    assert response.status_code == 200
    message = ExportMetricsServiceResponse.FromString(response.content)
    assert message.partial_success.rejected_data_points == 3
    assert message.partial_success.error_message == (
        "3 data points rejected: genai_lens.cost: value is NaN or infinite; genai_lens.cost: counter value is negative; "
        "h: histogram bounds differ from the series' bounds; h: bounds [2.0] differ from the series' [1.0]"
    )
    text = server.metrics()
    assert values(text, "genai_lens_cost_usd_total") == {labels(service_name="svc"): 0.5}
    assert values(text, "genai_lens_exporter_points_rejected_total") == {
        labels(reason="non_finite_value"): 1, labels(reason="negative_value"): 1, labels(reason="bounds_mismatch"): 1,
    }
    assert values(text, "genai_lens_exporter_points_received_total") == {frozenset(): 5}


def test_bad_requests(exporter):
    server = exporter(max_body_bytes=4096)
    post = server.client.post
    url = server.url + "/v1/metrics"
    garbage = post(url, content=b"\xff\x00 not protobuf", headers=PROTOBUF)
    assert garbage.status_code == 400
    assert status(garbage).message.startswith("body is not a valid OTLP protobuf metrics request")
    bad_json = post(url, content=b"{not json", headers={"Content-Type": "application/json"})
    assert (bad_json.status_code, bad_json.headers["content-type"]) == (400, "application/json")
    assert status(bad_json).code == 3
    bad_gzip = post(url, content=b"\x1f\x8b\x08\x00garbage", headers={**PROTOBUF, "Content-Encoding": "gzip"})
    assert bad_gzip.status_code == 400
    text = post(url, content=b"x", headers={"Content-Type": "text/plain"})
    assert text.status_code == 415 and "application/x-protobuf" in status(text).message
    no_type = post(url, content=b"x")
    assert no_type.status_code == 415
    brotli = post(url, content=b"x", headers={**PROTOBUF, "Content-Encoding": "br"})
    assert brotli.status_code == 415
    big = post(url, content=b"\x00" * 5000, headers=PROTOBUF)
    assert big.status_code == 413 and status(big).message == "body is over 4096 bytes"

    def chunks():  # no Content-Length: the limit holds while reading the stream
        for _ in range(10):
            yield b"\x00" * 1000

    streamed = post(url, content=chunks(), headers=PROTOBUF)
    assert streamed.status_code == 413
    assert post(url, content=request(COST).SerializeToString(), headers=PROTOBUF).status_code == 200


def test_gzip_bomb_gets_413(exporter):
    server = exporter(max_body_bytes=1024 * 1024)
    bomb = gzip.compress(b"\x00" * (200 * 1024 * 1024), compresslevel=9)  # 200 MiB inflated, ~200 KiB sent
    assert len(bomb) < 1024 * 1024
    response = server.client.post(server.url + "/v1/metrics", content=bomb, headers={**PROTOBUF, "Content-Encoding": "gzip"})
    assert response.status_code == 413
    assert status(response).message == "body is over 1048576 bytes once decompressed"
    assert server.client.get(server.url + "/healthz").text == "ok\n"


def test_tokens(exporter):
    server = exporter(ingest_token="in-secret", scrape_token="scrape-secret")
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic in-secret"}, {"Authorization": "Bearer scrape-secret"}):
        response = server.post(request(COST), headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
    assert server.client.get(server.url + "/metrics").status_code == 401
    assert server.client.get(server.url + "/metrics", headers={"Authorization": "Bearer in-secret"}).status_code == 401
    scrape = {"Authorization": "Bearer scrape-secret"}
    assert "genai_lens_cost_usd_total" not in server.metrics(scrape)  # nothing was accepted
    assert server.post(request(COST), headers={"Authorization": "Bearer in-secret"}).status_code == 200
    assert values(server.metrics(scrape), "genai_lens_cost_usd_total") == {COST_LABELS: 0.25}
    assert server.client.get(server.url + "/healthz").status_code == 200
    assert server.client.get(server.url + "/readyz").text == "ready\n"


def test_no_request_gives_a_500(exporter):
    server = exporter()

    @settings(max_examples=100, deadline=None)
    @given(body=st.binary(max_size=300), kind=st.sampled_from(["application/x-protobuf", "application/json"]), gzipped=st.booleans())
    def post_anything(body, kind, gzipped):
        headers = {"Content-Type": kind}
        if gzipped:
            headers["Content-Encoding"] = "gzip"
        response = server.client.post(server.url + "/v1/metrics", content=body, headers=headers)
        assert response.status_code in (200, 400)

    post_anything()
    assert server.client.get(server.url + "/healthz").status_code == 200


def test_stock_sdk_with_default_cumulative_temporality(exporter):
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource

    server = exporter()
    providers = []
    for instance in ("a", "b"):
        reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=server.url + "/v1/metrics"), export_interval_millis=3_600_000)
        provider = MeterProvider(metric_readers=[reader], resource=Resource.create({"service.name": "shop", "service.instance.id": instance}))
        providers.append(provider)
        meter = provider.get_meter("test")
        cost = meter.create_counter("genai_lens.cost", unit="usd", description="Cost of GenAI calls in US dollars.")
        duration = meter.create_histogram("gen_ai.client.operation.duration", unit="s", explicit_bucket_boundaries_advisory=[0.1, 1.0])
        cost.add(0.5, {"genai_lens.api_key": "k1"})
        duration.record(0.05, {"gen_ai.provider.name": "openai"})
        provider.force_flush()
        cost.add(0.25, {"genai_lens.api_key": "k1"})  # cumulative 0.75 on the next export
        duration.record(2.0, {"gen_ai.provider.name": "openai"})
        provider.force_flush()
    for provider in providers:
        provider.shutdown()  # a final export of the same cumulative values: adds nothing
    text = server.metrics()
    assert values(text, "genai_lens_cost_usd_total") == {labels(genai_lens_api_key="k1", service_name="shop"): 1.5}
    assert values(text, "gen_ai_client_operation_duration_seconds_bucket") == {
        labels(gen_ai_provider_name="openai", service_name="shop", le="0.1"): 2,
        labels(gen_ai_provider_name="openai", service_name="shop", le="1.0"): 2,
        labels(gen_ai_provider_name="openai", service_name="shop", le="+Inf"): 4,
    }
    assert values(text, "gen_ai_client_operation_duration_seconds_sum") == {
        labels(gen_ai_provider_name="openai", service_name="shop"): pytest.approx(4.1, abs=1e-9)
    }
    assert "# HELP genai_lens_cost_usd_total Cost of GenAI calls in US dollars." in text
