"""Reading a GenAI client span, whatever instrumentation made it: one table of attribute variants.

::

    for span in spans_of(scope_spans):             # a trace_pb2.ScopeSpans
        call = read_span(span, resource_values(resource), key_attributes=("genai_lens.api_key",))
    call.operation, call.provider, call.model, call.usage, call.duration, call.error_type

``ATTRIBUTES`` lists, per field, the span attribute keys that carry it, in the order they are tried,
each with the instrumentation that writes it (docs/any-instrumentation.md has the same table, and a
test keeps the two equal). Provider values are normalised to the semantic conventions'
``gen_ai.provider.name`` values (``PROVIDER_VALUES``). A span is a GenAI call when it has a provider,
a model and an inference operation (chat, generate_content, text_completion, embeddings, or none
given); agent, tool and workflow spans are not calls and are left out, so an agent's span and its
model calls are not counted twice. ``read_span`` returns None for every other span, and raises
``ValueError`` for a GenAI span whose figures are unusable (a negative or non-numeric token count).

``read_span`` takes a span of ``spans_of``, a ``trace_pb2.Span`` or its serialized bytes, and the
resource's ``resource_values``.

Reading fast: a dozen ``KeyValue`` objects made by upb per span cost more than all the rest of a
span, so ``spans_of`` parses the ``ScopeSpans`` again with ``_LiteSpan``, a schema wire-compatible
with trace.proto's ``Span`` that has only the fields read here and leaves each attribute serialized
(``repeated bytes`` where trace.proto has ``repeated KeyValue``). An attribute's key is looked up by
its bytes; only the table's keys have their value decoded, from the bytes when in the shape protobuf
writes (the key, then one string, int, double or bool), else by protobuf itself. What an attribute
reads as is kept per serialized attribute (at most 4096 of them, each at most 256 bytes): spans
repeat their operation, provider, model, tier and server attributes, so those are read once.
"""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from sdk_instrumentation.usage import Usage

__all__ = ["ATTRIBUTES", "MODALITY_ATTRIBUTES", "PROVIDER_VALUES", "SELF_SCOPES", "INFERENCE_OPERATIONS", "SpanCall",
           "read_span", "resource_values", "spans_of"]

# The genai-lens SDK's own tracer: its calls' metrics already come on /v1/metrics.
SELF_SCOPES = frozenset({"sdk_instrumentation"})

SEMCONV = "OpenTelemetry GenAI semantic conventions"
SEMCONV_OLD = "semantic conventions before 1.37 (deprecated), still emitted by OpenLLMetry, LiteLLM, OTel JS"
OPENLIT = "OpenLIT 1.45"
TRACELOOP = "Traceloop OpenLLMetry 0.62"
VERCEL = "Vercel AI SDK 7 (@ai-sdk/otel)"
VERCEL_LEGACY = "Vercel AI SDK, legacy ai.* telemetry"
LITELLM = "LiteLLM OpenTelemetry callback"
GENAI_LENS = "genai-lens (an attribute an app sets)"

# field -> ((attribute key, who writes it), ...), tried in order.
ATTRIBUTES: dict[str, tuple[tuple[str, str], ...]] = {
    "operation": (("gen_ai.operation.name", SEMCONV), ("llm.request.type", TRACELOOP + " (older releases)")),
    "provider": (("gen_ai.provider.name", SEMCONV), ("gen_ai.system", SEMCONV_OLD)),
    "model": (("gen_ai.request.model", SEMCONV), ("gen_ai.response.model", SEMCONV), ("ai.model.id", VERCEL_LEGACY)),
    "input_tokens": (("gen_ai.usage.input_tokens", SEMCONV), ("gen_ai.usage.prompt_tokens", SEMCONV_OLD),
                     ("ai.usage.inputTokens", VERCEL_LEGACY), ("ai.usage.promptTokens", VERCEL_LEGACY + " (v4)")),
    "output_tokens": (("gen_ai.usage.output_tokens", SEMCONV), ("gen_ai.usage.completion_tokens", SEMCONV_OLD),
                      ("ai.usage.outputTokens", VERCEL_LEGACY), ("ai.usage.completionTokens", VERCEL_LEGACY + " (v4)")),
    "cache_read_tokens": (("gen_ai.usage.cache_read.input_tokens", SEMCONV),
                          ("gen_ai.usage.cache_read_input_tokens", SEMCONV_OLD),
                          ("ai.usage.inputTokenDetails.cacheReadTokens", VERCEL_LEGACY),
                          ("ai.usage.cachedInputTokens", VERCEL_LEGACY)),
    "cache_write_tokens": (("gen_ai.usage.cache_write.input_tokens", SEMCONV),
                           ("gen_ai.usage.cache_creation.input_tokens", SEMCONV + " (before the rename to cache_write)"),
                           ("gen_ai.usage.cache_creation_input_tokens", SEMCONV_OLD),
                           ("ai.usage.inputTokenDetails.cacheWriteTokens", VERCEL_LEGACY)),
    "reasoning_tokens": (("gen_ai.usage.reasoning.output_tokens", SEMCONV),
                         ("gen_ai.usage.reasoning_tokens", OPENLIT + ", " + TRACELOOP),
                         ("ai.usage.reasoningTokens", VERCEL_LEGACY)),
    "stream": (("gen_ai.request.stream", SEMCONV + ", " + OPENLIT), ("gen_ai.is_streaming", TRACELOOP),
               ("llm.is_streaming", LITELLM)),
    # seconds, but ai.response.msToFirstChunk (milliseconds)
    "time_to_first_chunk": (("gen_ai.response.time_to_first_chunk", SEMCONV),
                            ("gen_ai.client.operation.time_to_first_chunk", VERCEL),
                            ("gen_ai.server.time_to_first_token", OPENLIT + " (streams only: it is the whole call otherwise)"),
                            ("ai.response.msToFirstChunk", VERCEL_LEGACY + " (milliseconds)")),
    "service_tier": (("openai.response.service_tier", SEMCONV + ", " + OPENLIT + ", " + TRACELOOP),
                     ("gen_ai.openai.response.service_tier", SEMCONV_OLD),
                     ("genai_lens.response.service_tier", GENAI_LENS)),
    "error_type": (("error.type", SEMCONV), ("http.response.status_code", VERCEL + " (400 and above)")),
    "web_search_calls": (("genai_lens.web_search.calls", GENAI_LENS),),
}
# Modality parts of the token counts, priced at their own rates (genai-prices' usage keys, as
# sdk_instrumentation.usage.MODALITY_KEYS): gen_ai.usage.<modality>.input_tokens and the like.
MODALITY_ATTRIBUTES: dict[str, tuple[tuple[str, str], ...]] = {
    f"{part}_{modality}_tokens": ((f"gen_ai.usage.{modality}.{suffix}", SEMCONV),)
    for modality in ("audio", "image", "video")
    for part, suffix in (("input", "input_tokens"), ("output", "output_tokens"))
} | {
    f"cache_{modality}_read_tokens": ((f"gen_ai.usage.{modality}.cache_read.input_tokens", SEMCONV),)
    for modality in ("audio", "image", "video")
}
_MILLISECONDS = {"ai.response.msToFirstChunk"}
_STREAMS_ONLY = {"gen_ai.server.time_to_first_token"}

# gen_ai.system / vendor values -> gen_ai.provider.name (semantic conventions, "deprecated" registry).
PROVIDER_VALUES: dict[str, str] = {
    "gemini": "gcp.gemini", "google_ai_studio": "gcp.gemini", "google.generative-ai": "gcp.gemini",
    "vertex_ai": "gcp.vertex_ai", "vertexai": "gcp.vertex_ai", "google.vertex": "gcp.vertex_ai",
    "az.ai.openai": "azure.ai.openai", "azure": "azure.ai.openai", "azure_openai": "azure.ai.openai",
    "azure-openai": "azure.ai.openai", "az.ai.inference": "azure.ai.inference",
    "xai": "x_ai", "mistral": "mistral_ai", "bedrock": "aws.bedrock",
}
# The Vercel AI SDK's legacy provider strings are "<provider>.<api>" (openai.chat, anthropic.messages).
_VERCEL_API_SUFFIXES = (".chat", ".responses", ".completion", ".embedding", ".messages", ".text")

INFERENCE_OPERATIONS = frozenset({"chat", "generate_content", "text_completion", "embeddings"})
_OPERATION_VALUES = {"completion": "text_completion", "embedding": "embeddings"}
# Vercel legacy spans: the call is the inner doGenerate / doStream / doEmbed span (ai.operationId).
_VERCEL_CALLS = {".doGenerate": ("chat", False), ".doStream": ("chat", True), ".doEmbed": ("embeddings", False)}

_ERROR = trace_pb2.Status.STATUS_CODE_ERROR
_MAX_COUNT = 2**63 - 1  # the largest int attribute: a count above it (a double, a string) is not one


@dataclass(slots=True)
class SpanCall:
    operation: str
    provider: str
    model: str
    duration: float
    usage: Usage | None
    error_type: str | None = None
    stream: bool = False
    time_to_first_chunk: float | None = None
    service_tier: str | None = None
    api_key: str | None = None
    trace_id: bytes = b""
    span_id: bytes = b""
    end_time_unix_nano: int = 0

    @property
    def web_search_calls(self) -> int:
        return self.usage.web_search_calls if self.usage is not None else 0


def resource_values(resource) -> dict:
    """``{key: value}`` of a ``Resource``'s attributes (str, bool, int, float; None for other kinds)."""
    return {kv.key: _value(kv.value) for kv in resource.attributes}


def _value(any_value):
    """An ``AnyValue`` message's value: str, bool, int or float, else None."""
    kind = any_value.WhichOneof("value")
    if kind is None or kind in ("array_value", "kvlist_value", "bytes_value"):
        return None
    return getattr(any_value, kind)


# attribute key (bytes, as on the wire) -> (field, rank, key): every key of the tables, read in one
# pass over a span's attributes.
_KEY_FIELD: dict[bytes, tuple[str, int, str]] = {
    key.encode(): (field, rank, key)
    for field, variants in ATTRIBUTES.items() for rank, (key, _) in enumerate(variants)}
_KEY_FIELD.update({key.encode(): ("modality:" + usage_key, 0, key)
                   for usage_key, variants in MODALITY_ATTRIBUTES.items() for key, _ in variants})
_KEY_FIELD[b"ai.operationId"] = ("operation_id", 0, "ai.operationId")
_MODALITY_FIELDS = frozenset("modality:" + usage_key for usage_key in MODALITY_ATTRIBUTES)
_DETAIL_FIELDS = frozenset({"cache_read_tokens", "cache_write_tokens", "reasoning_tokens", "web_search_calls"})
_READ_CACHE = 4096  # serialized attributes whose reading is kept, per reader (cleared when full) ...
_CACHED_ATTRIBUTE = 256  # ... of at most this many bytes: at most a few MB in all
_DOUBLE = struct.Struct("<d").unpack_from


class _Reader:
    """The keys read for one tuple of caller attributes: ``fields``, ``_KEY_FIELD`` plus the caller
    attributes (field ``api_key``, ranked in their order); ``read``, serialized KeyValue ->
    ``_read_attribute`` of it (False for another key too), for the small attributes seen lately.
    Spans repeat their attributes (operation, provider, model, server address, tier, token counts),
    so most are read once."""

    __slots__ = ("fields", "read")

    def __init__(self, key_attributes: tuple[str, ...]):
        self.fields = {**_KEY_FIELD,
                       **{name.encode(): ("api_key", rank, name) for rank, name in enumerate(key_attributes)}}
        self.read: dict[bytes, tuple[str, int, str, object] | bool] = {}


@functools.lru_cache(maxsize=64)
def _reader(key_attributes: tuple[str, ...]) -> _Reader:
    return _Reader(key_attributes)


# ------------------------------------------------------------------ spans, their attributes serialized

def _lite_classes():
    """``(ScopeSpans, Span)`` classes of a schema wire-compatible with trace.proto's, with only the
    fields read here (field numbers and types as trace.proto; the others are kept as unknown fields)."""
    field = descriptor_pb2.FieldDescriptorProto
    file = descriptor_pb2.FileDescriptorProto(name="genai_lens/lite_trace.proto", package="genai_lens.lite",
                                              syntax="proto3")
    span = file.message_type.add(name="Span")
    for name, number, kind, label in (
            ("trace_id", 1, field.TYPE_BYTES, field.LABEL_OPTIONAL),
            ("span_id", 2, field.TYPE_BYTES, field.LABEL_OPTIONAL),
            ("name", 5, field.TYPE_STRING, field.LABEL_OPTIONAL),
            ("start_time_unix_nano", 7, field.TYPE_FIXED64, field.LABEL_OPTIONAL),
            ("end_time_unix_nano", 8, field.TYPE_FIXED64, field.LABEL_OPTIONAL),
            ("attributes", 9, field.TYPE_BYTES, field.LABEL_REPEATED),  # each a serialized KeyValue
            ("status", 15, field.TYPE_BYTES, field.LABEL_OPTIONAL)):    # a serialized Status
        span.field.add(name=name, number=number, type=kind, label=label)
    scope_spans = file.message_type.add(name="ScopeSpans")
    scope_spans.field.add(name="spans", number=2, type=field.TYPE_MESSAGE, label=field.LABEL_REPEATED,
                          type_name=".genai_lens.lite.Span")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return tuple(message_factory.GetMessageClass(pool.FindMessageTypeByName(f"genai_lens.lite.{name}"))
                 for name in ("ScopeSpans", "Span"))


_LiteScopeSpans, _LiteSpan = _lite_classes()


def spans_of(scope_spans: trace_pb2.ScopeSpans):
    """The spans of a ``ScopeSpans``, for ``read_span``: parsed again from its bytes as ``_LiteSpan``."""
    try:
        return _LiteScopeSpans.FromString(scope_spans.SerializeToString()).spans
    except DecodeError as error:  # never for protobuf's own bytes
        raise ValueError(f"spans not readable: {error}") from None


def _lite(span) -> object:
    try:
        return _LiteSpan.FromString(span if isinstance(span, bytes) else span.SerializeToString())
    except DecodeError as error:
        raise ValueError(f"not a span: {error}") from None


def _attribute_value(kv: bytes, at: int):
    """The value of serialized KeyValue ``kv`` whose value field starts at ``at``, in the shapes protobuf
    writes (``_value``'s result: str, bool, int or float, else None); any other shape is parsed by protobuf."""
    end = len(kv)
    if at + 3 < end and kv[at] == 0x12 and kv[at + 1] < 0x80 and at + 2 + kv[at + 1] == end:
        at += 2  # the AnyValue, to the end of kv: its one field
        tag = kv[at]
        if tag == 0x0A:  # string_value
            if kv[at + 1] < 0x80 and at + 2 + kv[at + 1] == end:
                return kv[at + 2:].decode()
        elif tag == 0x18:  # int_value, an int64 varint: 7 bits a byte, low first, the last byte < 0x80
            size = end - at - 1  # the varint ends kv: nothing after it
            if size == 1 and kv[at + 1] < 0x80:  # under 128, 16,384 and 2,097,152: most counts
                return kv[at + 1]
            if size == 2 and kv[at + 1] >= 0x80 > kv[at + 2]:
                return (kv[at + 1] & 0x7F) | kv[at + 2] << 7
            if size == 3 and kv[at + 1] >= 0x80 and kv[at + 2] >= 0x80 > kv[at + 3]:
                return (kv[at + 1] & 0x7F) | (kv[at + 2] & 0x7F) << 7 | kv[at + 3] << 14
            number, shift = 0, 0
            for byte in kv[at + 1:]:
                number |= (byte & 0x7F) << shift
                shift += 7
                if byte < 0x80:
                    break
            if byte < 0x80 and shift == 7 * (end - at - 1) and number < 1 << 64:  # it ends kv: nothing after it
                return number - (1 << 64) if number >= 1 << 63 else number
        elif tag == 0x21:  # double_value
            if at + 9 == end:
                return _DOUBLE(kv, at + 1)[0]
        elif tag == 0x10:  # bool_value
            if at + 2 == end and kv[at + 1] < 2:
                return kv[at + 1] == 1
    try:
        return _value(common_pb2.KeyValue.FromString(kv).value)
    except DecodeError as error:
        raise ValueError(f"an attribute is not readable: {error}") from None


def _read_attribute(kv: bytes, fields: dict):
    """``(field, rank, key, value)`` of a serialized KeyValue whose key is in ``fields`` and whose value
    is set (not empty, not an array, kvlist or bytes), a provider's value normalised (``_provider``);
    ``False`` for another of those keys; None for another key."""
    if len(kv) > 2 and kv[0] == 0x0A and kv[1] < 0x80:  # the key first, under 128 bytes: as protobuf writes it
        known = fields.get(kv[2:kv[1] + 2])
        if known is None:
            return None
        value = _attribute_value(kv, kv[1] + 2)
    else:
        try:
            parsed = common_pb2.KeyValue.FromString(kv)
        except DecodeError as error:
            raise ValueError(f"an attribute is not readable: {error}") from None
        known = fields.get(parsed.key.encode())
        if known is None:
            return None
        value = _value(parsed.value)
    if value is None or value == "":
        return False
    field, rank, key = known
    return field, rank, key, _provider(str(value)) if field == "provider" else value


def _collect(attributes, reader: _Reader) -> dict:
    """``{field: (field, rank, key, value)}``: per field, the first variant of its list that the span
    has, set (of two attributes of the same key, the first). ``attributes``: serialized KeyValues."""
    found: dict[str, tuple[str, int, str, object]] = {}
    read, fields = reader.read, reader.fields
    for kv in attributes:
        entry = read.get(kv)
        if entry is None:
            entry = _read_attribute(kv, fields) or False  # False: not a key of the table, or not set
            if len(kv) <= _CACHED_ATTRIBUTE:
                if len(read) >= _READ_CACHE:
                    read.clear()
                read[kv] = entry
        if entry:
            current = found.get(entry[0])
            if current is None or entry[1] < current[1]:
                found[entry[0]] = entry
    return found


def _status_code(status: bytes) -> int:
    if not status:
        return 0
    try:
        return trace_pb2.Status.FromString(status).code
    except DecodeError as error:
        raise ValueError(f"the status is not readable: {error}") from None


def _count(found: dict, field: str) -> int | None:
    entry = found.get(field)
    if entry is None:
        return None
    _, _, key, value = entry
    if type(value) is int and value >= 0:  # the common case (an int attribute; a bool is not of type int)
        return value
    if isinstance(value, bool):
        raise ValueError(f"{key} is a boolean, not a token count")
    number = float(value) if isinstance(value, str) else value
    if number != number or number < 0 or number != int(number) or number > _MAX_COUNT:
        raise ValueError(f"{key} = {value!r} is not a token count")
    return int(number)


def _provider(value: str) -> str:
    value = value.strip().lower()
    if value in PROVIDER_VALUES:
        return PROVIDER_VALUES[value]
    for suffix in _VERCEL_API_SUFFIXES:
        if value.endswith(suffix):
            head = value[: -len(suffix)]
            return PROVIDER_VALUES.get(head, head)
    return value


def read_span(span, resource_attributes: dict, key_attributes=()) -> SpanCall | None:
    """The GenAI call a span records, or None when it is not one (see the module docstring).

    ``span``: a span of ``spans_of``, a ``trace_pb2.Span`` or its serialized bytes;
    ``resource_attributes``: its resource's ``resource_values``."""
    if not isinstance(span, _LiteSpan):
        span = _lite(span)
    reader = _reader(key_attributes if type(key_attributes) is tuple else tuple(key_attributes))
    found = _collect(span.attributes, reader)
    provider = found.get("provider")
    model = found.get("model")
    if provider is None or model is None:
        return None
    operation_id = found.get("operation_id")
    stream = False
    if operation_id is not None and isinstance(operation_id[3], str):  # Vercel legacy: only the inner call span
        for suffix, (operation, streamed) in _VERCEL_CALLS.items():
            if operation_id[3].endswith(suffix):
                break
        else:
            return None
        stream = streamed
    else:
        operation = found.get("operation")
        if operation is None:
            operation = "chat"
        else:
            operation = operation[3]
            operation = _OPERATION_VALUES.get(operation, operation) if isinstance(operation, str) else operation
            if operation not in INFERENCE_OPERATIONS:
                return None
    end = span.end_time_unix_nano
    duration = max(end - span.start_time_unix_nano, 0) / 1e9

    error_type = None
    error = found.get("error_type")
    if error is not None:
        _, _, key, value = error
        if key == "error.type":
            error_type = str(value)
        elif str(value).isdigit() and int(value) >= 400:
            error_type = str(int(value))
    if error_type is None and span.status and _status_code(span.status) == _ERROR:
        error_type = "_OTHER"  # the semantic conventions' value for an error of no known type

    flag = found.get("stream")
    if flag is not None:
        value = flag[3]
        stream = stream or value is True or (isinstance(value, str) and value.strip().lower() == "true")
    ttfc = None
    first = found.get("time_to_first_chunk")
    if first is not None:
        _, _, key, value = first
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
            ttfc = value / 1000 if key in _MILLISECONDS else float(value)
            if key in _STREAMS_ONLY:
                if not stream:
                    ttfc = None
            else:
                stream = True  # only streams have a first chunk

    input_tokens = _count(found, "input_tokens")
    output_tokens = _count(found, "output_tokens")
    usage = None
    if input_tokens is not None or output_tokens is not None:
        modality = None
        if not _MODALITY_FIELDS.isdisjoint(found):
            for usage_key in MODALITY_ATTRIBUTES:
                count = _count(found, "modality:" + usage_key)
                if count:
                    modality = modality or {}
                    modality[usage_key] = count
        if _DETAIL_FIELDS.isdisjoint(found) and modality is None:
            usage = Usage(input_tokens or 0, output_tokens or 0)
        else:
            usage = Usage(input_tokens or 0, output_tokens or 0, _count(found, "cache_read_tokens") or 0,
                          _count(found, "cache_write_tokens") or 0, _count(found, "reasoning_tokens") or 0,
                          _count(found, "web_search_calls") or 0, modality)

    tier = found.get("service_tier")
    api_key = None
    on_span = found.get("api_key")  # the span's attribute earliest in key_attributes
    for name in key_attributes:  # in order; for each name the span's attribute, then the resource's
        if on_span is not None and on_span[2] == name:
            api_key = str(on_span[3])
            break
        value = resource_attributes.get(name)
        if value is not None and str(value) != "":
            api_key = str(value)
            break
    return SpanCall(operation, provider[3], str(model[3]), duration, usage, error_type, stream, ttfc,
                    str(tier[3]) if tier is not None else None, api_key, span.trace_id, span.span_id, end)
