"""The OpenTelemetry instruments genai-lens records, as DESIGN.md names them.

    instruments = Instruments(meter_provider)
    instruments.duration.record(0.42, attributes)

Histograms are recorded through a queue applied at collection time
(``deferred``); counters are summed in-process (``counters``). Both keep the
OpenTelemetry SDK's per-measurement work off the app's call path; the data
exported is the same.
"""

from __future__ import annotations

import threading
import weakref

from opentelemetry import metrics

from . import attributes as a
from .counters import SummedCounter
from .deferred import DeferredHistogram, RecordQueue
from .version import __version__

__all__ = ["Instruments"]


_shared: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_shared_lock = threading.Lock()


class Instruments:
    @classmethod
    def shared(cls, meter_provider=None) -> "Instruments":
        """One set per meter provider: the summed counters report totals, so two sets on one
        provider (two instrumentors each with its own Telemetry) would overwrite each other."""
        provider = meter_provider if meter_provider is not None else metrics.get_meter_provider()
        with _shared_lock:
            instruments = _shared.get(provider)
            if instruments is None:
                instruments = _shared[provider] = cls(provider)
            return instruments

    def __init__(self, meter_provider=None, queue_limit: int = 10_000):
        self.queue = RecordQueue(queue_limit)
        meter = metrics.get_meter("sdk_instrumentation", __version__, meter_provider,
                                  schema_url="https://opentelemetry.io/schemas/1.37.0")
        self.duration = DeferredHistogram(meter.create_histogram(
            a.METRIC_OPERATION_DURATION, unit="s", description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=list(a.DURATION_BUCKETS)), self.queue)
        self.token_usage = DeferredHistogram(meter.create_histogram(
            a.METRIC_TOKEN_USAGE, unit="{token}", description="Number of input and output tokens used (billable).",
            explicit_bucket_boundaries_advisory=list(a.TOKEN_BUCKETS)), self.queue)
        self.time_to_first_chunk = DeferredHistogram(meter.create_histogram(
            a.METRIC_TIME_TO_FIRST_CHUNK, unit="s", description="Time to receive the first chunk of a streaming response.",
            explicit_bucket_boundaries_advisory=list(a.CHUNK_BUCKETS)), self.queue)
        self.time_per_output_chunk = DeferredHistogram(meter.create_histogram(
            a.METRIC_TIME_PER_OUTPUT_CHUNK, unit="s", description="Time between consecutive output chunks of a streaming response.",
            explicit_bucket_boundaries_advisory=list(a.CHUNK_BUCKETS)), self.queue)
        self.throughput = DeferredHistogram(meter.create_histogram(
            a.METRIC_THROUGHPUT, unit="tokens/s", description="Output tokens per second of generation time, per call.",
            explicit_bucket_boundaries_advisory=list(a.THROUGHPUT_BUCKETS)), self.queue)
        # Counters are summed in-process and reported at collection (see counters.py): same data, a
        # fraction of the per-call cost of the SDK's synchronous counters.
        # The cost counter's collect callback applies the queued histogram records first.
        self.cost = SummedCounter(
            meter, a.METRIC_COST, before_observe=self.queue.drain, unit="usd", description="Cost of GenAI calls in US dollars, by cost type.")
        self.web_search_calls = SummedCounter(
            meter, a.METRIC_WEB_SEARCH_CALLS, unit="{call}", description="Web search tool invocations.")
        self.unpriced_requests = SummedCounter(
            meter, a.METRIC_UNPRICED_REQUESTS, unit="{request}", description="Calls whose model has no known price.")
