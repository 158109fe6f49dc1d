"""No secrets out: API keys, bearer tokens and prompt/completion content never appear in spans, metric
points, labels, logs, error messages or ``/metrics``; tokens are compared in constant time; a wrong
token gets 401 with nothing accepted.

The SDK sends its metrics and spans through a recording proxy (real HTTP) that keeps every raw OTLP
body and forwards metrics, with their bearer token, to an exporter that requires ingest and scrape
tokens. The workload has successes, provider errors (429, 500), a stream, Gemini and embeddings, with
capture content OFF. The autouse ``no_secret_in_logs`` fixture (conftest.py) checks every log record.
"""

from __future__ import annotations

import inspect

import httpx
import pytest
from google.genai import types
from google.protobuf import json_format
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import exporter.app as exporter_app
import sdk_instrumentation as lens
from exporter import Settings, create_app
from sdk_instrumentation.fake_provider import FakeProvider
from sdk_instrumentation.local_server import LocalServer
from tests.exporter.otlp import number_point, request, sum_metric

from .conftest import GEMINI_KEY, INGEST_TOKEN, PROMPT_CANARY, REPLY_CANARY, SCRAPE_TOKEN, find_secrets
from .support import OPENAI_KEY, openai_client


class RecordingProxy:
    """Keeps every OTLP body it receives; forwards ``/v1/metrics`` (headers included) to ``upstream``."""

    def __init__(self, upstream: str):
        self.upstream = upstream
        self.metrics: list[bytes] = []
        self.traces: list[bytes] = []
        self.headers: list[dict] = []
        self.app = Starlette(routes=[Route("/v1/metrics", self._metrics, methods=["POST"]),
                                     Route("/v1/traces", self._traces, methods=["POST"])])

    async def _metrics(self, request: Request) -> Response:
        body = await request.body()
        self.metrics.append(body)
        self.headers.append(dict(request.headers))
        headers = {k: v for k, v in request.headers.items() if k in ("authorization", "content-type", "content-encoding")}
        async with httpx.AsyncClient(timeout=10) as client:
            upstream = await client.post(self.upstream + "/v1/metrics", content=body, headers=headers)
        return Response(upstream.content, status_code=upstream.status_code, media_type=upstream.headers.get("content-type"))

    async def _traces(self, request: Request) -> Response:
        self.traces.append(await request.body())
        return Response(b"", media_type="application/x-protobuf")

    def decoded(self) -> str:
        """Every recorded body as OTLP JSON (attribute values, span events, status messages) plus its raw bytes."""
        out = []
        for body in self.metrics:
            out.append(json_format.MessageToJson(ExportMetricsServiceRequest.FromString(body)))
            out.append(body.decode("latin-1"))
        for body in self.traces:
            out.append(json_format.MessageToJson(ExportTraceServiceRequest.FromString(body)))
            out.append(body.decode("latin-1"))
        return "\n".join(out)


def _workload(provider_url: str) -> int:
    """Successes and failures through both clients; returns the number of failed calls."""
    from google import genai

    client = openai_client(provider_url)
    gemini = genai.Client(api_key=GEMINI_KEY, http_options=types.HttpOptions(base_url=provider_url))
    prompt = [{"role": "user", "content": f"My card is 4111 1111 1111 1111. {PROMPT_CANARY}"}]
    reply = {"x-fake-reply": f"Sure. {REPLY_CANARY}"}
    failed = 0
    client.chat.completions.create(model="gpt-4o-mini", messages=prompt, extra_headers=reply)
    for chunk in client.chat.completions.create(model="gpt-4o-mini", messages=prompt, stream=True,
                                                stream_options={"include_usage": True}, extra_headers=reply):
        pass
    client.embeddings.create(model="text-embedding-3-small", input=PROMPT_CANARY)
    gemini.models.generate_content(model="gemini-2.5-flash", contents=PROMPT_CANARY,
                                   config=types.GenerateContentConfig(http_options=types.HttpOptions(headers=reply)))
    for fault in ("429", "500"):
        try:
            client.chat.completions.create(model="gpt-4o", messages=prompt, extra_headers={"x-fake-fault": fault})
        except Exception:  # noqa: BLE001 - expected provider errors
            failed += 1
        try:
            gemini.models.generate_content(model="gemini-2.5-pro", contents=PROMPT_CANARY, config=types.GenerateContentConfig(
                http_options=types.HttpOptions(headers={"x-fake-fault": fault})))
        except Exception:  # noqa: BLE001
            failed += 1
    return failed


def test_no_secret_in_spans_metrics_logs_or_errors(no_secret_in_logs):
    settings = Settings(ingest_token=INGEST_TOKEN, scrape_token=SCRAPE_TOKEN, new_series_hold_seconds=0)
    with LocalServer(create_app(settings)) as exporter, LocalServer(FakeProvider().app) as provider:
        proxy = RecordingProxy(exporter.url)
        with LocalServer(proxy.app) as proxy_server:
            configured = lens.configure(endpoint=proxy_server.url, traces_endpoint=proxy_server.url + "/v1/traces",
                                        service_name="secrets", headers={"Authorization": f"Bearer {INGEST_TOKEN}"},
                                        capture_content=False, export_interval_seconds=60, set_global=False)
            try:
                failed = _workload(provider.url)
                configured.force_flush()
            finally:
                configured.shutdown()
        scrape = {"Authorization": f"Bearer {SCRAPE_TOKEN}"}
        metrics = httpx.get(exporter.url + "/metrics", headers=scrape).text
        openmetrics = httpx.get(exporter.url + "/metrics", headers={**scrape, "Accept": "application/openmetrics-text"}).text
        errors = [
            httpx.post(exporter.url + "/v1/metrics", content=b"x", headers={"Authorization": f"Bearer {INGEST_TOKEN}x"}).text,
            httpx.post(exporter.url + "/v1/metrics", content=b"\x0a\xff", headers={
                "Authorization": f"Bearer {INGEST_TOKEN}", "Content-Type": "application/x-protobuf"}).text,
            httpx.get(exporter.url + "/metrics", headers={"Authorization": f"Bearer {INGEST_TOKEN}"}).text,
        ]

    assert failed == 4
    assert proxy.metrics and proxy.traces                      # the data really went through the proxy
    assert all(h["authorization"] == f"Bearer {INGEST_TOKEN}" for h in proxy.headers)   # ...with the token
    assert find_secrets(str(proxy.headers)) == [INGEST_TOKEN]    # the detector finds what is there
    assert 'gen_ai_request_model="gpt-4o-mini"' in metrics and "error_type=" in metrics
    exported = proxy.decoded()
    assert "gen_ai.usage.input_tokens" in exported              # spans carry usage, not content
    for where, text in (("exported OTLP", exported), ("/metrics", metrics), ("OpenMetrics", openmetrics),
                        ("error bodies", "\n".join(errors)), ("logs", no_secret_in_logs.text)):
        assert find_secrets(text) == [], where
    assert "4111 1111" not in exported + metrics


def test_tokens_are_compared_in_constant_time():
    source = inspect.getsource(exporter_app._token_ok)
    assert "hmac.compare_digest(" in source or "secrets.compare_digest(" in source
    assert "==" not in source.replace("scheme.lower() != ", "")   # no plain comparison of the token itself


@pytest.mark.parametrize("header", [None, "", "Bearer", f"Bearer {INGEST_TOKEN[:-1]}", f"Bearer {INGEST_TOKEN}0",
                                    f"Basic {INGEST_TOKEN}", f"Bearer {SCRAPE_TOKEN}", INGEST_TOKEN,
                                    "Bearer " + "x" * 10_000])
def test_wrong_token_gets_401_and_nothing_is_accepted(header):
    settings = Settings(ingest_token=INGEST_TOKEN, scrape_token=SCRAPE_TOKEN, new_series_hold_seconds=0)
    app = create_app(settings)
    body = request(sum_metric("genai_lens.cost", "usd", [number_point(1.5, {"gen_ai.request.model": "m"})])).SerializeToString()
    with LocalServer(app) as exporter, httpx.Client(timeout=10) as client:
        headers = {"Content-Type": "application/x-protobuf"}
        if header is not None:
            headers["Authorization"] = header
        response = client.post(exporter.url + "/v1/metrics", content=body, headers=headers)
        assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
        assert find_secrets(response.text) == []
        store = app.state.store
        assert store.points_received == 0 and store.series_count() == 0
        scrape_headers = {} if header is None else {"Authorization": header.replace(INGEST_TOKEN, SCRAPE_TOKEN)}
        if scrape_headers.get("Authorization") != f"Bearer {SCRAPE_TOKEN}":   # the same mistakes, on /metrics
            scraped = client.get(exporter.url + "/metrics", headers=scrape_headers)
            assert scraped.status_code == 401 and "genai_lens" not in scraped.text
        good = client.post(exporter.url + "/v1/metrics", content=body,
                           headers={**headers, "Authorization": f"Bearer {INGEST_TOKEN}"})
        assert good.status_code == 200 and store.points_received == 1
        text = client.get(exporter.url + "/metrics", headers={"Authorization": f"Bearer {SCRAPE_TOKEN}"}).text
        assert 'genai_lens_cost_usd_total{gen_ai_request_model="m",service_name="svc"} 1.5' in text
