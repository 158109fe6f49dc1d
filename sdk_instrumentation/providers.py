"""Which provider a client talks to, as a ``gen_ai.provider.name`` value.

The ``openai`` client reaches many providers through its base URL, so the
provider is read from the URL's host. Known hosts map to the semantic
conventions' names; anything else is ``openai`` (the wire protocol it speaks)
unless the user maps it, e.g. ``{"llm-gateway.internal": "openai"}`` or
``GENAI_LENS_PROVIDERS="llm-gateway.internal=openai,ollama:11434=ollama"``.

Instrumentors ask ``endpoint(client.base_url)`` on every call; the answer is
cached per URL object (a client keeps its URL object until its ``base_url`` is
set again), so the environment variable is read when a URL is first seen.
"""

from __future__ import annotations

import functools
import os
from typing import Mapping
from urllib.parse import urlsplit

__all__ = ["provider_from_url", "server_address", "endpoint", "parse_provider_map", "KNOWN_HOSTS"]

# Host suffix -> gen_ai.provider.name (checked in order; most specific first).
KNOWN_HOSTS: tuple[tuple[str, str], ...] = (
    ("api.openai.com", "openai"),
    # Gateways (their model names are often "vendor/model"; see pricing.GATEWAYS). A LiteLLM proxy
    # runs on your own host: map it, e.g. GENAI_LENS_PROVIDERS="litellm.internal:4000=litellm".
    ("openrouter.ai", "openrouter"),
    ("zenmux.ai", "zenmux"),
    ("ai-gateway.vercel.sh", "vercel"),
    ("gateway.ai.cloudflare.com", "cloudflare"),
    ("portkey.ai", "portkey"),
    ("helicone.ai", "helicone"),
    ("openai.azure.com", "azure.ai.openai"),
    ("cognitiveservices.azure.com", "azure.ai.openai"),
    ("models.inference.ai.azure.com", "azure.ai.inference"),
    ("services.ai.azure.com", "azure.ai.inference"),
    ("api.deepseek.com", "deepseek"),
    ("api.groq.com", "groq"),
    ("api.x.ai", "x_ai"),
    ("generativelanguage.googleapis.com", "gcp.gemini"),
    ("aiplatform.googleapis.com", "gcp.vertex_ai"),
    ("api.mistral.ai", "mistral_ai"),
    ("api.perplexity.ai", "perplexity"),
    ("api.moonshot.ai", "moonshot_ai"),
    ("api.anthropic.com", "anthropic"),
    ("api.cohere.ai", "cohere"),
    ("api.cohere.com", "cohere"),
)

DEFAULT_PROVIDER = "openai"


def parse_provider_map(text: str | None) -> dict[str, str]:
    """``"host=name,host2=name2"`` -> ``{"host": "name", ...}``."""
    result: dict[str, str] = {}
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        host, sep, name = item.partition("=")
        if not sep or not host.strip() or not name.strip():
            raise ValueError(f"bad provider mapping {item!r}: expected host=provider")
        result[host.strip().lower()] = name.strip()
    return result


def provider_from_url(url: object, overrides: Mapping[str, str] | None = None, default: str = DEFAULT_PROVIDER) -> str:
    """The provider name for a base URL (``str`` or an httpx URL)."""
    if overrides is None:
        return _provider_from_env(str(url), os.environ.get("GENAI_LENS_PROVIDERS"), default)
    return _lookup(str(url), overrides, default)


@functools.lru_cache(maxsize=256)
def _provider_from_env(url: str, env: str | None, default: str) -> str:
    """Cached per (URL, mapping): instrumentors ask on every call."""
    return _lookup(url, parse_provider_map(env), default)


def _lookup(url: str, mapping: Mapping[str, str], default: str) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    netloc = f"{host}:{parts.port}" if parts.port else host
    for key in (netloc, host):
        if key in mapping:
            return mapping[key]
    for suffix, name in KNOWN_HOSTS:
        if host == suffix or host.endswith("." + suffix) or host.endswith("-" + suffix):
            return name
    return default


def server_address(url: object) -> tuple[str | None, int | None]:
    """``(host, port)`` of a base URL, the port defaulted from the scheme."""
    return _server_address(str(url))


@functools.lru_cache(maxsize=256)
def _server_address(url: str) -> tuple[str | None, int | None]:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80 if parts.scheme == "http" else None)
    return parts.hostname, port


_endpoints: dict[int, tuple[object, tuple[str, str | None, int | None]]] = {}


def endpoint(url: object) -> tuple[str, str | None, int | None]:
    """``(provider, host, port)`` of a base URL (``str`` or an httpx URL), cached per URL object.

    Formatting an httpx URL as text costs more than the rest of the look-up, so the
    answer is kept by the object's identity (the cache holds the object, so its id is
    not reused while cached).
    """
    hit = _endpoints.get(id(url))
    if hit is not None and hit[0] is url:
        return hit[1]
    text = str(url)
    result = (provider_from_url(text), *server_address(text))
    if len(_endpoints) >= 256:
        _endpoints.clear()
    _endpoints[id(url)] = (url, result)
    return result
