"""One-call setup: configure() exporting OTLP/HTTP to a local receiver, instrument(), key aliases,
and the zero-code path through ``opentelemetry-instrument`` (in a subprocess: global providers
can be set only once per process)."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import textwrap
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sdk_instrumentation import attributes as a
from sdk_instrumentation import configure, fingerprint, instrument, uninstrument
from sdk_instrumentation.google_genai_instrumentor import GoogleGenAIInstrumentor
from sdk_instrumentation.local_server import LocalServer
from sdk_instrumentation.openai_instrumentor import OpenAIInstrumentor
from sdk_instrumentation.pricing import Pricing, PricingFileError

from .conftest import OPENAI_KEY

DELTA = 1  # opentelemetry.proto AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
MESSAGES = [{"role": "user", "content": "hi"}]


class OtlpReceiver:
    """A minimal OTLP/HTTP metrics receiver that keeps every request it was sent."""

    def __init__(self):
        self.requests: list[ExportMetricsServiceRequest] = []
        self.app = Starlette(routes=[Route("/v1/metrics", self.metrics, methods=["POST"])])

    async def metrics(self, request: Request) -> Response:
        body = await request.body()
        if request.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        self.requests.append(ExportMetricsServiceRequest.FromString(body))
        return Response(ExportMetricsServiceResponse().SerializeToString(), media_type="application/x-protobuf")

    def points(self, name: str, start: int = 0) -> list[tuple[dict, dict, object, int]]:
        """(resource attributes, point attributes, point, temporality) for every point of ``name``."""
        found = []
        for req in self.requests[start:]:
            for rm in req.resource_metrics:
                resource = {kv.key: kv.value.string_value for kv in rm.resource.attributes}
                for sm in rm.scope_metrics:
                    for metric in sm.metrics:
                        if metric.name != name:
                            continue
                        data = getattr(metric, metric.WhichOneof("data"))
                        for point in data.data_points:
                            attrs = {kv.key: _any_value(kv.value) for kv in point.attributes}
                            found.append((resource, attrs, point, data.aggregation_temporality))
        return found


def _any_value(value):
    return getattr(value, value.WhichOneof("value"))


@pytest.fixture
def receiver():
    r = OtlpReceiver()
    with LocalServer(r.app) as server:
        r.url = server.url
        yield r


@pytest.fixture
def clean_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith("OTEL_") or name.startswith("GENAI_LENS_"):
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.fixture
def alias_file(tmp_path, clean_env):
    path = tmp_path / "aliases.yaml"
    path.write_text(f"api_key_aliases:\n  {fingerprint(OPENAI_KEY)}: team-env\n", encoding="utf-8")
    clean_env.setenv("GENAI_LENS_API_KEY_ALIASES", str(path))
    return path


def test_configure_exports_delta_metrics_over_otlp_http(receiver, openai_client, alias_file):
    configured = configure(endpoint=receiver.url, service_name="setup-test", export_interval_seconds=3600,
                           set_global=False)
    try:
        assert OpenAIInstrumentor().is_instrumented_by_opentelemetry
        assert GoogleGenAIInstrumentor().is_instrumented_by_opentelemetry
        openai_client.chat.completions.create(model="gpt-4o", messages=MESSAGES,
                                              extra_headers={"x-fake-input-tokens": "100", "x-fake-output-tokens": "20"})
        openai_client.chat.completions.create(model="gpt-4o", messages=MESSAGES,
                                              extra_headers={"x-fake-input-tokens": "50", "x-fake-output-tokens": "5"})
        configured.force_flush()

        tokens = receiver.points(a.METRIC_TOKEN_USAGE)
        assert len(tokens) == 2
        by_type = {attrs[a.TOKEN_TYPE]: (resource, attrs, point, temporality) for resource, attrs, point, temporality in tokens}
        for token_type, expected_sum in (("input", 150), ("output", 25)):
            resource, attrs, point, temporality = by_type[token_type]
            assert temporality == DELTA
            assert resource["service.name"] == "setup-test"
            assert point.sum == expected_sum
            assert point.count == 2
            assert attrs == {
                a.OPERATION_NAME: "chat", a.PROVIDER_NAME: "openai", a.REQUEST_MODEL: "gpt-4o",
                a.API_KEY: "team-env", a.BILLING: "payg", a.TOKEN_TYPE: token_type,
            }
        # $2.50 input, $10 output per 1M tokens (gpt-4o)
        costs = {attrs[a.COST_TYPE]: (point.as_double, temporality) for _, attrs, point, temporality in receiver.points(a.METRIC_COST)}
        assert costs["input"][0] == pytest.approx(150 * 2.5e-6, abs=1e-9)
        assert costs["output"][0] == pytest.approx(25 * 10e-6, abs=1e-9)
        assert {t for _, t in costs.values()} == {DELTA}
        assert [t for *_, t in receiver.points(a.METRIC_OPERATION_DURATION)] == [DELTA]

        # Delta: a flush with no new calls sends no new token points, and cost deltas of zero
        # (cost sums are reported through an observable counter: every known series, delta 0 when idle).
        sent = len(receiver.requests)
        configured.force_flush()
        assert receiver.points(a.METRIC_TOKEN_USAGE, start=sent) == []
        idle_costs = receiver.points(a.METRIC_COST, start=sent)
        assert len(idle_costs) == 3 and [point.as_double for _, _, point, _ in idle_costs] == [0.0, 0.0, 0.0]

        openai_client.chat.completions.create(model="gpt-4o", messages=MESSAGES,
                                              extra_headers={"x-fake-input-tokens": "7", "x-fake-output-tokens": "3"})
        sent = len(receiver.requests)
        configured.force_flush()
        sums = {attrs[a.TOKEN_TYPE]: point.sum for _, attrs, point, _ in receiver.points(a.METRIC_TOKEN_USAGE, start=sent)}
        assert sums == {"input": 7, "output": 3}
    finally:
        configured.shutdown()
    assert not OpenAIInstrumentor().is_instrumented_by_opentelemetry
    assert not GoogleGenAIInstrumentor().is_instrumented_by_opentelemetry


def test_bad_pricing_file_fails_at_configure_naming_file_and_line(tmp_path, clean_env):
    path = tmp_path / "prices.yaml"
    path.write_text("models:\n  - match: my-fine-tune\n    input_mtok: [1.0\n", encoding="utf-8")
    with pytest.raises(PricingFileError) as info:
        configure(endpoint="http://127.0.0.1:9", pricing_file=path, set_global=False, instrument_clients=False)
    message = str(info.value)
    assert str(path) in message
    assert f"{path}:4:" in message
    assert not OpenAIInstrumentor().is_instrumented_by_opentelemetry

    clean_env.setenv("GENAI_LENS_PRICING_FILE", str(path))
    with pytest.raises(PricingFileError, match="prices.yaml:4:"):
        configure(endpoint="http://127.0.0.1:9", set_global=False, instrument_clients=False)


def test_instrument_reads_the_alias_file_from_the_environment(otel, openai_client, alias_file):
    instrumentors = instrument(tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider, pricing=Pricing())
    try:
        assert {type(i) for i in instrumentors} == {OpenAIInstrumentor, GoogleGenAIInstrumentor}
        openai_client.chat.completions.create(model="gpt-4o", messages=MESSAGES, extra_headers={"x-fake-input-tokens": "9"})
    finally:
        uninstrument()
    [span] = otel.finished_spans()
    assert span.attributes[a.API_KEY] == "team-env"
    assert {dict(p.attributes)[a.API_KEY] for p in otel.points(a.METRIC_TOKEN_USAGE)} == {"team-env"}
    assert otel.total(a.METRIC_TOKEN_USAGE, gen_ai__token__type="input") == 9
    assert not OpenAIInstrumentor().is_instrumented_by_opentelemetry


def test_entry_points_load_our_instrumentors():
    found = {ep.name: ep for ep in entry_points(group="opentelemetry_instrumentor")}
    assert found["genai_lens_openai"].load() is OpenAIInstrumentor
    assert found["genai_lens_google_genai"].load() is GoogleGenAIInstrumentor


_ZERO_CODE_SCRIPT = textwrap.dedent("""
    import os
    import openai
    from google import genai
    from google.genai import types

    url = os.environ["FAKE_PROVIDER_URL"]
    client = openai.OpenAI(base_url=url + "/v1", api_key=os.environ["FAKE_OPENAI_KEY"], max_retries=0)
    client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}],
                                   extra_headers={"x-fake-input-tokens": "123", "x-fake-output-tokens": "45"})
    gemini = genai.Client(api_key="AIzaZeroCodeKey0123456789wxyz", http_options=types.HttpOptions(base_url=url))
    gemini.models.generate_content(model="gemini-2.5-flash", contents="hi", config=types.GenerateContentConfig(
        http_options=types.HttpOptions(headers={"x-fake-input-tokens": "31", "x-fake-output-tokens": "17"})))
    print("SCRIPT DONE")
""")


def _json_objects(text: str) -> list[dict]:
    decoder = json.JSONDecoder()
    objects, i = [], 0
    while True:
        start = text.find("{", i)
        if start < 0:
            return objects
        try:
            obj, end = decoder.raw_decode(text, start)
        except ValueError:
            i = start + 1
            continue
        objects.append(obj)
        i = end


def test_zero_code_opentelemetry_instrument(tmp_path, fake_provider, alias_file):
    script = tmp_path / "app.py"
    script.write_text(_ZERO_CODE_SCRIPT, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update({
        "FAKE_PROVIDER_URL": fake_provider.url,
        "FAKE_OPENAI_KEY": OPENAI_KEY,
        "OTEL_SERVICE_NAME": "zero-code-test",
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        # Other OpenAI and Google Gen AI instrumentations are installed too (for the benchmark and the
        # /v1/traces tests): keep them out.
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "openai,google-genai,httpx,requests,urllib3,urllib,asyncio,threading,logging",
    })
    command = Path(sys.executable).parent / "opentelemetry-instrument"
    result = subprocess.run([str(command), sys.executable, str(script)], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "SCRIPT DONE" in result.stdout
    assert '"gen_ai.provider.name": "openai"' in result.stdout

    spans = [o for o in _json_objects(result.stdout) if "attributes" in o and "name" in o]
    assert sorted(s["name"] for s in spans) == ["chat gpt-4o", "generate_content gemini-2.5-flash"]
    by_name = {s["name"]: s for s in spans}
    chat = by_name["chat gpt-4o"]
    assert chat["kind"] == "SpanKind.CLIENT"
    assert chat["resource"]["attributes"]["service.name"] == "zero-code-test"
    assert chat["attributes"][a.PROVIDER_NAME] == "openai"
    assert chat["attributes"][a.USAGE_INPUT_TOKENS] == 123
    assert chat["attributes"][a.USAGE_OUTPUT_TOKENS] == 45
    assert chat["attributes"][a.API_KEY] == "team-env"  # GENAI_LENS_API_KEY_ALIASES works without code too
    assert chat["attributes"][a.COST_USD] == pytest.approx(123 * 2.5e-6 + 45 * 10e-6, abs=1e-9)
    gemini = by_name["generate_content gemini-2.5-flash"]["attributes"]
    assert gemini[a.PROVIDER_NAME] == "gcp.gemini"
    assert gemini[a.USAGE_INPUT_TOKENS] == 31
    assert gemini[a.USAGE_OUTPUT_TOKENS] == 17
    assert gemini[a.API_KEY] == "AIza…wxyz"
    assert OPENAI_KEY not in result.stdout + result.stderr
