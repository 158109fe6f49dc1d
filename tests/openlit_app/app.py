"""An app calling OpenAI through the real ``openai`` client, traced by OpenLIT, exporting OTLP/HTTP
protobuf spans to genai-lens' ``POST /v1/traces``. Run with the interpreter of this folder's own
environment (OpenLIT 1.45 requires ``openai<3``; genai-lens' environment has openai 3.x)::

    tests/openlit_app/.venv/bin/python tests/openlit_app/app.py GENAI_LENS_URL FAKE_PROVIDER_URL

The calls (token counts asked of the fake provider with its ``x-fake-*`` headers):

- chat ``gpt-4o``: 1000 input (800 of them cached) / 200 output;
- a chat stream ``gpt-4o-mini`` with its usage (``include_usage``): 300 / 30, first chunk after 0.2 s;
- a chat stream ``gpt-4.1-nano`` without usage: OpenLIT estimates the tokens itself;
- chat ``gpt-4o`` answered 429 (``openai.RateLimitError``); a chat stream ``gpt-4o-mini`` answered 500
  (``openai.InternalServerError``);
- Responses ``o4-mini`` on the flex tier: 500 input (100 cached) / 300 output (200 reasoning);
- embeddings ``text-embedding-3-small``: 55 input.

Then it flushes the spans and prints, as the last line, one JSON object: the spans OpenLIT made
(name, scope, kind, status, attributes) and the connections it tried off the loopback (none).
OpenLIT is set up so that it makes no call of its own: its prices come from ``pricing.json`` beside
this file (deliberately wrong, so a test can see that genai-lens does not read OpenLIT's cost) instead
of a download, and its metrics and log events are off (spans only, sent to genai-lens).
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

OUTSIDE: list[str] = []
_connect = socket.socket.connect


def _loopback_only(self, address):
    """Every connection off 127.0.0.1 / ::1 is refused and written down: the app must need none."""
    if self.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in ("127.0.0.1", "::1", "localhost"):
        OUTSIDE.append(str(address))
        raise OSError(f"openlit_app: no connection off the loopback ({address!r})")
    return _connect(self, address)


socket.socket.connect = _loopback_only


class Collected:
    """A span exporter that keeps what OpenLIT made, for the report printed at the end."""

    def __init__(self):
        self.spans = []

    def export(self, spans):
        from opentelemetry.sdk.trace.export import SpanExportResult

        self.spans.extend(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self):
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def main(genai_lens_url: str, provider_url: str) -> None:
    import openlit
    import openai
    from opentelemetry import trace
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    openlit.init(
        service_name="openlit-traced-app",
        environment="test",
        otlp_endpoint=genai_lens_url,  # its span exporter posts to <endpoint>/v1/traces
        disable_metrics=True,          # its own metrics would go to <endpoint>/v1/metrics
        disable_events=True,           # and its log events to <endpoint>/v1/logs
        capture_message_content=False,
        pricing_json=str(Path(__file__).with_name("pricing.json")),  # a file: no download at start
    )
    provider = trace.get_tracer_provider()
    collected = Collected()
    provider.add_span_processor(SimpleSpanProcessor(collected))

    client = openai.OpenAI(base_url=provider_url + "/v1", api_key="sk-openlit-0000000000000000", max_retries=0)
    hi = [{"role": "user", "content": "hi"}]
    client.chat.completions.create(model="gpt-4o", messages=hi, extra_headers={
        "x-fake-input-tokens": "1000", "x-fake-output-tokens": "200", "x-fake-cached-tokens": "800"})
    for _ in client.chat.completions.create(
            model="gpt-4o-mini", messages=hi, stream=True, stream_options={"include_usage": True},
            extra_headers={"x-fake-input-tokens": "300", "x-fake-output-tokens": "30", "x-fake-chunks": "3",
                           "x-fake-ttft": "0.2"}):
        pass
    for _ in client.chat.completions.create(model="gpt-4.1-nano", messages=hi, stream=True,
                                            extra_headers={"x-fake-chunks": "3"}):
        pass
    try:
        client.chat.completions.create(model="gpt-4o", messages=hi, extra_headers={"x-fake-fault": "429"})
    except openai.RateLimitError as error:
        print(f"expected error: {error.status_code}")
    try:
        client.chat.completions.create(model="gpt-4o-mini", messages=hi, stream=True,
                                       extra_headers={"x-fake-fault": "500"})
    except openai.InternalServerError as error:
        print(f"expected error: {error.status_code}")
    client.responses.create(model="o4-mini", input="hi", service_tier="flex", extra_headers={
        "x-fake-input-tokens": "500", "x-fake-output-tokens": "300", "x-fake-cached-tokens": "100",
        "x-fake-reasoning-tokens": "200"})
    client.embeddings.create(model="text-embedding-3-small", input="x", extra_headers={"x-fake-input-tokens": "55"})

    flushed = provider.force_flush(10_000)
    provider.shutdown()
    report = {
        "flushed": flushed,
        "outside_connections": OUTSIDE,
        "spans": [{"name": s.name, "scope": s.instrumentation_scope.name, "kind": s.kind.name,
                   "status": s.status.status_code.name,
                   "attributes": {key: _plain(value) for key, value in s.attributes.items()}}
                  for s in collected.spans],
    }
    print("OPENLIT APP DONE")
    print(json.dumps(report))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1].rstrip("/"), sys.argv[2].rstrip("/"))
