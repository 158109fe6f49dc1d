"""Exemplars: each metric of a call points at the span of that call.

A call's metrics are recorded after it ends, on the metric reader's thread
(``deferred``), where no span is current. So a finished call keeps its span's
``SpanContext``, and ``Instruments.record`` passes it to every measurement as
an explicit context::

    context = call_context(call.span_context)   # None for an unsampled or absent span
    histogram.record(1.25, attributes, context=context)

The OpenTelemetry SDK's default exemplar filter (``trace_based``,
``OTEL_METRICS_EXEMPLAR_FILTER``) then samples the measurement into the
histogram's exemplar reservoir (the last one per bucket): its trace id, span id,
value and time reach the exporter in the OTLP point.

The cost, web search and unpriced counters are summed in-process
(``counters.SummedCounter``) and reported as running totals, so the SDK would
give their exemplar the running total as value. ``configure()`` registers
``exemplar_views()``: a reservoir that takes the value of the call's increment
instead (``increment_context``), as an OpenMetrics counter exemplar means it.
With a meter provider of your own, add those views to get the same::

    MeterProvider(metric_readers=[reader], views=lens.exemplar_views())

without them the counters' exemplars carry the running total.
"""

from __future__ import annotations

from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.metrics import SimpleFixedSizeExemplarReservoir
from opentelemetry.sdk.metrics.view import View
from opentelemetry.trace import INVALID_SPAN, NonRecordingSpan, SpanContext

from . import attributes as a

__all__ = ["call_context", "NO_SPAN", "increment_context", "IncrementExemplarReservoir", "exemplar_views", "SUMMED_COUNTERS"]

#: The instruments ``Instruments`` sums in-process (``counters.SummedCounter``).
SUMMED_COUNTERS = (a.METRIC_COST, a.METRIC_WEB_SEARCH_CALLS, a.METRIC_UNPRICED_REQUESTS, a.METRIC_CACHE_READ_TOKENS)

_INCREMENT = context_api.create_key("genai_lens.exemplar.increment")


#: A context with no span: what a record of a call with no usable span passes, so the SDK does not
#: fall back to the current context (some other span, on the app's thread).
NO_SPAN = trace.set_span_in_context(INVALID_SPAN)


def call_context(span_context: SpanContext | None) -> Context | None:
    """A context whose current span is ``span_context``, or None when it cannot give an
    exemplar (no span, an invalid one, or one the sampler dropped)."""
    if span_context is None or not span_context.is_valid or not span_context.trace_flags.sampled:
        return None
    return trace.set_span_in_context(NonRecordingSpan(span_context))


def increment_context(context: Context | None, amount: float) -> Context | None:
    """``context`` carrying the increment a summed counter's exemplar should show."""
    if context is None:
        return None
    return context_api.set_value(_INCREMENT, amount, context)


class IncrementExemplarReservoir(SimpleFixedSizeExemplarReservoir):
    """One exemplar per point: the last call that added to it, with the value it added."""

    def __init__(self, size: int = 1, **kwargs) -> None:
        super().__init__(size, **kwargs)

    def offer(self, value, time_unix_nano, attributes, context) -> None:
        increment = context_api.get_value(_INCREMENT, context) if context is not None else None
        if increment is None:
            return  # a total observed again with no new call: no exemplar
        with self._lock:
            self._reservoir_storage[0].offer(increment, time_unix_nano, attributes, context)


def _increment_reservoir(aggregation_type):
    return IncrementExemplarReservoir


def exemplar_views(names=SUMMED_COUNTERS) -> list[View]:
    """Views giving the summed counters the increment reservoir (for a ``MeterProvider``)."""
    return [View(instrument_name=name, exemplar_reservoir_factory=_increment_reservoir) for name in names]
