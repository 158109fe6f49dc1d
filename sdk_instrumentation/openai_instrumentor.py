"""OpenTelemetry instrumentation for the ``openai`` client.

    from sdk_instrumentation import OpenAIInstrumentor
    OpenAIInstrumentor().instrument()          # every OpenAI / AsyncOpenAI client
    ...
    OpenAIInstrumentor().uninstrument()        # everything patched is restored

Covers, sync and async: ``chat.completions.create`` (plain and ``stream=True``),
``responses.create`` (plain and streaming) and ``embeddings.create``, including
``with_raw_response`` and ``with_streaming_response``. The provider comes from
the client's base URL (``providers.endpoint``), so Azure OpenAI,
DeepSeek, Groq, xAI, Gemini's OpenAI-compatible endpoint and gateways are named
right. For streamed chat completions genai-lens asks for usage
(``stream_options.include_usage``) when the caller did not, and hides that extra
usage-only chunk from the caller.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Collection

import wrapt
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor
from opentelemetry.instrumentation.utils import unwrap

from . import attributes as a
from .client_options import get_options
from .providers import endpoint
from .safety import guard
from .streams import AsyncTracedStream, TracedStream
from .telemetry import Call, Telemetry
from .wrappers import make_wrapper, telemetry_from
from .usage import COST_SOURCE_PROVIDER, Cost, Usage

__all__ = ["OpenAIInstrumentor"]

_PATCHES = (
    ("openai.resources.chat.completions.completions", "Completions", "chat", False),
    ("openai.resources.chat.completions.completions", "AsyncCompletions", "chat", True),
    ("openai.resources.responses.responses", "Responses", "responses", False),
    ("openai.resources.responses.responses", "AsyncResponses", "responses", True),
    ("openai.resources.embeddings", "Embeddings", "embeddings", False),
    ("openai.resources.embeddings", "AsyncEmbeddings", "embeddings", True),
)
_OPERATION = {"chat": "chat", "responses": "chat", "embeddings": "embeddings"}


class OpenAIInstrumentor(BaseInstrumentor):
    """Instruments the ``openai`` client. ``instrument()`` keyword arguments:

    ``tracer_provider``, ``meter_provider``, ``pricing`` (a ``Pricing``),
    ``labeler`` (an ``ApiKeyLabeler``), ``capture_content`` (bool),
    ``attributes`` (extra attributes on every span and metric),
    ``all_clients`` (default True; False instruments only clients passed to
    ``instrument_client``).
    """

    telemetry: Telemetry | None = None
    all_clients: bool = True

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("openai >= 1.60",)

    def _instrument(self, **kwargs: Any) -> None:
        type(self).telemetry = telemetry_from(kwargs)
        type(self).all_clients = kwargs.get("all_clients", True)
        for module, cls, kind, is_async in _PATCHES:
            start = functools.partial(_start, self, kind)
            wrapper = make_wrapper(start, _handle_result, is_async=is_async, where=f"openai.{kind}")
            wrapt.wrap_function_wrapper(module, f"{cls}.create", wrapper)

    def _uninstrument(self, **kwargs: Any) -> None:
        import importlib

        for module, cls, _, _ in _PATCHES:
            unwrap(getattr(importlib.import_module(module), cls), "create")
        type(self).telemetry = None


# -- starting a call --------------------------------------------------------------

def _start(instrumentor: OpenAIInstrumentor, kind: str, instance, kwargs: dict):
    """Open the call: ``(call, kwargs to send, (kind, whether a usage chunk was injected))``, or None."""
    telemetry = instrumentor.telemetry
    if telemetry is None:
        return None
    client = getattr(instance, "_client", None)
    options = get_options(client)
    if options is None and not instrumentor.all_clients:
        return None
    stream = kwargs.get("stream") is True
    injected = False
    if stream and kind == "chat":
        stream_options = kwargs.get("stream_options")
        if not isinstance(stream_options, dict) or not stream_options.get("include_usage"):
            base = stream_options if isinstance(stream_options, dict) else {}
            kwargs = {**kwargs, "stream_options": {**base, "include_usage": True}}
            injected = True
    model = kwargs.get("model")
    model = model if isinstance(model, str) else None
    provider, host, port = endpoint(_base_url(client))
    if options is not None and options.provider:
        provider = options.provider
    web_search = _web_search_requested(kind, model, kwargs)
    call = telemetry.start_call(
        operation=_OPERATION[kind], provider=provider, request_model=model,
        api_key=getattr(client, "api_key", None), key_label=options.api_key_alias if options else None,
        stream=stream, server_address=host, server_port=port, web_search=web_search,
        request_attributes=_request_attributes(kwargs), extra_attributes=options.attributes if options else None,
        input_messages=kwargs.get("messages") if kind == "chat" else kwargs.get("input") if kind == "responses" else None,
    )
    return call, kwargs, (kind, injected)


def _base_url(client):
    """The client's base URL object. ``client._base_url`` first: the ``base_url`` property of
    recent clients runs an import statement on every read."""
    try:
        url = client.__dict__.get("_base_url")
    except AttributeError:
        url = None
    return url if url is not None else getattr(client, "base_url", "")


def _web_search_requested(kind: str, model: str | None, kwargs: dict) -> bool:
    if kind == "responses":
        tools = kwargs.get("tools")
        if isinstance(tools, (list, tuple)):
            return any(isinstance(t, dict) and str(t.get("type", "")).startswith("web_search") for t in tools)
        return False
    if kind == "chat":
        return isinstance(kwargs.get("web_search_options"), dict) or bool(model and "search" in model)
    return False


_REQUEST_PARAMETERS = frozenset(("temperature", "top_p", "max_tokens", "max_completion_tokens", "max_output_tokens",
                                 "service_tier"))


def _request_attributes(kwargs: dict) -> dict | None:
    if _REQUEST_PARAMETERS.isdisjoint(kwargs):  # the common case: none given
        return None
    attrs = {}
    for key, name in (("temperature", a.REQUEST_TEMPERATURE), ("top_p", a.REQUEST_TOP_P)):
        value = kwargs.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            attrs[name] = value
    for key in ("max_tokens", "max_completion_tokens", "max_output_tokens"):
        value = kwargs.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            attrs[a.REQUEST_MAX_TOKENS] = value
    tier = kwargs.get("service_tier")
    if isinstance(tier, str) and tier:
        attrs[a.OPENAI_REQUEST_SERVICE_TIER] = tier
    return attrs


# -- results ----------------------------------------------------------------------

def _handle_result(result, call: Call, context: tuple[str, bool], is_async: bool):
    kind, injected = context
    if _is_raw(result):
        return (AsyncRawResponse if _has_async_parse(result) else RawResponse)(result, call, kind, injected)
    if call.stream:
        handler = _StreamHandler(call, kind, injected)
        return AsyncTracedStream(result, handler) if is_async else TracedStream(result, handler)
    call.done()
    _read_response(call, kind, result)
    call.end()
    return result


_raw_types: dict[type, bool] = {}


def _is_raw(result) -> bool:
    """A ``with_raw_response`` / ``with_streaming_response`` answer (decided once per type:
    ``hasattr`` on a missing attribute of a pydantic model costs an exception)."""
    cls = type(result)
    raw = _raw_types.get(cls)
    if raw is None:
        raw = _raw_types[cls] = hasattr(result, "http_response") and hasattr(result, "parse")
    return raw


def _has_async_parse(result) -> bool:
    import inspect

    return inspect.iscoroutinefunction(getattr(type(result), "parse", None))


# -- reading responses ---------------------------------------------------------------

_EMPTY: dict = {}


def _values(obj) -> dict:
    """The fields of a response object as a dict, read without raising: the openai types are
    pydantic models, whose ``getattr`` of a missing field goes through a slow AttributeError, so
    declared fields come from ``__dict__`` and extra ones (a gateway's ``usage.cost``, a newer
    ``image_tokens``) from ``__pydantic_extra__``; nested extras are already dicts."""
    if obj is None:
        return _EMPTY
    if isinstance(obj, dict):
        return obj
    values = getattr(obj, "__dict__", None)
    if values is None:
        return _EMPTY
    extra = getattr(obj, "__pydantic_extra__", None)
    return {**values, **extra} if extra else values


def _int(value) -> int:
    return value if isinstance(value, int) and value > 0 else 0


def _usage(values: dict, input_key: str, output_key: str, input_details: str, output_details: str,
           web_search_calls: int) -> Usage:
    """A ``Usage`` from the fields of a chat (``prompt_tokens``...) or Responses (``input_tokens``...)
    usage object: the totals, the cached, cache-write, reasoning, audio and image parts, and the
    cost a gateway reports."""
    inputs, outputs = _values(values.get(input_details)), _values(values.get(output_details))
    parts = None
    for details, prefix in ((inputs, "input_"), (outputs, "output_")):
        audio, image = _int(details.get("audio_tokens")), _int(details.get("image_tokens"))
        if audio or image:
            if parts is None:
                parts = {}
            if audio:
                parts[prefix + "audio_tokens"] = audio
            if image:
                parts[prefix + "image_tokens"] = image
    return Usage(
        input_tokens=values.get(input_key) or 0,
        output_tokens=values.get(output_key) or 0,
        cache_read_tokens=_int(inputs.get("cached_tokens")),
        cache_write_tokens=_int(inputs.get("cache_write_tokens")),
        reasoning_tokens=_int(outputs.get("reasoning_tokens")),
        web_search_calls=web_search_calls,
        modality_tokens=parts,
        provider_cost=provider_cost(values) if "cost" in values else None,
    )


def chat_usage(usage, web_search_calls: int = 0) -> Usage | None:
    if usage is None:
        return None
    return _usage(_values(usage), "prompt_tokens", "completion_tokens", "prompt_tokens_details",
                  "completion_tokens_details", web_search_calls)


def responses_usage(response) -> Usage | None:
    usage = getattr(response, "usage", None)
    if usage is None:
        return None
    searches = sum(1 for item in (getattr(response, "output", None) or ()) if getattr(item, "type", None) == "web_search_call")
    return _usage(_values(usage), "input_tokens", "output_tokens", "input_tokens_details", "output_tokens_details",
                  searches)


def _usd(value) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0:
        return float(value)
    return None


def provider_cost(usage) -> Cost | float | None:
    """The cost the response itself reports, in USD: a total (float) or a split (Cost); None if none.

    ``usage`` is the usage object or its fields (``_values``).

    - OpenRouter (and gateways that copy it): ``usage.cost`` in credits (1 credit = 1 USD); for a
      BYOK call (``is_byok``) the upstream provider also bills ``cost_details.upstream_inference_cost``
      to the user's own account, so the call cost both.
    - Perplexity: ``usage.cost`` is an object: ``input_tokens_cost``, ``output_tokens_cost``,
      ``request_cost`` and ``total_cost``.
    """
    values = _values(usage)
    cost = values.get("cost")
    if cost is None:
        return None
    total = _usd(cost)
    if total is not None:
        if values.get("is_byok") is True:
            total += _usd(_values(values.get("cost_details")).get("upstream_inference_cost")) or 0.0
        return total
    cost = _values(cost)
    total = _usd(cost.get("total_cost"))
    if total is None:
        return None
    input_cost = _usd(cost.get("input_tokens_cost")) or 0.0
    output_cost = _usd(cost.get("output_tokens_cost")) or 0.0
    return Cost(input=input_cost, output=output_cost, other=max(0.0, total - input_cost - output_cost),
                source=COST_SOURCE_PROVIDER)


def _read_response(call: Call, kind: str, response) -> None:
    if kind == "chat":
        choices = getattr(response, "choices", None) or ()
        call.set_response(getattr(response, "model", None), getattr(response, "id", None),
                          [c.finish_reason for c in choices if getattr(c, "finish_reason", None)])
        call.set_usage(chat_usage(getattr(response, "usage", None), 1 if call.web_search else 0))
        call.set_service_tier(getattr(response, "service_tier", None))
        if call.telemetry.capture_content:
            call.set_output([{"role": "assistant", "content": getattr(c.message, "content", None)} for c in choices])
    elif kind == "responses":
        status = getattr(response, "status", None)
        call.set_response(getattr(response, "model", None), getattr(response, "id", None), [status] if status else None)
        call.set_usage(responses_usage(response))
        call.set_service_tier(getattr(response, "service_tier", None))
        if call.telemetry.capture_content:
            call.set_output(getattr(response, "output_text", None))
    else:
        usage = getattr(response, "usage", None)
        call.set_response(getattr(response, "model", None))
        if usage is not None:
            call.set_usage(Usage(input_tokens=usage.prompt_tokens or 0))


class _StreamHandler:
    """Reads chat chunks or Responses events as they pass; see ``streams``.

    ``process`` runs once per chunk, so it is the chat or the Responses reader, chosen up front."""

    __slots__ = ("call", "kind", "hide_usage", "usage", "model", "response_id", "finish_reasons", "response", "process",
                 "service_tier")

    def __init__(self, call: Call, kind: str, hide_usage: bool):
        self.call = call
        self.kind = kind
        self.hide_usage = hide_usage
        self.usage = None
        self.model = None
        self.response_id = None
        self.finish_reasons: list[str] = []
        self.response = None
        self.service_tier = None
        self.process = self._chat_chunk if kind == "chat" else self._responses_event

    def _chat_chunk(self, item) -> bool:
        """Whether to hide ``item`` from the caller (the usage-only chunk genai-lens asked for)."""
        if self.model is None:
            self.model = getattr(item, "model", None)
            self.response_id = getattr(item, "id", None)
            self.service_tier = getattr(item, "service_tier", None)
        choices = item.choices
        if choices:
            for choice in choices:
                delta = choice.delta
                if delta is not None and (delta.content or delta.tool_calls or delta.refusal):
                    self.call.chunk()
                    break
            for choice in choices:
                if choice.finish_reason:
                    self.finish_reasons.append(choice.finish_reason)
        usage = item.usage
        if usage is not None:
            self.usage = usage
            return self.hide_usage and not choices
        return False

    def _responses_event(self, item) -> bool:
        event_type = getattr(item, "type", "")
        if event_type.endswith(".delta"):
            self.call.chunk()
        elif event_type in ("response.completed", "response.incomplete", "response.failed"):
            self.response = getattr(item, "response", None)
        return False

    def finish(self, error) -> None:
        call = self.call
        if call.ended:
            return
        call.done()
        if self.kind == "chat":
            call.set_response(self.model, self.response_id, self.finish_reasons)
            call.set_usage(chat_usage(self.usage, 1 if call.web_search and self.usage is not None else 0))
            call.set_service_tier(self.service_tier)
        elif self.response is not None:
            _read_response(call, "responses", self.response)
        call.end(error)


# -- with_raw_response / with_streaming_response ------------------------------------

class RawResponse(wrapt.ObjectProxy):
    """A raw response; the call ends when the caller parses it (or drops it)."""

    def __init__(self, wrapped, call: Call, kind: str, injected: bool):
        super().__init__(wrapped)
        self._self_call = call
        self._self_kind = kind
        self._self_injected = injected
        self._self_stream = None
        if not call.stream:
            call.done()

    def parse(self, *args, **kwargs):
        parsed = self.__wrapped__.parse(*args, **kwargs)
        return self._self_traced(parsed)

    def _self_traced(self, parsed):
        call = self._self_call
        if call.stream and (hasattr(parsed, "__anext__") or hasattr(parsed, "__next__")):
            if self._self_stream is None:
                handler = _StreamHandler(call, self._self_kind, self._self_injected)
                proxy = AsyncTracedStream if hasattr(parsed, "__anext__") else TracedStream
                self._self_stream = proxy(parsed, handler)
            return self._self_stream
        if not call.ended:
            with guard("openai.raw"):
                call.done()
                _read_response(call, self._self_kind, parsed)
            call.end()
        return parsed

    def close(self, *args, **kwargs):
        try:
            return self.__wrapped__.close(*args, **kwargs)
        finally:
            self._self_call.end()

    def __del__(self):
        call = getattr(self, "_self_call", None)
        if call is not None:
            call.end()


class AsyncRawResponse(RawResponse):
    async def parse(self, *args, **kwargs):
        parsed = await self.__wrapped__.parse(*args, **kwargs)
        return self._self_traced(parsed)

    async def close(self, *args, **kwargs):
        try:
            return await self.__wrapped__.close(*args, **kwargs)
        finally:
            self._self_call.end()
