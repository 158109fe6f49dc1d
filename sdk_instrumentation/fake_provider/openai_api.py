"""OpenAI wire protocol: ``/v1/chat/completions``, ``/v1/responses``, ``/v1/embeddings``.

Answers carry usage exactly as OpenAI sends it: chat ``prompt_tokens`` (cached
included), ``completion_tokens`` (reasoning included), ``total_tokens`` and the
``*_details``; Responses ``input_tokens``/``output_tokens`` with their details.
Streams are ``data: {...}`` events ending with ``data: [DONE]`` (chat) or the
typed Responses event sequence with ``sequence_number``. Errors use OpenAI's
``{"error": {"message", "type", "param", "code"}}`` body. Every call answered (not a fault, not a
``drop``) is booked in ``provider.organization``, the usage ledger of ``organization_api``.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import struct
import time
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .controls import Controls, request_text
from .organization_api import wire_usage
from .transport import Event, EventStream, answer, begin, sse

__all__ = ["routes", "error_response", "embedding_vector"]

_ERRORS = {
    400: ("invalid_request_error", "invalid_value", "Invalid fake-provider control header."),
    429: (
        "rate_limit_error",
        "rate_limit_exceeded",
        "Rate limit reached for requests (fake provider, x-fake-fault: 429).",
    ),
    500: (
        "server_error",
        None,
        "The server had an error while processing your request. Sorry about that! (fake provider, x-fake-fault: 500)",
    ),
}


def error_response(status: int, message: str | None = None) -> JSONResponse:
    """An error in OpenAI's JSON shape."""
    kind, code, default = _ERRORS[status]
    body = {"error": {"message": message or default, "type": kind, "param": None, "code": code}}
    return JSONResponse(body, status_code=status, headers=_headers())


def _headers() -> dict[str, str]:
    return {"x-request-id": "req_" + uuid.uuid4().hex, "openai-processing-ms": "1"}


def _book(provider, request: Request, c: Controls, kind: str, model: str, usage: dict, tier: str | None,
          web_search_calls: int = 0) -> None:
    """Book an answered call in the organization usage ledger (a ``drop`` is not answered); a booking
    error is logged and never changes the answer."""
    if c.fault == "drop":
        return
    authorization = request.headers.get("authorization", "")
    api_key = authorization[7:] if authorization.lower().startswith("bearer ") else request.headers.get("api-key", "")
    try:
        provider.organization.book(kind, model, wire_usage(usage, web_search_calls), api_key=api_key,
                                   service_tier=tier, when=c.usage_time)
    except Exception:
        logging.getLogger("sdk_instrumentation.fake_provider").exception("fake provider: booking a call failed")


def _id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


def _search_queries(body: Any, n: int) -> list[str]:
    words = request_text(body).split()[:8] or ["query"]
    return [" ".join(words) + (f" ({i + 1})" if n > 1 else "") for i in range(n)]


def embedding_vector(text: str, dimensions: int) -> list[float]:
    """A deterministic vector for ``text``: same text, same vector; exactly representable in float32."""
    seed = hashlib.sha256(text.encode()).digest()
    return [((seed[i % 32] + i) % 256 - 128) / 128.0 for i in range(dimensions)]


# --- chat completions -------------------------------------------------------------------------


def _input_details(c: Controls) -> dict:
    """Cached reads, and cache writes when asked for (OpenAI reports ``cache_write_tokens`` only on
    models that bill them; both are part of the input tokens)."""
    details = {"cached_tokens": c.cached_tokens}
    if c.cache_write_tokens:
        details["cache_write_tokens"] = c.cache_write_tokens
    return details


def service_tier(body: dict, c: Controls) -> str:
    """The tier the response reports: the ``x-fake-service-tier`` header, else the requested
    ``service_tier`` (``auto`` or none runs as ``default``), as OpenAI reports the tier it used."""
    if c.service_tier:
        return c.service_tier
    requested = body.get("service_tier")
    return requested if isinstance(requested, str) and requested not in ("", "auto") else "default"


def _chat_usage(c: Controls) -> dict:
    input_details = {**_input_details(c), "audio_tokens": c.modality("input_audio_tokens")}
    if c.modality("input_image_tokens"):
        input_details["image_tokens"] = c.modality("input_image_tokens")
    output_details = {
        "reasoning_tokens": c.reasoning_tokens,
        "audio_tokens": c.modality("output_audio_tokens"),
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    }
    if c.modality("output_image_tokens"):
        output_details["image_tokens"] = c.modality("output_image_tokens")
    return _with_cost({
        "prompt_tokens": c.input_tokens,
        "completion_tokens": c.output_tokens,
        "total_tokens": c.input_tokens + c.output_tokens,
        "prompt_tokens_details": input_details,
        "completion_tokens_details": output_details,
    }, c)


def _with_cost(usage: dict, c: Controls) -> dict:
    """A gateway's own cost in the usage, when asked for: OpenRouter's ``cost`` (credits, 1 = 1 USD)
    with ``is_byok`` and ``cost_details``, or Perplexity's ``cost`` object."""
    if c.cost is not None:
        usage["cost"] = c.cost
        usage["is_byok"] = c.upstream_cost is not None
        usage["cost_details"] = {"upstream_inference_cost": c.upstream_cost}
    elif c.cost_breakdown is not None:
        parts = {f"{key}_tokens_cost" if key != "request" else "request_cost": c.cost_breakdown.get(key, 0.0)
                 for key in ("input", "output", "request")}
        usage["cost"] = {**parts, "total_cost": round(sum(parts.values()), 12)}
    return usage


def _chat_annotations(model: str, reply: str) -> list[dict]:
    if "search" not in model:
        return []
    citation = {"start_index": 0, "end_index": len(reply), "url": "https://example.com/fake-source", "title": "Fake source"}
    return [{"type": "url_citation", "url_citation": citation}]


async def chat_completions(provider, request: Request):
    begun = await begin(provider, request, error_response)
    if isinstance(begun, JSONResponse):
        return begun
    body, c = begun
    requested = str(body.get("model", ""))
    model = c.model or requested
    base = {"id": _id("chatcmpl-"), "created": int(time.time()), "model": model, "service_tier": service_tier(body, c),
            "system_fingerprint": "fp_fake"}
    annotations = _chat_annotations(requested, c.reply)
    _book(provider, request, c, "completions", model, _chat_usage(c), base["service_tier"], 1 if annotations else 0)
    if not body.get("stream"):
        message = {"role": "assistant", "content": c.reply, "refusal": None, "annotations": annotations}
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}
        return await answer({**base, "object": "chat.completion", "choices": [choice], "usage": _chat_usage(c)}, c, _headers())

    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    chunk = {**base, "object": "chat.completion.chunk"}
    if include_usage:
        chunk["usage"] = None

    def delta(d: dict, finish: str | None = None) -> bytes:
        return sse({**chunk, "choices": [{"index": 0, "delta": d, "logprobs": None, "finish_reason": finish}]})

    events = [Event(delta({"role": "assistant", "content": "", "refusal": None}))]
    events += [Event(delta({"content": piece}), content=True) for piece in c.reply_chunks]
    events.append(Event(delta({"annotations": annotations} if annotations else {}, "stop")))
    if include_usage:
        events.append(Event(sse({**chunk, "choices": [], "usage": _chat_usage(c)})))
    events.append(Event(sse("[DONE]")))
    return EventStream(events, ttft=c.ttft, chunk_delay=c.chunk_delay, drop=c.fault == "drop", headers=_headers())


# --- responses ----------------------------------------------------------------------------------


def _responses_usage(c: Controls) -> dict:
    return _with_cost({
        "input_tokens": c.input_tokens,
        "input_tokens_details": _input_details(c),
        "output_tokens": c.output_tokens,
        "output_tokens_details": {"reasoning_tokens": c.reasoning_tokens},
        "total_tokens": c.input_tokens + c.output_tokens,
    }, c)


def _has_web_search(body: dict) -> bool:
    return any(str(tool.get("type", "")).startswith("web_search") for tool in body.get("tools") or [] if isinstance(tool, dict))


async def responses(provider, request: Request):
    begun = await begin(provider, request, error_response)
    if isinstance(begun, JSONResponse):
        return begun
    body, c = begun
    model = c.model or str(body.get("model", ""))
    web_search = _has_web_search(body)

    before: list[dict] = []  # output items before the message: reasoning, web searches
    if c.reasoning_tokens:
        before.append({"id": _id("rs_"), "type": "reasoning", "summary": []})
    if web_search:
        for query in _search_queries(body, c.web_search_calls):
            before.append({"id": _id("ws_"), "type": "web_search_call", "status": "completed", "action": {"type": "search", "query": query}})
    annotations = []
    if web_search:
        annotations.append({"type": "url_citation", "start_index": 0, "end_index": len(c.reply), "url": "https://example.com/fake-source", "title": "Fake source"})
    text_part = {"type": "output_text", "text": c.reply, "annotations": annotations, "logprobs": []}
    message = {"id": _id("msg_"), "type": "message", "status": "completed", "role": "assistant", "content": [text_part]}

    response = {
        "id": _id("resp_"),
        "object": "response",
        "created_at": int(time.time()),
        "status": "completed",
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": model,
        "output": [*before, message],
        "parallel_tool_calls": True,
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": body.get("reasoning") or {"effort": None, "summary": None},
        "service_tier": service_tier(body, c),
        "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0),
        "text": {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_p": body.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": _responses_usage(c),
        "user": None,
        "metadata": body.get("metadata") or {},
    }
    _book(provider, request, c, "completions", model, response["usage"], response["service_tier"],
          c.web_search_calls if web_search else 0)
    if not body.get("stream"):
        return await answer(response, c, _headers())

    seq = iter(range(1_000_000))

    def ev(kind: str, content: bool = False, **fields) -> Event:
        return Event(sse({"type": kind, "sequence_number": next(seq), **fields}, event=kind), content=content)

    pending = {**response, "status": "in_progress", "output": [], "usage": None}
    events = [ev("response.created", response=pending), ev("response.in_progress", response=pending)]
    for index, item in enumerate(before):
        if item["type"] == "web_search_call":
            started = {**item, "status": "in_progress", "action": {"type": "search"}}
            events.append(ev("response.output_item.added", output_index=index, item=started))
            for phase in ("in_progress", "searching", "completed"):
                events.append(ev(f"response.web_search_call.{phase}", output_index=index, item_id=item["id"]))
        else:
            events.append(ev("response.output_item.added", output_index=index, item=item))
        events.append(ev("response.output_item.done", output_index=index, item=item))
    index, where = len(before), {"item_id": message["id"], "output_index": len(before), "content_index": 0}
    events.append(ev("response.output_item.added", output_index=index, item={**message, "status": "in_progress", "content": []}))
    events.append(ev("response.content_part.added", **where, part={**text_part, "text": "", "annotations": []}))
    for piece in c.reply_chunks:
        events.append(ev("response.output_text.delta", content=True, **where, delta=piece, logprobs=[]))
    for i, annotation in enumerate(annotations):
        events.append(ev("response.output_text.annotation.added", **where, annotation_index=i, annotation=annotation))
    events.append(ev("response.output_text.done", **where, text=c.reply, logprobs=[]))
    events.append(ev("response.content_part.done", **where, part=text_part))
    events.append(ev("response.output_item.done", output_index=index, item=message))
    events.append(ev("response.completed", response=response))
    return EventStream(events, lead=2, ttft=c.ttft, chunk_delay=c.chunk_delay, drop=c.fault == "drop", headers=_headers())


# --- embeddings ---------------------------------------------------------------------------------


async def embeddings(provider, request: Request):
    begun = await begin(provider, request, error_response)
    if isinstance(begun, JSONResponse):
        return begun
    body, c = begun
    raw = body.get("input", "")
    if isinstance(raw, str) or (isinstance(raw, list) and raw and isinstance(raw[0], int)):
        raw = [raw]
    dimensions = int(body.get("dimensions") or 1536)
    as_base64 = body.get("encoding_format") == "base64"
    data = []
    for i, item in enumerate(raw):
        vector = embedding_vector(item if isinstance(item, str) else repr(item), dimensions)
        value: Any = vector
        if as_base64:
            value = base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode()
        data.append({"object": "embedding", "index": i, "embedding": value})
    payload = {
        "object": "list",
        "data": data,
        "model": c.model or str(body.get("model", "")),
        "usage": {"prompt_tokens": c.input_tokens, "total_tokens": c.input_tokens},
    }
    _book(provider, request, c, "embeddings", payload["model"], payload["usage"], None)
    return await answer(payload, c, _headers())


def routes(provider) -> list[Route]:
    """The OpenAI routes, bound to ``provider``."""

    def bind(handler):
        async def endpoint(request: Request):
            return await handler(provider, request)

        return endpoint

    return [
        Route("/v1/chat/completions", bind(chat_completions), methods=["POST"]),
        Route("/v1/responses", bind(responses), methods=["POST"]),
        Route("/v1/embeddings", bind(embeddings), methods=["POST"]),
    ]
