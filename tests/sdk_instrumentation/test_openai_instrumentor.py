"""The OpenAI instrumentor, driven through the real ``openai`` client against the fake provider."""

from __future__ import annotations

import gc
import json
import logging

import openai
import pytest

from sdk_instrumentation.openai_instrumentor import OpenAIInstrumentor
from sdk_instrumentation.usage import Usage

from .conftest import OPENAI_KEY

MSG = [{"role": "user", "content": "hello there"}]
# gpt-4o: $2.50 input, $1.25 cached input, $10 output per 1M tokens.
USAGE_HEADERS = {"x-fake-input-tokens": "1000", "x-fake-cached-tokens": "400", "x-fake-output-tokens": "100",
                 "x-fake-reasoning-tokens": "30"}
INPUT_COST = 600 * 2.50e-6 + 400 * 1.25e-6   # 0.002
OUTPUT_COST = 100 * 10e-6                    # 0.001
REDACTED = "sk-…cdef"
METRIC_ATTRS = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o",
    "genai_lens.api_key": REDACTED,
    "genai_lens.billing": "payg",
}


def only_span(otel):
    spans = otel.finished_spans()
    assert len(spans) == 1, [s.name for s in spans]
    return spans[0]


def assert_gpt4o_cost(otel, **match):
    assert otel.total("genai_lens.cost", genai_lens__cost__type="input", **match) == pytest.approx(INPUT_COST, abs=1e-9)
    assert otel.total("genai_lens.cost", genai_lens__cost__type="output", **match) == pytest.approx(OUTPUT_COST, abs=1e-9)
    assert otel.total("genai_lens.cost", genai_lens__cost__type="other", **match) == 0.0


def test_chat_completion_span_metrics_and_cost(openai_instrumented, openai_client, otel):
    response = openai_client.chat.completions.create(model="gpt-4o", messages=MSG, temperature=0.5,
                                                     max_tokens=200, extra_headers=USAGE_HEADERS)
    assert response.usage.prompt_tokens == 1000  # the caller's object is untouched

    span = only_span(otel)
    assert span.name == "chat gpt-4o"
    assert span.kind.name == "CLIENT"
    attrs = dict(span.attributes)
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.request.model"] == "gpt-4o"
    assert attrs["gen_ai.response.model"] == "gpt-4o"
    assert attrs["gen_ai.response.id"] == response.id
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert attrs["gen_ai.request.stream"] is False
    assert attrs["gen_ai.request.temperature"] == 0.5
    assert attrs["gen_ai.request.max_tokens"] == 200
    assert attrs["gen_ai.usage.input_tokens"] == 1000
    assert attrs["gen_ai.usage.output_tokens"] == 100
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 400
    assert attrs["gen_ai.usage.reasoning.output_tokens"] == 30
    assert attrs["genai_lens.api_key"] == REDACTED
    assert attrs["genai_lens.billing"] == "payg"
    assert attrs["genai_lens.cost.usd"] == pytest.approx(INPUT_COST + OUTPUT_COST, abs=1e-9)
    assert attrs["server.address"] == "127.0.0.1"
    assert attrs["genai_lens.throughput"] > 0
    assert "gen_ai.response.time_to_first_chunk" not in attrs

    duration = otel.points("gen_ai.client.operation.duration")
    assert [dict(p.attributes) for p in duration] == [METRIC_ATTRS]
    assert duration[0].count == 1
    assert list(duration[0].explicit_bounds) == [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92]
    tokens = {p.attributes["gen_ai.token.type"]: p for p in otel.points("gen_ai.client.token.usage")}
    assert tokens["input"].sum == 1000 and tokens["output"].sum == 100
    assert dict(tokens["input"].attributes) == {**METRIC_ATTRS, "gen_ai.token.type": "input"}
    assert_gpt4o_cost(otel)
    assert otel.count("genai_lens.throughput") == 1
    assert otel.points("gen_ai.client.operation.time_to_first_chunk") == []
    assert otel.points("gen_ai.client.operation.time_per_output_chunk") == []
    assert otel.points("genai_lens.unpriced.requests") == []


def _chunk_view(chunks):
    return [[(c.delta.content, c.finish_reason) for c in chunk.choices] + [chunk.usage is not None] for chunk in chunks]


def test_chat_stream_hides_the_usage_chunk_it_asked_for(openai_instrumented, openai_client, otel, fake_provider):
    OpenAIInstrumentor().uninstrument()
    plain = list(openai_client.chat.completions.create(model="gpt-4o", messages=MSG, stream=True, extra_headers=USAGE_HEADERS))
    OpenAIInstrumentor().instrument(telemetry=otel.telemetry)
    traced = list(openai_client.chat.completions.create(model="gpt-4o", messages=MSG, stream=True, extra_headers=USAGE_HEADERS))

    assert _chunk_view(traced) == _chunk_view(plain)
    assert all(chunk.choices for chunk in traced)
    sent = fake_provider.requests[-1].body
    assert sent["stream_options"] == {"include_usage": True}

    span = only_span(otel)
    attrs = dict(span.attributes)
    assert attrs["gen_ai.request.stream"] is True
    assert attrs["gen_ai.usage.input_tokens"] == 1000
    assert attrs["gen_ai.usage.output_tokens"] == 100
    assert attrs["gen_ai.response.time_to_first_chunk"] > 0
    assert_gpt4o_cost(otel)
    content_chunks = sum(1 for chunk in traced if chunk.choices[0].delta.content)
    assert content_chunks == 9
    assert otel.count("gen_ai.client.operation.time_to_first_chunk") == 1
    assert otel.count("gen_ai.client.operation.time_per_output_chunk") == content_chunks - 1


def test_next_and_for_loops_share_one_stream(openai_instrumented, openai_client, otel):
    """``next(stream)`` goes through ``__next__``, a ``for`` loop through the ``__iter__`` generator:
    mixed, the caller sees every chunk once, in order, and the call ends once, at the end."""
    OpenAIInstrumentor().uninstrument()
    plain = list(openai_client.chat.completions.create(model="gpt-4o", messages=MSG, stream=True, extra_headers=USAGE_HEADERS))
    OpenAIInstrumentor().instrument(telemetry=otel.telemetry)
    stream = openai_client.chat.completions.create(model="gpt-4o", messages=MSG, stream=True, extra_headers=USAGE_HEADERS)
    seen = [next(stream), next(stream)]
    for chunk in stream:
        seen.append(chunk)
        if len(seen) == 5:
            break
    assert otel.finished_spans() == []
    seen.extend(stream)  # a second loop picks up where the first stopped
    assert _chunk_view(seen) == _chunk_view(plain)
    assert only_span(otel).attributes["gen_ai.usage.output_tokens"] == 100
    assert otel.count("gen_ai.client.operation.time_per_output_chunk") == 8  # 9 content chunks
    with pytest.raises(StopIteration):
        next(stream)
    assert len(otel.finished_spans()) == 1


def test_chat_stream_keeps_a_usage_chunk_the_caller_asked_for(openai_instrumented, openai_client, otel):
    chunks = list(openai_client.chat.completions.create(
        model="gpt-4o", messages=MSG, stream=True, stream_options={"include_usage": True}, extra_headers=USAGE_HEADERS))
    assert chunks[-1].choices == [] and chunks[-1].usage.prompt_tokens == 1000
    assert otel.total("gen_ai.client.token.usage", gen_ai__token__type="input") == 1000


def test_stream_with_block_and_close_end_once(openai_instrumented, openai_client, otel):
    with openai_client.chat.completions.create(model="gpt-4o", messages=MSG, stream=True) as stream:
        assert isinstance(stream, openai.Stream)
        first = next(iter(stream))
        assert first.choices
    stream.close()  # a second end is a no-op
    span = only_span(otel)
    assert "error.type" not in span.attributes
    assert otel.count("gen_ai.client.operation.duration") == 1


def test_early_break_and_garbage_collection_end_once(openai_instrumented, openai_client, otel):
    stream = openai_client.chat.completions.create(model="gpt-4o", messages=MSG, stream=True)
    for i, _ in enumerate(stream):
        if i == 2:
            break
    assert otel.finished_spans() == []  # still open: the caller may come back
    del stream
    gc.collect()
    span = only_span(otel)
    assert span.attributes["gen_ai.response.time_to_first_chunk"] > 0
    assert otel.count("gen_ai.client.operation.duration") == 1
    assert otel.count("gen_ai.client.operation.time_to_first_chunk") == 1


def test_mid_stream_error_passes_through_and_sets_error_type(openai_instrumented, openai_client, otel):
    stream = openai_client.chat.completions.create(model="gpt-4o", messages=MSG, stream=True,
                                                   extra_headers={"x-fake-fault": "drop"})
    received = []
    with pytest.raises(Exception) as caught:
        for chunk in stream:
            received.append(chunk)
    assert received, "some chunks arrive before the drop"
    span = only_span(otel)
    assert span.attributes["error.type"] == type(caught.value).__qualname__
    assert span.status.status_code.name == "ERROR"
    [point] = otel.points("gen_ai.client.operation.duration")
    assert point.attributes["error.type"] == type(caught.value).__qualname__
    del stream
    gc.collect()
    assert len(otel.finished_spans()) == 1


@pytest.mark.parametrize("fault,exc_type,etype", [("429", openai.RateLimitError, "429"),
                                                   ("500", openai.InternalServerError, "500")])
def test_provider_errors_pass_through(openai_instrumented, openai_client, otel, fault, exc_type, etype):
    with pytest.raises(exc_type) as caught:
        openai_client.chat.completions.create(model="gpt-4o", messages=MSG, extra_headers={"x-fake-fault": fault})
    assert type(caught.value) is exc_type
    span = only_span(otel)
    assert span.attributes["error.type"] == etype
    [point] = otel.points("gen_ai.client.operation.duration")
    assert dict(point.attributes) == {**METRIC_ATTRS, "error.type": etype}
    assert otel.points("genai_lens.cost") == []
    assert OPENAI_KEY not in json.dumps(dict(span.attributes), default=str)


def test_connection_error_passes_through(openai_instrumented, otel):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=OPENAI_KEY, max_retries=0)
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="gpt-4o", messages=MSG)
    assert only_span(otel).attributes["error.type"] == "APIConnectionError"


def test_responses_with_web_search(openai_instrumented, openai_client, otel, fake_provider):
    headers = {**USAGE_HEADERS, "x-fake-web-search-calls": "2"}
    response = openai_client.responses.create(model="gpt-4o", input="news today", tools=[{"type": "web_search"}],
                                              extra_headers=headers)
    assert sum(1 for item in response.output if item.type == "web_search_call") == 2
    span = only_span(otel)
    attrs = dict(span.attributes)
    assert span.name == "chat gpt-4o"
    assert attrs["genai_lens.web_search"] is True
    assert attrs["gen_ai.usage.input_tokens"] == 1000
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 400
    assert attrs["gen_ai.usage.reasoning.output_tokens"] == 30
    match = {"genai_lens__web_search": "true"}
    assert otel.total("genai_lens.web_search.calls", **match) == 2
    expected = otel.telemetry.pricing.price("openai", "gpt-4o", Usage(1000, 100, 400, 0, 30, 2))
    assert expected.other > 0
    assert otel.total("genai_lens.cost", genai_lens__cost__type="other", **match) == pytest.approx(expected.other, abs=1e-9)
    assert otel.total("genai_lens.cost", genai_lens__cost__type="input", **match) == pytest.approx(INPUT_COST, abs=1e-9)


def test_responses_stream(openai_instrumented, openai_client, otel):
    events = list(openai_client.responses.create(model="gpt-4o", input="hi", stream=True, extra_headers=USAGE_HEADERS))
    assert events[-1].type == "response.completed"
    attrs = dict(only_span(otel).attributes)
    assert attrs["gen_ai.usage.output_tokens"] == 100
    assert attrs["gen_ai.response.time_to_first_chunk"] > 0
    assert_gpt4o_cost(otel)
    deltas = sum(1 for e in events if e.type.endswith(".delta"))
    assert otel.count("gen_ai.client.operation.time_per_output_chunk") == deltas - 1


def test_embeddings(openai_instrumented, openai_client, otel):
    result = openai_client.embeddings.create(model="text-embedding-3-small", input="hello big world",
                                             extra_headers={"x-fake-input-tokens": "2000000"})
    assert len(result.data) == 1
    span = only_span(otel)
    assert span.name == "embeddings text-embedding-3-small"
    assert span.attributes["gen_ai.usage.input_tokens"] == 2_000_000
    assert "gen_ai.usage.output_tokens" not in span.attributes
    types = {p.attributes["gen_ai.token.type"] for p in otel.points("gen_ai.client.token.usage")}
    assert types == {"input"}
    # text-embedding-3-small: $0.02 per 1M tokens
    assert otel.total("genai_lens.cost", genai_lens__cost__type="input") == pytest.approx(0.04, abs=1e-9)


async def test_async_chat_stream_and_responses(openai_instrumented, async_openai_client, otel):
    response = await async_openai_client.chat.completions.create(model="gpt-4o", messages=MSG, extra_headers=USAGE_HEADERS)
    assert response.usage.completion_tokens == 100
    stream = await async_openai_client.chat.completions.create(model="gpt-4o", messages=MSG, stream=True,
                                                               extra_headers=USAGE_HEADERS)
    chunks = [chunk async for chunk in stream]
    assert all(chunk.choices for chunk in chunks)
    await async_openai_client.responses.create(model="gpt-4o", input="hi", extra_headers=USAGE_HEADERS)
    await async_openai_client.embeddings.create(model="text-embedding-3-small", input="x",
                                                extra_headers={"x-fake-input-tokens": "5"})
    spans = otel.finished_spans()
    assert [s.attributes["gen_ai.request.stream"] for s in spans] == [False, True, False, False]
    assert otel.total("gen_ai.client.token.usage", gen_ai__token__type="input") == 3005
    assert otel.total("gen_ai.client.token.usage", gen_ai__token__type="output") == 300
    assert otel.total("genai_lens.cost", genai_lens__cost__type="output") == pytest.approx(3 * OUTPUT_COST, abs=1e-9)
    assert otel.count("gen_ai.client.operation.time_to_first_chunk") == 1
    await async_openai_client.close()


async def test_async_anext_and_async_for_share_one_stream(openai_instrumented, async_openai_client, otel):
    stream = await async_openai_client.chat.completions.create(model="gpt-4o", messages=MSG, stream=True,
                                                               extra_headers=USAGE_HEADERS)
    seen = [await stream.__anext__()]
    async for chunk in stream:
        seen.append(chunk)
        if len(seen) == 3:
            break
    assert otel.finished_spans() == []  # leaving the loop does not end the call
    seen.extend([chunk async for chunk in stream])
    contents = [chunk.choices[0].delta.content for chunk in seen if chunk.choices[0].delta.content]
    assert len(contents) == 9 and all(chunk.choices for chunk in seen)  # every content chunk once, no usage chunk
    assert only_span(otel).attributes["gen_ai.usage.output_tokens"] == 100
    assert otel.count("gen_ai.client.operation.time_per_output_chunk") == 8
    await async_openai_client.close()


async def test_async_stream_error_passes_through(openai_instrumented, async_openai_client, otel):
    with pytest.raises(openai.RateLimitError):
        await async_openai_client.chat.completions.create(model="gpt-4o", messages=MSG, stream=True,
                                                          extra_headers={"x-fake-fault": "429"})
    assert only_span(otel).attributes["error.type"] == "429"
    await async_openai_client.close()


def test_with_raw_response(openai_instrumented, openai_client, otel):
    raw = openai_client.chat.completions.with_raw_response.create(model="gpt-4o", messages=MSG, extra_headers=USAGE_HEADERS)
    assert raw.headers["content-type"].startswith("application/json")
    completion = raw.parse()
    assert completion.usage.prompt_tokens == 1000
    assert raw.parse() is completion
    assert only_span(otel).attributes["gen_ai.usage.input_tokens"] == 1000
    assert_gpt4o_cost(otel)


def test_with_raw_response_stream(openai_instrumented, openai_client, otel):
    raw = openai_client.chat.completions.with_raw_response.create(model="gpt-4o", messages=MSG, stream=True,
                                                                  extra_headers=USAGE_HEADERS)
    chunks = list(raw.parse())
    assert all(chunk.choices for chunk in chunks)
    assert only_span(otel).attributes["gen_ai.usage.output_tokens"] == 100


def test_with_streaming_response(openai_instrumented, openai_client, otel):
    with openai_client.chat.completions.with_streaming_response.create(model="gpt-4o", messages=MSG,
                                                                        extra_headers=USAGE_HEADERS) as response:
        completion = response.parse()
    assert completion.usage.completion_tokens == 100
    assert only_span(otel).attributes["gen_ai.usage.output_tokens"] == 100
    assert_gpt4o_cost(otel)


def test_uninstrument_restores_everything(otel, openai_client):
    from openai.resources.chat.completions.completions import AsyncCompletions, Completions
    from openai.resources.embeddings import AsyncEmbeddings, Embeddings
    from openai.resources.responses.responses import AsyncResponses, Responses

    classes = (Completions, AsyncCompletions, Responses, AsyncResponses, Embeddings, AsyncEmbeddings)
    originals = [cls.__dict__["create"] for cls in classes]
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(telemetry=otel.telemetry)
    assert all(cls.__dict__["create"] is not orig for cls, orig in zip(classes, originals))
    instrumentor.uninstrument()
    assert [cls.__dict__["create"] for cls in classes] == originals
    openai_client.chat.completions.create(model="gpt-4o", messages=MSG)
    assert otel.finished_spans() == []


def test_provider_from_base_url_and_override(openai_instrumented, fake_provider, otel):
    from sdk_instrumentation import instrument_client

    client = openai.OpenAI(base_url=fake_provider.url + "/v1", api_key=OPENAI_KEY, max_retries=0)
    instrument_client(client, api_key_alias="team-search", attributes={"team": "search"}, provider="deepseek")
    client.chat.completions.create(model="deepseek-chat", messages=MSG)
    attrs = dict(only_span(otel).attributes)
    assert attrs["gen_ai.provider.name"] == "deepseek"
    assert attrs["genai_lens.api_key"] == "team-search"
    assert attrs["team"] == "search"
    [point] = otel.points("gen_ai.client.operation.duration")
    assert point.attributes["team"] == "search" and point.attributes["genai_lens.api_key"] == "team-search"


def test_unknown_model_is_never_priced(openai_instrumented, openai_client, otel, caplog):
    caplog.set_level(logging.WARNING)
    for _ in range(3):
        openai_client.chat.completions.create(model="my-private-model-x", messages=MSG)
    assert otel.points("genai_lens.cost") == []
    assert otel.total("genai_lens.unpriced.requests") == 3
    warnings = [r for r in caplog.records if "my-private-model-x" in r.getMessage()]
    assert len(warnings) == 1
    assert otel.total("gen_ai.client.token.usage", gen_ai__token__type="output") == 27


def test_content_is_captured_only_on_opt_in(fake_provider, openai_client):
    from .conftest import Otel

    for capture in (False, True):
        otel = Otel(capture_content=capture)
        instrumentor = OpenAIInstrumentor()
        instrumentor.instrument(telemetry=otel.telemetry)
        try:
            openai_client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "secret prompt"}])
        finally:
            instrumentor.uninstrument()
        attrs = dict(otel.finished_spans()[0].attributes)
        dumped = json.dumps(attrs, default=str)
        assert ("secret prompt" in dumped) is capture
        assert ("gen_ai.output.messages" in attrs) is capture
        otel.shutdown()


def test_raw_key_never_leaves(openai_instrumented, openai_client, otel, caplog):
    caplog.set_level(logging.DEBUG)
    openai_client.chat.completions.create(model="gpt-4o", messages=MSG)
    list(openai_client.chat.completions.create(model="gpt-4o", messages=MSG, stream=True))
    with pytest.raises(openai.RateLimitError):
        openai_client.chat.completions.create(model="gpt-4o", messages=MSG, extra_headers={"x-fake-fault": "429"})
    exported = [json.dumps(dict(s.attributes), default=str) + s.name for s in otel.finished_spans()]
    exported += [json.dumps(dict(p.attributes), default=str) for name in otel.metric_names() for p in otel.points(name)]
    exported += [record.getMessage() for record in caplog.records]
    assert len(exported) > 5
    for text in exported:
        assert OPENAI_KEY not in text
        assert OPENAI_KEY[3:-4] not in text


def test_search_model_chat_counts_one_web_search_call(openai_instrumented, openai_client, otel):
    openai_client.chat.completions.create(model="gpt-4o-search-preview", messages=MSG)
    span = only_span(otel)
    assert span.attributes["genai_lens.web_search"] is True
    assert span.attributes["genai_lens.web_search.calls"] == 1
    assert otel.total("genai_lens.web_search.calls", genai_lens__web_search="true") == 1


def test_pricing_file_prices_a_fine_tune_and_marks_subscription_keys(fake_provider, tmp_path):
    from sdk_instrumentation import instrument_client
    from sdk_instrumentation.pricing import Pricing

    from .conftest import Otel

    prices = tmp_path / "prices.yaml"
    prices.write_text(
        "models:\n"
        "  - provider: openai\n"
        "    match: 'ft:gpt-4o-mini:acme:*'\n"
        "    input_mtok: 0.30\n"
        "    output_mtok: 1.20\n"
        "api_keys:\n"
        "  - key: team-committed\n"
        "    billing: subscription\n")
    otel = Otel(pricing=Pricing(pricing_file=prices))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(telemetry=otel.telemetry, all_clients=False)
    try:
        paid = instrument_client(openai.OpenAI(base_url=fake_provider.url + "/v1", api_key=OPENAI_KEY, max_retries=0),
                                 api_key_alias="team-committed")
        payg = instrument_client(openai.OpenAI(base_url=fake_provider.url + "/v1", api_key=OPENAI_KEY, max_retries=0))
        headers = {"x-fake-input-tokens": "10000", "x-fake-output-tokens": "5000"}
        for client in (paid, payg):
            client.chat.completions.create(model="ft:gpt-4o-mini:acme::abc123", messages=MSG, extra_headers=headers)
    finally:
        instrumentor.uninstrument()
    for billing, key in (("subscription", "team-committed"), ("payg", REDACTED)):
        match = {"genai_lens__billing": billing, "genai_lens__api_key": key}
        assert otel.total("genai_lens.cost", genai_lens__cost__type="input", **match) == pytest.approx(0.003, abs=1e-9)
        assert otel.total("genai_lens.cost", genai_lens__cost__type="output", **match) == pytest.approx(0.006, abs=1e-9)
        assert otel.count("gen_ai.client.operation.duration", **match) == 1
    assert {span.attributes["genai_lens.cost.source"] for span in otel.finished_spans()} == {"pricing-file"}
    assert otel.total("genai_lens.cost", genai_lens__cost__source="pricing-file") == pytest.approx(0.018, abs=1e-9)
    otel.shutdown()


# -- cache writes (issue 11, point 1) ----------------------------------------------------------------
# A call whose input was mostly written to the cache, on a model that bills cache writes above the input
# rate (genai-prices: gpt-5.6-sol $4 input, $5 cache write, per 1M tokens, below 272k input tokens).
CACHE_WRITE_MODEL = "gpt-5.6-sol"
CACHE_WRITE_HEADERS = {"x-fake-input-tokens": "4020", "x-fake-cache-write-tokens": "4012", "x-fake-output-tokens": "50"}


def cache_write_reference() -> tuple[float, float]:
    """(input, output) cost of CACHE_WRITE_HEADERS' usage by genai-prices' own calc_price."""
    import genai_prices

    result = genai_prices.calc_price(genai_prices.Usage(input_tokens=4020, cache_write_tokens=4012, output_tokens=50),
                                     CACHE_WRITE_MODEL, provider_id="openai")
    return float(result.input_price), float(result.output_price)


def assert_cache_write_call(otel):
    attrs = dict(only_span(otel).attributes)
    assert attrs["gen_ai.usage.input_tokens"] == 4020
    assert attrs["gen_ai.usage.cache_write.input_tokens"] == 4012
    assert not [k for k in attrs if "cache_creation" in k]  # the conventions' old name is not emitted
    want_input, want_output = cache_write_reference()
    assert want_input == pytest.approx(8 * 4e-6 + 4012 * 5e-6, abs=1e-12)  # the reference bills the write rate
    assert otel.total("genai_lens.cost", genai_lens__cost__type="input") == pytest.approx(want_input, abs=1e-9)
    assert otel.total("genai_lens.cost", genai_lens__cost__type="output") == pytest.approx(want_output, abs=1e-9)
    assert attrs["genai_lens.cost.usd"] == pytest.approx(want_input + want_output, abs=1e-9)


@pytest.mark.parametrize("stream", [False, True])
def test_chat_cache_writes_are_recorded_and_priced(openai_instrumented, openai_client, otel, stream):
    response = openai_client.chat.completions.create(model=CACHE_WRITE_MODEL, messages=MSG, stream=stream,
                                                     extra_headers=CACHE_WRITE_HEADERS)
    if stream:
        list(response)
    else:  # the caller sees the provider's own field, untouched
        assert response.usage.prompt_tokens_details.cache_write_tokens == 4012
    assert_cache_write_call(otel)


@pytest.mark.parametrize("stream", [False, True])
def test_responses_cache_writes_are_recorded_and_priced(openai_instrumented, openai_client, otel, stream):
    response = openai_client.responses.create(model=CACHE_WRITE_MODEL, input="hi", stream=stream,
                                              extra_headers=CACHE_WRITE_HEADERS)
    if stream:
        list(response)
    assert_cache_write_call(otel)


async def test_async_chat_cache_writes_are_recorded_and_priced(openai_instrumented, async_openai_client, otel):
    response = await async_openai_client.chat.completions.create(model=CACHE_WRITE_MODEL, messages=MSG,
                                                                 extra_headers=CACHE_WRITE_HEADERS)
    assert response.usage.prompt_tokens == 4020
    assert_cache_write_call(otel)


# -- service tiers (issue 11, point 3) --------------------------------------------------------------
TIER_HEADERS = {"x-fake-input-tokens": "10000", "x-fake-cached-tokens": "2000", "x-fake-output-tokens": "800"}


def tier_reference(model: str, tier: str | None) -> float:
    """Total cost of TIER_HEADERS' usage by genai-prices' calc_price with the tier as price context."""
    import genai_prices

    result = genai_prices.calc_price(genai_prices.Usage(input_tokens=10000, cache_read_tokens=2000, output_tokens=800),
                                     model, provider_id="openai",
                                     price_context={"service_tier": tier} if tier else None)
    return float(result.total_price)


@pytest.mark.parametrize("model, requested, reported", [
    ("gpt-5", "flex", "flex"),
    ("gpt-5", "priority", "priority"),
    ("gpt-5", "auto", "default"),
    ("gpt-4o-mini", None, "default"),
    ("gpt-5", "scale", "scale"),          # no scale variant in genai-prices: standard rates
])
def test_service_tier_the_response_reports_prices_the_call(openai_instrumented, openai_client, otel, model, requested,
                                                            reported):
    extra = {"service_tier": requested} if requested else {}
    response = openai_client.chat.completions.create(model=model, messages=MSG, extra_headers=TIER_HEADERS, **extra)
    assert response.service_tier == reported
    attrs = dict(only_span(otel).attributes)
    assert attrs["openai.response.service_tier"] == reported
    assert attrs.get("openai.request.service_tier") == requested
    want = tier_reference(model, reported)
    assert attrs["genai_lens.cost.usd"] == pytest.approx(want, abs=1e-9)
    if reported in ("flex", "priority"):  # the tier's rates really differ from the standard ones
        assert abs(want - tier_reference(model, None)) > 1e-4


def test_service_tier_of_streams_and_responses(openai_instrumented, openai_client, otel):
    list(openai_client.chat.completions.create(model="gpt-5", messages=MSG, stream=True, service_tier="flex",
                                               extra_headers=TIER_HEADERS))
    list(openai_client.responses.create(model="gpt-5", input="hi", stream=True, service_tier="priority",
                                        extra_headers=TIER_HEADERS))
    openai_client.responses.create(model="gpt-5", input="hi", extra_headers={**TIER_HEADERS,
                                                                             "x-fake-service-tier": "flex"})
    spans = otel.finished_spans()
    assert [s.attributes["openai.response.service_tier"] for s in spans] == ["flex", "priority", "flex"]
    for span, tier in zip(spans, ["flex", "priority", "flex"]):
        assert span.attributes["genai_lens.cost.usd"] == pytest.approx(tier_reference("gpt-5", tier), abs=1e-9)


def test_fast_path_tier_prices_equal_genai_prices():
    from sdk_instrumentation.pricing import Pricing
    from sdk_instrumentation.usage import Usage

    pricing = Pricing()
    usage = Usage(input_tokens=10000, cache_read_tokens=2000, output_tokens=800)
    # The fast path with a tier equals genai-prices' own answer with that price context, and a tier the
    # model has no variant for is the standard price.
    assert pricing.price("openai", "gpt-5", usage, "flex").total == pytest.approx(tier_reference("gpt-5", "flex"), abs=1e-12)
    assert pricing.price("openai", "gpt-5", usage, "scale").total == pytest.approx(tier_reference("gpt-5", None), abs=1e-12)
    assert pricing.price("openai", "gpt-5", usage, "default") == pricing.price("openai", "gpt-5", usage)


# -- gateways (issue 11, point 4) -------------------------------------------------------------------

def vendor_reference(provider_id: str, model: str, input_tokens: int, output_tokens: int) -> float:
    import genai_prices

    usage = genai_prices.Usage(input_tokens=input_tokens, output_tokens=output_tokens)
    return float(genai_prices.calc_price(usage, model, provider_id=provider_id).total_price)


@pytest.mark.parametrize("gateway, model, vendor, vendor_model", [
    ("openrouter", "google/gemini-3-pro-preview", "google", "gemini-3-pro-preview"),  # not in genai-prices' openrouter
    ("openrouter", "openai/gpt-4o", "openrouter", "openai/gpt-4o"),                   # genai-prices' openrouter price
    ("zenmux", "openai/gpt-4o", "openai", "gpt-4o"),
    ("vercel", "anthropic/claude-sonnet-4-5", "anthropic", "claude-sonnet-4-5"),
    ("portkey", "gpt-4o-mini", "openai", "gpt-4o-mini"),                               # no prefix: an OpenAI model
    ("litellm", "gpt-4o", "openai", "gpt-4o"),
])
def test_gateway_model_names_are_priced_and_keep_their_full_name(fake_provider, gateway, model, vendor, vendor_model):
    from sdk_instrumentation import instrument_client

    from .conftest import Otel

    otel = Otel()
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(telemetry=otel.telemetry, all_clients=False)
    try:
        client = instrument_client(openai.OpenAI(base_url=fake_provider.url + "/v1", api_key=OPENAI_KEY, max_retries=0),
                                   provider=gateway)
        client.chat.completions.create(model=model, messages=MSG,
                                       extra_headers={"x-fake-input-tokens": "2000", "x-fake-output-tokens": "300"})
    finally:
        instrumentor.uninstrument()
    attrs = dict(only_span(otel).attributes)
    assert (attrs["gen_ai.provider.name"], attrs["gen_ai.request.model"]) == (gateway, model)
    assert attrs["genai_lens.cost.usd"] == pytest.approx(vendor_reference(vendor, vendor_model, 2000, 300), abs=1e-9)
    [point] = otel.points("gen_ai.client.operation.duration")
    assert point.attributes["gen_ai.request.model"] == model  # the label keeps the gateway's full name


def test_pricing_file_sets_a_gateway_markup(tmp_path):
    from sdk_instrumentation.pricing import Pricing

    prices = tmp_path / "prices.yaml"
    prices.write_text("models:\n  - {provider: openrouter, match: '*', markup: 0.055}\n")
    pricing = Pricing(pricing_file=prices)
    usage = Usage(input_tokens=2000, output_tokens=300, web_search_calls=1)
    plain = Pricing().price("openrouter", "google/gemini-3-pro-preview", usage)
    marked = pricing.price("openrouter", "google/gemini-3-pro-preview", usage)
    assert marked.total == pytest.approx(plain.total * 1.055, rel=1e-12)
    assert (marked.input, marked.output, marked.other) == pytest.approx((plain.input * 1.055, plain.output * 1.055,
                                                                         plain.other * 1.055))
    assert pricing.price("openai", "gpt-4o", usage) == Pricing().price("openai", "gpt-4o", usage)  # other providers


def test_model_name_whitespace_and_tuned_models(tmp_path):
    from sdk_instrumentation.pricing import Pricing

    prices = tmp_path / "prices.yaml"
    prices.write_text("models:\n  - {provider: gcp.gemini, match: 'my-tune-*', input_mtok: 0.3, output_mtok: 2.5}\n")
    pricing = Pricing(pricing_file=prices)
    usage = Usage(input_tokens=1_000_000, output_tokens=0)
    assert pricing.price("openai", "gpt-4o \n", usage) == Pricing().price("openai", "gpt-4o", usage)
    assert pricing.price("gcp.gemini", "tunedModels/my-tune-123", usage).input == pytest.approx(0.3)


# -- audio and image tokens (issue 11, point 2) -------------------------------------------------------
# gpt-audio: a spoken prompt (1,800 of 2,000 input tokens audio) answered in speech (600 of 700 output).
AUDIO_MODEL = "gpt-audio"
AUDIO_HEADERS = {"x-fake-input-tokens": "2000", "x-fake-output-tokens": "700",
                 "x-fake-modality-tokens": "input_audio=1800, output_audio=600"}


def audio_reference() -> tuple[float, float]:
    import genai_prices

    usage = genai_prices.Usage(input_tokens=2000, output_tokens=700, input_audio_tokens=1800, output_audio_tokens=600)
    result = genai_prices.calc_price(usage, AUDIO_MODEL, provider_id="openai")
    return float(result.input_price), float(result.output_price)


def assert_audio_call(otel):
    attrs = dict(only_span(otel).attributes)
    assert attrs["genai_lens.usage.input_audio_tokens"] == 1800
    assert attrs["genai_lens.usage.output_audio_tokens"] == 600
    want_input, want_output = audio_reference()
    # the audio rates, not the text ones (gpt-audio: $2.50 / $32 input, $10 / $64 output per 1M, text / audio)
    assert (want_input, want_output) == pytest.approx((200 * 2.5e-6 + 1800 * 32e-6, 100 * 10e-6 + 600 * 64e-6),
                                                      abs=1e-12)
    assert otel.total("genai_lens.cost", genai_lens__cost__type="input") == pytest.approx(want_input, abs=1e-9)
    assert otel.total("genai_lens.cost", genai_lens__cost__type="output") == pytest.approx(want_output, abs=1e-9)
    assert attrs["genai_lens.cost.usd"] == pytest.approx(want_input + want_output, abs=1e-9)
    assert attrs["genai_lens.cost.source"] == "genai-prices"


@pytest.mark.parametrize("stream", [False, True])
def test_chat_audio_tokens_are_priced_at_the_audio_rates(openai_instrumented, openai_client, otel, stream):
    response = openai_client.chat.completions.create(model=AUDIO_MODEL, messages=MSG, stream=stream,
                                                     extra_headers=AUDIO_HEADERS)
    if stream:
        list(response)
    else:  # the caller's usage object is the provider's, untouched
        assert response.usage.prompt_tokens_details.audio_tokens == 1800
        assert response.usage.completion_tokens_details.audio_tokens == 600
    assert_audio_call(otel)


async def test_async_chat_audio_tokens_are_priced_at_the_audio_rates(openai_instrumented, async_openai_client, otel):
    stream = await async_openai_client.chat.completions.create(model=AUDIO_MODEL, messages=MSG, stream=True,
                                                               extra_headers=AUDIO_HEADERS)
    async for _ in stream:
        pass
    assert_audio_call(otel)


def test_chat_image_input_tokens(openai_instrumented, openai_client, otel):
    """gpt-realtime prices image input tokens on their own; ``image_tokens`` in the prompt details."""
    import genai_prices

    openai_client.chat.completions.create(model="gpt-realtime", messages=MSG, extra_headers={
        "x-fake-input-tokens": "3000", "x-fake-output-tokens": "100", "x-fake-modality-tokens": "input_image=2500"})
    want = genai_prices.calc_price(genai_prices.Usage(input_tokens=3000, output_tokens=100, input_image_tokens=2500),
                                   "gpt-realtime", provider_id="openai")
    attrs = dict(only_span(otel).attributes)
    assert attrs["genai_lens.usage.input_image_tokens"] == 2500
    assert attrs["genai_lens.cost.usd"] == pytest.approx(float(want.total_price), abs=1e-9)
    text_only = genai_prices.calc_price(genai_prices.Usage(input_tokens=3000, output_tokens=100), "gpt-realtime",
                                        provider_id="openai")
    assert abs(want.total_price - text_only.total_price) > 0.001  # the image rate really differs


# -- a cost the provider reports (issue 11, point 5) ---------------------------------------------------

def gateway_client(fake_provider, otel, gateway: str):
    from sdk_instrumentation import instrument_client

    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(telemetry=otel.telemetry, all_clients=False)
    client = instrument_client(openai.OpenAI(base_url=fake_provider.url + "/v1", api_key=OPENAI_KEY, max_retries=0),
                               provider=gateway)
    return instrumentor, client


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("byok", [False, True])
def test_openrouter_usage_cost_wins(fake_provider, stream, byok):
    """OpenRouter's ``usage.cost`` is the call's cost, split like the price list splits it; a BYOK call
    also costs the upstream provider's ``upstream_inference_cost``."""
    from .conftest import Otel

    otel = Otel()
    headers = {"x-fake-input-tokens": "2000", "x-fake-output-tokens": "300", "x-fake-cost": "0.0123"}
    if byok:
        headers["x-fake-upstream-cost"] = "0.2"
    instrumentor, client = gateway_client(fake_provider, otel, "openrouter")
    try:
        response = client.chat.completions.create(model="openai/gpt-4o", messages=MSG, stream=stream,
                                                  extra_headers=headers)
        if stream:
            list(response)
    finally:
        instrumentor.uninstrument()
    want = 0.0123 + (0.2 if byok else 0.0)
    attrs = dict(only_span(otel).attributes)
    assert attrs["genai_lens.cost.usd"] == pytest.approx(want, abs=1e-12)
    assert attrs["genai_lens.cost.source"] == "provider"
    # The price list's split of the same call: input 2000 x $2.50, output 300 x $10 per 1M (genai-prices' openrouter).
    listed_input, listed_output = 2000 * 2.5e-6, 300 * 10e-6
    share = want / (listed_input + listed_output)
    assert otel.total("genai_lens.cost", genai_lens__cost__type="input", genai_lens__cost__source="provider") == \
        pytest.approx(listed_input * share, abs=1e-12)
    assert otel.total("genai_lens.cost", genai_lens__cost__type="output", genai_lens__cost__source="provider") == \
        pytest.approx(listed_output * share, abs=1e-12)
    assert otel.total("genai_lens.cost", genai_lens__cost__source="genai-prices") == 0.0


def test_provider_cost_of_an_unpriced_model_is_its_cost(fake_provider):
    """A gateway model genai-prices does not know is priced by the gateway's own figure, as ``other``."""
    from .conftest import Otel

    otel = Otel()
    instrumentor, client = gateway_client(fake_provider, otel, "openrouter")
    try:
        client.responses.create(model="someone/brand-new-model", input="hi",
                                extra_headers={"x-fake-cost": "0.042", "x-fake-output-tokens": "10"})
    finally:
        instrumentor.uninstrument()
    attrs = dict(only_span(otel).attributes)
    assert attrs["genai_lens.cost.usd"] == pytest.approx(0.042, abs=1e-12)
    assert "genai_lens.unpriced.reason" not in attrs
    assert otel.total("genai_lens.cost", genai_lens__cost__type="other", genai_lens__cost__source="provider") == \
        pytest.approx(0.042, abs=1e-12)
    assert otel.total("genai_lens.unpriced.requests") == 0


def test_perplexity_cost_object_is_split_as_reported(fake_provider):
    from .conftest import Otel

    otel = Otel()
    instrumentor, client = gateway_client(fake_provider, otel, "perplexity")
    try:
        client.chat.completions.create(model="sonar", messages=MSG, extra_headers={
            "x-fake-cost-breakdown": "input=0.0004, output=0.0011, request=0.005"})
    finally:
        instrumentor.uninstrument()
    assert only_span(otel).attributes["genai_lens.cost.source"] == "provider"
    for cost_type, want in (("input", 0.0004), ("output", 0.0011), ("other", 0.005)):
        assert otel.total("genai_lens.cost", genai_lens__cost__type=cost_type) == pytest.approx(want, abs=1e-12)


def test_cost_source_of_the_price_list(openai_instrumented, openai_client, otel):
    openai_client.chat.completions.create(model="gpt-4o", messages=MSG, extra_headers=USAGE_HEADERS)
    assert only_span(otel).attributes["genai_lens.cost.source"] == "genai-prices"
    assert otel.total("genai_lens.cost", genai_lens__cost__source="genai-prices") == \
        pytest.approx(INPUT_COST + OUTPUT_COST, abs=1e-9)


async def test_async_stream_reported_cost_wins(openai_instrumented, async_openai_client, otel):
    """The reported cost of an async stream's last chunk (and of an async Responses call)."""
    stream = await async_openai_client.chat.completions.create(
        model="gpt-4o", messages=MSG, stream=True, extra_headers={**USAGE_HEADERS, "x-fake-cost": "0.0042"})
    async for _ in stream:
        pass
    await async_openai_client.responses.create(model="gpt-4o", input="hi",
                                               extra_headers={**USAGE_HEADERS, "x-fake-cost": "0.0058"})
    spans = otel.finished_spans()
    assert [s.attributes["genai_lens.cost.usd"] for s in spans] == pytest.approx([0.0042, 0.0058], abs=1e-12)
    assert {s.attributes["genai_lens.cost.source"] for s in spans} == {"provider"}
    # split like the price list splits the same call: input 0.002, output 0.001 (USAGE_HEADERS on gpt-4o)
    assert otel.total("genai_lens.cost", genai_lens__cost__type="input") == pytest.approx(0.01 * 2 / 3, abs=1e-12)
    assert otel.total("genai_lens.cost", genai_lens__cost__type="output") == pytest.approx(0.01 / 3, abs=1e-12)
