"""Fixtures for the SDK tests: a fake provider on a free port, in-memory OpenTelemetry, instrumented clients."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from sdk_instrumentation.api_keys import ApiKeyLabeler
from sdk_instrumentation.exemplars import exemplar_views
from sdk_instrumentation.fake_provider import FakeProvider
from sdk_instrumentation.local_server import LocalServer
from sdk_instrumentation.pricing import Pricing
from sdk_instrumentation.setup import DELTA_TEMPORALITY
from sdk_instrumentation.telemetry import Telemetry

OPENAI_KEY = "sk-test-secret-0123456789abcdef"
GEMINI_KEY = "AIzaTestSecret0123456789abcdef"


class Otel:
    """In-memory spans and (cumulative) metrics, with small readers for assertions."""

    def __init__(self, capture_content: bool = False, labeler: ApiKeyLabeler | None = None, pricing=None,
                 sampler=None, views=None):
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider(sampler=sampler) if sampler is not None else TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.reader = InMemoryMetricReader()
        # As configure() sets it up: the summed counters' exemplars carry the call's increment.
        self.meter_provider = MeterProvider(metric_readers=[self.reader],
                                            views=exemplar_views() if views is None else views)
        self.telemetry = Telemetry(tracer_provider=self.tracer_provider, meter_provider=self.meter_provider,
                                   pricing=pricing or Pricing(), labeler=labeler, capture_content=capture_content)

    def finished_spans(self):
        return list(self.spans.get_finished_spans())

    def points(self, name: str) -> list:
        data = self.reader.get_metrics_data()
        found = []
        for rm in (data.resource_metrics if data else ()):
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    if metric.name == name:
                        found.extend(metric.data.data_points)
        return found

    def metric_names(self) -> set[str]:
        data = self.reader.get_metrics_data()
        return {m.name for rm in (data.resource_metrics if data else ()) for sm in rm.scope_metrics for m in sm.metrics}

    def total(self, name: str, **match) -> float:
        """Sum of counter values, or of histogram sums, over points whose attributes include ``match``."""
        total = 0.0
        for point in self.points(name):
            attrs = dict(point.attributes)
            if all(attrs.get(k.replace("__", ".")) == v for k, v in match.items()):
                total += point.value if hasattr(point, "value") else point.sum
        return total

    def count(self, name: str, **match) -> int:
        n = 0
        for point in self.points(name):
            attrs = dict(point.attributes)
            if all(attrs.get(k.replace("__", ".")) == v for k, v in match.items()):
                n += point.count
        return n

    def shutdown(self):
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


@pytest.fixture
def fake_provider():
    provider = FakeProvider()
    with LocalServer(provider.app) as server:
        provider.url = server.url
        yield provider


@pytest.fixture
def otel():
    o = Otel()
    yield o
    o.shutdown()


@pytest.fixture
def openai_instrumented(otel):
    from sdk_instrumentation.openai_instrumentor import OpenAIInstrumentor

    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(telemetry=otel.telemetry)
    yield instrumentor
    instrumentor.uninstrument()


@pytest.fixture
def google_instrumented(otel):
    from sdk_instrumentation.google_genai_instrumentor import GoogleGenAIInstrumentor

    instrumentor = GoogleGenAIInstrumentor()
    instrumentor.instrument(telemetry=otel.telemetry)
    yield instrumentor
    instrumentor.uninstrument()


@pytest.fixture
def openai_client(fake_provider):
    import openai

    client = openai.OpenAI(base_url=fake_provider.url + "/v1", api_key=OPENAI_KEY, max_retries=0)
    yield client
    client.close()


@pytest.fixture
def async_openai_client(fake_provider):
    import openai

    return openai.AsyncOpenAI(base_url=fake_provider.url + "/v1", api_key=OPENAI_KEY, max_retries=0)


@pytest.fixture
def gemini_client(fake_provider):
    from google import genai
    from google.genai import types

    return genai.Client(api_key=GEMINI_KEY, http_options=types.HttpOptions(base_url=fake_provider.url))
