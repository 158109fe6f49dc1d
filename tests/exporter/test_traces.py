"""POST /v1/traces: GenAI spans of any instrumentation become the SDK's series, priced by the SDK's engine.

The real ``openai`` client, traced by the official OpenTelemetry OpenAI instrumentation and exported
with the OpenTelemetry SDK's own OTLP/HTTP span exporter, against the fake provider; and spans in the
attribute variants other instrumentations emit (exporter/genai_spans.py), built as OTLP protobuf.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest, ExportTraceServiceResponse
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from exporter.genai_spans import ATTRIBUTES, MODALITY_ATTRIBUTES
from exporter.span_metrics import SpanConverter
from sdk_instrumentation.fake_provider import FakeProvider
from sdk_instrumentation.local_server import LocalServer
from sdk_instrumentation.pricing import Pricing
from sdk_instrumentation.usage import Usage
from tests.exporter.otlp import values

PRICING = Pricing()
SECOND = 1_000_000_000


def _any(value) -> common_pb2.AnyValue:
    if isinstance(value, bool):
        return common_pb2.AnyValue(bool_value=value)
    if isinstance(value, int):
        return common_pb2.AnyValue(int_value=value)
    if isinstance(value, float):
        return common_pb2.AnyValue(double_value=value)
    return common_pb2.AnyValue(string_value=str(value))


def span(attributes: dict, seconds: float = 1.0, error: bool = False, name: str = "call") -> trace_pb2.Span:
    out = trace_pb2.Span(name=name, kind=trace_pb2.Span.SPAN_KIND_CLIENT, start_time_unix_nano=10 * SECOND,
                         end_time_unix_nano=10 * SECOND + int(seconds * SECOND))
    out.trace_id, out.span_id = b"\x01" * 16, b"\x02" * 8
    for key, value in attributes.items():
        out.attributes.append(common_pb2.KeyValue(key=key, value=_any(value)))
    if error:
        out.status.code = trace_pb2.Status.STATUS_CODE_ERROR
    return out


def traces(*spans, scope: str = "some.instrumentation", resource: dict | None = None) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    for key, value in {"service.name": "app", **(resource or {})}.items():
        resource_spans.resource.attributes.append(common_pb2.KeyValue(key=key, value=_any(value)))
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = scope
    scope_spans.spans.extend(spans)
    return request


def post_traces(server, request, headers=None, **kwargs) -> httpx.Response:
    headers = {"Content-Type": "application/x-protobuf", **(headers or {})}
    return server.client.post(server.url + "/v1/traces", content=request.SerializeToString(), headers=headers, **kwargs)


def by(text: str, name: str, *labels: str) -> dict:
    """Sum of sample ``name`` grouped by ``labels`` (a missing label groups as None)."""
    out: dict = {}
    for key, value in values(text, name).items():
        found = dict(key)
        group = tuple(found.get(label) for label in labels)
        out[group] = out.get(group, 0) + value
    return out


def cost(model: str, provider: str = "openai", **usage) -> float:
    return PRICING.price(provider, model, Usage(**usage)).total


# ------------------------------------------------------------------ the official instrumentation, end to end

def openai_calls(provider_url: str, cached_tokens: int = 0, embeddings: bool = False) -> None:
    """Through the real ``openai`` client: gpt-4o 1000 in (``cached_tokens`` of them cached) / 200 out;
    a gpt-4o-mini stream of 300 / 30 with its usage; a 429 on gpt-4o; text-embedding-3-small 55 in."""
    import openai

    client = openai.OpenAI(base_url=provider_url + "/v1", api_key="sk-traced-0000000000000000", max_retries=0)
    hi = [{"role": "user", "content": "hi"}]
    headers = {"x-fake-input-tokens": "1000", "x-fake-output-tokens": "200"}
    if cached_tokens:
        headers["x-fake-cached-tokens"] = str(cached_tokens)
    client.chat.completions.create(model="gpt-4o", messages=hi, extra_headers=headers)
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=hi, stream=True, stream_options={"include_usage": True},
        extra_headers={"x-fake-input-tokens": "300", "x-fake-output-tokens": "30", "x-fake-chunks": "3"})
    for _ in stream:
        pass
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="gpt-4o", messages=hi, extra_headers={"x-fake-fault": "429"})
    if embeddings:
        client.embeddings.create(model="text-embedding-3-small", input="x", extra_headers={"x-fake-input-tokens": "55"})


@pytest.fixture
def traced():
    """``traced(instrumentor, endpoint, service, resource_attributes, **instrument_options)``: a third-party
    instrumentor on its own tracer provider, exporting OTLP/HTTP spans to ``endpoint``; removed afterwards."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    started = []

    def start(instrumentor, endpoint: str, service: str, resource_attributes: dict | None = None, **options):
        provider = TracerProvider(resource=Resource.create({"service.name": service, **(resource_attributes or {})}))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint + "/v1/traces")))
        instrumentor.instrument(tracer_provider=provider, **options)
        started.append((instrumentor, provider))
        return provider

    yield start
    for instrumentor, provider in started:
        instrumentor.uninstrument()
        provider.shutdown()


@pytest.fixture
def official_openai(traced):
    """The official OpenTelemetry OpenAI instrumentation."""
    instrumentation = pytest.importorskip("opentelemetry.instrumentation.genai.openai")
    return lambda endpoint, resource_attributes=None: traced(instrumentation.OpenAIInstrumentor(), endpoint,
                                                             "traced-app", resource_attributes)


def test_official_openai_spans_become_priced_series(exporter, official_openai):
    server = exporter()
    provider = official_openai(server.url)
    with LocalServer(FakeProvider().app) as fake:
        openai_calls(fake.url, embeddings=True)
    assert provider.force_flush(10_000)
    text = server.metrics()

    calls = by(text, "gen_ai_client_operation_duration_seconds_count", "gen_ai_request_model", "error_type")
    assert calls == {("gpt-4o", None): 1, ("gpt-4o", "openai.RateLimitError"): 1, ("gpt-4o-mini", None): 1,
                     ("text-embedding-3-small", None): 1}
    tokens = by(text, "gen_ai_client_token_usage_sum", "gen_ai_request_model", "gen_ai_token_type")
    assert tokens == {("gpt-4o", "input"): 1000, ("gpt-4o", "output"): 200, ("gpt-4o-mini", "input"): 300,
                      ("gpt-4o-mini", "output"): 30, ("text-embedding-3-small", "input"): 55}
    spent = by(text, "genai_lens_cost_usd_total", "gen_ai_request_model", "genai_lens_cost_source")
    want = {("gpt-4o", "genai-prices"): cost("gpt-4o", input_tokens=1000, output_tokens=200),
            ("gpt-4o-mini", "genai-prices"): cost("gpt-4o-mini", input_tokens=300, output_tokens=30),
            ("text-embedding-3-small", "genai-prices"): cost("text-embedding-3-small", input_tokens=55)}
    assert spent.keys() == want.keys()
    for key, value in want.items():
        assert spent[key] == pytest.approx(value, abs=1e-12), key
    assert want[("gpt-4o", "genai-prices")] == pytest.approx(0.0045, abs=1e-12)  # 1000 x $2.50/M + 200 x $10/M
    # the stream's time to first chunk, and no API key label: none was given, none is invented
    assert by(text, "gen_ai_client_operation_time_to_first_chunk_seconds_count", "gen_ai_request_model") == {
        ("gpt-4o-mini",): 1}
    assert "genai_lens_api_key" not in text
    assert by(text, "genai_lens_cost_usd_total", "service_name") == {("traced-app",): pytest.approx(sum(want.values()))}


@pytest.fixture
def official_google_genai(traced):
    """The official OpenTelemetry Google Gen AI instrumentation. It declares google-genai < 3 as what it
    instruments; it works with the 3.x installed here (this test is the proof), so its version check is
    skipped."""
    instrumentation = pytest.importorskip("opentelemetry.instrumentation.google_genai")
    return lambda endpoint: traced(instrumentation.GoogleGenAiSdkInstrumentor(), endpoint, "traced-gemini-app",
                                   skip_dep_check=True)


def test_official_google_genai_spans_become_priced_series(exporter, official_google_genai):
    from google import genai
    from google.genai import errors, types

    server = exporter()
    provider = official_google_genai(server.url)

    def config(**headers):
        return types.GenerateContentConfig(http_options=types.HttpOptions(headers=headers))

    with LocalServer(FakeProvider().app) as fake:
        client = genai.Client(api_key="AIzaTraced000000000000000000000",
                              http_options=types.HttpOptions(base_url=fake.url))
        client.models.generate_content(model="gemini-2.5-flash", contents="hi",
                                       config=config(**{"x-fake-input-tokens": "400", "x-fake-output-tokens": "40"}))
        for _ in client.models.generate_content_stream(
                model="gemini-2.5-pro", contents="hi",
                config=config(**{"x-fake-input-tokens": "300", "x-fake-output-tokens": "30", "x-fake-chunks": "3"})):
            pass
        with pytest.raises(errors.ServerError):
            client.models.generate_content(model="gemini-2.5-flash", contents="hi", config=config(**{"x-fake-fault": "500"}))
    assert provider.force_flush(10_000)
    text = server.metrics()

    # the instrumentation reports gen_ai.provider.name "gemini": counted as gcp.gemini
    calls = by(text, "gen_ai_client_operation_duration_seconds_count", "gen_ai_provider_name", "gen_ai_request_model",
               "error_type")
    assert calls == {("gcp.gemini", "gemini-2.5-flash", None): 1, ("gcp.gemini", "gemini-2.5-flash", "500"): 1,
                     ("gcp.gemini", "gemini-2.5-pro", None): 1}
    assert by(text, "gen_ai_client_token_usage_sum", "gen_ai_request_model", "gen_ai_token_type") == {
        ("gemini-2.5-flash", "input"): 400, ("gemini-2.5-flash", "output"): 40,
        ("gemini-2.5-pro", "input"): 300, ("gemini-2.5-pro", "output"): 30}
    spent = by(text, "genai_lens_cost_usd_total", "gen_ai_request_model")
    want = {("gemini-2.5-flash",): cost("gemini-2.5-flash", "gcp.gemini", input_tokens=400, output_tokens=40),
            ("gemini-2.5-pro",): cost("gemini-2.5-pro", "gcp.gemini", input_tokens=300, output_tokens=30)}
    assert spent == pytest.approx(want, abs=1e-12)
    assert want[("gemini-2.5-flash",)] == pytest.approx(400 * 0.30e-6 + 40 * 2.50e-6, abs=1e-12)
    assert by(text, "gen_ai_client_operation_time_to_first_chunk_seconds_count", "gen_ai_request_model") == {
        ("gemini-2.5-pro",): 1}


@pytest.fixture
def openllmetry_openai(traced):
    """Traceloop OpenLLMetry's OpenAI instrumentation (package opentelemetry-instrumentation-openai)."""
    instrumentation = pytest.importorskip("opentelemetry.instrumentation.openai")
    return lambda endpoint: traced(instrumentation.OpenAIInstrumentor(), endpoint, "openllmetry-app")


def test_openllmetry_spans_become_priced_series(exporter, openllmetry_openai):
    server = exporter()
    provider = openllmetry_openai(server.url)
    with LocalServer(FakeProvider().app) as fake:
        openai_calls(fake.url, cached_tokens=800)
    assert provider.force_flush(10_000)
    text = server.metrics()
    calls = by(text, "gen_ai_client_operation_duration_seconds_count", "gen_ai_request_model", "error_type")
    assert calls == {("gpt-4o", None): 1, ("gpt-4o", "RateLimitError"): 1, ("gpt-4o-mini", None): 1}
    assert by(text, "gen_ai_client_token_usage_sum", "gen_ai_request_model", "gen_ai_token_type") == {
        ("gpt-4o", "input"): 1000, ("gpt-4o", "output"): 200, ("gpt-4o-mini", "input"): 300, ("gpt-4o-mini", "output"): 30}
    spent = by(text, "genai_lens_cost_usd_total", "gen_ai_request_model")
    assert spent == pytest.approx({
        ("gpt-4o",): cost("gpt-4o", input_tokens=1000, output_tokens=200, cache_read_tokens=800),  # cached input read
        ("gpt-4o-mini",): cost("gpt-4o-mini", input_tokens=300, output_tokens=30)}, abs=1e-12)
    assert spent[("gpt-4o",)] == pytest.approx(200 * 2.5e-6 + 800 * 1.25e-6 + 200 * 10e-6, abs=1e-12)


NODE_APP = Path(__file__).resolve().parents[1] / "node_app"


@pytest.mark.skipif(shutil.which("node") is None or not (NODE_APP / "node_modules" / "openai").is_dir(),
                    reason="needs node and `npm ci` in tests/node_app (scripts/test does it)")
def test_a_node_app_traced_by_opentelemetry_js(exporter):
    """tests/node_app/app.mjs: the `openai` npm client, OpenTelemetry JS's OpenAI instrumentation, OTLP/HTTP
    protobuf spans. Its chat and embeddings spans say gen_ai.system, the deprecated name."""
    server = exporter()
    with LocalServer(FakeProvider().app) as fake:
        result = subprocess.run(["node", "app.mjs"], cwd=NODE_APP, capture_output=True, text=True, timeout=120,
                                env={**os.environ, "GENAI_LENS_URL": server.url, "FAKE_PROVIDER_URL": fake.url})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "NODE APP DONE" in result.stdout and "expected error: 429" in result.stdout
    text = server.metrics()
    calls = by(text, "gen_ai_client_operation_duration_seconds_count", "gen_ai_request_model", "error_type",
               "service_name")
    assert calls == {("gpt-4o", None, "node-traced-app"): 1, ("gpt-4o", "RateLimitError", "node-traced-app"): 1,
                     ("gpt-4o-mini", None, "node-traced-app"): 1, ("text-embedding-3-small", None, "node-traced-app"): 1}
    assert by(text, "gen_ai_client_token_usage_sum", "gen_ai_request_model", "gen_ai_token_type") == {
        ("gpt-4o", "input"): 1000, ("gpt-4o", "output"): 200, ("gpt-4o-mini", "input"): 300,
        ("gpt-4o-mini", "output"): 30, ("text-embedding-3-small", "input"): 55}
    assert by(text, "genai_lens_cost_usd_total", "gen_ai_request_model") == pytest.approx({
        ("gpt-4o",): cost("gpt-4o", input_tokens=1000, output_tokens=200),
        ("gpt-4o-mini",): cost("gpt-4o-mini", input_tokens=300, output_tokens=30),
        ("text-embedding-3-small",): cost("text-embedding-3-small", input_tokens=55)}, abs=1e-12)


def test_a_resource_attribute_names_the_caller(exporter, official_openai):
    import openai

    server = exporter(span_key_attributes=["user.id", "tenant.id"])
    provider = official_openai(server.url, {"tenant.id": "acme"})
    with LocalServer(FakeProvider().app) as fake:
        client = openai.OpenAI(base_url=fake.url + "/v1", api_key="sk-traced-0000000000000000", max_retries=0)
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}],
                                       extra_headers={"x-fake-input-tokens": "10", "x-fake-output-tokens": "5"})
    assert provider.force_flush(10_000)
    assert by(server.metrics(), "gen_ai_client_operation_duration_seconds_count", "genai_lens_api_key") == {("acme",): 1}


def test_caller_attributes_are_tried_in_order_span_before_resource():
    key_attributes = ("genai_lens.api_key", "tenant.id", "user.id")

    def key_of(span_attributes, resource):
        converted = SpanConverter(PRICING, key_attributes=key_attributes).convert(
            traces(span({**CHAT, **span_attributes}), resource=resource))
        points = converted.request.resource_metrics[0].scope_metrics[0].metrics[0].histogram.data_points
        return {kv.key: kv.value.string_value for kv in points[0].attributes}.get("genai_lens.api_key")

    assert key_of({"user.id": "u1"}, {"tenant.id": "acme"}) == "acme"           # tenant.id comes first
    assert key_of({"tenant.id": "span-tenant"}, {"tenant.id": "acme"}) == "span-tenant"
    assert key_of({"user.id": "u1", "genai_lens.api_key": "team-a"}, {}) == "team-a"
    assert key_of({"user.id": "u1"}, {}) == "u1"
    assert key_of({"user.id": ""}, {}) is None                                   # empty is absent, never invented


# ------------------------------------------------------------------ attribute variants

CHAT = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 200}


def convert(*spans, **kwargs):
    return SpanConverter(PRICING, **kwargs).convert(traces(*spans))


def served(*spans, **settings) -> str:
    """The /metrics text after one POST /v1/traces of ``spans`` to a new exporter."""
    from tests.exporter.conftest import Running
    from exporter import Settings

    with Running(Settings(new_series_hold_seconds=0, **settings)) as server:
        response = post_traces(server, traces(*spans))
        assert response.status_code == 200, response.text
        return server.metrics()


@pytest.mark.parametrize("attributes, want", [
    # OpenLLMetry (older releases) and LiteLLM: gen_ai.system, prompt/completion tokens, a completion
    ({"gen_ai.system": "openai", "llm.request.type": "completion", "gen_ai.request.model": "gpt-4o",
      "gen_ai.usage.prompt_tokens": 1000, "gen_ai.usage.completion_tokens": 200},
     ("text_completion", "openai", "gpt-4o", 1000, 200)),
    # google-genai's instrumentation writes the deprecated provider value
    ({"gen_ai.operation.name": "generate_content", "gen_ai.provider.name": "gemini",
      "gen_ai.request.model": "gemini-2.5-flash", "gen_ai.usage.input_tokens": 400, "gen_ai.usage.output_tokens": 40},
     ("generate_content", "gcp.gemini", "gemini-2.5-flash", 400, 40)),
    # LiteLLM: a streaming flag as a string, gen_ai.system vertex_ai
    ({"gen_ai.system": "vertex_ai", "gen_ai.operation.name": "chat", "gen_ai.request.model": "gemini-2.5-pro",
      "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 20, "llm.is_streaming": "True"},
     ("chat", "gcp.vertex_ai", "gemini-2.5-pro", 10, 20)),
    # the Vercel AI SDK's legacy telemetry: the inner doGenerate span, "openai.chat", ai.usage.*
    ({"ai.operationId": "ai.generateText.doGenerate", "gen_ai.system": "openai.chat", "ai.model.id": "gpt-4o-mini",
      "ai.usage.inputTokens": 70, "ai.usage.outputTokens": 7},
     ("chat", "openai", "gpt-4o-mini", 70, 7)),
])
def test_attribute_variants(attributes, want):
    text = served(span(attributes))
    operation, provider, model, input_tokens, output_tokens = want
    assert by(text, "gen_ai_client_operation_duration_seconds_count", "gen_ai_operation_name", "gen_ai_provider_name",
              "gen_ai_request_model") == {(operation, provider, model): 1}
    assert by(text, "gen_ai_client_token_usage_sum", "gen_ai_token_type") == {("input",): input_tokens,
                                                                            ("output",): output_tokens}
    spent = by(text, "genai_lens_cost_usd_total")[()]
    assert spent == pytest.approx(cost(model, provider, input_tokens=input_tokens, output_tokens=output_tokens), abs=1e-12)


def test_cache_and_reasoning_tokens_are_priced_at_their_rates():
    # gpt-4o: cached input at $1.25/M instead of $2.50/M
    text = served(span({**CHAT, "gen_ai.usage.cache_read.input_tokens": 800}))
    assert by(text, "genai_lens_cost_usd_total")[()] == pytest.approx(
        cost("gpt-4o", input_tokens=1000, output_tokens=200, cache_read_tokens=800), abs=1e-12)
    assert cost("gpt-4o", input_tokens=1000, output_tokens=200, cache_read_tokens=800) == pytest.approx(
        200 * 2.5e-6 + 800 * 1.25e-6 + 200 * 10e-6, abs=1e-12)
    # the older underscore names (OpenLLMetry's legacy, some vendors)
    older = served(span({**CHAT, "gen_ai.usage.cache_read_input_tokens": 800}))
    assert by(older, "genai_lens_cost_usd_total") == by(text, "genai_lens_cost_usd_total")


def test_audio_tokens_are_priced_at_the_audio_rate():
    # gemini-2.5-flash (as the Google Gen AI instrumentation reports it): audio input at $1.00/M where
    # text input is $0.30/M
    attributes = {**CHAT, "gen_ai.operation.name": "generate_content", "gen_ai.provider.name": "gemini",
                  "gen_ai.request.model": "gemini-2.5-flash", "gen_ai.usage.audio.input_tokens": 600}
    text = served(span(attributes))
    want = cost("gemini-2.5-flash", "gcp.gemini", input_tokens=1000, output_tokens=200,
                modality_tokens={"input_audio_tokens": 600})
    assert by(text, "genai_lens_cost_usd_total")[()] == pytest.approx(want, abs=1e-12)
    assert want == pytest.approx(400 * 0.30e-6 + 600 * 1.00e-6 + 200 * 2.50e-6, abs=1e-12)


def test_streams_time_to_first_chunk_in_each_unit():
    streams = [
        span({**CHAT, "gen_ai.request.stream": True, "gen_ai.response.time_to_first_chunk": 0.25}, seconds=1.25),
        span({**CHAT, "gen_ai.client.operation.time_to_first_chunk": 0.25}, seconds=1.25),               # Vercel AI SDK
        span({**CHAT, "gen_ai.request.stream": True, "gen_ai.server.time_to_first_token": 0.25}, seconds=1.25),  # OpenLIT
        span({"ai.operationId": "ai.streamText.doStream", "gen_ai.system": "openai.chat", "ai.model.id": "gpt-4o",
              "ai.usage.inputTokens": 1000, "ai.usage.outputTokens": 200, "ai.response.msToFirstChunk": 250.0}, seconds=1.25),
        # OpenLIT sets its time to first token on calls that do not stream too: not a first chunk
        span({**CHAT, "gen_ai.request.stream": False, "gen_ai.server.time_to_first_token": 1.0}),
    ]
    text = served(*streams)
    assert by(text, "gen_ai_client_operation_time_to_first_chunk_seconds_count") == {(): 4}
    assert by(text, "gen_ai_client_operation_time_to_first_chunk_seconds_sum") == {(): 1.0}
    # throughput: 200 output tokens over the second after the first chunk (streams), over 1 s otherwise
    assert by(text, "genai_lens_throughput_tokens_per_second_sum") == {(): 5 * 200.0}


def test_errors_unpriced_and_what_is_not_a_call():
    bare = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o"}
    text = served(
        span({**bare, "error.type": "429"}, error=True),
        span({"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o"},
             error=True),                                                    # error status, no error.type
        span({**CHAT, "gen_ai.request.model": "no-such-model-anywhere"}),    # no price
        span({"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o"}),
        span({**CHAT, "gen_ai.operation.name": "invoke_agent"}),             # an agent, not a model call
        span({**CHAT, "gen_ai.operation.name": "execute_tool"}),
        span({"ai.operationId": "ai.generateText", "gen_ai.system": "openai.chat", "ai.model.id": "gpt-4o",
              "ai.usage.inputTokens": 1000, "ai.usage.outputTokens": 200}),   # Vercel's outer span
        span({"http.request.method": "GET", "url.full": "https://example.test"}),  # not GenAI at all
    )
    calls = by(text, "gen_ai_client_operation_duration_seconds_count", "gen_ai_request_model", "error_type")
    assert calls == {("gpt-4o", "429"): 1, ("gpt-4o", "_OTHER"): 1, ("no-such-model-anywhere", None): 1,
                     ("gpt-4o", None): 1}
    assert by(text, "genai_lens_unpriced_requests_total", "gen_ai_request_model", "genai_lens_unpriced_reason") == {
        ("no-such-model-anywhere", "no_price"): 1, ("gpt-4o", "no_usage"): 1}
    assert "genai_lens_cost_usd_total{" not in text


def test_spans_of_the_genai_lens_sdk_are_not_counted_twice():
    converted = convert(span(CHAT))
    assert (converted.spans, converted.skipped_own) == (1, 0)
    own = SpanConverter(PRICING).convert(traces(span(CHAT), scope="sdk_instrumentation"))
    assert (own.spans, own.skipped_own, len(own.request.resource_metrics)) == (0, 1, 0)


def test_a_batch_of_spans_makes_one_point_per_series():
    converted = convert(*[span(CHAT) for _ in range(50)])
    metrics = {m.name: m for m in converted.request.resource_metrics[0].scope_metrics[0].metrics}
    duration = metrics["gen_ai.client.operation.duration"].histogram.data_points
    assert [(p.count, p.sum) for p in duration] == [(50, 50.0)]
    assert len(metrics["genai_lens.cost"].sum.data_points) == 3  # input, output, other
    assert sum(p.as_double for p in metrics["genai_lens.cost"].sum.data_points) == pytest.approx(50 * 0.0045, abs=1e-12)


def test_an_unreadable_span_is_rejected_and_the_rest_kept(exporter):
    server = exporter()
    response = post_traces(server, traces(span({**CHAT, "gen_ai.usage.input_tokens": -5}), span(CHAT)))
    assert response.status_code == 200
    body = ExportTraceServiceResponse.FromString(response.content)
    assert body.partial_success.rejected_spans == 1
    assert "gen_ai.usage.input_tokens = -5 is not a token count" in body.partial_success.error_message
    assert by(server.metrics(), "gen_ai_client_operation_duration_seconds_count") == {(): 1}


# ------------------------------------------------------------------ the HTTP contract, as /v1/metrics

def test_json_and_gzip_bodies(exporter):
    server = exporter()
    as_json = json_format.MessageToJson(traces(span(CHAT)))
    response = server.client.post(server.url + "/v1/traces", content=as_json, headers={"Content-Type": "application/json"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    assert json.loads(response.text) == {}
    zipped = gzip.compress(traces(span(CHAT)).SerializeToString())
    response = server.client.post(server.url + "/v1/traces", content=zipped,
                                  headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"})
    assert response.status_code == 200
    assert by(server.metrics(), "gen_ai_client_operation_duration_seconds_count") == {(): 2}


def test_bad_requests_get_4xx_and_change_nothing(exporter):
    server = exporter(ingest_token="s3cret", max_body_bytes=4096)
    ok = {"Authorization": "Bearer s3cret"}
    assert post_traces(server, traces(span(CHAT))).status_code == 401
    assert post_traces(server, traces(span(CHAT)), {"Authorization": "Bearer nope"}).status_code == 401
    bad = server.client.post(server.url + "/v1/traces", content=b"\xff\x00garbage",
                             headers={**ok, "Content-Type": "application/x-protobuf"})
    assert bad.status_code == 400 and "not a valid OTLP protobuf traces request" in bad.text
    assert server.client.post(server.url + "/v1/traces", content=b"x",
                              headers={**ok, "Content-Type": "text/plain"}).status_code == 415
    big = traces(*[span(CHAT) for _ in range(100)])
    assert post_traces(server, big, ok).status_code == 413
    assert "gen_ai_client_operation_duration_seconds_count{" not in server.metrics()
    assert post_traces(server, traces(span(CHAT)), ok).status_code == 200
    assert by(server.metrics(), "gen_ai_client_operation_duration_seconds_count") == {(): 1}


def test_a_repeated_idempotency_key_is_applied_once(exporter):
    server = exporter()
    for _ in range(3):
        assert post_traces(server, traces(span(CHAT)), {"Idempotency-Key": "batch-1"}).status_code == 200
    assert by(server.metrics(), "gen_ai_client_operation_duration_seconds_count") == {(): 1}


def test_every_mapped_attribute_is_in_the_docs():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "any-instrumentation.md").read_text()
    for field, variants in {**ATTRIBUTES, **MODALITY_ATTRIBUTES}.items():
        for key, _ in variants:
            assert f"`{key}`" in doc, (field, key)
