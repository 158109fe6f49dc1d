"""Never break the app (issue point 11): inject each fault, check the app sees exactly what it
would see without genai-lens, and that the call is still recorded."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time

import openai
import pytest
from google import genai
from google.genai import types
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sdk_instrumentation import attributes as a
from sdk_instrumentation import configure, safety
from sdk_instrumentation.fake_provider import DEFAULT_REPLY
from sdk_instrumentation.google_genai_instrumentor import GoogleGenAIInstrumentor
from sdk_instrumentation.local_server import LocalServer
from sdk_instrumentation.openai_instrumentor import OpenAIInstrumentor

from .conftest import GEMINI_KEY, OPENAI_KEY, Otel

MESSAGES = [{"role": "user", "content": "hi"}]


class ExplodingPricing:
    """A pricing object whose ``price`` always raises."""

    def __init__(self):
        self.calls = 0

    def price(self, provider, model, usage):  # the three-argument form still works
        self.calls += 1
        raise RuntimeError("pricing exploded")

    def billing(self, provider, model, api_key_label=None):
        return "payg"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def fresh_log_once(monkeypatch):
    """``log_once`` remembers places for the whole process; start each test afresh."""
    monkeypatch.setattr(safety, "_seen", set())


def our_warnings(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "sdk_instrumentation" and r.levelno >= logging.WARNING]


@pytest.fixture
def instrumented_with():
    """Instrument both clients with a given ``Otel``; uninstrument afterwards."""
    active = []

    def start(otel: Otel):
        for instrumentor in (OpenAIInstrumentor(), GoogleGenAIInstrumentor()):
            instrumentor.instrument(telemetry=otel.telemetry)
            active.append(instrumentor)
        return otel

    yield start
    for instrumentor in active:
        instrumentor.uninstrument()


# -- faults inside the instrumentation -----------------------------------------------------------

def test_pricing_that_raises(instrumented_with, openai_client, gemini_client, caplog, fresh_log_once):
    pricing = ExplodingPricing()
    otel = instrumented_with(Otel(pricing=pricing))
    caplog.set_level(logging.WARNING, logger="sdk_instrumentation")
    headers = {"x-fake-input-tokens": "10", "x-fake-output-tokens": "4"}

    for _ in range(3):
        response = openai_client.chat.completions.create(model="gpt-4o", messages=MESSAGES, extra_headers=headers)
        assert response.choices[0].message.content == DEFAULT_REPLY
        assert response.usage.prompt_tokens == 10
    gemini = gemini_client.models.generate_content(
        model="gemini-2.5-pro", contents="hi",
        config=types.GenerateContentConfig(http_options=types.HttpOptions(headers=headers)))
    assert gemini.text == DEFAULT_REPLY

    assert pricing.calls >= 4
    warnings = our_warnings(caplog)
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "RuntimeError" in warnings[0].getMessage()
    assert otel.count(a.METRIC_OPERATION_DURATION) == 4
    assert otel.total(a.METRIC_TOKEN_USAGE, gen_ai__token__type="input") == 40
    assert otel.points(a.METRIC_COST) == []
    # Every span still ends, with its usage and without a cost.
    spans = otel.finished_spans()
    assert len(spans) == 4
    for span in spans:
        assert span.attributes[a.USAGE_INPUT_TOKENS] == 10
        assert span.attributes[a.USAGE_OUTPUT_TOKENS] == 4
        assert a.COST_USD not in span.attributes
        assert a.ERROR_TYPE not in span.attributes


class ExplodingHistogram:
    """Stands in for the SDK's token histogram: every record raises."""

    def record(self, value, attributes=None, context=None):
        raise RuntimeError("histogram exploded")


def test_metric_recording_that_raises(instrumented_with, openai_client, caplog, fresh_log_once):
    """Metrics are recorded on the reader's thread: a failing instrument costs the app nothing,
    is logged once, and the spans are whole."""
    otel = instrumented_with(Otel())
    otel.telemetry.instruments.token_usage = ExplodingHistogram()
    caplog.set_level(logging.WARNING, logger="sdk_instrumentation")
    headers = {"x-fake-input-tokens": "10", "x-fake-output-tokens": "4"}
    for _ in range(3):
        response = openai_client.chat.completions.create(model="gpt-4o", messages=MESSAGES, extra_headers=headers)
        assert response.choices[0].message.content == DEFAULT_REPLY
    assert our_warnings(caplog) == []  # nothing failed on the app's thread
    assert len(otel.finished_spans()) == 3
    assert all(span.attributes[a.USAGE_INPUT_TOKENS] == 10 for span in otel.finished_spans())

    assert otel.count(a.METRIC_OPERATION_DURATION) == 3  # recorded before the failing instrument
    assert otel.points(a.METRIC_TOKEN_USAGE) == []
    warnings = our_warnings(caplog)
    assert [r.getMessage() for r in warnings] == [
        "genai-lens instrumentation error in metrics.record (ignored; logged once): RuntimeError"]
    assert len(otel.telemetry.instruments.queue) == 0


class UnprintablePart(types.Part):
    """A valid Part for the client, but str(), repr() and JSON encoding of it raise."""

    def __str__(self):
        raise RuntimeError("no str for you")

    def __repr__(self):
        raise RuntimeError("no repr for you")


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_captured_content_that_cannot_be_encoded(mode, instrumented_with, gemini_client, fake_provider):
    otel = instrumented_with(Otel(capture_content=True))
    content = UnprintablePart(text="one two three")
    config = types.GenerateContentConfig(http_options=types.HttpOptions(headers={"x-fake-output-tokens": "6"}))
    if mode == "sync":
        response = gemini_client.models.generate_content(model="gemini-2.5-pro", contents=[content], config=config)
    else:
        response = asyncio.run(gemini_client.aio.models.generate_content(model="gemini-2.5-pro", contents=[content],
                                                                         config=config))

    assert response.text == DEFAULT_REPLY
    assert fake_provider.requests[-1].body["contents"] == [{"role": "user", "parts": [{"text": "one two three"}]}]
    [span] = otel.finished_spans()
    assert span.attributes[a.USAGE_INPUT_TOKENS] == 3  # the words the fake provider counted
    assert span.attributes[a.USAGE_OUTPUT_TOKENS] == 6
    assert span.attributes[a.INPUT_MESSAGES] == "<unserializable list>"
    assert otel.count(a.METRIC_OPERATION_DURATION) == 1


# -- an exporter that is down or slow ------------------------------------------------------------

class SlowReceiver:
    """An OTLP endpoint that takes ``delay`` seconds to answer each request."""

    def __init__(self, delay: float):
        self.delay = delay
        self.received = 0
        self._lock = threading.Lock()
        self.app = Starlette(routes=[Route("/v1/{signal}", self.handle, methods=["POST"])])

    async def handle(self, request: Request) -> Response:
        await request.body()
        with self._lock:
            self.received += 1
        await asyncio.sleep(self.delay)
        return Response(b"", media_type="application/x-protobuf")


def _twenty_calls(client) -> float:
    began = time.monotonic()
    for i in range(20):
        response = client.chat.completions.create(model="gpt-4o", messages=MESSAGES,
                                                  extra_headers={"x-fake-input-tokens": str(i + 1)})
        assert response.usage.prompt_tokens == i + 1
    return time.monotonic() - began


def test_exporter_down(openai_client, monkeypatch):
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    configured = configure(endpoint=f"http://127.0.0.1:{closed_port()}", service_name="never-break",
                           export_interval_seconds=0.05, export_timeout_seconds=0.5, set_global=False)
    try:
        elapsed = _twenty_calls(openai_client)
    finally:
        configured.shutdown()
    assert elapsed < 5.0  # a blocking export would take 20 x 0.5 s


def test_exporter_slow(openai_client, monkeypatch):
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    receiver = SlowReceiver(delay=1.0)
    with LocalServer(receiver.app, timeout=3.0) as server:
        configured = configure(endpoint=server.url, service_name="never-break", traces_endpoint=server.url + "/v1/traces",
                               export_interval_seconds=0.05, export_timeout_seconds=0.5, set_global=False)
        try:
            elapsed = _twenty_calls(openai_client)
        finally:
            configured.shutdown()
        assert receiver.received >= 1  # the exporter did reach the slow endpoint
    assert elapsed < 5.0  # a blocking export would take 20 x 0.5 s or more


# -- the client's own exceptions pass through unchanged --------------------------------------------

@pytest.fixture
def openai_otel(instrumented_with):
    return instrumented_with(Otel())


def _openai_call(client, mode: str, **kwargs):
    if mode == "sync":
        return client.chat.completions.create(model="gpt-4o", messages=MESSAGES, **kwargs)

    async def run():
        async with client:
            return await client.chat.completions.create(model="gpt-4o", messages=MESSAGES, **kwargs)

    return asyncio.run(run())


def _assert_recorded_error(otel, error_type: str, provider: str):
    [span] = otel.finished_spans()
    assert span.attributes[a.ERROR_TYPE] == error_type
    assert span.attributes[a.PROVIDER_NAME] == provider
    assert span.status.status_code.name == "ERROR"
    [point] = otel.points(a.METRIC_OPERATION_DURATION)
    assert dict(point.attributes)[a.ERROR_TYPE] == error_type
    assert point.count == 1
    assert otel.points(a.METRIC_TOKEN_USAGE) == []


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("fault, error_class", [("429", openai.RateLimitError), ("500", openai.InternalServerError)])
def test_openai_http_errors(mode, fault, error_class, openai_otel, fake_provider, monkeypatch):
    cls = openai.OpenAI if mode == "sync" else openai.AsyncOpenAI
    client = cls(base_url=fake_provider.url + "/v1", api_key=OPENAI_KEY, max_retries=0)
    made = []
    make_status_error = client._make_status_error

    def spy(*args, **kwargs):
        made.append(make_status_error(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(client, "_make_status_error", spy)
    with pytest.raises(error_class) as info:
        _openai_call(client, mode, extra_headers={"x-fake-fault": fault})
    assert type(info.value) is error_class
    assert info.value.status_code == int(fault)
    assert made == [info.value] and made[0] is info.value  # the very object the client made
    _assert_recorded_error(openai_otel, fault, "openai")


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_openai_timeout(mode, openai_otel, fake_provider):
    cls = openai.OpenAI if mode == "sync" else openai.AsyncOpenAI
    client = cls(base_url=fake_provider.url + "/v1", api_key=OPENAI_KEY, max_retries=0)
    with pytest.raises(openai.APITimeoutError) as info:
        _openai_call(client, mode, timeout=0.05, extra_headers={"x-fake-fault": "slow", "x-fake-delay": "0.5"})
    assert type(info.value) is openai.APITimeoutError
    _assert_recorded_error(openai_otel, "APITimeoutError", "openai")


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_openai_connection_error(mode, openai_otel):
    cls = openai.OpenAI if mode == "sync" else openai.AsyncOpenAI
    client = cls(base_url=f"http://127.0.0.1:{closed_port()}/v1", api_key=OPENAI_KEY, max_retries=0)
    with pytest.raises(openai.APIConnectionError) as info:
        _openai_call(client, mode)
    assert type(info.value) is openai.APIConnectionError
    _assert_recorded_error(openai_otel, "APIConnectionError", "openai")


def _gemini_call(client, mode: str, config):
    if mode == "sync":
        return client.models.generate_content(model="gemini-2.5-pro", contents="hi", config=config)
    return asyncio.run(client.aio.models.generate_content(model="gemini-2.5-pro", contents="hi", config=config))


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_gemini_timeout(mode, openai_otel, gemini_client):
    config = types.GenerateContentConfig(http_options=types.HttpOptions(
        headers={"x-fake-fault": "slow", "x-fake-delay": "0.5"}, timeout=50))  # milliseconds
    with pytest.raises(Exception) as info:
        _gemini_call(gemini_client, mode, config)
    assert type(info.value).__name__ == "ReadTimeout"  # httpx's own exception, unchanged
    _assert_recorded_error(openai_otel, "ReadTimeout", "gcp.gemini")


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_gemini_connection_error(mode, openai_otel):
    client = genai.Client(api_key=GEMINI_KEY, http_options=types.HttpOptions(base_url=f"http://127.0.0.1:{closed_port()}"))
    with pytest.raises(Exception) as info:
        _gemini_call(client, mode, None)
    assert type(info.value).__name__ == "ConnectError"
    _assert_recorded_error(openai_otel, "ConnectError", "gcp.gemini")
