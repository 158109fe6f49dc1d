"""exporter/genai_spans.py: a span's attributes read from their bytes are what protobuf itself reads.

``read_span`` reads the attributes serialized (``spans_of``' lite schema) and decodes only the
table's keys; these tests hold it to protobuf's own message objects: every value kind, the shapes
protobuf does not write for short keys (long keys, long values, unknown fields), duplicates, the
order of variants, and what is not an attribute of the span (events, links).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from exporter import genai_spans
from exporter.genai_spans import ATTRIBUTES, MODALITY_ATTRIBUTES, read_span, resource_values, spans_of
from tests.exporter.test_traces import CHAT, _any as _scalar, span

KEYS = ("genai_lens.api_key", "tenant.id", "caller." + "k" * 150)  # the last one: a key of more than 127 bytes
TABLE = [key for variants in {**ATTRIBUTES, **MODALITY_ATTRIBUTES}.values() for key, _ in variants]


def scope(*spans) -> trace_pb2.ScopeSpans:
    return trace_pb2.ScopeSpans(spans=list(spans))


def read_all_ways(span_message, resource=None, keys=KEYS) -> list:
    """read_span of the span as a message, as bytes and as spans_of gives it."""
    values = resource_values(trace_pb2.ResourceSpans(resource={"attributes": resource or []}).resource)
    (lite,) = spans_of(scope(span_message))
    return [read_span(form, values, keys) for form in (span_message, span_message.SerializeToString(), lite)]


def test_a_span_reads_the_same_as_a_message_bytes_or_from_spans_of():
    calls = read_all_ways(span({**CHAT, "openai.response.service_tier": "flex"}, seconds=0.5))
    assert calls[0] == calls[1] == calls[2]
    call = calls[0]
    assert (call.operation, call.provider, call.model, call.duration, call.service_tier) == ("chat", "openai", "gpt-4o",
                                                                                           0.5, "flex")
    assert (call.usage.input_tokens, call.usage.output_tokens) == (1000, 200)
    assert (call.trace_id, call.span_id, call.end_time_unix_nano) == (b"\x01" * 16, b"\x02" * 8, 10_500_000_000)


def test_the_shapes_protobuf_writes_for_long_keys_and_values():
    model = "ft:gpt-4o:acme:" + "m" * 300  # a string value of more than 127 bytes
    message = span({**CHAT, "gen_ai.request.model": model, KEYS[2]: "team-" + "t" * 200})
    (call,) = set(map(repr, read_all_ways(message)))
    assert f"model='{model}'" in call and "api_key='team-" + "t" * 200 + "'" in call


def test_token_counts_at_every_varint_length_read_as_protobuf_reads_them():
    """Counts of one, two and three varint bytes take their own short path; the edges of each."""
    edges = [0, 1, 127, 128, 300, 16_383, 16_384, 2_097_151, 2_097_152, 2**28, 2**63 - 1]
    for count in edges:
        kv = common_pb2.KeyValue(key="gen_ai.usage.input_tokens", value=common_pb2.AnyValue(int_value=count))
        (call,) = {c.usage.input_tokens for c in read_all_ways(span({**CHAT, "gen_ai.usage.input_tokens": count}))}
        assert call == count == genai_spans._attribute_value(kv.SerializeToString(), len(kv.key) + 2)
    overlong = b"\n\x19gen_ai.usage.input_tokens\x12\x03\x18\x80\x00"  # 0 in two bytes, as a varint may be
    assert genai_spans._attribute_value(overlong, 27) == common_pb2.KeyValue.FromString(overlong).value.int_value == 0


def test_every_kind_of_value():
    def usage_of(value):
        kv = common_pb2.KeyValue(key="gen_ai.usage.input_tokens", value=value)
        message = span({k: v for k, v in CHAT.items() if k != "gen_ai.usage.input_tokens"})
        message.attributes.append(kv)
        return read_all_ways(message)

    assert {c.usage.input_tokens for c in usage_of(common_pb2.AnyValue(int_value=300_000))} == {300_000}
    assert {c.usage.input_tokens for c in usage_of(common_pb2.AnyValue(double_value=12.0))} == {12}
    assert {c.usage.input_tokens for c in usage_of(common_pb2.AnyValue(string_value="77"))} == {77}
    for ignored in (common_pb2.AnyValue(), common_pb2.AnyValue(string_value=""), common_pb2.AnyValue(bytes_value=b"1"),
                    common_pb2.AnyValue(array_value={"values": [{"int_value": 5}]}),
                    common_pb2.AnyValue(kvlist_value={"values": [{"key": "a"}]})):
        assert {c.usage.input_tokens for c in usage_of(ignored)} == {0}  # as absent: output tokens still make a usage
    for bad, message in ((common_pb2.AnyValue(int_value=-2**63), " = -9223372036854775808 is not a token count"),
                         (common_pb2.AnyValue(double_value=float("nan")), " = nan is not a token count"),
                         (common_pb2.AnyValue(double_value=1e19), " = 1e+19 is not a token count"),  # past int64
                         (common_pb2.AnyValue(bool_value=True), " is a boolean, not a token count")):
        with pytest.raises(ValueError) as raised:
            usage_of(bad)
        assert str(raised.value) == "gen_ai.usage.input_tokens" + message
    streams = span({**CHAT, "gen_ai.request.stream": True, "gen_ai.response.time_to_first_chunk": 0.25})
    assert {(c.stream, c.time_to_first_chunk) for c in read_all_ways(streams)} == {(True, 0.25)}


def test_variants_keep_their_order_and_the_first_of_a_repeated_key_wins():
    message = span({"ai.model.id": "third", "gen_ai.response.model": "second", "gen_ai.request.model": "first",
                    "gen_ai.provider.name": "openai", "gen_ai.system": "gemini"})
    message.attributes.append(common_pb2.KeyValue(key="gen_ai.request.model", value={"string_value": "repeated"}))
    assert {(c.model, c.provider) for c in read_all_ways(message)} == {("first", "openai")}
    unset_first = span({"gen_ai.provider.name": "openai", "gen_ai.response.model": "second"})
    unset_first.attributes.insert(0, common_pb2.KeyValue(key="gen_ai.request.model"))  # no value: not there
    assert {c.model for c in read_all_ways(unset_first)} == {"second"}


def test_unknown_fields_change_nothing():
    clean = span(CHAT)
    bare = trace_pb2.Span()
    bare.CopyFrom(clean)
    del bare.attributes[:]
    noisy = bytearray(bare.SerializeToString())
    for kv in clean.attributes:  # each attribute with an unknown field (number 100) in it and in its value
        value = kv.value.SerializeToString() + b"\xa0\x06\x01"
        item = (b"\x0a" + bytes([len(kv.key)]) + kv.key.encode() + b"\x12" + bytes([len(value)]) + value
                + b"\xa2\x06\x02hi")
        noisy += b"\x4a" + bytes([len(item)]) + item  # Span.attributes (9), length-delimited
    noisy_span = trace_pb2.Span.FromString(bytes(noisy))
    assert [kv.key for kv in noisy_span.attributes] == [kv.key for kv in clean.attributes]
    assert noisy_span.SerializeToString() != clean.SerializeToString()
    assert read_all_ways(noisy_span) == read_all_ways(clean)


def test_events_and_links_are_not_the_span_s_attributes():
    message = span({"gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o"})
    message.events.add(name="e").attributes.add(key="gen_ai.usage.input_tokens").value.int_value = 5
    message.links.add(trace_id=b"\x03" * 16).attributes.add(key="genai_lens.api_key").value.string_value = "link"
    assert {(c.usage, c.api_key) for c in read_all_ways(message)} == {(None, None)}


def test_the_caller_attributes_are_the_reader_s_own():
    message = span({**CHAT, "tenant.id": "acme", "genai_lens.api_key": "team-a"})
    assert {c.api_key for c in read_all_ways(message, keys=("tenant.id",))} == {"acme"}
    assert {c.api_key for c in read_all_ways(message, keys=("genai_lens.api_key",))} == {"team-a"}
    assert {c.api_key for c in read_all_ways(message, keys=())} == {None}
    resource = [common_pb2.KeyValue(key="user.id", value={"int_value": 42})]
    assert {c.api_key for c in read_all_ways(span(CHAT), resource, keys=("tenant.id", "user.id"))} == {"42"}


def test_bytes_that_are_not_a_span_are_a_value_error():
    with pytest.raises(ValueError, match="not a span"):
        read_span(b"\xff\x00garbage", {})


# ------------------------------------------------------------------ against protobuf's own reading

_VALUES = st.one_of(
    st.text(max_size=3), st.sampled_from(["chat", "openai", "gemini", "openai.chat", "ai.streamText.doStream",
                                          "embeddings", "default", "true", "429", "12", "x" * 200]),
    st.integers(-2**63, 2**63 - 1), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
    st.just("array"), st.just("kvlist"), st.just("bytes"), st.just("unset"))


def _any(value) -> common_pb2.AnyValue:
    if value == "array":
        return common_pb2.AnyValue(array_value={"values": [{"string_value": "stop"}]})
    if value == "kvlist":
        return common_pb2.AnyValue(kvlist_value={"values": [{"key": "k"}]})
    if value == "bytes":
        return common_pb2.AnyValue(bytes_value=b"\x00")
    if value == "unset":
        return common_pb2.AnyValue()
    return _scalar(value)


def _protobuf_reading(message: trace_pb2.Span, keys: tuple) -> dict:
    """``{field: (key, value)}`` read through protobuf's message objects: per field the first set variant."""
    table = {key: (field, rank) for field, variants in ATTRIBUTES.items() for rank, (key, _) in enumerate(variants)}
    table.update({key: ("modality:" + field, 0)
                  for field, variants in MODALITY_ATTRIBUTES.items() for key, _ in variants})
    table["ai.operationId"] = ("operation_id", 0)
    table.update({name: ("api_key", rank) for rank, name in enumerate(keys)})
    found = {}
    for kv in message.attributes:
        if kv.key not in table:
            continue
        field, rank = table[kv.key]
        kind = kv.value.WhichOneof("value")
        value = None if kind in (None, "array_value", "kvlist_value", "bytes_value") else getattr(kv.value, kind)
        if value is None or value == "" or (field in found and found[field][0] <= rank):
            continue
        found[field] = (rank, kv.key, genai_spans._provider(str(value)) if field == "provider" else value)
    return {field: (key, repr(value)) for field, (_, key, value) in found.items()}


@settings(max_examples=300, deadline=None)
@given(attributes=st.lists(st.tuples(st.sampled_from(TABLE + list(KEYS) + ["server.address", "ai.operationId", ""]),
                                     _VALUES), max_size=14))
def test_the_byte_reader_reads_what_protobuf_reads(attributes):
    message = trace_pb2.Span(trace_id=b"\x01" * 16, span_id=b"\x02" * 8)
    for key, value in attributes:
        message.attributes.add(key=key).value.CopyFrom(_any(value))
    (lite,) = spans_of(scope(message))
    for _ in range(2):  # the second time from the reader's cache
        found = genai_spans._collect(lite.attributes, genai_spans._reader(KEYS))
        read = {field: (key, repr(value)) for field, (_, _, key, value) in found.items()}
        assert read == _protobuf_reading(message, KEYS)
