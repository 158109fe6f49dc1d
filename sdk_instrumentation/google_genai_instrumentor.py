"""OpenTelemetry instrumentation for the ``google-genai`` client.

    from sdk_instrumentation import GoogleGenAIInstrumentor
    GoogleGenAIInstrumentor().instrument()
    ...
    GoogleGenAIInstrumentor().uninstrument()

Covers ``models.generate_content``, ``models.generate_content_stream`` and
``models.embed_content`` and their ``client.aio`` twins. The provider is
``gcp.vertex_ai`` when the client runs in Vertex AI mode, else ``gcp.gemini``.
Input tokens are ``prompt_token_count`` (cached tokens included) plus
``tool_use_prompt_token_count``; output tokens are ``candidates_token_count``
plus ``thoughts_token_count``. Grounding with Google Search counts web search
calls the way Google bills them: one per grounded prompt before Gemini 3, one
per search query the response reports from Gemini 3 on.
"""

from __future__ import annotations

import functools
from typing import Any, Collection

import wrapt
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor
from opentelemetry.instrumentation.utils import unwrap

from . import attributes as a
from .client_options import get_options
from .providers import server_address
from .streams import AsyncTracedStream, TracedStream
from .telemetry import Call, Telemetry
from .wrappers import make_wrapper, telemetry_from
from .usage import Usage

__all__ = ["GoogleGenAIInstrumentor"]

_MODULE = "google.genai.models"
# (class, method, operation, streaming)
_PATCHES = (
    ("Models", "generate_content", "generate_content", False),
    ("Models", "generate_content_stream", "generate_content", True),
    ("Models", "embed_content", "embeddings", False),
    ("AsyncModels", "generate_content", "generate_content", False),
    ("AsyncModels", "generate_content_stream", "generate_content", True),
    ("AsyncModels", "embed_content", "embeddings", False),
)


class GoogleGenAIInstrumentor(BaseInstrumentor):
    """Instruments ``google-genai``; takes the same ``instrument()`` arguments as ``OpenAIInstrumentor``."""

    telemetry: Telemetry | None = None
    all_clients: bool = True

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("google-genai >= 1.20",)

    def _instrument(self, **kwargs: Any) -> None:
        type(self).telemetry = telemetry_from(kwargs)
        type(self).all_clients = kwargs.get("all_clients", True)
        for cls, method, operation, stream in _PATCHES:
            start = functools.partial(_start, self, operation, stream)
            wrapper = make_wrapper(start, _handle_result, is_async=cls.startswith("Async"), where=f"google_genai.{method}")
            wrapt.wrap_function_wrapper(_MODULE, f"{cls}.{method}", wrapper)

    def _uninstrument(self, **kwargs: Any) -> None:
        import google.genai.models as models

        for cls, method, _, _ in _PATCHES:
            unwrap(getattr(models, cls), method)
        type(self).telemetry = None


def _model_name(model) -> str | None:
    if not isinstance(model, str):
        return None
    for prefix in ("models/", "publishers/google/models/"):
        if model.startswith(prefix):
            return model[len(prefix):]
    if "/publishers/google/models/" in model:
        return model.rsplit("/", 1)[-1]
    return model


def _config_value(config, name: str):
    if config is None:
        return None
    if isinstance(config, dict):
        return config.get(name)
    return getattr(config, name, None)


def _web_search_requested(config) -> bool:
    for tool in _config_value(config, "tools") or ():
        for name in ("google_search", "googleSearch", "google_search_retrieval", "googleSearchRetrieval"):
            if _config_value(tool, name) is not None:
                return True
    return False


def _start(instrumentor: GoogleGenAIInstrumentor, operation: str, stream: bool, instance, kwargs: dict):
    """Open the call: ``(call, kwargs, operation)``, or None to pass through."""
    telemetry = instrumentor.telemetry
    if telemetry is None:
        return None
    api_client = getattr(instance, "_api_client", None)
    options = get_options(api_client)
    if options is None and not instrumentor.all_clients:
        return None
    vertex = bool(getattr(api_client, "vertexai", False))
    provider = (options and options.provider) or ("gcp.vertex_ai" if vertex else "gcp.gemini")
    http_options = getattr(api_client, "_http_options", None)
    host, port = server_address(getattr(http_options, "base_url", None) or "")
    config = kwargs.get("config")
    request_attributes = {}
    for key, name in (("temperature", a.REQUEST_TEMPERATURE), ("top_p", a.REQUEST_TOP_P), ("max_output_tokens", a.REQUEST_MAX_TOKENS)):
        value = _config_value(config, key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            request_attributes[name] = value
    tier = _config_value(config, "service_tier")
    tier = getattr(tier, "value", tier)
    if isinstance(tier, str) and tier:
        request_attributes[a.REQUEST_SERVICE_TIER] = tier.lower()
    call = telemetry.start_call(
        operation=operation, provider=provider, request_model=_model_name(kwargs.get("model")),
        api_key=getattr(api_client, "api_key", None), key_label=options.api_key_alias if options else None,
        stream=stream, server_address=host, server_port=port, web_search=_web_search_requested(config),
        request_attributes=request_attributes, extra_attributes=options.attributes if options else None,
        input_messages=kwargs.get("contents") if operation != "embeddings" else None,
    )
    return call, kwargs, operation


def gemini_usage(metadata, web_search_calls: int = 0) -> Usage | None:
    if metadata is None:
        return None
    prompt = metadata.prompt_token_count or 0
    tool_prompt = getattr(metadata, "tool_use_prompt_token_count", None) or 0
    candidates = getattr(metadata, "candidates_token_count", None) or 0
    thoughts = getattr(metadata, "thoughts_token_count", None) or 0
    return Usage(
        input_tokens=prompt + tool_prompt,
        output_tokens=candidates + thoughts,
        cache_read_tokens=getattr(metadata, "cached_content_token_count", None) or 0,
        reasoning_tokens=thoughts,
        web_search_calls=web_search_calls,
        modality_tokens=_modality_tokens(metadata),
    )


def gemini_service_tier(response) -> str | None:
    """The tier a call was billed at: the Gemini API's ``x-gemini-service-tier`` response header
    (``flex``, ``priority``; ``standard`` when Priority fell back) or a ``serviceTier`` in the usage,
    else Vertex AI's ``trafficType`` (``ON_DEMAND_FLEX`` -> ``flex``, ``PROVISIONED_THROUGHPUT`` ->
    ``provisioned_throughput``); None for the standard tier or when the response says nothing."""
    if response is None:
        return None
    headers = getattr(getattr(response, "sdk_http_response", None), "headers", None)
    metadata = getattr(response, "usage_metadata", None)
    values = [headers.get("x-gemini-service-tier") if isinstance(headers, dict) else None,
              getattr(metadata, "service_tier", None), getattr(metadata, "traffic_type", None)]
    for value in values:
        value = str(getattr(value, "value", value) or "").lower()
        if value.startswith("on_demand"):
            value = value[len("on_demand"):].lstrip("_")
        if value and value not in ("unspecified", "standard", "traffic_type_unspecified"):
            return value
    return None


# usageMetadata's per-modality breakdowns -> the Usage.modality_tokens key of each modality, as
# genai-prices' Google extractor reads them (DOCUMENT counts as image; TEXT is the rest).
_MODALITY_DETAILS = (
    ("prompt_tokens_details", {"AUDIO": "input_audio_tokens", "IMAGE": "input_image_tokens",
                               "DOCUMENT": "input_image_tokens", "VIDEO": "input_video_tokens"}),
    ("tool_use_prompt_tokens_details", {"AUDIO": "input_audio_tokens", "IMAGE": "input_image_tokens",
                                        "DOCUMENT": "input_image_tokens", "VIDEO": "input_video_tokens"}),
    ("cache_tokens_details", {"AUDIO": "cache_audio_read_tokens", "IMAGE": "cache_image_read_tokens",
                              "DOCUMENT": "cache_image_read_tokens", "VIDEO": "cache_video_read_tokens"}),
    ("candidates_tokens_details", {"AUDIO": "output_audio_tokens", "IMAGE": "output_image_tokens",
                                   "DOCUMENT": "output_image_tokens", "VIDEO": "output_video_tokens"}),
)


def _modality_tokens(metadata) -> dict[str, int] | None:
    """The non-text token counts of promptTokensDetails, toolUsePromptTokensDetails, cacheTokensDetails
    and candidatesTokensDetails; None for a text-only call (the common case, nothing to build)."""
    parts = None
    for field, keys in _MODALITY_DETAILS:
        for detail in getattr(metadata, field, None) or ():
            modality = getattr(detail, "modality", None)
            key = keys.get(str(getattr(modality, "value", modality)).upper())
            count = getattr(detail, "token_count", None)
            if key is not None and isinstance(count, int) and count > 0:
                if parts is None:
                    parts = {}
                parts[key] = parts.get(key, 0) + count
    return parts


def _web_search_calls(response, per_query: bool) -> int:
    """Search queries in the grounding metadata, or 1 per grounded prompt when billed that way."""
    total = 0
    for candidate in getattr(response, "candidates", None) or ():
        grounding = getattr(candidate, "grounding_metadata", None)
        if grounding is not None:
            total += len(getattr(grounding, "web_search_queries", None) or ())
    return total if per_query else min(total, 1)


def _billed_per_query(model: str) -> bool:
    """Gemini 3 and later bill grounding per search query; earlier models per grounded prompt."""
    return not model.startswith(("gemini-1", "gemini-2"))


def _finish_reasons(response) -> list[str]:
    reasons = []
    for candidate in getattr(response, "candidates", None) or ():
        reason = getattr(candidate, "finish_reason", None)
        if reason is not None:
            reasons.append(str(getattr(reason, "value", reason)).lower())
    return reasons


def _read_response(call: Call, operation: str, response) -> None:
    if operation == "embeddings":
        metadata = getattr(response, "usage_metadata", None)
        tokens = getattr(metadata, "prompt_token_count", None) if metadata is not None else None
        if tokens is None:  # Vertex AI :predict models (text-embedding-*) report tokens per embedding
            counts = [getattr(getattr(e, "statistics", None), "token_count", None) for e in getattr(response, "embeddings", None) or ()]
            if counts and all(isinstance(c, (int, float)) for c in counts):
                tokens = int(sum(counts))
        if isinstance(tokens, int):
            call.set_usage(Usage(input_tokens=tokens))
        return
    call.set_response(getattr(response, "model_version", None), getattr(response, "response_id", None), _finish_reasons(response))
    metadata = getattr(response, "usage_metadata", None)
    call.set_usage(gemini_usage(metadata, _web_search_calls(response, _billed_per_query(call.request_model))))
    call.set_service_tier(gemini_service_tier(response), a.RESPONSE_SERVICE_TIER)
    if call.telemetry.capture_content:
        call.set_output(getattr(response, "text", None))


def _has_content(chunk) -> bool:
    for candidate in chunk.candidates or ():
        content = candidate.content
        if content is not None and content.parts:
            return True
    return False


class _StreamHandler:
    __slots__ = ("call", "last", "searches", "reasons", "per_query")

    def __init__(self, call: Call):
        self.call = call
        self.last = None
        self.searches = 0
        self.reasons: list[str] = []
        self.per_query = _billed_per_query(call.request_model)

    def process(self, chunk) -> bool:
        if _has_content(chunk):
            self.call.chunk()
        if chunk.usage_metadata is not None:
            self.last = chunk
        searches = _web_search_calls(chunk, self.per_query)
        if searches > self.searches:
            self.searches = searches
        if chunk.candidates and chunk.candidates[0].finish_reason is not None:
            self.reasons = _finish_reasons(chunk)
        return False

    def finish(self, error) -> None:
        call = self.call
        if call.ended:
            return
        call.done()
        last = self.last
        if last is not None:
            call.set_response(getattr(last, "model_version", None), getattr(last, "response_id", None), self.reasons)
            call.set_usage(gemini_usage(last.usage_metadata, self.searches))
            call.set_service_tier(gemini_service_tier(last), a.RESPONSE_SERVICE_TIER)
        call.end(error)


def _handle_result(result, call: Call, operation: str, is_async: bool):
    if call.stream:
        handler = _StreamHandler(call)
        return AsyncTracedStream(result, handler) if is_async else TracedStream(result, handler)
    call.done()
    _read_response(call, operation, result)
    call.end()
    return result
