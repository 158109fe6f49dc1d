"""POST /v1/traces with OpenLIT: the real ``openai`` client traced by OpenLIT 1.45, end to end.

OpenLIT requires ``openai<3`` and genai-lens' environment has openai 3.x, so the traced app
(tests/openlit_app/app.py) runs in an environment of its own, tests/openlit_app/.venv, made by
scripts/test from tests/openlit_app/requirements.txt; driven from here as a subprocess, as the Node app
of test_traces.py is. OpenLIT's own span exporter (the OpenTelemetry SDK's OTLP/HTTP protobuf one)
sends the spans to a real exporter; the calls go over HTTP to the fake provider.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
import subprocess

import pytest

from exporter.genai_spans import ATTRIBUTES, MODALITY_ATTRIBUTES
from sdk_instrumentation.fake_provider import DEFAULT_REPLY, FakeProvider
from sdk_instrumentation.local_server import LocalServer
from sdk_instrumentation.pricing import Pricing
from sdk_instrumentation.usage import Usage
from tests.exporter.test_traces import by

APP = Path(__file__).resolve().parents[1] / "openlit_app"
PYTHON = APP / ".venv" / "bin" / "python"
PRICING = Pricing()
SERVICE = "openlit-traced-app"

# every span attribute key genai-lens reads (exporter/genai_spans.py)
MAPPED = {key for variants in (*ATTRIBUTES.values(), *MODALITY_ATTRIBUTES.values()) for key, _ in variants}


def cost(model: str, service_tier: str | None = None, **usage) -> float:
    return PRICING.price("openai", model, Usage(**usage), service_tier).total


def openlit_installed() -> bool:
    return PYTHON.exists() and any((APP / ".venv" / "lib").glob("python3*/site-packages/openlit/__init__.py"))


@pytest.fixture(scope="module")
def run():
    """Runs tests/openlit_app/app.py once against a new exporter and fake provider:
    ``(report, metrics text, fake provider)``, ``report`` being the JSON the app prints last."""
    from tests.exporter.conftest import Running
    from exporter import Settings

    fake_provider = FakeProvider()
    # OpenLIT reads OTEL_* and OPENLIT_* variables; a PYTHONPATH would bring genai-lens' openai 3.x in
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("OTEL_", "OPENLIT_")) and key not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    with Running(Settings(new_series_hold_seconds=0)) as server, LocalServer(fake_provider.app) as fake:
        result = subprocess.run([str(PYTHON), str(APP / "app.py"), server.url, fake.url], cwd=APP, env=env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
        lines = result.stdout.splitlines()
        assert lines[-2:-1] == ["OPENLIT APP DONE"], result.stdout[-2000:]
        assert lines[:2] == ["expected error: 429", "expected error: 500"]
        return json.loads(lines[-1]), server.metrics(), fake_provider


pytestmark = pytest.mark.skipif(not openlit_installed(),
                                reason="needs tests/openlit_app/.venv with OpenLIT (scripts/test makes it)")


def test_the_app_makes_its_calls_and_openlit_only_its_spans(run):
    report, text, fake = run
    assert report["flushed"] is True
    assert report["outside_connections"] == []  # no pricing download, nothing else off the loopback
    paths = sorted(recorded.path for recorded in fake.requests)
    assert paths == ["/v1/chat/completions"] * 5 + ["/v1/embeddings", "/v1/responses"]
    spans = report["spans"]
    assert sorted(s["name"] for s in spans) == ["chat gpt-4.1-nano", "chat gpt-4o", "chat gpt-4o", "chat gpt-4o-mini",
                                                "chat gpt-4o-mini", "chat o4-mini", "embeddings text-embedding-3-small"]
    assert {(s["scope"], s["kind"]) for s in spans} == {("openlit.instrumentation.openai", "CLIENT")}
    assert sorted(s["status"] for s in spans) == ["ERROR"] * 2 + ["OK"] * 5
    # content capture off: no prompt or completion on any span
    assert not [key for s in spans for key in s["attributes"] if "messages" in key or "content" in key]
    # the exporter got the spans and nothing else: OpenLIT's metrics (/v1/metrics) and events (/v1/logs) are off
    assert by(text, "genai_lens_exporter_requests_total", "route", "code") == {("/v1/traces", "200"): 1}


def test_every_usage_attribute_openlit_sets_is_read_but_its_cost(run):
    report, _, _ = run
    keys = {key for s in report["spans"] for key in s["attributes"]}
    assert {key for key in keys if key.startswith("gen_ai.usage.")} - MAPPED == {"gen_ai.usage.cost"}
    assert keys & MAPPED == {
        "gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model", "gen_ai.response.model",
        "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "gen_ai.usage.cache_read.input_tokens",
        "gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.reasoning_tokens", "gen_ai.request.stream",
        "gen_ai.server.time_to_first_token", "openai.response.service_tier", "error.type"}
    by_name = {s["name"]: s["attributes"] for s in report["spans"] if s["status"] == "OK"}
    # OpenLIT's own cost, from the deliberately wrong tests/openlit_app/pricing.json ($1 per 1000 tokens)
    assert by_name["chat gpt-4o"]["gen_ai.usage.cost"] == pytest.approx(1.2)
    assert by_name["chat o4-mini"]["gen_ai.usage.reasoning_tokens"] == 200  # Responses API only
    # a call that does not stream has a "time to first token" too: the whole call
    assert by_name["chat gpt-4o"]["gen_ai.request.stream"] is False
    assert by_name["chat gpt-4o"]["gen_ai.server.time_to_first_token"] > 0


def test_openlit_spans_become_priced_series(run):
    _, text, _ = run
    calls = by(text, "gen_ai_client_operation_duration_seconds_count", "gen_ai_operation_name",
               "gen_ai_request_model", "error_type", "service_name")
    assert calls == {("chat", "gpt-4o", None, SERVICE): 1, ("chat", "gpt-4o", "RateLimitError", SERVICE): 1,
                     ("chat", "gpt-4o-mini", None, SERVICE): 1,
                     ("chat", "gpt-4o-mini", "InternalServerError", SERVICE): 1,
                     ("chat", "gpt-4.1-nano", None, SERVICE): 1, ("chat", "o4-mini", None, SERVICE): 1,
                     ("embeddings", "text-embedding-3-small", None, SERVICE): 1}
    # the stream without usage: OpenLIT's estimate, ceil(characters / 2) of "user: hi" and of the reply
    estimated_in, estimated_out = 4, math.ceil(len(DEFAULT_REPLY) / 2)
    assert estimated_out == 22
    assert by(text, "gen_ai_client_token_usage_sum", "gen_ai_request_model", "gen_ai_token_type") == {
        ("gpt-4o", "input"): 1000, ("gpt-4o", "output"): 200, ("gpt-4o-mini", "input"): 300,
        ("gpt-4o-mini", "output"): 30, ("gpt-4.1-nano", "input"): estimated_in, ("gpt-4.1-nano", "output"): estimated_out,
        ("o4-mini", "input"): 500, ("o4-mini", "output"): 300, ("text-embedding-3-small", "input"): 55}

    spent = by(text, "genai_lens_cost_usd_total", "gen_ai_request_model", "genai_lens_cost_source")
    want = {
        # 800 of the 1000 input tokens cached (gen_ai.usage.cache_read.input_tokens)
        ("gpt-4o", "genai-prices"): cost("gpt-4o", input_tokens=1000, output_tokens=200, cache_read_tokens=800),
        ("gpt-4o-mini", "genai-prices"): cost("gpt-4o-mini", input_tokens=300, output_tokens=30),
        ("gpt-4.1-nano", "genai-prices"): cost("gpt-4.1-nano", input_tokens=estimated_in, output_tokens=estimated_out),
        # the flex tier (openai.response.service_tier), 100 cached
        ("o4-mini", "genai-prices"): cost("o4-mini", "flex", input_tokens=500, output_tokens=300, cache_read_tokens=100,
                                          reasoning_tokens=200),
        ("text-embedding-3-small", "genai-prices"): cost("text-embedding-3-small", input_tokens=55),
    }
    assert spent.keys() == want.keys()
    for key, value in want.items():
        assert spent[key] == pytest.approx(value, abs=1e-12), key
    assert want[("gpt-4o", "genai-prices")] == pytest.approx(200 * 2.5e-6 + 800 * 1.25e-6 + 200 * 10e-6, abs=1e-12)
    # o4-mini at flex rates: $0.55/M input, $0.138/M cached input, $2.20/M output (standard: 1.10, 0.275, 4.40)
    assert want[("o4-mini", "genai-prices")] == pytest.approx(400 * 0.55e-6 + 100 * 0.138e-6 + 300 * 2.2e-6, abs=1e-12)
    assert "genai_lens_unpriced_requests_total{" not in text  # errors are not unpriced calls

    # time to first chunk: the two streams that answered (0.2 s asked of the first), not the calls that
    # did not stream though OpenLIT gives them a time to first token
    assert by(text, "gen_ai_client_operation_time_to_first_chunk_seconds_count", "gen_ai_request_model") == {
        ("gpt-4o-mini",): 1, ("gpt-4.1-nano",): 1}
    first = by(text, "gen_ai_client_operation_time_to_first_chunk_seconds_sum", "gen_ai_request_model")
    assert 0.2 <= first[("gpt-4o-mini",)] < 2.0
