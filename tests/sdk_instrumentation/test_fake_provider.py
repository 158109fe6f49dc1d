"""The fake provider, driven by the real openai and google-genai clients over HTTP."""

from __future__ import annotations

import asyncio
import base64
import struct
import time

import google.oauth2.credentials
import httpx
import httpx2
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from sdk_instrumentation.fake_provider import DEFAULT_REPLY, FakeProvider
from sdk_instrumentation.fake_provider.controls import count_words, split_reply
from sdk_instrumentation.local_server import LocalServer

REPLY_WORDS = DEFAULT_REPLY.split()  # 9 words
USER = [{"role": "user", "content": "tell me a story"}]  # 4 words


@pytest.fixture
def fake():
    provider = FakeProvider()
    with LocalServer(provider.app) as server:
        provider.url = server.url
        yield provider


@pytest.fixture
def oai(fake):
    client = openai.OpenAI(base_url=fake.url + "/v1", api_key="sk-test-1234abcd", max_retries=0)
    yield client
    client.close()


@pytest.fixture
def aoai(fake):
    return openai.AsyncOpenAI(base_url=fake.url + "/v1", api_key="sk-test-1234abcd", max_retries=0)


@pytest.fixture
def gem(fake):
    return genai.Client(api_key="AIza-test", http_options=types.HttpOptions(base_url=fake.url, api_version="v1beta"))


@pytest.fixture
def vertex_express(fake):
    return genai.Client(vertexai=True, api_key="AQ-test", http_options=types.HttpOptions(base_url=fake.url))


@pytest.fixture
def vertex_project(fake):
    credentials = google.oauth2.credentials.Credentials(token="fake-token")
    return genai.Client(
        vertexai=True,
        project="demo-project",
        location="us-central1",
        credentials=credentials,
        http_options=types.HttpOptions(base_url=fake.url),
    )


def gconfig(headers: dict[str, str] | None = None, **kwargs) -> types.GenerateContentConfig:
    return types.GenerateContentConfig(http_options=types.HttpOptions(headers=headers or {}), **kwargs)


# google-genai sends with httpx2 when it is installed, else httpx; a cut connection raises either's error.
TRANSPORT_ERRORS = (httpx.TransportError, httpx2.TransportError)

USAGE_HEADERS = {
    "x-fake-input-tokens": "1000",
    "x-fake-cached-tokens": "400",
    "x-fake-output-tokens": "250",
    "x-fake-reasoning-tokens": "50",
}


# --- helpers -------------------------------------------------------------------------------------


def test_count_words_walks_only_text():
    body = {
        "model": "gpt-4o",
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": [{"type": "text", "text": "a b c"}]}],
    }
    assert count_words(body) == 5
    assert count_words({"contents": [{"role": "user", "parts": [{"text": "one two"}]}], "systemInstruction": {"parts": [{"text": "three"}]}}) == 3


def test_split_reply_joins_back():
    assert split_reply("The quick brown fox", None) == ["The", " quick", " brown", " fox"]
    assert split_reply("The quick brown fox", 2) == ["The quick", " brown fox"]
    assert "".join(split_reply("abc de", 5)) == "abc de" and len(split_reply("abc de", 5)) == 5


# --- OpenAI chat completions ----------------------------------------------------------------------


def test_chat_plain_default_usage_and_recording(fake, oai):
    r = oai.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert r.choices[0].message.content == DEFAULT_REPLY
    assert r.model == "gpt-4o-mini"
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (4, 9, 13)
    assert r.usage.prompt_tokens_details.cached_tokens == 0
    assert r.usage.completion_tokens_details.reasoning_tokens == 0
    [rec] = fake.requests
    assert (rec.method, rec.path, rec.body["model"]) == ("POST", "/v1/chat/completions", "gpt-4o-mini")
    assert rec.headers["authorization"] == "[redacted]"
    assert "sk-test-1234abcd" not in repr(rec)


def test_chat_header_usage_and_model(oai):
    r = oai.chat.completions.create(
        model="gpt-4o", messages=USER, extra_headers={**USAGE_HEADERS, "x-fake-model": "gpt-4o-2024-08-06", "x-fake-reply": "ok"}
    )
    assert r.model == "gpt-4o-2024-08-06"
    assert r.choices[0].message.content == "ok"
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (1000, 250, 1250)
    assert r.usage.prompt_tokens_details.cached_tokens == 400
    assert r.usage.completion_tokens_details.reasoning_tokens == 50


def test_chat_stream_without_usage(fake, oai):
    chunks = list(oai.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True, extra_headers={"x-fake-chunks": "3"}))
    contents = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert contents == ["The quick brown", " fox jumps over", " the lazy dog"]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None and c.choices for c in chunks)


def test_chat_stream_with_usage(oai):
    chunks = list(
        oai.chat.completions.create(
            model="gpt-4o-mini", messages=USER, stream=True, stream_options={"include_usage": True}, extra_headers=USAGE_HEADERS
        )
    )
    *body, last = chunks
    assert "".join(c.choices[0].delta.content or "" for c in body) == DEFAULT_REPLY
    assert last.choices == []
    assert (last.usage.prompt_tokens, last.usage.completion_tokens, last.usage.total_tokens) == (1000, 250, 1250)
    assert last.usage.prompt_tokens_details.cached_tokens == 400
    assert last.usage.completion_tokens_details.reasoning_tokens == 50
    assert all(c.usage is None for c in body)


def test_chat_search_model_has_citation(oai):
    r = oai.chat.completions.create(model="gpt-4o-search-preview", messages=USER)
    [annotation] = r.choices[0].message.annotations
    assert annotation.type == "url_citation"
    assert annotation.url_citation.end_index == len(DEFAULT_REPLY)


async def test_chat_async_stream(aoai):
    stream = await aoai.chat.completions.create(
        model="gpt-4o-mini", messages=USER, stream=True, stream_options={"include_usage": True}
    )
    chunks = [c async for c in stream]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == DEFAULT_REPLY
    assert chunks[-1].usage.total_tokens == 4 + 9


# --- OpenAI responses ---------------------------------------------------------------------------


def test_responses_plain_with_web_search(fake, oai):
    r = oai.responses.create(
        model="gpt-4.1", input="who won the race", tools=[{"type": "web_search"}], extra_headers={"x-fake-web-search-calls": "3", **USAGE_HEADERS}
    )
    assert [item.type for item in r.output] == ["reasoning", "web_search_call", "web_search_call", "web_search_call", "message"]
    searches = [item for item in r.output if item.type == "web_search_call"]
    assert all(s.status == "completed" and s.action.type == "search" for s in searches)
    assert searches[0].action.query == "who won the race (1)"
    assert r.output_text == DEFAULT_REPLY
    assert r.model == "gpt-4.1"
    u = r.usage
    assert (u.input_tokens, u.input_tokens_details.cached_tokens, u.output_tokens, u.output_tokens_details.reasoning_tokens, u.total_tokens) == (
        1000, 400, 250, 50, 1250,
    )


def test_responses_plain_default_usage_no_search(oai):
    r = oai.responses.create(model="gpt-4.1-mini", input="one two three", instructions="four")
    assert [item.type for item in r.output] == ["message"]
    assert (r.usage.input_tokens, r.usage.output_tokens, r.usage.total_tokens) == (4, 9, 13)


def test_responses_stream_event_sequence(oai):
    stream = oai.responses.create(
        model="gpt-4.1", input="search this", tools=[{"type": "web_search_preview"}], stream=True, extra_headers={"x-fake-chunks": "2"}
    )
    events = list(stream)
    assert [e.type for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.web_search_call.in_progress",
        "response.web_search_call.searching",
        "response.web_search_call.completed",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.annotation.added",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert events[6].item.type == "web_search_call" and events[6].item.action.query == "search this"
    final = events[-1].response
    assert final.output_text == DEFAULT_REPLY
    assert (final.usage.input_tokens, final.usage.output_tokens, final.usage.total_tokens) == (2, 9, 11)


async def test_responses_async_stream_helper(aoai):
    async with aoai.responses.stream(model="gpt-4.1", input="hi", extra_headers={"x-fake-output-tokens": "42"}) as stream:
        deltas = [e.delta async for e in stream if e.type == "response.output_text.delta"]
        final = await stream.get_final_response()
    assert "".join(deltas) == DEFAULT_REPLY
    assert final.usage.output_tokens == 42


# --- OpenAI embeddings --------------------------------------------------------------------------


def test_embeddings_base64_default_matches_float(fake, oai):
    b64 = oai.embeddings.create(model="text-embedding-3-small", input=["alpha beta", "gamma"], dimensions=8)
    floats = oai.embeddings.create(model="text-embedding-3-small", input=["alpha beta", "gamma"], dimensions=8, encoding_format="float")
    assert fake.requests[0].body["encoding_format"] == "base64"
    assert [d.embedding for d in b64.data] == [d.embedding for d in floats.data]
    assert len(b64.data) == 2 and len(b64.data[0].embedding) == 8
    assert (b64.usage.prompt_tokens, b64.usage.total_tokens) == (3, 3)


def test_embeddings_raw_base64_is_little_endian_float32(fake):
    with httpx.Client() as http:
        body = http.post(fake.url + "/v1/embeddings", json={"model": "m", "input": "x", "dimensions": 4, "encoding_format": "base64"}).json()
        floats = http.post(fake.url + "/v1/embeddings", json={"model": "m", "input": "x", "dimensions": 4}).json()
    decoded = list(struct.unpack("<4f", base64.b64decode(body["data"][0]["embedding"])))
    assert decoded == floats["data"][0]["embedding"]


# --- Gemini Developer API -------------------------------------------------------------------------


def test_gemini_generate_v1beta_header_usage(fake, gem):
    headers = {**USAGE_HEADERS, "x-fake-tool-use-prompt-tokens": "7", "x-fake-model": "gemini-2.0-flash-001"}
    r = gem.models.generate_content(model="gemini-2.0-flash", contents="hello there", config=gconfig(headers))
    assert r.text == DEFAULT_REPLY
    u = r.usage_metadata
    assert (u.prompt_token_count, u.cached_content_token_count, u.candidates_token_count, u.thoughts_token_count) == (1000, 400, 200, 50)
    assert u.tool_use_prompt_token_count == 7
    assert u.total_token_count == 1000 + 200 + 50 + 7
    assert r.model_version == "gemini-2.0-flash-001"
    assert r.response_id
    rec = fake.requests[-1]
    assert rec.path == "/v1beta/models/gemini-2.0-flash:generateContent"
    assert rec.headers["x-goog-api-key"] == "[redacted]"


def test_gemini_generate_default_usage_omits_zero_counts(gem):
    r = gem.models.generate_content(model="gemini-2.5-flash", contents="one two three")
    u = r.usage_metadata
    assert (u.prompt_token_count, u.candidates_token_count, u.total_token_count) == (3, 9, 12)
    assert (u.cached_content_token_count, u.thoughts_token_count, u.tool_use_prompt_token_count) == (None, None, None)
    assert r.model_version == "gemini-2.5-flash"


def test_gemini_stream_usage_on_last_event(fake, gem):
    chunks = list(gem.models.generate_content_stream(model="gemini-2.0-flash", contents="a b", config=gconfig(USAGE_HEADERS)))
    assert [c.text for c in chunks] == ["The", " quick", " brown", " fox", " jumps", " over", " the", " lazy", " dog"]
    assert fake.requests[-1].query == {"alt": "sse"}
    assert all(c.usage_metadata.total_token_count == 1000 and c.usage_metadata.thoughts_token_count is None for c in chunks[:-1])
    last = chunks[-1].usage_metadata
    assert (last.prompt_token_count, last.candidates_token_count, last.thoughts_token_count, last.total_token_count) == (1000, 200, 50, 1250)
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP


async def test_gemini_async_stream(gem):
    stream = await gem.aio.models.generate_content_stream(model="gemini-2.0-flash", contents="a b", config=gconfig({"x-fake-chunks": "2"}))
    chunks = [c async for c in stream]
    assert [c.text for c in chunks] == ["The quick brown fox", " jumps over the lazy dog"]
    assert chunks[-1].usage_metadata.total_token_count == 2 + 9


def test_gemini_embed_uses_batch_embed_contents(fake, gem):
    r = gem.models.embed_content(model="gemini-embedding-001", contents=["alpha beta", "gamma"], config=types.EmbedContentConfig(output_dimensionality=16))
    assert [len(e.values) for e in r.embeddings] == [16, 16]
    assert r.embeddings[0].values != r.embeddings[1].values
    assert fake.requests[-1].path == "/v1beta/models/gemini-embedding-001:batchEmbedContents"


def test_gemini_grounding_with_google_search(gem):
    search = types.Tool(google_search=types.GoogleSearch())
    r = gem.models.generate_content(
        model="gemini-2.5-flash", contents="latest news", config=gconfig({"x-fake-web-search-calls": "2"}, tools=[search])
    )
    grounding = r.candidates[0].grounding_metadata
    assert grounding.web_search_queries == ["latest news (1)", "latest news (2)"]
    assert len(grounding.grounding_chunks) == 2
    plain = gem.models.generate_content(model="gemini-2.5-flash", contents="latest news")
    assert plain.candidates[0].grounding_metadata is None


def test_gemini_grounding_in_stream_last_event(gem):
    search = types.Tool(google_search=types.GoogleSearch())
    chunks = list(gem.models.generate_content_stream(model="gemini-2.5-flash", contents="q", config=gconfig(tools=[search])))
    assert chunks[-1].candidates[0].grounding_metadata.web_search_queries == ["q"]
    assert all(c.candidates[0].grounding_metadata is None for c in chunks[:-1])


# --- Vertex AI ----------------------------------------------------------------------------------


def test_vertex_express_mode(fake, vertex_express):
    r = vertex_express.models.generate_content(model="gemini-2.0-flash", contents="hi there", config=gconfig(USAGE_HEADERS))
    assert r.text == DEFAULT_REPLY
    assert (r.usage_metadata.prompt_token_count, r.usage_metadata.total_token_count) == (1000, 1250)
    rec = fake.requests[-1]
    assert rec.path == "/v1beta1/publishers/google/models/gemini-2.0-flash:generateContent"
    assert rec.headers["x-goog-api-key"] == "[redacted]"


def test_vertex_project_mode_generate_stream_embed(fake, vertex_project):
    r = vertex_project.models.generate_content(model="gemini-2.0-flash", contents="hi there")
    assert (r.usage_metadata.prompt_token_count, r.usage_metadata.candidates_token_count) == (2, 9)
    assert r.usage_metadata.traffic_type == types.TrafficType.ON_DEMAND
    prefix = "/v1beta1/projects/demo-project/locations/us-central1/publishers/google/models/"
    assert fake.requests[-1].path == prefix + "gemini-2.0-flash:generateContent"
    assert fake.requests[-1].headers["authorization"] == "[redacted]"

    text = "".join(c.text for c in vertex_project.models.generate_content_stream(model="gemini-2.0-flash", contents="x"))
    assert text == DEFAULT_REPLY
    assert fake.requests[-1].path == prefix + "gemini-2.0-flash:streamGenerateContent"

    predict = vertex_project.models.embed_content(model="text-embedding-005", contents=["a b", "c"])
    assert [e.statistics.token_count for e in predict.embeddings] == [2, 1]
    assert fake.requests[-1].path == prefix + "text-embedding-005:predict"

    single = vertex_project.models.embed_content(model="gemini-embedding-001", contents="a b c")
    assert single.embeddings[0].statistics.token_count == 3
    assert fake.requests[-1].path == prefix + "gemini-embedding-001:embedContent"


async def test_vertex_project_mode_async(fake, vertex_project):
    r = await vertex_project.aio.models.generate_content(model="gemini-2.0-flash", contents="hi", config=gconfig({"x-fake-output-tokens": "5"}))
    assert r.usage_metadata.candidates_token_count == 5


# --- faults -------------------------------------------------------------------------------------


def test_openai_429_and_500(oai):
    with pytest.raises(openai.RateLimitError) as rate:
        oai.chat.completions.create(model="gpt-4o", messages=USER, extra_headers={"x-fake-fault": "429"})
    assert rate.value.status_code == 429
    assert rate.value.body["type"] == "rate_limit_error" and rate.value.code == "rate_limit_exceeded"
    with pytest.raises(openai.InternalServerError) as server:
        oai.responses.create(model="gpt-4.1", input="x", extra_headers={"x-fake-fault": "500"})
    assert server.value.status_code == 500 and server.value.body["type"] == "server_error"


def test_gemini_429_and_500(gem, vertex_project):
    with pytest.raises(genai_errors.ClientError) as rate:
        gem.models.generate_content(model="gemini-2.0-flash", contents="x", config=gconfig({"x-fake-fault": "429"}))
    assert (rate.value.code, rate.value.status) == (429, "RESOURCE_EXHAUSTED")
    with pytest.raises(genai_errors.ServerError) as server:
        list(vertex_project.models.generate_content_stream(model="gemini-2.0-flash", contents="x", config=gconfig({"x-fake-fault": "500"})))
    assert (server.value.code, server.value.status) == (500, "INTERNAL")


def test_bad_control_header_is_400(oai, gem):
    with pytest.raises(openai.BadRequestError):
        oai.chat.completions.create(model="gpt-4o", messages=USER, extra_headers={"x-fake-input-tokens": "many"})
    with pytest.raises(genai_errors.ClientError) as bad:
        gem.models.generate_content(model="gemini-2.0-flash", contents="x", config=gconfig({"x-fake-fault": "explode"}))
    assert bad.value.code == 400


def test_openai_drop_stream_raises_mid_iteration(oai):
    received = []
    stream = oai.chat.completions.create(model="gpt-4o", messages=USER, stream=True, extra_headers={"x-fake-fault": "drop"})
    with pytest.raises(openai.APIConnectionError):
        for chunk in stream:
            received.append(chunk.choices[0].delta.content)
    assert "".join(c for c in received if c) == "The quick brown fox"  # 4 of 9 content chunks


def test_openai_drop_responses_stream_and_plain(oai):
    deltas = []
    with pytest.raises(openai.APIConnectionError):
        for event in oai.responses.create(model="gpt-4.1", input="x", stream=True, extra_headers={"x-fake-fault": "drop", "x-fake-chunks": "4"}):
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
    assert len(deltas) == 2
    with pytest.raises(openai.APIConnectionError):
        oai.chat.completions.create(model="gpt-4o", messages=USER, extra_headers={"x-fake-fault": "drop"})


def test_gemini_drop_stream_raises_mid_iteration(gem):
    texts = []
    with pytest.raises(TRANSPORT_ERRORS):
        for chunk in gem.models.generate_content_stream(model="gemini-2.0-flash", contents="x", config=gconfig({"x-fake-fault": "drop"})):
            texts.append(chunk.text)
    assert "".join(texts) == "The quick brown fox"


async def test_gemini_drop_async_and_plain(gem):
    texts = []
    with pytest.raises(TRANSPORT_ERRORS):
        stream = await gem.aio.models.generate_content_stream(model="gemini-2.0-flash", contents="x", config=gconfig({"x-fake-fault": "drop"}))
        async for chunk in stream:
            texts.append(chunk.text)
    assert len(texts) == 4
    with pytest.raises(TRANSPORT_ERRORS):
        await gem.aio.models.generate_content(model="gemini-2.0-flash", contents="x", config=gconfig({"x-fake-fault": "drop"}))


# --- timing (lower bounds only) -------------------------------------------------------------------


def test_slow_fault_and_ttft_lower_bounds(oai, gem):
    start = time.monotonic()
    oai.chat.completions.create(model="gpt-4o", messages=USER, extra_headers={"x-fake-fault": "slow", "x-fake-delay": "0.3"})
    assert time.monotonic() - start >= 0.3

    start = time.monotonic()
    stream = oai.chat.completions.create(model="gpt-4o", messages=USER, stream=True, extra_headers={"x-fake-ttft": "0.3", "x-fake-chunk-delay": "0.02"})
    first = next(c for c in stream if c.choices and c.choices[0].delta.content)
    ttft = time.monotonic() - start
    rest = [c for c in stream]
    total = time.monotonic() - start
    assert first.choices[0].delta.content == "The" and len(rest) == 9  # 8 content chunks + finish chunk
    assert ttft >= 0.3
    assert total >= 0.3 + 8 * 0.02

    start = time.monotonic()
    gem.models.generate_content(model="gemini-2.0-flash", contents="x", config=gconfig({"x-fake-ttft": "0.2"}))
    assert time.monotonic() - start >= 0.2


def test_provider_defaults_change_at_run_time(fake, oai):
    fake.reply = "changed reply"
    fake.ttft = 0.2
    start = time.monotonic()
    r = oai.chat.completions.create(model="gpt-4o", messages=USER)
    assert time.monotonic() - start >= 0.2
    assert r.choices[0].message.content == "changed reply"
    assert r.usage.completion_tokens == 2


async def test_slow_stream_does_not_block_others(aoai):
    slow = asyncio.ensure_future(
        aoai.chat.completions.create(model="gpt-4o", messages=USER, extra_headers={"x-fake-fault": "slow", "x-fake-delay": "1.0"})
    )
    await asyncio.sleep(0.05)
    fast = await aoai.chat.completions.create(model="gpt-4o", messages=USER)
    assert fast.choices[0].message.content == DEFAULT_REPLY
    assert not slow.done()  # the slow answer is still sleeping while the fast one was served
    assert (await slow).choices[0].message.content == DEFAULT_REPLY
