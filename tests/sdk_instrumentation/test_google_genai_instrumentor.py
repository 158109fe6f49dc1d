"""GoogleGenAIInstrumentor: the real google-genai client over HTTP against the fake provider.

Token counts are fixed per request with ``x-fake-*`` headers sent through
``types.HttpOptions(headers=...)``; costs are checked against Google's published
gemini-2.5-pro prices (USD per 1M tokens): $1.25 input, $0.125 cached input, $10 output
up to 200k input tokens; $2.50, $0.25, $15 above.
"""

from __future__ import annotations

import asyncio
import gc
import logging

import google.genai.models as genai_models
import google.oauth2.credentials
import pytest
from google import genai
from google.genai import errors, types

from sdk_instrumentation import attributes as a
from sdk_instrumentation.google_genai_instrumentor import GoogleGenAIInstrumentor
from sdk_instrumentation.pricing import Pricing
from sdk_instrumentation.setup import instrument_client
from sdk_instrumentation.usage import Usage

from .conftest import GEMINI_KEY

MODEL = "gemini-2.5-pro"
KEY_LABEL = "AIza…cdef"  # redaction of GEMINI_KEY
PER_M = 1e-6

# Google's published gemini-2.5-pro prices, USD per token: (input, cached input, output).
LOW_TIER = (1.25 * PER_M, 0.125 * PER_M, 10.0 * PER_M)
HIGH_TIER = (2.50 * PER_M, 0.25 * PER_M, 15.0 * PER_M)
EMBEDDING_PER_TOKEN = 0.15 * PER_M  # gemini-embedding-001


def config(headers: dict[str, str] | None = None, **kwargs) -> types.GenerateContentConfig:
    return types.GenerateContentConfig(http_options=types.HttpOptions(headers=headers or {}), **kwargs)


def generate(client, mode: str, **kwargs):
    if mode == "sync":
        return client.models.generate_content(**kwargs)
    return asyncio.run(client.aio.models.generate_content(**kwargs))


def stream_all(client, mode: str, **kwargs) -> list:
    if mode == "sync":
        return list(client.models.generate_content_stream(**kwargs))

    async def run():
        return [chunk async for chunk in await client.aio.models.generate_content_stream(**kwargs)]

    return asyncio.run(run())


def embed(client, mode: str, **kwargs):
    if mode == "sync":
        return client.models.embed_content(**kwargs)
    return asyncio.run(client.aio.models.embed_content(**kwargs))


def metric_attrs(provider: str = "gcp.gemini", model: str = MODEL, operation: str = "generate_content",
                 key: str = KEY_LABEL, **extra) -> dict:
    attrs = {
        a.OPERATION_NAME: operation,
        a.PROVIDER_NAME: provider,
        a.REQUEST_MODEL: model,
        a.API_KEY: key,
        a.BILLING: "payg",
    }
    attrs.update(extra)
    return attrs


def point_attrs(otel, name: str) -> list[dict]:
    return sorted((dict(p.attributes) for p in otel.points(name)), key=lambda d: sorted(d.items()))


@pytest.fixture
def vertex_client(fake_provider):
    """Vertex AI with project + location; credentials that already hold a token, so no network."""
    return genai.Client(vertexai=True, project="demo-project", location="us-central1",
                        credentials=google.oauth2.credentials.Credentials(token="fake-token"),
                        http_options=types.HttpOptions(base_url=fake_provider.url))


@pytest.fixture
def raised(monkeypatch):
    """Every google.genai APIError the client itself raises, to check the caller gets the very same object."""
    seen: list[BaseException] = []
    sync_raise = errors.APIError.raise_for_response
    async_raise = errors.APIError.raise_for_async_response

    def spy(response):
        try:
            sync_raise(response)
        except errors.APIError as exc:
            seen.append(exc)
            raise

    async def async_spy(response):
        try:
            await async_raise(response)
        except errors.APIError as exc:
            seen.append(exc)
            raise

    monkeypatch.setattr(errors.APIError, "raise_for_response", staticmethod(spy))
    monkeypatch.setattr(errors.APIError, "raise_for_async_response", staticmethod(async_spy))
    return seen


# -- generate_content ---------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["sync", "async"])
def test_generate_content_span_metrics_and_cost(mode, otel, google_instrumented, gemini_client, fake_provider):
    headers = {
        "x-fake-input-tokens": "1000",  # promptTokenCount, cached tokens included
        "x-fake-cached-tokens": "200",
        "x-fake-tool-use-prompt-tokens": "30",
        "x-fake-output-tokens": "500",  # candidates 380 + thoughts 120
        "x-fake-reasoning-tokens": "120",
    }
    response = generate(gemini_client, mode, model=MODEL, contents="Why is the sky blue?", config=config(headers))

    assert response.text == "The quick brown fox jumps over the lazy dog"
    assert response.usage_metadata.candidates_token_count == 380
    spans = otel.finished_spans()
    assert len(spans) == 1
    span = spans[0]
    assert span.name == "generate_content gemini-2.5-pro"
    assert span.kind.name == "CLIENT"
    attrs = dict(span.attributes)
    throughput = attrs.pop(a.THROUGHPUT)
    cost = attrs.pop(a.COST_USD)
    response_id = attrs.pop(a.RESPONSE_ID)
    assert throughput > 0
    assert response_id == response.response_id
    input_cost = (1030 - 200) * LOW_TIER[0] + 200 * LOW_TIER[1]
    output_cost = 500 * LOW_TIER[2]
    assert cost == pytest.approx(input_cost + output_cost, abs=1e-9)
    port = int(fake_provider.url.rsplit(":", 1)[1])
    assert attrs == {
        a.OPERATION_NAME: "generate_content",
        a.PROVIDER_NAME: "gcp.gemini",
        a.REQUEST_MODEL: MODEL,
        a.REQUEST_STREAM: False,
        a.API_KEY: KEY_LABEL,
        a.SERVER_ADDRESS: "127.0.0.1",
        a.SERVER_PORT: port,
        a.BILLING: "payg",
        a.RESPONSE_MODEL: MODEL,
        a.RESPONSE_FINISH_REASONS: ("stop",),
        a.USAGE_INPUT_TOKENS: 1030,  # promptTokenCount + toolUsePromptTokenCount
        a.USAGE_OUTPUT_TOKENS: 500,  # candidatesTokenCount + thoughtsTokenCount
        a.USAGE_CACHE_READ_INPUT_TOKENS: 200,
        a.USAGE_REASONING_OUTPUT_TOKENS: 120,
        a.COST_SOURCE: "genai-prices",
    }

    base = metric_attrs()
    assert otel.total(a.METRIC_TOKEN_USAGE, gen_ai__token__type="input") == 1030
    assert otel.total(a.METRIC_TOKEN_USAGE, gen_ai__token__type="output") == 500
    assert point_attrs(otel, a.METRIC_TOKEN_USAGE) == [
        {**base, a.TOKEN_TYPE: "input"}, {**base, a.TOKEN_TYPE: "output"}]
    assert point_attrs(otel, a.METRIC_OPERATION_DURATION) == [base]
    assert otel.count(a.METRIC_OPERATION_DURATION) == 1
    assert otel.count(a.METRIC_THROUGHPUT) == 1
    assert otel.total(a.METRIC_COST, genai_lens__cost__type="input") == pytest.approx(input_cost, abs=1e-9)
    assert otel.total(a.METRIC_COST, genai_lens__cost__type="output") == pytest.approx(output_cost, abs=1e-9)
    assert otel.total(a.METRIC_COST, genai_lens__cost__type="other") == 0
    assert {p[a.COST_TYPE] for p in point_attrs(otel, a.METRIC_COST)} == {"input", "output", "other"}
    # TTFT and chunk timing belong to streams only.
    assert otel.points(a.METRIC_TIME_TO_FIRST_CHUNK) == []
    assert otel.points(a.METRIC_TIME_PER_OUTPUT_CHUNK) == []
    assert otel.points(a.METRIC_UNPRICED_REQUESTS) == []


@pytest.mark.parametrize("input_tokens, rates", [(100_000, LOW_TIER), (300_000, HIGH_TIER)])
def test_long_context_tier_prices(input_tokens, rates, otel, google_instrumented, gemini_client):
    headers = {"x-fake-input-tokens": str(input_tokens), "x-fake-output-tokens": "1000"}
    generate(gemini_client, "sync", model=MODEL, contents="long document", config=config(headers))

    expected_input = input_tokens * rates[0]
    expected_output = 1000 * rates[2]
    assert otel.total(a.METRIC_COST, genai_lens__cost__type="input") == pytest.approx(expected_input, abs=1e-9)
    assert otel.total(a.METRIC_COST, genai_lens__cost__type="output") == pytest.approx(expected_output, abs=1e-9)
    [span] = otel.finished_spans()
    assert span.attributes[a.COST_USD] == pytest.approx(expected_input + expected_output, abs=1e-9)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_vertex_mode_is_gcp_vertex_ai(mode, otel, google_instrumented, vertex_client, fake_provider):
    headers = {"x-fake-input-tokens": "40", "x-fake-output-tokens": "60"}
    generate(vertex_client, mode, model=MODEL, contents="hi", config=config(headers))

    assert fake_provider.requests[-1].path == (
        "/v1beta1/projects/demo-project/locations/us-central1/publishers/google/models/gemini-2.5-pro:generateContent")
    [span] = otel.finished_spans()
    assert span.name == "generate_content gemini-2.5-pro"
    assert span.attributes[a.PROVIDER_NAME] == "gcp.vertex_ai"
    assert span.attributes[a.API_KEY] == "unknown"  # OAuth credentials, no API key
    base = metric_attrs(provider="gcp.vertex_ai", key="unknown")
    assert point_attrs(otel, a.METRIC_TOKEN_USAGE) == [{**base, a.TOKEN_TYPE: "input"}, {**base, a.TOKEN_TYPE: "output"}]
    assert otel.total(a.METRIC_TOKEN_USAGE, gen_ai__token__type="input") == 40
    assert otel.total(a.METRIC_TOKEN_USAGE, gen_ai__token__type="output") == 60
    assert span.attributes[a.COST_USD] == pytest.approx(40 * LOW_TIER[0] + 60 * LOW_TIER[2], abs=1e-9)


def test_vertex_express_mode_labels_the_key(otel, google_instrumented, fake_provider):
    client = genai.Client(vertexai=True, api_key="AQ.test-express-key-9876",
                          http_options=types.HttpOptions(base_url=fake_provider.url))
    generate(client, "sync", model=MODEL, contents="hi", config=config({"x-fake-input-tokens": "3"}))

    assert fake_provider.requests[-1].path == "/v1beta1/publishers/google/models/gemini-2.5-pro:generateContent"
    [span] = otel.finished_spans()
    assert span.attributes[a.PROVIDER_NAME] == "gcp.vertex_ai"
    assert span.attributes[a.API_KEY] == "…9876"
    assert span.attributes[a.USAGE_INPUT_TOKENS] == 3


# -- grounding with Google Search -----------------------------------------------------------------

@pytest.mark.parametrize("model, billed_calls", [
    ("gemini-2.5-pro", 1),        # Gemini 2.x: billed per grounded prompt
    ("gemini-3-pro-preview", 3),  # Gemini 3: billed per search query
])
@pytest.mark.parametrize("mode, streaming", [("sync", False), ("async", False), ("sync", True), ("async", True)])
def test_grounding_with_google_search_counts_and_prices_searches(mode, streaming, model, billed_calls, otel,
                                                                 google_instrumented, gemini_client):
    headers = {"x-fake-input-tokens": "200", "x-fake-output-tokens": "100", "x-fake-web-search-calls": "3"}
    kwargs = dict(model=model, contents="latest news on fusion power",
                  config=config(headers, tools=[types.Tool(google_search=types.GoogleSearch())]))
    if streaming:
        chunks = stream_all(gemini_client, mode, **kwargs)
        queries = chunks[-1].candidates[0].grounding_metadata.web_search_queries
    else:
        queries = generate(gemini_client, mode, **kwargs).candidates[0].grounding_metadata.web_search_queries
    assert len(queries) == 3

    [span] = otel.finished_spans()
    assert span.attributes[a.WEB_SEARCH] is True
    assert span.attributes[a.WEB_SEARCH_CALLS] == billed_calls
    base = metric_attrs(model=model, **{a.WEB_SEARCH: "true"})
    assert point_attrs(otel, a.METRIC_WEB_SEARCH_CALLS) == [base]
    assert otel.total(a.METRIC_WEB_SEARCH_CALLS) == billed_calls
    assert point_attrs(otel, a.METRIC_OPERATION_DURATION) == [base]

    usage = Usage(input_tokens=200, output_tokens=100, web_search_calls=billed_calls)
    expected = Pricing().price("gcp.gemini", model, usage)
    assert expected.other > 0
    assert otel.total(a.METRIC_COST, genai_lens__cost__type="other") == pytest.approx(expected.other, abs=1e-9)
    assert otel.total(a.METRIC_COST, genai_lens__cost__type="input") == pytest.approx(expected.input, abs=1e-9)
    assert otel.total(a.METRIC_COST, genai_lens__cost__type="output") == pytest.approx(expected.output, abs=1e-9)
    assert span.attributes[a.COST_USD] == pytest.approx(expected.total, abs=1e-9)
    if model == MODEL:
        assert expected.input == pytest.approx(200 * LOW_TIER[0], abs=1e-9)
        assert expected.output == pytest.approx(100 * LOW_TIER[2], abs=1e-9)


def test_no_web_search_without_the_tool(otel, google_instrumented, gemini_client):
    generate(gemini_client, "sync", model=MODEL, contents="hi", config=config({"x-fake-web-search-calls": "3"}))
    [span] = otel.finished_spans()
    assert a.WEB_SEARCH not in span.attributes
    assert a.WEB_SEARCH_CALLS not in span.attributes
    assert otel.points(a.METRIC_WEB_SEARCH_CALLS) == []


# -- streaming -----------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["sync", "async"])
def test_stream_ttft_chunk_gaps_and_final_usage(mode, otel, google_instrumented, gemini_client):
    headers = {"x-fake-chunks": "4", "x-fake-input-tokens": "70", "x-fake-output-tokens": "40",
               "x-fake-reasoning-tokens": "10", "x-fake-chunk-delay": "0.01"}
    chunks = stream_all(gemini_client, mode, model=MODEL, contents="tell me", config=config(headers))

    assert len(chunks) == 4
    assert "".join(c.text for c in chunks) == "The quick brown fox jumps over the lazy dog"
    [span] = otel.finished_spans()
    assert span.name == "generate_content gemini-2.5-pro"
    assert span.attributes[a.REQUEST_STREAM] is True
    assert span.attributes[a.USAGE_INPUT_TOKENS] == 70
    assert span.attributes[a.USAGE_OUTPUT_TOKENS] == 40
    assert span.attributes[a.USAGE_REASONING_OUTPUT_TOKENS] == 10
    assert span.attributes[a.RESPONSE_FINISH_REASONS] == ("stop",)
    ttft = span.attributes[a.RESPONSE_TIME_TO_FIRST_CHUNK]
    assert 0 < ttft < span.end_time / 1e9 - span.start_time / 1e9 + 1e-3
    base = metric_attrs()
    assert point_attrs(otel, a.METRIC_TIME_TO_FIRST_CHUNK) == [base]
    assert otel.count(a.METRIC_TIME_TO_FIRST_CHUNK) == 1
    assert otel.total(a.METRIC_TIME_TO_FIRST_CHUNK) == pytest.approx(ttft)
    assert otel.count(a.METRIC_TIME_PER_OUTPUT_CHUNK) == 3  # content chunks - 1
    assert otel.count(a.METRIC_OPERATION_DURATION) == 1
    assert otel.total(a.METRIC_TOKEN_USAGE, gen_ai__token__type="input") == 70
    assert otel.total(a.METRIC_TOKEN_USAGE, gen_ai__token__type="output") == 40
    assert span.attributes[a.COST_USD] == pytest.approx(70 * LOW_TIER[0] + 40 * LOW_TIER[2], abs=1e-9)


def _assert_ended_once(otel, error_type: str | None = None):
    spans = otel.finished_spans()
    assert len(spans) == 1
    assert otel.count(a.METRIC_OPERATION_DURATION) == 1
    [point] = otel.points(a.METRIC_OPERATION_DURATION)
    assert dict(point.attributes).get(a.ERROR_TYPE) == error_type
    assert spans[0].attributes.get(a.ERROR_TYPE) == error_type
    return spans[0]


def test_stream_early_break_then_garbage_collection_ends_once(otel, google_instrumented, gemini_client):
    stream = gemini_client.models.generate_content_stream(model=MODEL, contents="hi", config=config({"x-fake-chunks": "5"}))
    for chunk in stream:
        assert chunk.text == "The quick"
        break
    assert otel.finished_spans() == []  # still open: the caller may come back
    del stream, chunk
    gc.collect()
    span = _assert_ended_once(otel)
    assert otel.count(a.METRIC_TIME_TO_FIRST_CHUNK) == 1
    assert otel.count(a.METRIC_TIME_PER_OUTPUT_CHUNK) == 0
    gc.collect()
    assert len(otel.finished_spans()) == 1
    assert span.attributes[a.REQUEST_STREAM] is True


def test_stream_partial_consumption_then_close_ends_once(otel, google_instrumented, gemini_client):
    stream = gemini_client.models.generate_content_stream(model=MODEL, contents="hi", config=config({"x-fake-chunks": "5"}))
    assert next(stream).text == "The quick"
    assert next(stream).text == " brown fox"
    stream.close()
    _assert_ended_once(otel)
    assert otel.count(a.METRIC_TIME_PER_OUTPUT_CHUNK) == 1
    del stream
    gc.collect()
    _assert_ended_once(otel)


async def test_async_stream_early_break_and_aclose_ends_once(otel, google_instrumented, gemini_client):
    stream = await gemini_client.aio.models.generate_content_stream(model=MODEL, contents="hi", config=config({"x-fake-chunks": "5"}))
    async for chunk in stream:
        assert chunk.text == "The quick"
        break
    await stream.aclose()
    _assert_ended_once(otel)
    del stream
    gc.collect()
    _assert_ended_once(otel)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_mid_stream_drop_sets_error_type_and_propagates_the_client_error(mode, otel, google_instrumented, gemini_client):
    received = []

    async def consume_async():
        async for chunk in await gemini_client.aio.models.generate_content_stream(
                model=MODEL, contents="hi", config=config({"x-fake-fault": "drop", "x-fake-chunks": "6"})):
            received.append(chunk)

    with pytest.raises(Exception) as info:
        if mode == "sync":
            for chunk in gemini_client.models.generate_content_stream(
                    model=MODEL, contents="hi", config=config({"x-fake-fault": "drop", "x-fake-chunks": "6"})):
                received.append(chunk)
        else:
            asyncio.run(consume_async())
    exc = info.value
    # The transport's own exception (httpx's RemoteProtocolError), not one of ours.
    assert type(exc).__name__ == "RemoteProtocolError"
    assert not type(exc).__module__.startswith("sdk_instrumentation")
    assert 0 < len(received) < 6
    _assert_ended_once(otel, error_type="RemoteProtocolError")
    gc.collect()
    _assert_ended_once(otel, error_type="RemoteProtocolError")


# -- embeddings ----------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["sync", "async"])
def test_embed_content(mode, otel, google_instrumented, gemini_client):
    cfg = types.EmbedContentConfig(http_options=types.HttpOptions(headers={"x-fake-input-tokens": "12"}))
    result = embed(gemini_client, mode, model="gemini-embedding-001", contents="embed these words", config=cfg)

    assert len(result.embeddings) == 1
    [span] = otel.finished_spans()
    assert span.name == "embeddings gemini-embedding-001"
    assert span.attributes[a.OPERATION_NAME] == "embeddings"
    # The Gemini API's batchEmbedContents answers with embeddings only, no usage: the call is a request
    # and unpriced with its reason, never a free call with 0 tokens.
    assert a.USAGE_INPUT_TOKENS not in span.attributes and a.COST_USD not in span.attributes
    assert span.attributes[a.UNPRICED_REASON] == a.UNPRICED_NO_USAGE
    base = metric_attrs(model="gemini-embedding-001", operation="embeddings")
    assert point_attrs(otel, a.METRIC_UNPRICED_REQUESTS) == [{**base, a.UNPRICED_REASON: "no_usage"}]
    assert otel.total(a.METRIC_UNPRICED_REQUESTS) == 1
    assert otel.count(a.METRIC_OPERATION_DURATION) == 1
    assert otel.points(a.METRIC_TOKEN_USAGE) == [] and otel.points(a.METRIC_COST) == []
    assert otel.points(a.METRIC_TIME_TO_FIRST_CHUNK) == []


def test_vertex_embed_content_is_priced(otel, google_instrumented, vertex_client):
    cfg = types.EmbedContentConfig(http_options=types.HttpOptions(headers={"x-fake-input-tokens": "12"}))
    vertex_client.models.embed_content(model="gemini-embedding-001", contents="embed these words", config=cfg)
    [span] = otel.finished_spans()
    assert span.attributes[a.USAGE_INPUT_TOKENS] == 12 and a.UNPRICED_REASON not in span.attributes
    assert otel.total(a.METRIC_COST, genai_lens__cost__type="input") == pytest.approx(12 * EMBEDDING_PER_TOKEN, abs=1e-9)
    assert otel.points(a.METRIC_UNPRICED_REQUESTS) == []


def test_vertex_predict_embeddings_count_tokens(otel, google_instrumented, vertex_client, fake_provider):
    cfg = types.EmbedContentConfig(http_options=types.HttpOptions(headers={"x-fake-input-tokens": "9"}))
    vertex_client.models.embed_content(model="text-embedding-005", contents=["one two", "three"], config=cfg)

    assert fake_provider.requests[-1].path.endswith("/models/text-embedding-005:predict")
    [span] = otel.finished_spans()
    assert span.attributes[a.PROVIDER_NAME] == "gcp.vertex_ai"
    assert span.attributes[a.USAGE_INPUT_TOKENS] == 9
    assert otel.total(a.METRIC_TOKEN_USAGE, gen_ai__token__type="input") == 9


# -- errors --------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("fault, error_class", [("429", errors.ClientError), ("500", errors.ServerError)])
def test_http_errors_pass_through_unchanged(mode, fault, error_class, otel, google_instrumented, gemini_client, raised):
    with pytest.raises(error_class) as info:
        generate(gemini_client, mode, model=MODEL, contents="hi", config=config({"x-fake-fault": fault}))

    assert type(info.value) is error_class
    assert info.value.code == int(fault)
    assert len(raised) == 1 and info.value is raised[0]  # the very object the client raised
    [span] = otel.finished_spans()
    assert span.attributes[a.ERROR_TYPE] == fault
    assert span.status.status_code.name == "ERROR"
    assert a.USAGE_INPUT_TOKENS not in span.attributes
    [point] = otel.points(a.METRIC_OPERATION_DURATION)
    assert dict(point.attributes) == metric_attrs(**{a.ERROR_TYPE: fault})
    assert otel.points(a.METRIC_TOKEN_USAGE) == []
    assert otel.points(a.METRIC_COST) == []


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_stream_http_error_passes_through(mode, otel, google_instrumented, gemini_client, raised):
    with pytest.raises(errors.ClientError) as info:
        stream_all(gemini_client, mode, model=MODEL, contents="hi", config=config({"x-fake-fault": "429"}))
    assert info.value is raised[0]
    _assert_ended_once(otel, error_type="429")


# -- uninstrument and the per-client form --------------------------------------------------------

_METHODS = [(cls, name) for cls in (genai_models.Models, genai_models.AsyncModels)
            for name in ("generate_content", "generate_content_stream", "embed_content")]


def test_uninstrument_restores_the_original_methods(otel, gemini_client):
    originals = {(cls, name): cls.__dict__[name] for cls, name in _METHODS}
    instrumentor = GoogleGenAIInstrumentor()
    instrumentor.instrument(telemetry=otel.telemetry)
    try:
        for cls, name in _METHODS:
            assert cls.__dict__[name] is not originals[(cls, name)]
        generate(gemini_client, "sync", model=MODEL, contents="hi")
        assert len(otel.finished_spans()) == 1
    finally:
        instrumentor.uninstrument()

    for cls, name in _METHODS:
        assert cls.__dict__[name] is originals[(cls, name)]
    assert genai_models.Models.generate_content is originals[(genai_models.Models, "generate_content")]
    generate(gemini_client, "sync", model=MODEL, contents="hi")
    generate(gemini_client, "async", model=MODEL, contents="hi")
    stream_all(gemini_client, "sync", model=MODEL, contents="hi")
    assert len(otel.finished_spans()) == 1
    assert otel.count(a.METRIC_OPERATION_DURATION) == 1


def test_instrument_client_measures_only_that_client(otel, fake_provider):
    measured = genai.Client(api_key=GEMINI_KEY, http_options=types.HttpOptions(base_url=fake_provider.url))
    other = genai.Client(api_key=GEMINI_KEY, http_options=types.HttpOptions(base_url=fake_provider.url))
    assert not GoogleGenAIInstrumentor().is_instrumented_by_opentelemetry
    returned = instrument_client(measured, api_key_alias="team-x", attributes={"team": "x"}, telemetry=otel.telemetry)
    try:
        assert returned is measured
        headers = {"x-fake-input-tokens": "11", "x-fake-output-tokens": "7"}
        generate(measured, "sync", model=MODEL, contents="hi", config=config(headers))
        generate(measured, "async", model=MODEL, contents="hi", config=config(headers))
        generate(other, "sync", model=MODEL, contents="hi", config=config(headers))
        generate(other, "async", model=MODEL, contents="hi", config=config(headers))
    finally:
        GoogleGenAIInstrumentor().uninstrument()

    spans = otel.finished_spans()
    assert len(spans) == 2
    for span in spans:
        assert span.attributes[a.API_KEY] == "team-x"
        assert span.attributes["team"] == "x"
    base = metric_attrs(key="team-x", team="x")
    assert point_attrs(otel, a.METRIC_OPERATION_DURATION) == [base]
    assert otel.count(a.METRIC_OPERATION_DURATION) == 2
    assert otel.total(a.METRIC_TOKEN_USAGE, gen_ai__token__type="input") == 22
    assert otel.total(a.METRIC_TOKEN_USAGE, gen_ai__token__type="output") == 14


def test_raw_api_key_never_exported(otel, google_instrumented, gemini_client, caplog):
    """Issue point 8: no span attribute, event or metric point carries the raw key, errors included."""
    caplog.set_level(logging.DEBUG)
    generate(gemini_client, "sync", model=MODEL, contents="hi",
             config=config(tools=[types.Tool(google_search=types.GoogleSearch())]))
    stream_all(gemini_client, "async", model=MODEL, contents="hi")
    embed(gemini_client, "sync", model="gemini-embedding-001", contents="hi")
    with pytest.raises(errors.ClientError):
        generate(gemini_client, "sync", model=MODEL, contents="hi", config=config({"x-fake-fault": "429"}))

    spans = otel.finished_spans()
    assert len(spans) == 4
    exported = [span.to_json() for span in spans]
    exported += [repr(dict(p.attributes)) for name in otel.metric_names() for p in otel.points(name)]
    exported += [record.getMessage() for record in caplog.records]
    assert any(KEY_LABEL in text for text in exported)
    assert not [text for text in exported if GEMINI_KEY in text or GEMINI_KEY[4:] in text]


# -- audio, image and video tokens (issue 11, point 2) ------------------------------------------------

def gemini_reference(model: str, **usage) -> tuple[float, float]:
    import genai_prices

    result = genai_prices.calc_price(genai_prices.Usage(**usage), model, provider_id="google")
    return float(result.input_price), float(result.output_price)


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("streaming", [False, True])
def test_audio_prompt_with_cached_audio(mode, streaming, otel, google_instrumented, gemini_client):
    """gemini-2.5-flash bills audio input ($1.00 per 1M) and cached audio ($0.10) above text ($0.30, $0.03):
    promptTokensDetails and cacheTokensDetails decide the rates, as genai-prices prices them."""
    headers = {"x-fake-input-tokens": "3400", "x-fake-cached-tokens": "1200", "x-fake-output-tokens": "250",
               "x-fake-modality-tokens": "input_audio=3000, cache_audio_read=1000"}
    kwargs = dict(model="gemini-2.5-flash", contents="transcribe this", config=config(headers))
    if streaming:
        chunks = stream_all(gemini_client, mode, **kwargs)
        metadata = chunks[-1].usage_metadata
    else:
        metadata = generate(gemini_client, mode, **kwargs).usage_metadata
    # The app sees the provider's own breakdown.
    assert {d.modality.value: d.token_count for d in metadata.prompt_tokens_details} == {"TEXT": 400, "AUDIO": 3000}
    assert {d.modality.value: d.token_count for d in metadata.cache_tokens_details} == {"TEXT": 200, "AUDIO": 1000}
    want_input, want_output = gemini_reference("gemini-2.5-flash", input_tokens=3400, cache_read_tokens=1200,
                                               output_tokens=250, input_audio_tokens=3000, cache_audio_read_tokens=1000)
    assert want_input == pytest.approx((200 * 0.30 + 2000 * 1.00 + 200 * 0.03 + 1000 * 0.10) * PER_M, abs=1e-12)
    attrs = dict(otel.finished_spans()[0].attributes)
    assert attrs["genai_lens.usage.input_audio_tokens"] == 3000
    assert attrs["genai_lens.usage.cache_audio_read_tokens"] == 1000
    assert attrs[a.COST_USD] == pytest.approx(want_input + want_output, abs=1e-9)
    assert otel.total("genai_lens.cost", genai_lens__cost__type="input") == pytest.approx(want_input, abs=1e-9)


def test_image_output_and_video_input(otel, google_instrumented, gemini_client, vertex_client):
    """candidatesTokensDetails IMAGE at the image output rate (gemini-2.5-flash-image); VIDEO and
    IMAGE prompt parts on a model that prices video and image input (gemini-live-2.5-flash)."""
    generate(gemini_client, "sync", model="gemini-2.5-flash-image", contents="draw a cat", config=config({
        "x-fake-input-tokens": "20", "x-fake-output-tokens": "1300", "x-fake-modality-tokens": "output_image=1290"}))
    generate(vertex_client, "sync", model="gemini-live-2.5-flash", contents="describe", config=config({
        "x-fake-input-tokens": "9000", "x-fake-output-tokens": "100",
        "x-fake-modality-tokens": "input_video=6000, input_image=2000"}))
    image_span, video_span = otel.finished_spans()
    image_in, image_out = gemini_reference("gemini-2.5-flash-image", input_tokens=20, output_tokens=1300,
                                           output_image_tokens=1290)
    assert image_span.attributes["genai_lens.usage.output_image_tokens"] == 1290
    assert image_span.attributes[a.COST_USD] == pytest.approx(image_in + image_out, abs=1e-9)
    video_in, video_out = gemini_reference("gemini-live-2.5-flash", input_tokens=9000, output_tokens=100,
                                           input_video_tokens=6000, input_image_tokens=2000)
    assert video_span.attributes["genai_lens.usage.input_video_tokens"] == 6000
    assert video_span.attributes[a.COST_USD] == pytest.approx(video_in + video_out, abs=1e-9)
    text_in, _ = gemini_reference("gemini-live-2.5-flash", input_tokens=9000, output_tokens=100)
    assert abs(video_in - text_in) > 1e-4  # the video and image rates really differ from the text rate


def test_usage_metadata_modalities_as_genai_prices_reads_them():
    """DOCUMENT parts count as image (as genai-prices' Google extractor maps them), tool-use prompt
    parts add to the prompt's, TEXT is the rest; a text-only call has no breakdown at all."""
    from sdk_instrumentation.google_genai_instrumentor import gemini_usage

    def parts(**counts):
        return [types.ModalityTokenCount(modality=m, token_count=n) for m, n in counts.items()]

    metadata = types.GenerateContentResponseUsageMetadata(
        prompt_token_count=5000, cached_content_token_count=1000, candidates_token_count=300,
        tool_use_prompt_token_count=100,
        prompt_tokens_details=parts(TEXT=1000, DOCUMENT=2500, AUDIO=1500),
        tool_use_prompt_tokens_details=parts(TEXT=60, AUDIO=40),
        cache_tokens_details=parts(DOCUMENT=800, TEXT=200),
        candidates_tokens_details=parts(TEXT=300))
    usage = gemini_usage(metadata)
    assert usage.input_tokens == 5100
    assert usage.modality_tokens == {"input_image_tokens": 2500, "input_audio_tokens": 1540,
                                     "cache_image_read_tokens": 800}
    text_only = types.GenerateContentResponseUsageMetadata(prompt_token_count=10, candidates_token_count=5,
                                                           prompt_tokens_details=parts(TEXT=10))
    assert gemini_usage(text_only).modality_tokens is None


# -- service tiers (issue 11, point 3) ----------------------------------------------------------------

@pytest.mark.parametrize("streaming", [False, True])
def test_gemini_flex_tier_is_half_the_standard_price(streaming, otel, google_instrumented, gemini_client):
    """The Gemini API reports the tier in the x-gemini-service-tier header; Flex is billed at half of every
    token rate (the shipped data file's entry: genai-prices has no Gemini tier variants)."""
    headers = {"x-fake-input-tokens": "10000", "x-fake-cached-tokens": "2000", "x-fake-output-tokens": "1000"}
    kwargs = dict(model="gemini-2.5-flash", contents="hi", config=config(headers, service_tier="flex"))
    response = stream_all(gemini_client, "sync", **kwargs)[-1] if streaming else generate(gemini_client, "sync", **kwargs)
    assert response.sdk_http_response.headers["x-gemini-service-tier"] == "flex"
    standard_in, standard_out = gemini_reference("gemini-2.5-flash", input_tokens=10000, cache_read_tokens=2000,
                                                 output_tokens=1000)
    attrs = dict(otel.finished_spans()[0].attributes)
    assert attrs["genai_lens.request.service_tier"] == "flex"
    assert attrs["genai_lens.response.service_tier"] == "flex"
    assert attrs[a.COST_USD] == pytest.approx((standard_in + standard_out) / 2, abs=1e-12)
    assert attrs[a.COST_SOURCE] == "pricing-file"
    assert "openai.response.service_tier" not in attrs


def test_vertex_traffic_type_and_an_unpriced_tier_warns_once(otel, google_instrumented, vertex_client, caplog):
    """Vertex AI reports the tier as trafficType (ON_DEMAND_PRIORITY -> priority). No priority price is
    known for Gemini: the standard rates, and one warning per model and tier."""
    headers = {"x-fake-input-tokens": "10000", "x-fake-output-tokens": "1000"}
    with caplog.at_level(logging.WARNING, logger="sdk_instrumentation.pricing"):
        for _ in range(2):
            generate(vertex_client, "sync", model="gemini-2.5-pro", contents="hi",
                     config=config(headers, service_tier="priority"))
    standard_in, standard_out = gemini_reference("gemini-2.5-pro", input_tokens=10000, output_tokens=1000)
    for span in otel.finished_spans():
        assert span.attributes["genai_lens.response.service_tier"] == "priority"
        assert span.attributes[a.COST_USD] == pytest.approx(standard_in + standard_out, abs=1e-12)
    assert sum("'priority' service tier" in r.getMessage() for r in caplog.records) == 1


def test_traffic_types_and_service_tiers_as_tiers():
    from sdk_instrumentation.google_genai_instrumentor import gemini_service_tier

    def response(headers=None, **usage):
        return types.GenerateContentResponse(usage_metadata=types.GenerateContentResponseUsageMetadata(**usage),
                                             sdk_http_response=types.HttpResponse(headers=headers or {}))

    assert gemini_service_tier(response(traffic_type="ON_DEMAND")) is None
    assert gemini_service_tier(response(traffic_type="ON_DEMAND_FLEX")) == "flex"
    assert gemini_service_tier(response(traffic_type="PROVISIONED_THROUGHPUT")) == "provisioned_throughput"
    assert gemini_service_tier(response({"x-gemini-service-tier": "standard"})) is None  # Priority fell back
    assert gemini_service_tier(response({"x-gemini-service-tier": "priority"})) == "priority"
    assert gemini_service_tier(response()) is None and gemini_service_tier(None) is None
