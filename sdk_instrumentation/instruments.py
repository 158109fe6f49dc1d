"""The OpenTelemetry instruments genai-lens records, as DESIGN.md names them.

    instruments = Instruments(meter_provider)
    instruments.duration.record(0.42, attributes)
"""

from __future__ import annotations

from opentelemetry import metrics

from . import attributes as a
from .counters import SummedCounter
from .version import __version__

__all__ = ["Instruments"]


class Instruments:
    def __init__(self, meter_provider=None):
        meter = metrics.get_meter("sdk_instrumentation", __version__, meter_provider,
                                  schema_url="https://opentelemetry.io/schemas/1.37.0")
        self.duration = meter.create_histogram(
            a.METRIC_OPERATION_DURATION, unit="s", description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=list(a.DURATION_BUCKETS))
        self.token_usage = meter.create_histogram(
            a.METRIC_TOKEN_USAGE, unit="{token}", description="Number of input and output tokens used (billable).",
            explicit_bucket_boundaries_advisory=list(a.TOKEN_BUCKETS))
        self.time_to_first_chunk = meter.create_histogram(
            a.METRIC_TIME_TO_FIRST_CHUNK, unit="s", description="Time to receive the first chunk of a streaming response.",
            explicit_bucket_boundaries_advisory=list(a.CHUNK_BUCKETS))
        self.time_per_output_chunk = meter.create_histogram(
            a.METRIC_TIME_PER_OUTPUT_CHUNK, unit="s", description="Time between consecutive output chunks of a streaming response.",
            explicit_bucket_boundaries_advisory=list(a.CHUNK_BUCKETS))
        self.throughput = meter.create_histogram(
            a.METRIC_THROUGHPUT, unit="tokens/s", description="Output tokens per second of generation time, per call.",
            explicit_bucket_boundaries_advisory=list(a.THROUGHPUT_BUCKETS))
        # Counters are summed in-process and reported at collection (see counters.py): same data, a
        # fraction of the per-call cost of the SDK's synchronous counters.
        self.cost = SummedCounter(
            meter, a.METRIC_COST, unit="usd", description="Cost of GenAI calls in US dollars, by cost type.")
        self.web_search_calls = SummedCounter(
            meter, a.METRIC_WEB_SEARCH_CALLS, unit="{call}", description="Web search tool invocations.")
        self.unpriced_requests = SummedCounter(
            meter, a.METRIC_UNPRICED_REQUESTS, unit="{request}", description="Calls whose model has no known price.")
