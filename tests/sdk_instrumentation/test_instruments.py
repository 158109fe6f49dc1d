"""Finished calls become metric records at collection: exactly once, with the DESIGN.md attributes."""

import pytest

from sdk_instrumentation.instruments import Instruments
from sdk_instrumentation.usage import Usage

from .conftest import Otel

ATTRS = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
         "genai_lens.api_key": "team-a", "genai_lens.billing": "payg"}


@pytest.fixture
def otel():
    o = Otel()
    yield o
    o.shutdown()


def finished_call(otel, usage=None, error=None, model="gpt-4o"):
    call = otel.telemetry.start_call(operation="chat", provider="openai", request_model=model, key_label="team-a")
    call.set_usage(usage)
    call.done()
    call.end(error)
    return call


def test_a_finished_call_is_queued_and_recorded_once_at_collection(otel):
    queue = otel.telemetry.instruments.queue
    finished_call(otel, Usage(input_tokens=1200, output_tokens=300, cache_read_tokens=1000))
    finished_call(otel, Usage(input_tokens=10, output_tokens=5))
    assert len(queue) == 2
    [duration] = otel.points("gen_ai.client.operation.duration")
    assert dict(duration.attributes) == ATTRS and duration.count == 2
    assert len(queue) == 0
    tokens = {p.attributes["gen_ai.token.type"]: p.sum for p in otel.points("gen_ai.client.token.usage")}
    assert tokens == {"input": 1210, "output": 305}
    # gpt-4o: $2.50 input, $1.25 cached input, $10 output per 1M tokens
    cost = {p.attributes["genai_lens.cost.type"]: p.value for p in otel.points("genai_lens.cost")}
    assert cost["input"] == pytest.approx((200 * 2.50 + 1000 * 1.25 + 10 * 2.50) / 1e6, abs=1e-12)
    assert cost["output"] == pytest.approx(305 * 10 / 1e6, abs=1e-12)
    assert cost["other"] == 0
    # The reader's storages are cumulative here: a second collection shows the same totals, nothing applied twice.
    assert otel.points("gen_ai.client.operation.duration")[0].count == 2
    assert otel.total("gen_ai.client.token.usage") == 1515


def test_errors_and_unpriced_models(otel, caplog):
    finished_call(otel, error=TimeoutError())
    finished_call(otel, Usage(input_tokens=7, output_tokens=1), model="no-such-model-xyz")
    durations = {p.attributes.get("error.type"): p.count for p in otel.points("gen_ai.client.operation.duration")}
    assert durations == {"TimeoutError": 1, None: 1}
    [unpriced] = otel.points("genai_lens.unpriced.requests")
    assert unpriced.value == 1 and unpriced.attributes["gen_ai.request.model"] == "no-such-model-xyz"
    assert otel.points("genai_lens.cost") == []


def test_the_queue_is_drained_by_whichever_counter_is_collected(otel):
    """Only the web search counter has a new point: its callback alone must still apply the queue."""
    instruments = otel.telemetry.instruments
    finished_call(otel, Usage(input_tokens=1, output_tokens=1, web_search_calls=2))
    [observation] = instruments.web_search_calls._observe(None)  # the SDK's callback, called alone
    assert len(instruments.queue) == 0
    assert observation.value == 2 and dict(observation.attributes) == ATTRS


def test_instruments_are_shared_per_meter_provider(otel):
    assert Instruments.shared(otel.meter_provider) is otel.telemetry.instruments
    assert Instruments.shared(otel.meter_provider) is not Instruments.shared(Otel().meter_provider)
