"""How much time the genai-lens OpenAI instrumentation adds per call and per streamed chunk.

    python benchmarks/bench_sdk.py                  # full run (about two minutes on 2 cores)
    python benchmarks/bench_sdk.py --quick          # smoke run, seconds
    python benchmarks/bench_sdk.py --json out.json  # also write the figures as JSON

One process, one real ``openai.OpenAI`` client whose HTTP client has an in-process
transport (``httpx2.MockTransport``) answering canned bytes: a chat completion and a
chat completion stream of ``--chunks`` content chunks. The bytes are recorded once, at
start, from the project's fake provider (``sdk_instrumentation.fake_provider``) through
``httpx2.ASGITransport``: no sockets, no network. Four variants run in interleaved
rounds (the order rotates each round):

- ``baseline``: no instrumentation;
- ``genai-lens``: ``sdk_instrumentation.OpenAIInstrumentor`` (spans, all metrics, pricing);
- ``official``: ``opentelemetry.instrumentation.genai.openai.OpenAIInstrumentor``
  (package ``opentelemetry-instrumentation-genai-openai``, successor of ``-openai-v2``);
- ``span-floor``: the least any instrumentation pays to emit the span DESIGN.md asks for:
  a bare ``wrapt`` wrapper that starts an SDK span with genai-lens's request attributes,
  makes it current, sets the response attributes and ends it; no metrics, no pricing.
  What genai-lens adds above it is genai-lens's own code (plain calls; its streams only
  end the span when ``create`` returns, so no stream figures are reported for it).

Each instrumented variant gets real OpenTelemetry SDK providers: a ``TracerProvider`` with a
``SimpleSpanProcessor`` into a span-counting exporter, and a ``MeterProvider`` (delta
temporality) collected after every round or block and timed apart (collection runs on the
reader's thread in real use). genai-lens's is the one ``configure()`` builds: its histograms
aggregated in-process and merged into each batch by ``LocalHistogramsExporter``, with the
exemplar views, read by collecting its reader into an exporter that keeps the batch; the
official's an ``InMemoryMetricReader``. Neither encodes or sends.

Two methods, medians of paired differences with the baseline:

- *End to end*: ``--rounds`` rounds; in each, every variant in turn is instrumented, warmed
  up, times ``--calls`` plain calls and ``--streams`` fully read streams through the real
  client, and is uninstrumented (the order rotates each round).
- *Wrapper only*: the instrumentation's own work. All variants are instrumented at once
  (stacked ``wrapt`` wrappers on ``Completions.create``) and each one's wrapper function is
  called directly with a ``wrapped`` that returns canned, already parsed objects, in
  ``--blocks`` small interleaved blocks (so a variant and the baseline are timed moments
  apart, which matters on a shared VM whose speed drifts). Each block times plain calls and
  streams of ``--chunks`` and of ``--chunks // 5`` content chunks; the difference of the two
  streams over the extra chunks is the marginal cost per chunk.

Both threads (wrapper only, genai-lens and official, same run). genai-lens leaves its metric
records to the metric reader's thread (``Instruments.record`` at collection); the official
instrumentation records synchronous histograms on the call path and the reader only reads their
aggregations. So each block of each of the two also times a collection (``get_metrics_data()``
on the in-memory reader, in this thread, as the reader's thread would run it) after each part:

- ``call``: after the block's ``--block-calls`` plain calls;
- ``short_call``: after ``--block-calls // 5`` more plain calls;
- ``stream`` / ``short_stream``: after the long streams, then after the short ones;
- ``empty``: once more, with nothing new (what a collection costs by itself).

Collection per plain call = (``call`` - ``short_call``) / the extra calls; per extra chunk =
(``stream`` - ``short_stream``) / the extra chunks of the streams. Both are marginal costs: what a
collection holding one more call (chunk) costs, the per-collection part (observable callbacks,
one aggregation per attribute set per collection) cancelling, as it is paid once per export
interval (60 s by default) however many calls it holds; that part is reported apart
(``collect_fixed_us``: a collection after the block's plain calls minus their marginal cost).
The app-thread figures are the wrapper-only ones above; total = app thread + collection, per plain
call and per extra chunk, and genai-lens / official for each (goal: at most ``GOAL_TOTAL_RATIO``).
Each figure is given in CPU time (``time.thread_time_ns``: the headline, the table) and in wall
time (``time.perf_counter_ns``: in the JSON, one line of the table); each is the median over blocks.

The caller does not pass ``stream_options``: genai-lens asks for usage and hides the usage
chunk, as in ordinary use; the canned stream always carries the usage chunk.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import httpx2
import openai
import wrapt
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (InMemoryMetricReader, MetricExporter, MetricExportResult,
                                              PeriodicExportingMetricReader)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from sdk_instrumentation.exemplars import exemplar_views
from sdk_instrumentation.fake_provider import FakeProvider
from sdk_instrumentation.histograms import LocalHistograms, LocalHistogramsExporter
from sdk_instrumentation.instruments import Instruments
from sdk_instrumentation.openai_instrumentor import OpenAIInstrumentor as LensInstrumentor
from sdk_instrumentation.pricing import Pricing
from sdk_instrumentation.setup import DELTA_TEMPORALITY
from sdk_instrumentation.telemetry import Telemetry

__all__ = ["main", "run", "record_responses", "Settings", "VARIANTS", "GOAL_CALL_US", "GOAL_CHUNK_US",
           "GOAL_TOTAL_RATIO", "COLLECTIONS", "CLOCKS"]

GOAL_CALL_US = 50.0
GOAL_CHUNK_US = 2.0
GOAL_TOTAL_RATIO = 0.5   # both threads: genai-lens's total at most half the official's, per call and per chunk
COLLECTIONS = ("call", "short_call", "stream", "short_stream", "empty")  # timed collections per block (see above)
CLOCKS = ("cpu", "wall")
VARIANTS = ("baseline", "genai-lens", "official", "span-floor")
MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "Say something about the quick brown fox."}]
API_KEY = "sk-bench-0123456789abcdef"
BASE_URL = "https://api.openai.com/v1"  # never reached: the transport answers in-process


@dataclass
class Settings:
    rounds: int = 30         # end to end: rounds of instrument, time, uninstrument per variant
    calls: int = 100         # end to end: plain calls per round and variant
    streams: int = 10        # end to end: streams per round and variant
    chunks: int = 100        # content chunks per stream
    warmup: int = 10         # untimed calls (and streams / 5) after each instrument()
    blocks: int = 300        # wrapper only: blocks per variant, interleaved
    block_calls: int = 20    # wrapper only: plain calls per block (then `block_calls // 5` more, for collection)
    block_streams: int = 2   # wrapper only: streams of `chunks` and of `chunks // 5` chunks per block


QUICK = Settings(rounds=2, calls=30, streams=5, chunks=20, warmup=3, blocks=4, block_calls=5, block_streams=1)


# -- canned responses ----------------------------------------------------------------------

def record_responses(chunks: int) -> tuple[bytes, bytes]:
    """(chat completion JSON, chat completion SSE stream) as the fake provider sends them."""
    provider = FakeProvider(reply=" ".join(f"word{i}" for i in range(chunks)))
    headers = {"x-fake-input-tokens": "1200", "x-fake-output-tokens": str(chunks),
               "x-fake-cached-tokens": "1000", "x-fake-chunks": str(chunks)}

    async def fetch() -> tuple[bytes, bytes]:
        transport = httpx2.ASGITransport(app=provider.app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://fake") as client:
            plain = await client.post("/v1/chat/completions", headers=headers,
                                      json={"model": MODEL, "messages": MESSAGES})
            stream = await client.post("/v1/chat/completions", headers=headers,
                                       json={"model": MODEL, "messages": MESSAGES, "stream": True,
                                             "stream_options": {"include_usage": True}})
            plain.raise_for_status()
            stream.raise_for_status()
            return plain.content, stream.content

    return asyncio.run(fetch())


def make_client(plain: bytes, stream: bytes) -> openai.OpenAI:
    """A real OpenAI client whose transport answers ``plain`` or ``stream`` in-process."""
    json_headers = {"content-type": "application/json", "x-request-id": "req_bench"}
    sse_headers = {"content-type": "text/event-stream; charset=utf-8", "x-request-id": "req_bench"}

    def handler(request: httpx2.Request) -> httpx2.Response:
        body = request.content
        if b'"stream":true' in body or b'"stream": true' in body:
            return httpx2.Response(200, headers=sse_headers, content=stream)
        return httpx2.Response(200, headers=json_headers, content=plain)

    http_client = openai.DefaultHttpxClient(transport=httpx2.MockTransport(handler))
    return openai.OpenAI(api_key=API_KEY, base_url=BASE_URL, max_retries=0, http_client=http_client)


# -- OpenTelemetry providers -------------------------------------------------------------------

class CountingSpanExporter(SpanExporter):
    """Counts exported spans and keeps the last one (for the checks), nothing else."""

    def __init__(self) -> None:
        self.count = 0
        self.last = None

    def export(self, spans) -> SpanExportResult:
        self.count += len(spans)
        self.last = spans[-1]
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


class LastBatchExporter(MetricExporter):
    """Keeps the last batch it is given (what an OTLP exporter would encode and send)."""

    def __init__(self) -> None:
        super().__init__(preferred_temporality=DELTA_TEMPORALITY)
        self.last = None

    def export(self, metrics_data, timeout_millis: float = 10_000, **kwargs) -> MetricExportResult:
        self.last = metrics_data
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs) -> None:
        pass


@dataclass
class Otel:
    """Real SDK providers. ``local``: the metric side as ``configure()`` builds it, genai-lens's
    histograms aggregated in-process and merged into each exported batch
    (``sdk_instrumentation.histograms``); else an ``InMemoryMetricReader`` (the official variant)."""

    local: bool = False
    spans: CountingSpanExporter = field(default_factory=CountingSpanExporter)
    tracer_provider: TracerProvider = field(init=False)
    meter_provider: MeterProvider = field(init=False)

    def __post_init__(self) -> None:
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        if self.local:
            self.sink = LastBatchExporter()
            histograms = LocalHistograms()
            resource = Resource.create({})
            self.reader = PeriodicExportingMetricReader(LocalHistogramsExporter(self.sink, histograms, resource),
                                                        export_interval_millis=10**9)
            self.meter_provider = MeterProvider(resource=resource, metric_readers=[self.reader], views=exemplar_views())
            Instruments.shared(self.meter_provider, histograms=histograms)
        else:
            self.reader = InMemoryMetricReader(preferred_temporality=DELTA_TEMPORALITY)
            self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def _collect(self):
        if not self.local:
            return self.reader.get_metrics_data()
        self.sink.last = None
        self.reader.collect()
        return self.sink.last

    def metric_names(self) -> set[str]:
        """Collect (and so reset: delta) the metrics; the names of those that had points."""
        return metric_names(self._collect())

    def timed_collect(self) -> tuple[float, float, set[str]]:
        """One collection, as the reader's thread runs it: (CPU seconds of this thread, wall seconds,
        names of the metrics that had points). Only the collection (and, local, the merge) is timed."""
        cpu, wall = time.thread_time_ns(), time.perf_counter_ns()
        data = self._collect()
        cpu, wall = time.thread_time_ns() - cpu, time.perf_counter_ns() - wall
        return cpu / 1e9, wall / 1e9, metric_names(data)

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


def metric_names(data) -> set[str]:
    return {m.name for rm in (data.resource_metrics if data else ()) for sm in rm.scope_metrics for m in sm.metrics}


# -- variants ----------------------------------------------------------------------------------

class Variant:
    name = "baseline"
    records_metrics = False

    def __init__(self) -> None:
        self.otel: Otel | None = None
        self.spans_expected = 0
        self.metric_names: set[str] = set()

    def instrument(self) -> None:
        pass

    def uninstrument(self) -> None:
        pass


class Lens(Variant):
    name = "genai-lens"
    records_metrics = True

    def __init__(self) -> None:
        super().__init__()
        self.otel = Otel(local=True)
        # One Telemetry for all rounds, so instrument() does not create the instruments again;
        # its Pricing resolves gpt-4o-mini once (in the first warm-up), then prices every call.
        self.telemetry = Telemetry(tracer_provider=self.otel.tracer_provider,
                                   meter_provider=self.otel.meter_provider, pricing=Pricing())

    def instrument(self) -> None:
        LensInstrumentor().instrument(telemetry=self.telemetry)

    def uninstrument(self) -> None:
        LensInstrumentor().uninstrument()


class Official(Variant):
    name = "official"
    records_metrics = True

    def __init__(self) -> None:
        super().__init__()
        from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor

        self.instrumentor = OpenAIInstrumentor()
        self.otel = Otel()

    def instrument(self) -> None:
        self.instrumentor.instrument(tracer_provider=self.otel.tracer_provider, meter_provider=self.otel.meter_provider)

    def uninstrument(self) -> None:
        self.instrumentor.uninstrument()


class SpanFloor(Variant):
    """The span alone: what DESIGN.md's span costs through the OpenTelemetry SDK, nothing else.

    Same span name, kind and attributes as genai-lens sets on a plain chat completion (7 at
    start, 9 from the response), the span current during the call, one ``set_attributes`` and
    ``end``. Attribute values are read from the response but not computed (no pricing, no
    throughput arithmetic, no key labelling), so this is a floor, not an instrumentation.
    """

    name = "span-floor"
    module = "openai.resources.chat.completions.completions"

    def __init__(self) -> None:
        super().__init__()
        self.otel = Otel()
        self.tracer = self.otel.tracer_provider.get_tracer("span-floor")

    def instrument(self) -> None:
        wrapt.wrap_function_wrapper(self.module, "Completions.create", self._wrapper)

    def uninstrument(self) -> None:
        from openai.resources.chat.completions.completions import Completions

        Completions.create = Completions.__dict__["create"].__wrapped__

    def _wrapper(self, wrapped, instance, args, kwargs):
        model = kwargs.get("model")
        stream = kwargs.get("stream") is True
        span = self.tracer.start_span(f"chat {model}", kind=trace.SpanKind.CLIENT, attributes={
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": model,
            "gen_ai.request.stream": stream, "genai_lens.api_key": "sk-…cdef", "server.address": "api.openai.com",
            "server.port": 443})
        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            result = wrapped(*args, **kwargs)
        finally:
            otel_context.detach(token)
        if not stream:
            usage = result.usage
            span.set_attributes({
                "genai_lens.billing": "payg", "gen_ai.response.model": result.model, "gen_ai.response.id": result.id,
                "gen_ai.response.finish_reasons": [c.finish_reason for c in result.choices],
                "gen_ai.usage.input_tokens": usage.prompt_tokens, "gen_ai.usage.output_tokens": usage.completion_tokens,
                "gen_ai.usage.cache_read.input_tokens": usage.prompt_tokens_details.cached_tokens,
                "genai_lens.throughput": 1000.0, "genai_lens.cost.usd": 0.001})
        span.end()
        return result


# -- workloads ----------------------------------------------------------------------------------

def plain_call(client: openai.OpenAI) -> None:
    client.chat.completions.create(model=MODEL, messages=MESSAGES)


def stream_call(client: openai.OpenAI) -> int:
    n = 0
    for _ in client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True):
        n += 1
    return n


class CannedStream:
    """Already parsed ``ChatCompletionChunk`` objects, served like an ``openai.Stream``."""

    def __init__(self, chunks: list) -> None:
        self._it = iter(chunks)

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._it)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._it = iter(())


class Direct:
    """The instrumentation's own work only: whatever wraps ``Completions.create`` is called with a
    ``wrapped`` that returns already parsed objects, so the client's request building and response
    parsing (which dominate, and vary, end to end) are left out. The baseline calls that
    ``wrapped`` itself."""

    def __init__(self, client: openai.OpenAI) -> None:
        self.instance = client.chat.completions
        self.completion = client.chat.completions.create(model=MODEL, messages=MESSAGES)
        self.chunks = list(client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True))

    def create(self, *args, **kwargs):
        return CannedStream(self.chunks) if kwargs.get("stream") else self.completion

    def _call(self, kwargs: dict):
        from openai.resources.chat.completions.completions import Completions

        patched = Completions.__dict__["create"]
        wrapper = getattr(patched, "_self_wrapper", None)  # a wrapt FunctionWrapper when instrumented
        if wrapper is None:
            return self.create(**kwargs)
        return wrapper(self.create, self.instance, (), kwargs)

    def plain_call(self, _client=None) -> None:
        self._call({"model": MODEL, "messages": MESSAGES})

    def stream_call(self, _client=None) -> int:
        n = 0
        for _ in self._call({"model": MODEL, "messages": MESSAGES, "stream": True}):
            n += 1
        return n

    def through(self, wrapper) -> tuple[Callable[[], Any], Callable[[], int]]:
        """(plain call, stream call) through one given wrapper function (None: the baseline)."""
        create, instance = self.create, self.instance
        plain_kwargs = {"model": MODEL, "messages": MESSAGES}
        stream_kwargs = {"model": MODEL, "messages": MESSAGES, "stream": True}
        if wrapper is None:
            def plain():
                return create(**plain_kwargs)

            def stream():
                return sum(1 for _ in create(**stream_kwargs))
        else:
            def plain():
                return wrapper(create, instance, (), dict(plain_kwargs))

            def stream():
                return sum(1 for _ in wrapper(create, instance, (), dict(stream_kwargs)))
        return plain, stream


def installed_wrapper():
    """The wrapper function of the outermost wrapt wrapper on ``Completions.create``, or None."""
    from openai.resources.chat.completions.completions import Completions

    return getattr(Completions.__dict__["create"], "_self_wrapper", None)


def time_per_call(fn: Callable[[openai.OpenAI], Any], client: openai.OpenAI, n: int) -> float:
    """Mean CPU seconds of this thread per call, over ``n`` calls.

    CPU time, not wall time: the machine is shared (2 cores, other jobs), and time spent
    descheduled is nobody's overhead. Everything here runs in this thread (the transport,
    the SimpleSpanProcessor's export), so nothing is left out.
    """
    gc.collect()
    start = time.thread_time()
    for _ in range(n):
        fn(client)
    return (time.thread_time() - start) / n


def run(settings: Settings, log: Callable[[str], None] = print) -> dict:
    """Run the benchmark; returns the figures (what ``--json`` writes)."""
    if settings.chunks < 2 or settings.block_calls < 1 or settings.block_streams < 1:
        raise ValueError("need chunks >= 2, block_calls >= 1 and block_streams >= 1")
    plain, stream = record_responses(settings.chunks)
    client = make_client(plain, stream)
    direct = Direct(client)
    short_chunks = max(1, settings.chunks // 5)
    short_calls = settings.block_calls // 5
    direct_short = Direct(make_client(*record_responses(short_chunks)))
    variants: list[Variant] = [Variant(), Lens(), Official(), SpanFloor()]
    kinds = ("call", "stream", "direct_call", "direct_stream", "direct_short_stream")
    seconds: dict[str, dict[str, list[float]]] = {v.name: {k: [] for k in kinds} for v in variants}
    wall_seconds: dict[str, dict[str, list[float]]] = {v.name: {k: [] for k in kinds} for v in variants}
    seen_chunks: dict[str, int] = {}
    # Wrapper only, the variants that record metrics: the timed collections of each block, per clock.
    collected: dict[str, dict[str, dict[str, list[float]]]] = {
        v.name: {clock: {k: [] for k in COLLECTIONS} for clock in CLOCKS} for v in variants if v.records_metrics}

    def collect(v: Variant) -> None:
        """An untimed collection (delta: it resets what the next block's collections see)."""
        if v.otel is not None:
            v.metric_names |= v.otel.metric_names()

    def timed_collect(v: Variant, kind: str) -> None:
        """A timed collection (collection runs on the reader's thread in real use): the work each
        instrumentation leaves for it (genai-lens applies its queued calls then)."""
        cpu, wall, names = v.otel.timed_collect()
        v.metric_names |= names
        collected[v.name]["cpu"][kind].append(cpu)
        collected[v.name]["wall"][kind].append(wall)

    def timed(v: Variant, kind: str, fn: Callable[[], Any], n: int) -> None:
        cpu, wall = _time(fn, n)
        seconds[v.name][kind].append(cpu)
        wall_seconds[v.name][kind].append(wall)

    # Long-lived objects (modules, the client's type machinery) leave the collector's view, so a
    # full collection in one block and not another does not swamp a difference of a few percent.
    gc.collect()
    gc.freeze()

    # End to end: the real client; each variant instrumented in its turn (rotating order).
    warm_streams = max(1, settings.warmup // 5)
    for r in range(settings.rounds):
        order = variants[r % len(variants):] + variants[:r % len(variants)]
        for v in order:
            v.instrument()
            try:
                for _ in range(settings.warmup):
                    plain_call(client)
                for _ in range(warm_streams):
                    seen_chunks[v.name] = stream_call(client)
                t = seconds[v.name]
                t["call"].append(time_per_call(plain_call, client, settings.calls))
                t["stream"].append(time_per_call(stream_call, client, settings.streams))
            finally:
                v.uninstrument()
            v.spans_expected += settings.warmup + warm_streams + settings.calls + settings.streams
            collect(v)
        log(f"end to end, round {r + 1}/{settings.rounds}: " + ", ".join(
            f"{v.name} {seconds[v.name]['call'][-1] * 1e6:.0f} µs/call" for v in variants))

    # Wrapper only: every variant instrumented at once (stacked wrapt wrappers on Completions.create),
    # each one's wrapper function called directly, in small interleaved blocks, so a variant and the
    # baseline are timed seconds apart at most, not a round apart.
    through: dict[str, tuple] = {}
    stacked: list[Variant] = []
    try:
        for v in variants:
            v.instrument()
            stacked.append(v)
            wrapper = installed_wrapper() if v.otel is not None else None
            through[v.name] = (direct.through(wrapper), direct_short.through(wrapper))
        for v in variants:
            (plain_fn, stream_fn), (_, short_fn) = through[v.name]
            for _ in range(settings.warmup):
                plain_fn()
            for _ in range(warm_streams):
                stream_fn()
                short_fn()
            v.spans_expected += settings.warmup + 2 * warm_streams
            collect(v)
        for block in range(settings.blocks):
            order = variants[block % len(variants):] + variants[:block % len(variants)]
            for v in order:
                (plain_fn, stream_fn), (_, short_fn) = through[v.name]
                timing = v.records_metrics  # collections timed for genai-lens and official
                timed(v, "direct_call", plain_fn, settings.block_calls)
                if timing:
                    timed_collect(v, "call")
                for _ in range(short_calls):
                    plain_fn()
                if timing:
                    timed_collect(v, "short_call")
                timed(v, "direct_stream", stream_fn, settings.block_streams)
                if timing:
                    timed_collect(v, "stream")
                timed(v, "direct_short_stream", short_fn, settings.block_streams)
                if timing:
                    timed_collect(v, "short_stream")
                    timed_collect(v, "empty")
                else:
                    collect(v)
                v.spans_expected += settings.block_calls + short_calls + 2 * settings.block_streams
            if (block + 1) % 50 == 0 or block + 1 == settings.blocks:
                log(f"wrapper only, block {block + 1}/{settings.blocks}")
    finally:
        for v in reversed(stacked):
            v.uninstrument()
        gc.unfreeze()

    _check(variants)
    results: dict[str, dict] = {}
    base = seconds["baseline"]
    extra_chunks = settings.chunks - short_chunks
    for v in variants:
        t = seconds[v.name]
        row: dict[str, Any] = {}
        for kind in kinds:
            # Paired: each round's (block's) figure minus the baseline's in the same round; then the median.
            added = [(x - b) * 1e6 for x, b in zip(t[kind], base[kind])]
            row[f"{kind}_us"] = statistics.median(t[kind]) * 1e6
            row[f"{kind}_added_us"] = statistics.median(added)
            row[f"{kind}_added_quartiles_us"] = _quartiles(added)
        row["chunk_added_us"] = row["stream_added_us"] / settings.chunks
        row["direct_chunk_added_us"] = row["direct_stream_added_us"] / settings.chunks
        # Per extra chunk: a long stream minus a short one, block by block (the per-call part cancels).
        row["direct_chunk_marginal_us"] = _marginal_chunk(t, base, extra_chunks)
        if v.records_metrics:
            row["both_threads"] = {
                "cpu": both_threads(t, base, collected[v.name]["cpu"], settings),
                "wall": both_threads(wall_seconds[v.name], wall_seconds["baseline"], collected[v.name]["wall"], settings),
            }
        row["chunks_seen_by_caller"] = seen_chunks[v.name]
        row["spans"] = v.otel.spans.count if v.otel else 0
        row["metrics"] = sorted(v.metric_names)
        results[v.name] = row
    for v in variants:
        if v.otel is not None:
            v.otel.shutdown()
    lens, official = results["genai-lens"], results["official"]
    calibration = machine_speed()
    return {
        "machine": {"nproc": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "openai": openai.__version__, "implementation": platform.python_implementation()},
        "settings": dict(settings.__dict__),
        "goals": {"call_us": GOAL_CALL_US, "chunk_us": GOAL_CHUNK_US, "total_ratio": GOAL_TOTAL_RATIO},
        "results": results,
        # Both threads: genai-lens's total (app thread + collection) over the official's, per clock.
        "total_ratio": {clock: {kind: _ratio(lens["both_threads"][clock][f"total_{kind}_us"],
                                             official["both_threads"][clock][f"total_{kind}_us"])
                                for kind in ("call", "chunk")} for clock in CLOCKS},
        "ratio": {kind: _ratio(lens[f"{kind}_added_us"], official[f"{kind}_added_us"])
                  for kind in ("call", "chunk", "direct_call", "direct_chunk")}
        | {"direct_chunk_marginal": _ratio(lens["direct_chunk_marginal_us"], official["direct_chunk_marginal_us"])},
        "meets_goals": {
            "call": lens["call_added_us"] <= GOAL_CALL_US,
            "direct_call": lens["direct_call_added_us"] <= GOAL_CALL_US,
            "direct_chunk_marginal": lens["direct_chunk_marginal_us"] <= GOAL_CHUNK_US,
            "below_official_call": lens["call_added_us"] < official["call_added_us"],
            "below_official_chunk": lens["chunk_added_us"] < official["chunk_added_us"],
            "below_official_direct_call": lens["direct_call_added_us"] < official["direct_call_added_us"],
            "below_official_direct_chunk": lens["direct_chunk_marginal_us"] < official["direct_chunk_marginal_us"],
            # Both threads, CPU time: genai-lens's total at most GOAL_TOTAL_RATIO of the official's.
            "total_call_ratio": _at_most(_ratio(lens["both_threads"]["cpu"]["total_call_us"],
                                                official["both_threads"]["cpu"]["total_call_us"]), GOAL_TOTAL_RATIO),
            "total_chunk_ratio": _at_most(_ratio(lens["both_threads"]["cpu"]["total_chunk_us"],
                                                 official["both_threads"]["cpu"]["total_chunk_us"]), GOAL_TOTAL_RATIO),
        },
        # genai-lens's own code: what it adds above the bare span (plain calls).
        "above_span_floor_us": {kind: lens[f"{kind}_added_us"] - results["span-floor"][f"{kind}_added_us"]
                                for kind in ("call", "direct_call")},
        "calibration_us": calibration,
    }


def _time(fn: Callable[[], Any], n: int) -> tuple[float, float]:
    """Mean (CPU seconds of this thread, wall seconds) per call of ``fn``, over ``n`` calls
    (no gc.collect: blocks are short)."""
    cpu, wall = time.thread_time_ns(), time.perf_counter_ns()
    for _ in range(n):
        fn()
    return (time.thread_time_ns() - cpu) / 1e9 / n, (time.perf_counter_ns() - wall) / 1e9 / n


def _marginal_chunk(t: dict[str, list[float]], base: dict[str, list[float]], extra_chunks: int) -> float:
    """App thread, µs per extra chunk: per block, (long stream - baseline's) - (short stream - baseline's),
    over the extra chunks; the median over blocks."""
    return statistics.median(((long - bl) - (short - bs)) * 1e6 / extra_chunks
                             for long, bl, short, bs in zip(t["direct_stream"], base["direct_stream"],
                                                            t["direct_short_stream"], base["direct_short_stream"]))


def both_threads(t: dict[str, list[float]], base: dict[str, list[float]], collected: dict[str, list[float]],
                 settings: Settings) -> dict[str, float]:
    """One variant's figures for one clock (µs), app thread + collection, per plain call and per extra chunk.

    ``t`` / ``base``: the variant's and the baseline's wrapper-only seconds per call or stream, per
    block; ``collected``: the variant's timed collections per block (``COLLECTIONS``). Each figure is
    the median over blocks; a total is the sum of its two medians.
    """
    short_calls = settings.block_calls // 5
    extra_calls = settings.block_calls - short_calls
    extra_chunks = settings.chunks - max(1, settings.chunks // 5)
    app_call = statistics.median((x - b) * 1e6 for x, b in zip(t["direct_call"], base["direct_call"]))
    app_chunk = _marginal_chunk(t, base, extra_chunks)
    # Marginal collection per plain call: the collection after the block's calls minus the one after
    # its few extra calls; the per-collection part cancels (it is reported as collect_fixed_us).
    per_call = [(c - s) / extra_calls for c, s in zip(collected["call"], collected["short_call"])]
    per_chunk = [(c - s) / (settings.block_streams * extra_chunks)
                 for c, s in zip(collected["stream"], collected["short_stream"])]
    fixed = [c - settings.block_calls * m for c, m in zip(collected["call"], per_call)]
    collect_call = statistics.median(per_call) * 1e6
    collect_chunk = statistics.median(per_chunk) * 1e6
    return {
        "app_call_us": app_call,
        "collect_call_us": collect_call,
        "total_call_us": app_call + collect_call,
        "app_chunk_us": app_chunk,
        "collect_chunk_us": collect_chunk,
        "total_chunk_us": app_chunk + collect_chunk,
        # What a collection costs apart from the calls it holds (callbacks, one aggregation per
        # attribute set): paid once per export interval.
        "collect_fixed_us": statistics.median(fixed) * 1e6,
        "collect_empty_us": statistics.median(collected["empty"]) * 1e6,
        # The plain figure the marginal one refines: a collection after the block's plain calls / those calls.
        "collect_per_block_call_us": statistics.median(c / settings.block_calls for c in collected["call"]) * 1e6,
    }


def _at_most(value: float | None, limit: float) -> bool:
    return value is not None and value <= limit


def _quartiles(values: list[float]) -> list[float]:
    if len(values) < 2:
        return [values[0], values[0]]
    q = statistics.quantiles(values, n=4)
    return [q[0], q[2]]


def _ratio(ours: float, theirs: float) -> float | None:
    return ours / theirs if theirs > 0 else None


def _check(variants: Sequence[Variant]) -> None:
    """Every instrumented variant really was active: one span per call, and metrics."""
    for v in variants:
        if v.otel is None:
            continue
        if v.otel.spans.count != v.spans_expected:
            raise RuntimeError(f"{v.name}: {v.otel.spans.count} spans for {v.spans_expected} calls")
        if v.records_metrics and "gen_ai.client.operation.duration" not in v.metric_names:
            raise RuntimeError(f"{v.name}: no gen_ai.client.operation.duration points ({sorted(v.metric_names)})")


def machine_speed() -> dict[str, float]:
    """Two fixed reference workloads (µs, best of 5), so figures from other machines can be scaled."""
    import timeit

    from opentelemetry.sdk.metrics import MeterProvider as _MP

    histogram = _MP(metric_readers=[InMemoryMetricReader()]).get_meter("calibration").create_histogram("h")
    attrs = {"a": "1", "b": "2", "c": "3", "d": "4", "e": "5"}
    return {
        "sum_range_1000": min(timeit.repeat("sum(range(1000))", number=2000, repeat=5, timer=time.thread_time)) / 2000 * 1e6,
        "otel_histogram_record_5_attrs": min(timeit.repeat(lambda: histogram.record(1.0, attrs), number=2000, repeat=5,
                                                            timer=time.thread_time)) / 2000 * 1e6,
    }


def table(report: dict) -> str:
    res, ratio = report["results"], report["ratio"]

    def fmt(value: float | None, spec: str = ".1f") -> str:
        return "n/a" if value is None else format(value, spec)

    rows = [("variant", "method", "µs/call", "µs/call added", "µs/stream added", "µs/chunk added", "µs/extra chunk",
             "ours/official: call, chunk")]
    for name in VARIANTS:
        r = res[name]
        streams = name not in ("baseline", "span-floor")
        for method, prefix in (("end to end", ""), ("wrapper only", "direct_")):
            if name == "genai-lens":
                chunk_ratio = ratio["chunk"] if prefix == "" else ratio["direct_chunk_marginal"]
                ours = f"{fmt(ratio[prefix + 'call'], '.2f')}, {fmt(chunk_ratio, '.2f')}"
            else:
                ours = ""
            rows.append((
                name, method, fmt(r[f"{prefix}call_us"]),
                fmt(r[f"{prefix}call_added_us"]) if name != "baseline" else "-",
                fmt(r[f"{prefix}stream_added_us"]) if streams else "-",
                fmt(r[f"{prefix}chunk_added_us"], ".2f") if streams else "-",
                fmt(r["direct_chunk_marginal_us"], ".2f") if streams and prefix else "-",
                ours,
            ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    s, m, cal = report["settings"], report["machine"], report["calibration_us"]
    lines.append(f"end to end: {s['rounds']} rounds x {s['calls']} calls and {s['streams']} streams of {s['chunks']} content "
                 f"chunks; wrapper only: {s['blocks']} interleaved blocks x {s['block_calls']} calls and {s['block_streams']} "
                 f"streams of {s['chunks']} and of {max(1, s['chunks'] // 5)} chunks; medians of paired differences "
                 "with the baseline; CPU time of the calling thread")
    lines.append("µs/chunk added: a whole stream's added time / its chunks (includes the per-call part); "
                 "µs/extra chunk: long stream minus short stream, per extra chunk")
    floor = report["above_span_floor_us"]
    lines.append(f"genai-lens above the span floor (its own code, plain call): {floor['call']:.1f} µs end to end, "
                 f"{floor['direct_call']:.1f} µs wrapper only")
    lines.append(f"goals: <= {GOAL_CALL_US:g} µs/call, <= {GOAL_CHUNK_US:g} µs/chunk, below official")
    lines.append("")
    lines.extend(both_threads_table(report))
    lines.append(f"machine: {m['nproc']} CPUs, Python {m['python']}, openai {m['openai']}; "
                 f"sum(range(1000)) {cal['sum_range_1000']:.1f} µs, OTel histogram record (5 attributes) "
                 f"{cal['otel_histogram_record_5_attrs']:.1f} µs")
    return "\n".join(lines)


def both_threads_table(report: dict) -> list[str]:
    """Lines of the both-threads table: app thread, collection and total, per plain call and per extra chunk."""
    res, ratio, met = report["results"], report["total_ratio"], report["meets_goals"]

    def fmt(value: float | None, spec: str = ".1f") -> str:
        return "n/a" if value is None else format(value, spec)

    rows = [("both threads, CPU µs", "app thread", "collection", "total", "app thread", "collection", "total"),
            ("", "per call", "per call", "per call", "per chunk", "per chunk", "per chunk")]
    for name in ("genai-lens", "official"):
        b = res[name]["both_threads"]["cpu"]
        rows.append((name, fmt(b["app_call_us"]), fmt(b["collect_call_us"]), fmt(b["total_call_us"]),
                     fmt(b["app_chunk_us"], ".2f"), fmt(b["collect_chunk_us"], ".2f"), fmt(b["total_chunk_us"], ".2f")))
    rows.append(("genai-lens / official", "", "", fmt(ratio["cpu"]["call"], ".2f"), "", "", fmt(ratio["cpu"]["chunk"], ".2f")))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(2, "  ".join("-" * w for w in widths))
    lines.append("wrapper only, medians over blocks; per chunk: per extra content chunk (long minus short streams); "
                 "collection: marginal, in this thread as the reader's thread runs it")
    lines.append(f"goal, total <= {GOAL_TOTAL_RATIO:g} of the official's: per call "
                 f"{'met' if met['total_call_ratio'] else 'NOT met'}, per chunk {'met' if met['total_chunk_ratio'] else 'NOT met'}")
    wall = {name: res[name]["both_threads"]["wall"] for name in ("genai-lens", "official")}
    lines.append("wall time, totals per call and per chunk: " + ", ".join(
        f"{name} {fmt(w['total_call_us'])} and {fmt(w['total_chunk_us'], '.2f')} µs" for name, w in wall.items())
        + f"; ratios {fmt(ratio['wall']['call'], '.2f')} and {fmt(ratio['wall']['chunk'], '.2f')}")
    lines.append("per collection, whatever it holds (callbacks, one aggregation per attribute set), CPU µs: " + ", ".join(
        f"{name} {fmt(res[name]['both_threads']['cpu']['collect_fixed_us'])} "
        f"(empty: {fmt(res[name]['both_threads']['cpu']['collect_empty_us'])})" for name in ("genai-lens", "official")))
    return lines


def main(argv: Sequence[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small run for a smoke test")
    parser.add_argument("--json", metavar="FILE", help="write the figures as JSON to FILE")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--calls", type=int)
    parser.add_argument("--streams", type=int)
    parser.add_argument("--chunks", type=int)
    parser.add_argument("--blocks", type=int, help="wrapper only: interleaved blocks per variant")
    parser.add_argument("--block-calls", dest="block_calls", type=int)
    parser.add_argument("--block-streams", dest="block_streams", type=int)
    args = parser.parse_args(argv)
    settings = Settings(**(QUICK.__dict__ if args.quick else {}))
    for name in ("rounds", "calls", "streams", "chunks", "blocks", "block_calls", "block_streams"):
        if getattr(args, name) is not None:
            setattr(settings, name, getattr(args, name))
    # The instrumentations log nothing on the happy path; keep stray warnings off the table.
    logging.getLogger("opentelemetry").setLevel(logging.ERROR)
    report = run(settings, log=lambda line: print(line, file=sys.stderr))
    print(table(report))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2)
    return report


if __name__ == "__main__":
    main()
