"""Per-request controls of the fake provider, read from ``x-fake-*`` request headers.

Every header is optional; a missing one falls back to the provider-wide default
(``FakeProvider`` attributes) or to a value derived from the request itself::

    x-fake-input-tokens: 120          # prompt tokens (default: words in the request text, at least 1)
    x-fake-output-tokens: 40          # output tokens, reasoning included (default: reply words + reasoning)
    x-fake-cached-tokens: 100         # part of the input tokens (default 0)
    x-fake-reasoning-tokens: 8        # part of the output tokens (default 0)
    x-fake-tool-use-prompt-tokens: 5  # Gemini toolUsePromptTokenCount (default 0)
    x-fake-web-search-calls: 2        # searches when the request enables web search (default 1)
    x-fake-modality-tokens: input_audio=3000, cache_audio_read=1000, output_audio=200
                                      # the non-text parts of the counts above (MODALITY_KEYS without
                                      # "_tokens"), reported in each wire format's own breakdown
    x-fake-cost: 0.0123               # a gateway's own cost in the usage (OpenRouter's usage.cost)
    x-fake-upstream-cost: 0.2         # with x-fake-cost: a BYOK call (is_byok, upstream_inference_cost)
    x-fake-cost-breakdown: input=0.001, output=0.002, request=0.005
                                      # Perplexity's usage.cost object (its total is the sum)
    x-fake-fault: 429 | 500 | slow | drop
    x-fake-delay: 1.5                 # seconds for the ``slow`` fault (default: provider.slow_seconds)
    x-fake-ttft: 0.2                  # seconds before the first chunk / the whole answer
    x-fake-chunk-delay: 0.05          # seconds between content chunks
    x-fake-chunks: 3                  # number of content chunks (default: one per word of the reply)
    x-fake-model: gpt-4o-2024-08-06   # model name in the response (default: the requested model)
    x-fake-reply: Hello there         # reply text (default: provider.reply)
    x-fake-usage-time: 1767261600     # unix seconds the call is booked at in the organization usage
                                      # ledger (default: the provider's clock; see organization_api.py)
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

__all__ = ["Controls", "ControlError", "FAULTS", "count_words", "request_text", "split_reply"]

_COST_PARTS = ("input", "output", "request")

FAULTS = ("429", "500", "slow", "drop")

# Keys whose values hold request text, in any of the three wire formats.
_TEXT_KEYS = frozenset(
    {
        "text", "content", "parts", "contents", "input", "messages", "instructions",
        "systemInstruction", "system_instruction", "requests", "instances",
    }
)


class ControlError(ValueError):
    """An ``x-fake-*`` header has a value that cannot be used (answered with HTTP 400)."""


def count_words(value: Any) -> int:
    """Whitespace-separated words in all request text under ``value`` (roles, models and ids don't count)."""
    if isinstance(value, str):
        return len(value.split())
    if isinstance(value, list):
        return sum(count_words(item) for item in value)
    if isinstance(value, dict):
        return sum(count_words(item) for key, item in value.items() if key in _TEXT_KEYS)
    if isinstance(value, int) and not isinstance(value, bool):
        return 1  # a token id in an embeddings input array
    return 0


def request_text(value: Any) -> str:
    """All request text under ``value`` joined by spaces (the same text ``count_words`` counts)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return " ".join(t for t in (request_text(item) for item in value) if t)
    if isinstance(value, dict):
        return " ".join(t for t in (request_text(v) for k, v in value.items() if k in _TEXT_KEYS) if t)
    return ""


def split_reply(text: str, chunks: int | None) -> list[str]:
    """Split ``text`` into ``chunks`` pieces that join back to ``text``.

    The default (``None``) is one piece per word, like token deltas: ``["The", " quick", ...]``.
    Fewer chunks group neighbouring words; more chunks than words split by characters.
    """
    words = re.findall(r"\s*\S+", text) or [text]
    if words[-1] and text[len("".join(words)):]:
        words[-1] += text[len("".join(words)):]
    n = len(words) if chunks is None else max(1, chunks)
    if n <= len(words):
        bounds = [round(i * len(words) / n) for i in range(n + 1)]
        return ["".join(words[bounds[i]:bounds[i + 1]]) for i in range(n)]
    bounds = [round(i * len(text) / n) for i in range(n + 1)]
    return [text[bounds[i]:bounds[i + 1]] for i in range(n)]


def _number(headers: Mapping[str, str], name: str, kind: Callable[[str], Any]) -> Any:
    raw = headers.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        value = kind(raw.strip())
    except ValueError:
        raise ControlError(f"header {name}: {raw!r} is not a valid {kind.__name__}") from None
    if value < 0:
        raise ControlError(f"header {name}: {raw!r} must not be negative")
    return value


def _pairs(headers: Mapping[str, str], name: str, keys: Callable[[str], str | None], kind: Callable[[str], Any]) -> dict:
    """``a=1, b=2`` -> {keys("a"): 1, ...}; an unknown key, a bad or negative value is a ControlError."""
    raw = headers.get(name)
    out: dict[str, Any] = {}
    for item in (raw or "").split(","):
        if not item.strip():
            continue
        key, eq, value = item.partition("=")
        mapped = keys(key.strip())
        if not eq or mapped is None:
            raise ControlError(f"header {name}: {item.strip()!r} is not key=value with a known key")
        out[mapped] = _number({name: value}, name, kind)
        if out[mapped] is None:
            raise ControlError(f"header {name}: {item.strip()!r} has no value")
    return out


def _modality_key(short: str) -> str | None:
    from ..usage import MODALITY_KEYS

    key = f"{short}_tokens"
    return key if key in MODALITY_KEYS else None


@dataclass
class Controls:
    """What one request asks of the fake provider, resolved against the provider defaults."""

    input_tokens: int
    output_tokens: int
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    service_tier: str | None = None
    reasoning_tokens: int = 0
    tool_use_prompt_tokens: int = 0
    web_search_calls: int = 1
    fault: str | None = None
    delay: float = 0.0
    ttft: float = 0.0
    chunk_delay: float = 0.0
    chunks: int | None = None
    model: str | None = None
    reply: str = ""
    modality_tokens: dict[str, int] | None = None
    cost: float | None = None
    upstream_cost: float | None = None
    cost_breakdown: dict[str, float] | None = None
    usage_time: float | None = None

    def modality(self, key: str) -> int:
        """One part of ``modality_tokens`` (0 when none was asked for)."""
        return (self.modality_tokens or {}).get(key, 0)

    @classmethod
    def from_headers(cls, headers: Mapping[str, str], body: Any, provider: Any) -> "Controls":
        """Read the ``x-fake-*`` headers (lowercased keys) of a request whose JSON body is ``body``."""
        fault = headers.get("x-fake-fault")
        if fault is not None:
            fault = fault.strip().lower()
            if fault not in FAULTS:
                raise ControlError(f"header x-fake-fault: {fault!r} is not one of {', '.join(FAULTS)}")
        reply = headers.get("x-fake-reply", provider.reply)
        reasoning = _number(headers, "x-fake-reasoning-tokens", int) or 0
        input_tokens = _number(headers, "x-fake-input-tokens", int)
        output_tokens = _number(headers, "x-fake-output-tokens", int)
        web_search_calls = _number(headers, "x-fake-web-search-calls", int)
        delay = _number(headers, "x-fake-delay", float)
        ttft = _number(headers, "x-fake-ttft", float)
        chunk_delay = _number(headers, "x-fake-chunk-delay", float)
        return cls(
            input_tokens=max(1, count_words(body)) if input_tokens is None else input_tokens,
            output_tokens=len(reply.split()) + reasoning if output_tokens is None else output_tokens,
            cached_tokens=_number(headers, "x-fake-cached-tokens", int) or 0,
            cache_write_tokens=_number(headers, "x-fake-cache-write-tokens", int) or 0,
            service_tier=headers.get("x-fake-service-tier") or None,
            reasoning_tokens=reasoning,
            tool_use_prompt_tokens=_number(headers, "x-fake-tool-use-prompt-tokens", int) or 0,
            web_search_calls=1 if web_search_calls is None else web_search_calls,
            fault=fault,
            delay=provider.slow_seconds if delay is None else delay,
            ttft=provider.ttft if ttft is None else ttft,
            chunk_delay=provider.chunk_delay if chunk_delay is None else chunk_delay,
            chunks=_number(headers, "x-fake-chunks", int),
            model=headers.get("x-fake-model") or None,
            reply=reply,
            modality_tokens=_pairs(headers, "x-fake-modality-tokens", _modality_key, int) or None,
            cost=_number(headers, "x-fake-cost", float),
            upstream_cost=_number(headers, "x-fake-upstream-cost", float),
            cost_breakdown=_pairs(headers, "x-fake-cost-breakdown", lambda k: k if k in _COST_PARTS else None,
                                  float) or None,
            usage_time=_number(headers, "x-fake-usage-time", float),
        )

    @property
    def reply_chunks(self) -> list[str]:
        return split_reply(self.reply, self.chunks)

    async def wait_before_answer(self) -> None:
        """The ``slow`` fault's delay (the only wait before errors and stream headers)."""
        if self.fault == "slow" and self.delay > 0:
            await asyncio.sleep(self.delay)
