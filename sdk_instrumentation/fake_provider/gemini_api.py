"""Gemini wire protocol, for the Gemini Developer API and Vertex AI.

Paths (``{action}`` is ``generateContent``, ``streamGenerateContent``, ``countTokens``,
``embedContent``, ``batchEmbedContents`` or ``predict``)::

    POST /{v1,v1beta,v1alpha}/models/{model}:{action}                                  Developer API
    POST /{v1,v1beta1}/publishers/google/models/{model}:{action}                      Vertex AI, express mode (API key)
    POST /{v1,v1beta1}/projects/{p}/locations/{l}/publishers/google/models/{model}:{action}   Vertex AI

Which embedding call the installed google-genai makes: the Developer API always
uses ``:batchEmbedContents`` (``{"requests": [{"content": ...}]}`` ->
``{"embeddings": [{"values": [...]}]}``); Vertex AI uses ``:embedContent`` for one
content and ``:batchEmbedContents`` for several when the model name contains
"gemini" (or "maas"), and ``:predict`` (``{"instances": [{"content": "..."}]}`` ->
``{"predictions": [{"embeddings": {"values", "statistics"}}]}``) for the others
(text-embedding-005, ...).

``usageMetadata`` follows the real API: ``promptTokenCount`` includes the cached
tokens, ``candidatesTokenCount`` excludes the thoughts, ``totalTokenCount`` is
prompt + candidates + thoughts + tool-use prompt, and zero-valued optional counts
(``cachedContentTokenCount``, ``thoughtsTokenCount``, ``toolUsePromptTokenCount``)
are left out, as proto3 JSON does. In a stream every event carries the prompt
count and only the last one the full usage, ``finishReason`` and grounding.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .controls import Controls, count_words, request_text
from .openai_api import embedding_vector
from .transport import Event, EventStream, answer, begin, sse

__all__ = ["routes", "error_response"]

_ERRORS = {
    400: ("INVALID_ARGUMENT", "Invalid fake-provider control header."),
    404: ("NOT_FOUND", "Method not found."),
    429: ("RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota). (fake provider, x-fake-fault: 429)"),
    500: ("INTERNAL", "An internal error has occurred. (fake provider, x-fake-fault: 500)"),
}
_VERSIONS = {"developer": ("v1", "v1beta", "v1alpha"), "vertex": ("v1", "v1beta1")}


def error_response(status: int, message: str | None = None) -> JSONResponse:
    """An error in Google's JSON shape: ``{"error": {"code", "message", "status"}}``."""
    kind, default = _ERRORS[status]
    return JSONResponse({"error": {"code": status, "message": message or default, "status": kind}}, status_code=status)


def _details(total: int, c: Controls, key: str) -> list[dict]:
    """A ``ModalityTokenCount`` list: TEXT is what the modality parts (``key`` with the modality for
    ``{}``: ``input_{}_tokens``) leave of ``total``."""
    parts = [{"modality": modality.upper(), "tokenCount": c.modality(key.format(modality))}
             for modality in ("image", "audio", "video") if c.modality(key.format(modality))]
    text = total - sum(p["tokenCount"] for p in parts)
    return ([{"modality": "TEXT", "tokenCount": text}] if text > 0 or not parts else []) + parts


def _service_tier(body: dict, c: Controls) -> str | None:
    """The tier a request ran on: ``x-fake-service-tier``, else the request's ``serviceTier``; None if neither."""
    tier = c.service_tier or body.get("serviceTier")
    return str(tier).lower() if tier else None


def _usage(c: Controls, vertex: bool, tier: str | None = None) -> dict:
    candidates = max(0, c.output_tokens - c.reasoning_tokens)
    usage: dict[str, Any] = {
        "promptTokenCount": c.input_tokens,
        "candidatesTokenCount": candidates,
        "totalTokenCount": c.input_tokens + candidates + c.reasoning_tokens + c.tool_use_prompt_tokens,
        "promptTokensDetails": _details(c.input_tokens, c, "input_{}_tokens"),
    }
    if c.cached_tokens:
        usage["cachedContentTokenCount"] = c.cached_tokens
        usage["cacheTokensDetails"] = _details(c.cached_tokens, c, "cache_{}_read_tokens")
    if c.reasoning_tokens:
        usage["thoughtsTokenCount"] = c.reasoning_tokens
    if c.tool_use_prompt_tokens:
        usage["toolUsePromptTokenCount"] = c.tool_use_prompt_tokens
    if vertex or any(c.modality(f"output_{m}_tokens") for m in ("image", "audio", "video")):
        usage["candidatesTokensDetails"] = _details(candidates, c, "output_{}_tokens")
    if vertex:  # Vertex AI reports the tier as the traffic type (the Gemini API in a header, _tier_header)
        usage["trafficType"] = "ON_DEMAND" if tier in (None, "standard") else f"ON_DEMAND_{tier.upper()}"
    return usage


def _tier_header(body: dict, c: Controls, vertex: bool) -> dict[str, str] | None:
    """The Gemini API says which tier served a request in the ``x-gemini-service-tier`` response header
    (``standard`` when Priority fell back); sent here when a tier was asked for."""
    tier = _service_tier(body, c)
    return {"x-gemini-service-tier": tier} if tier and not vertex else None


def _has_google_search(body: dict) -> bool:
    keys = ("googleSearch", "google_search", "googleSearchRetrieval", "google_search_retrieval")
    return any(key in tool for tool in body.get("tools") or [] if isinstance(tool, dict) for key in keys)


def _grounding(body: dict, c: Controls) -> dict:
    words = request_text(body.get("contents")).split()[:8] or ["query"]
    n = c.web_search_calls
    queries = [" ".join(words) + (f" ({i + 1})" if n > 1 else "") for i in range(n)]
    chunks = [{"web": {"uri": f"https://example.com/fake-source/{i + 1}", "title": "example.com"}} for i in range(max(1, n))]
    return {
        "webSearchQueries": queries,
        "searchEntryPoint": {"renderedContent": "<div>fake search suggestions</div>"},
        "groundingChunks": chunks,
        "groundingSupports": [
            {
                "segment": {"startIndex": 0, "endIndex": len(c.reply.encode()), "text": c.reply},
                "groundingChunkIndices": [0],
                "confidenceScores": [0.9],
            }
        ],
    }


def _generate(body: dict, c: Controls, model: str, vertex: bool, stream: bool):
    version = c.model or model
    common: dict[str, Any] = {"modelVersion": version, "responseId": uuid.uuid4().hex[:22]}
    if vertex:
        common["createTime"] = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
    grounding = _grounding(body, c) if _has_google_search(body) else None

    def response(text: str, final: bool) -> dict:
        candidate: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
        if final:
            candidate["finishReason"] = "STOP"
            if grounding:
                candidate["groundingMetadata"] = grounding
            usage = _usage(c, vertex, _service_tier(body, c))
        else:
            usage = {"promptTokenCount": c.input_tokens, "totalTokenCount": c.input_tokens}
        return {"candidates": [candidate], "usageMetadata": usage, **common}

    if not stream:
        return response(c.reply, True)
    pieces = c.reply_chunks
    events = [
        Event(sse(response(piece, i == len(pieces) - 1), newline="\r\n"), content=True)
        for i, piece in enumerate(pieces)
    ]
    return EventStream(events, ttft=c.ttft, chunk_delay=c.chunk_delay, drop=c.fault == "drop",
                       headers=_tier_header(body, c, vertex))


def _split_tokens(total: int, n: int) -> list[int]:
    """``total`` tokens over ``n`` inputs, the remainder on the first."""
    share = [total // n] * n
    share[0] += total - sum(share)
    return share


def _embed(body: dict, c: Controls, action: str, vertex: bool) -> dict:
    if action == "predict":  # Vertex text-embedding-* models
        instances = body.get("instances") or []
        dims = int((body.get("parameters") or {}).get("outputDimensionality") or 768)
        tokens = _split_tokens(c.input_tokens, max(1, len(instances)))
        predictions = []
        for instance, count in zip(instances, tokens):
            text = request_text(instance)
            stats = {"token_count": count, "truncated": False}
            predictions.append({"embeddings": {"values": embedding_vector(text, dims), "statistics": stats}})
        chars = sum(len(request_text(i).replace(" ", "")) for i in instances)
        return {"predictions": predictions, "metadata": {"billableCharacterCount": chars}}
    usage = {"promptTokenCount": c.input_tokens, "totalTokenCount": c.input_tokens}
    if action == "embedContent":
        dims = int(body.get("outputDimensionality") or (body.get("embedContentConfig") or {}).get("outputDimensionality") or 768)
        values = embedding_vector(request_text(body.get("content")), dims)
        return {"embedding": {"values": values}, "usageMetadata": usage, **({"truncated": False} if vertex else {})}
    embeddings = []
    for item in body.get("requests") or []:
        dims = int(item.get("outputDimensionality") or (item.get("embedContentConfig") or {}).get("outputDimensionality") or 768)
        embeddings.append({"values": embedding_vector(request_text(item.get("content")), dims)})
    if not vertex:  # the Gemini API's BatchEmbedContentsResponse has embeddings only, no usage
        return {"embeddings": embeddings}
    return {"embeddings": embeddings, "usageMetadata": usage}


def _handler(provider, vertex: bool):
    versions = _VERSIONS["vertex" if vertex else "developer"]

    async def endpoint(request: Request):
        model, _, action = request.path_params["model_action"].partition(":")
        known = ("generateContent", "streamGenerateContent", "countTokens", "embedContent", "batchEmbedContents", "predict")
        if request.path_params["version"] not in versions or action not in known:
            return error_response(404, f"Method not found: {request.url.path}")
        begun = await begin(provider, request, error_response)
        if isinstance(begun, JSONResponse):
            return begun
        body, c = begun
        if action == "countTokens":
            return await answer({"totalTokens": max(1, count_words(body))}, c)
        if action in ("generateContent", "streamGenerateContent"):
            result = _generate(body, c, model, vertex, stream=action == "streamGenerateContent")
            return result if isinstance(result, EventStream) else await answer(result, c,
                                                                                _tier_header(body, c, vertex))
        return await answer(_embed(body, c, action, vertex), c)

    return endpoint


def routes(provider) -> list[Route]:
    """The Gemini Developer API and Vertex AI routes, bound to ``provider``."""
    developer, vertex = _handler(provider, vertex=False), _handler(provider, vertex=True)
    return [
        Route("/{version}/models/{model_action}", developer, methods=["POST"]),
        Route("/{version}/publishers/{publisher}/models/{model_action}", vertex, methods=["POST"]),
        Route(
            "/{version}/projects/{project}/locations/{location}/publishers/{publisher}/models/{model_action}",
            vertex,
            methods=["POST"],
        ),
    ]
