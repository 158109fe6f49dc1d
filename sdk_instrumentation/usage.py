"""What one call used and what it cost.

``Usage`` is filled by the instrumentors from the provider's response and read
by the pricing (``sdk_instrumentation.pricing``) and the metric recorder::

    usage = Usage(input_tokens=1200, output_tokens=300, cache_read_tokens=1000)
    cost = pricing.price("openai", "gpt-4o", usage)   # Cost(input=..., output=..., other=...)

Token counts follow the billing view of the semantic conventions:
``input_tokens`` is every billable input token, cached reads and cache writes
included; ``output_tokens`` every billable output token, reasoning included.
The detail fields say how many of those were cached, written to the cache or
spent on reasoning.

``modality_tokens`` holds the non-text part of those counts where the response breaks them
down (Gemini's ``promptTokensDetails``, OpenAI's ``audio_tokens``), keyed by genai-prices' usage
keys (``MODALITY_KEYS``): ``{"input_audio_tokens": 1200, "cache_audio_read_tokens": 300}``. Each
is a part of its total (``input_audio_tokens`` of ``input_tokens``, ``cache_audio_read_tokens`` of
both ``input_audio_tokens`` and ``cache_read_tokens``); text is the rest. ``provider_cost`` is the
cost the response itself reported (a gateway's ``usage.cost``), which wins over any price: a
``Cost`` when the response splits it, a float (USD) when it gives only the total.

Both are plain slotted dataclasses (not frozen: a frozen one costs a microsecond more to
build, on every call); treat them as read-only values.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Usage", "Cost", "STANDARD_SERVICE_TIERS", "MODALITY_KEYS", "COST_SOURCES"]

# Service tiers billed at the standard rates: what OpenAI reports for a standard call ("default"),
# a request's "auto" (the response says what ran), and none at all. Other tiers (flex, priority, ...)
# are priced with their own rates where genai-prices has them.
STANDARD_SERVICE_TIERS = frozenset((None, "", "default", "auto", "standard"))

# The modality parts of a call's tokens that are priced at their own rates where genai-prices has
# them (genai-prices' usage keys; a DOCUMENT part counts as image, as genai-prices' extractors do).
MODALITY_KEYS = (
    "input_audio_tokens", "input_image_tokens", "input_video_tokens",
    "cache_audio_read_tokens", "cache_image_read_tokens", "cache_video_read_tokens",
    "output_audio_tokens", "output_image_tokens", "output_video_tokens",
)

# What priced a call (genai_lens.cost.source): the response's own cost, genai-prices' data, or a
# pricing file (the user's, or the shipped file of prices genai-prices lacks).
COST_SOURCE_PROVIDER = "provider"
COST_SOURCE_GENAI_PRICES = "genai-prices"
COST_SOURCE_PRICING_FILE = "pricing-file"
COST_SOURCES = (COST_SOURCE_PROVIDER, COST_SOURCE_GENAI_PRICES, COST_SOURCE_PRICING_FILE)


@dataclass(slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    web_search_calls: int = 0
    modality_tokens: dict[str, int] | None = None
    provider_cost: Cost | float | None = None

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(slots=True)
class Cost:
    """US dollars, split by genai_lens.cost.type; ``source`` is what priced it (``COST_SOURCES``)."""

    input: float = 0.0
    output: float = 0.0
    other: float = 0.0
    source: str = COST_SOURCE_GENAI_PRICES

    @property
    def total(self) -> float:
        return self.input + self.output + self.other
