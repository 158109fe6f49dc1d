"""Reading a GenAI client span, whatever instrumentation made it: one table of attribute variants.

::

    call = read_span(span, resource_attributes, key_attributes=("genai_lens.api_key",))
    call.operation, call.provider, call.model, call.usage, call.duration, call.error_type

``ATTRIBUTES`` lists, per field, the span attribute keys that carry it, in the order they are tried,
each with the instrumentation that writes it (docs/any-instrumentation.md has the same table, and a
test keeps the two equal). Provider values are normalised to the semantic conventions'
``gen_ai.provider.name`` values (``PROVIDER_VALUES``). A span is a GenAI call when it has a provider,
a model and an inference operation (chat, generate_content, text_completion, embeddings, or none
given); agent, tool and workflow spans are not calls and are left out, so an agent's span and its
model calls are not counted twice. ``read_span`` returns None for every other span, and raises
``ValueError`` for a GenAI span whose figures are unusable (a negative or non-numeric token count).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from opentelemetry.proto.trace.v1 import trace_pb2

from sdk_instrumentation.usage import Usage

__all__ = ["ATTRIBUTES", "MODALITY_ATTRIBUTES", "PROVIDER_VALUES", "SELF_SCOPES", "INFERENCE_OPERATIONS", "SpanCall", "read_span"]

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

    @property
    def web_search_calls(self) -> int:
        return self.usage.web_search_calls if self.usage is not None else 0


def _value(any_value):
    kind = any_value.WhichOneof("value")
    if kind is None or kind in ("array_value", "kvlist_value", "bytes_value"):
        return None
    return getattr(any_value, kind)


# attribute key -> (field, rank): every key of the tables, read in one pass over a span's attributes.
_KEY_FIELD: dict[str, tuple[str, int]] = {
    key: (field, rank) for field, variants in ATTRIBUTES.items() for rank, (key, _) in enumerate(variants)}
_KEY_FIELD.update({key: ("modality:" + usage_key, 0)
                   for usage_key, variants in MODALITY_ATTRIBUTES.items() for key, _ in variants})
_KEY_FIELD["ai.operationId"] = ("operation_id", 0)


@functools.lru_cache(maxsize=64)
def _lookup(key_attributes: tuple[str, ...]) -> dict[str, tuple[str, int]]:
    """``_KEY_FIELD`` plus the caller attributes (field ``api_key``, ranked in their order)."""
    return {**_KEY_FIELD, **{name: ("api_key", rank) for rank, name in enumerate(key_attributes)}}


def _collect(span, lookup: dict) -> dict:
    """``{field: (key, value)}``: per field, the first variant of its list that the span has, set."""
    found: dict[str, tuple[int, str, object]] = {}
    for kv in span.attributes:
        entry = lookup.get(kv.key)
        if entry is None:
            continue
        field, rank = entry
        current = found.get(field)
        if current is not None and current[0] <= rank:
            continue
        value = _value(kv.value)
        if value is None or value == "":
            continue
        found[field] = (rank, kv.key, value)
    return {field: (key, value) for field, (_, key, value) in found.items()}


def _count(found: dict, field: str) -> int | None:
    entry = found.get(field)
    if entry is None:
        return None
    key, value = entry
    if isinstance(value, bool):
        raise ValueError(f"{key} is a boolean, not a token count")
    number = float(value) if isinstance(value, str) else value
    if number != number or number < 0 or number != int(number):
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
    """The GenAI call a span records, or None when it is not one (see the module docstring)."""
    found = _collect(span, _lookup(tuple(key_attributes)))
    provider = found.get("provider")
    model = found.get("model")
    if provider is None or model is None:
        return None
    operation_id = found.get("operation_id")
    stream = False
    if operation_id is not None and isinstance(operation_id[1], str):  # Vercel legacy: only the inner call span
        for suffix, (operation, streamed) in _VERCEL_CALLS.items():
            if operation_id[1].endswith(suffix):
                break
        else:
            return None
        stream = streamed
    else:
        operation = found.get("operation")
        if operation is None:
            operation = "chat"
        else:
            operation = operation[1]
            operation = _OPERATION_VALUES.get(operation, operation) if isinstance(operation, str) else operation
            if operation not in INFERENCE_OPERATIONS:
                return None
    duration = max(span.end_time_unix_nano - span.start_time_unix_nano, 0) / 1e9

    error_type = None
    error = found.get("error_type")
    if error is not None:
        key, value = error
        if key == "error.type":
            error_type = str(value)
        elif str(value).isdigit() and int(value) >= 400:
            error_type = str(int(value))
    if error_type is None and span.status.code == _ERROR:
        error_type = "_OTHER"  # the semantic conventions' value for an error of no known type

    flag = found.get("stream")
    if flag is not None:
        value = flag[1]
        stream = stream or value is True or (isinstance(value, str) and value.strip().lower() == "true")
    ttfc = None
    first = found.get("time_to_first_chunk")
    if first is not None:
        key, value = first
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
        for usage_key in MODALITY_ATTRIBUTES:
            count = _count(found, "modality:" + usage_key)
            if count:
                modality = modality or {}
                modality[usage_key] = count
        usage = Usage(input_tokens=input_tokens or 0, output_tokens=output_tokens or 0,
                      cache_read_tokens=_count(found, "cache_read_tokens") or 0,
                      cache_write_tokens=_count(found, "cache_write_tokens") or 0,
                      reasoning_tokens=_count(found, "reasoning_tokens") or 0,
                      web_search_calls=_count(found, "web_search_calls") or 0,
                      modality_tokens=modality)

    tier = found.get("service_tier")
    api_key = None
    on_span = found.get("api_key")  # the span's attribute earliest in key_attributes
    for name in key_attributes:  # in order; for each name the span's attribute, then the resource's
        if on_span is not None and on_span[0] == name:
            api_key = str(on_span[1])
            break
        if name in resource_attributes:
            value = _value(resource_attributes[name])
            if value is not None and str(value) != "":
                api_key = str(value)
                break
    return SpanCall(operation=operation, provider=_provider(str(provider[1])), model=str(model[1]), duration=duration,
                    usage=usage, error_type=error_type, stream=stream, time_to_first_chunk=ttfc,
                    service_tier=str(tier[1]) if tier is not None else None, api_key=api_key)
