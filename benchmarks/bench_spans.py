"""Span ingest benchmark: GenAI spans per second on one core, through POST /v1/traces' work.

    python benchmarks/bench_spans.py [--quick]

Requests of 500 spans in the shape the official OpenTelemetry OpenAI instrumentation sends (operation,
provider, request and response models, server address and port, response id, finish reasons, input and
output tokens, service tier; a fifth of them streams with a time to first chunk, one in fifty an
error), over 12 models of two providers and 40 callers (a resource attribute the exporter reads as the
key). Measured, one thread:

- decode: protobuf parsing of the request alone;
- decode + convert: spans read, priced (the SDK's engine) and summed into one OTLP metrics request,
  each point with the exemplars of its spans;
- decode + convert + store: what ``POST /v1/traces`` does minus HTTP;
- the same with every span's token counts and response id its own: the requests above repeat theirs
  (``100 + i`` input tokens, ``chatcmpl-<i>``), which the converter reads once per value and keeps
  (exporter/genai_spans.py), so this is the figure for values that never repeat;
- the store alone: decoding and applying the converted metric requests (what a replay of the
  write-ahead log does), to show where the time goes;
- through the ASGI app in process (httpx ASGITransport), with HTTP parsing and the response.

Each figure is the best of 5 passes (1 with ``--quick``). The first five are spans per CPU second of
the benchmark's thread (``time.thread_time``: what one core does, whatever else the machine runs);
the ASGI figure is wall time (the app hands work to other threads). The first line also prints how
fast the core is at the moment (``sum(range(1000))``, the figure bench_sdk.py prints): a shared VM's
speed drifts by 2x and more.

The figures are recorded in docs/exporter.md ("Span ingest"). Goal: at least 20,000 spans/s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import timeit

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1 import trace_pb2

from exporter import Settings, create_app
from exporter.ingest import PROTOBUF, decode_request
from exporter.span_metrics import SpanConverter
from exporter.store import Store
from sdk_instrumentation.pricing import Pricing

MODELS = [("openai", m) for m in ("gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "o3", "o4-mini")]
MODELS += [("gcp.gemini", m) for m in ("gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.0-flash", "gemini-2.5-flash-lite",
                                      "gemini-1.5-pro")]
SPANS_PER_REQUEST = 500
CALLERS = 40


def _kv(key: str, value) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def trace_body(request_index: int, unique: bool = False) -> bytes:
    """A request of ``SPANS_PER_REQUEST`` spans; ``unique``: token counts and response ids of its own."""
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.extend([_kv("service.name", "bench"),
                                               _kv("tenant.id", f"tenant-{request_index % CALLERS:03d}")])
    scope = resource_spans.scope_spans.add()
    scope.scope.name = "opentelemetry.instrumentation.genai.openai"
    t0 = 1_700_000_000_000_000_000
    for i in range(SPANS_PER_REQUEST):
        provider, model = MODELS[(request_index * 7 + i) % len(MODELS)]
        span = scope.spans.add(name=f"chat {model}", kind=trace_pb2.Span.SPAN_KIND_CLIENT,
                               trace_id=os.urandom(16), span_id=os.urandom(8),
                               start_time_unix_nano=t0, end_time_unix_nano=t0 + 400_000_000 + i * 1000)
        attributes = [_kv("gen_ai.operation.name", "chat"), _kv("gen_ai.provider.name", provider),
                      _kv("gen_ai.request.model", model), _kv("server.address", "api.example.com"),
                      _kv("server.port", 443)]
        if i % 50 == 49:
            attributes.append(_kv("error.type", "openai.RateLimitError"))
            span.status.code = trace_pb2.Status.STATUS_CODE_ERROR
        else:
            if unique:  # distinct for every span of up to 200,000 (7919 and 104,729 are primes)
                n = request_index * SPANS_PER_REQUEST + i
                input_tokens, output_tokens = 100 + n * 7919 % 200_000, 10 + n * 104_729 % 30_000
            else:
                n, input_tokens, output_tokens = i, 100 + i, 10 + i % 300
            attributes += [_kv("gen_ai.response.model", model), _kv("gen_ai.response.id", f"chatcmpl-{n:08d}"),
                           _kv("gen_ai.usage.input_tokens", input_tokens),
                           _kv("gen_ai.usage.output_tokens", output_tokens),
                           _kv("openai.response.service_tier", "default")]
            attributes.append(KeyValue(key="gen_ai.response.finish_reasons"))
            attributes[-1].value.array_value.values.add(string_value="stop")
            if i % 5 == 0:
                attributes += [_kv("gen_ai.request.stream", True), _kv("gen_ai.response.time_to_first_chunk", 0.08)]
        span.attributes.extend(attributes)
    return request.SerializeToString()


def timed(fn, bodies, rounds: int) -> float:
    """Best spans/s over ``rounds`` passes of ``fn`` over every body, per CPU second of this thread
    (what one core does; other processes on a shared machine do not count against it)."""
    best = 0.0
    for _ in range(rounds):
        start = time.thread_time()
        for body in bodies:
            fn(body)
        elapsed = time.thread_time() - start
        best = max(best, len(bodies) * SPANS_PER_REQUEST / elapsed)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: few requests, one round")
    args = parser.parse_args()
    requests, rounds = (4, 1) if args.quick else (40, 5)
    bodies = [trace_body(i) for i in range(requests)]
    pricing = Pricing()
    converter = SpanConverter(pricing, key_attributes=("tenant.id",))
    converter.convert(decode_request(bodies[0], PROTOBUF, ExportTraceServiceRequest, "traces"))  # warm the price cache
    # How fast this core is now (a shared VM's speed drifts): the same figure bench_sdk.py prints.
    speed = min(timeit.repeat("sum(range(1000))", number=2000, repeat=5, timer=time.thread_time)) / 2000 * 1e6
    print(f"{requests} requests x {SPANS_PER_REQUEST} spans, {len(MODELS)} models, {CALLERS} callers; "
          f"load average {os.getloadavg()[0]:.2f}; sum(range(1000)) {speed:.1f} µs")

    def decode(body):
        return decode_request(body, PROTOBUF, ExportTraceServiceRequest, "traces")

    def convert(body):
        return converter.convert(decode(body))

    store = Store(hold_seconds=0)

    def ingest(body):
        store.ingest(convert(body).request)

    converted = [convert(body).request.SerializeToString() for body in bodies]
    store_only = Store(hold_seconds=0)
    metric_bodies = iter(converted * rounds)

    def store_path(_body):  # the converted metric request of the same spans, decoded and applied
        store_only.ingest(decode_request(next(metric_bodies), PROTOBUF))

    unique_bodies = [trace_body(i, unique=True) for i in range(requests)]
    figures = {
        "decode": timed(decode, bodies, rounds),
        "decode + convert": timed(convert, bodies, rounds),
        "decode + convert + store": timed(ingest, bodies, rounds),
        "decode + convert + store, token counts and ids never repeated": timed(ingest, unique_bodies, rounds),
        "the converted metric requests alone, decode + store": timed(store_path, bodies, rounds),
    }
    data_points = [p for rm in decode_request(converted[0], PROTOBUF).resource_metrics for sm in rm.scope_metrics
                   for m in sm.metrics for p in [*m.histogram.data_points, *m.sum.data_points]]
    exemplars = sum(len(p.exemplars) for p in data_points)

    app = create_app(Settings(new_series_hold_seconds=0, span_key_attributes=["tenant.id"]))

    async def through_app() -> float:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            await client.post("/v1/traces", content=bodies[0], headers={"Content-Type": PROTOBUF})
            best = 0.0
            for _ in range(rounds):
                start = time.perf_counter()
                for body in bodies:
                    response = await client.post("/v1/traces", content=body, headers={"Content-Type": PROTOBUF})
                    assert response.status_code == 200, response.text
                best = max(best, len(bodies) * SPANS_PER_REQUEST / (time.perf_counter() - start))
            return best

    figures["through the ASGI app in process"] = asyncio.run(through_app())
    for name, value in figures.items():
        print(f"  {name:60s} {value:10,.0f} spans/s")
    print(f"  one request of {SPANS_PER_REQUEST} spans becomes {len(data_points)} metric points "
          f"with {exemplars} exemplars")
    total = figures["decode + convert + store"]
    print(f"  share of the time: decode {total / figures['decode']:.0%}, "
          f"reading, pricing and summing {total / figures['decode + convert'] - total / figures['decode']:.0%}, "
          f"store {1 - total / figures['decode + convert']:.0%}")


if __name__ == "__main__":
    main()
