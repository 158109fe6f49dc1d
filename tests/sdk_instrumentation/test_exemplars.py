"""Exemplars: every metric point of a call names that call's span (sdk_instrumentation/exemplars.py).

The real openai client calls the fake provider; the metrics are recorded on the reader's thread,
after the calls ended, and each point's exemplars must carry the trace and span ids of the call.
"""

from __future__ import annotations

import bisect

import pytest
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from sdk_instrumentation import attributes as a
from sdk_instrumentation.exemplars import call_context
from sdk_instrumentation.openai_instrumentor import OpenAIInstrumentor
from sdk_instrumentation.pricing import Pricing
from sdk_instrumentation.usage import Usage

from .conftest import Otel

MSG = [{"role": "user", "content": "hello"}]
HEADERS = {"x-fake-input-tokens": "1000", "x-fake-output-tokens": "100"}


@pytest.fixture
def instrumented(request):
    otel = Otel(**getattr(request, "param", {}))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(telemetry=otel.telemetry)
    yield otel
    instrumentor.uninstrument()
    otel.shutdown()


def _metrics(otel) -> dict:
    """{metric name: [points]} of one collection."""
    data = otel.reader.get_metrics_data()
    found: dict[str, list] = {}
    for rm in data.resource_metrics if data else ():
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                found.setdefault(metric.name, []).extend(metric.data.data_points)
    return found


def _ids(exemplar) -> tuple[int, int]:
    return exemplar.trace_id, exemplar.span_id


def _span_ids(span) -> tuple[int, int]:
    return span.context.trace_id, span.context.span_id


def test_each_histogram_point_names_the_call_that_made_it(instrumented, openai_client):
    openai_client.chat.completions.create(model="gpt-4o", messages=MSG, extra_headers=HEADERS)
    stream = openai_client.chat.completions.create(model="gpt-4o-mini", messages=MSG, stream=True,
                                                   extra_headers={**HEADERS, "x-fake-chunks": "4"})
    chunks = list(stream)
    assert chunks
    spans = {span.attributes[a.REQUEST_MODEL]: span for span in instrumented.finished_spans()}
    metrics = _metrics(instrumented)

    for point in metrics[a.METRIC_OPERATION_DURATION]:
        span = spans[point.attributes[a.REQUEST_MODEL]]
        (exemplar,) = point.exemplars
        assert _ids(exemplar) == _span_ids(span)
        assert exemplar.value == point.sum  # the one call's duration
    for point in metrics[a.METRIC_TOKEN_USAGE]:
        (exemplar,) = point.exemplars
        assert _ids(exemplar) == _span_ids(spans[point.attributes[a.REQUEST_MODEL]])
        assert exemplar.value == {"input": 1000, "output": 100}[point.attributes[a.TOKEN_TYPE]]
    (ttft,) = metrics[a.METRIC_TIME_TO_FIRST_CHUNK]
    (exemplar,) = ttft.exemplars
    assert _ids(exemplar) == _span_ids(spans["gpt-4o-mini"])
    assert exemplar.value == ttft.sum
    # Three gaps between four chunks; the reservoir keeps the last one per bucket.
    (gaps,) = metrics[a.METRIC_TIME_PER_OUTPUT_CHUNK]
    assert gaps.count == 3
    buckets_with_gaps = [i for i, n in enumerate(gaps.bucket_counts) if n]
    assert [bisect.bisect_left(gaps.explicit_bounds, e.value) for e in gaps.exemplars] == buckets_with_gaps
    assert {_ids(e) for e in gaps.exemplars} == {_span_ids(spans["gpt-4o-mini"])}


def test_cost_exemplars_carry_the_call_increment_and_only_when_it_changed(instrumented, openai_client):
    for _ in range(2):
        openai_client.chat.completions.create(model="gpt-4o", messages=MSG, extra_headers=HEADERS)
    last = instrumented.finished_spans()[-1]
    cost = Pricing().price("openai", "gpt-4o", Usage(input_tokens=1000, output_tokens=100))
    points = {p.attributes[a.COST_TYPE]: p for p in _metrics(instrumented)[a.METRIC_COST]}
    assert points["input"].value == pytest.approx(2 * cost.input, rel=1e-12)
    (exemplar,) = points["input"].exemplars
    assert _ids(exemplar) == _span_ids(last)
    assert exemplar.value == cost.input  # the last call's increment, not the running total
    (exemplar,) = points["output"].exemplars
    assert exemplar.value == cost.output
    assert points["other"].exemplars == []  # nothing was added: no exemplar of a zero increment

    # Observed again with no new call: the totals stand, with no exemplar.
    again = {p.attributes[a.COST_TYPE]: p for p in _metrics(instrumented)[a.METRIC_COST]}
    assert again["input"].value == points["input"].value
    assert again["input"].exemplars == []


@pytest.mark.parametrize("instrumented", [{"views": []}], indirect=True)
def test_without_the_views_a_summed_counter_exemplar_carries_the_total(instrumented, openai_client):
    for _ in range(2):
        openai_client.chat.completions.create(model="gpt-4o", messages=MSG, extra_headers=HEADERS)
    points = {p.attributes[a.COST_TYPE]: p for p in _metrics(instrumented)[a.METRIC_COST]}
    (exemplar,) = points["input"].exemplars
    assert exemplar.value == points["input"].value
    assert _ids(exemplar) == _span_ids(instrumented.finished_spans()[-1])


@pytest.mark.parametrize("instrumented", [{"sampler": ALWAYS_OFF}], indirect=True)
def test_an_unsampled_call_gives_no_exemplars(instrumented, openai_client):
    openai_client.chat.completions.create(model="gpt-4o", messages=MSG, extra_headers=HEADERS)
    metrics = _metrics(instrumented)
    assert metrics[a.METRIC_OPERATION_DURATION][0].count == 1
    for name in (a.METRIC_OPERATION_DURATION, a.METRIC_TOKEN_USAGE, a.METRIC_COST):
        assert all(point.exemplars == [] for point in metrics[name]), name


def test_call_context_refuses_what_cannot_be_an_exemplar():
    from opentelemetry.trace import INVALID_SPAN_CONTEXT, SpanContext, TraceFlags, get_current_span

    assert call_context(None) is None
    assert call_context(INVALID_SPAN_CONTEXT) is None
    assert call_context(SpanContext(1, 2, False, TraceFlags(0))) is None
    context = call_context(SpanContext(1, 2, False, TraceFlags(1)))
    assert get_current_span(context).get_span_context().span_id == 2
