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

Both are plain slotted dataclasses (not frozen: a frozen one costs a microsecond more to
build, on every call); treat them as read-only values.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Usage", "Cost", "STANDARD_SERVICE_TIERS"]

# Service tiers billed at the standard rates: what OpenAI reports for a standard call ("default"),
# a request's "auto" (the response says what ran), and none at all. Other tiers (flex, priority, ...)
# are priced with their own rates where genai-prices has them.
STANDARD_SERVICE_TIERS = frozenset((None, "", "default", "auto", "standard"))


@dataclass(slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    web_search_calls: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(slots=True)
class Cost:
    """US dollars, split by genai_lens.cost.type."""

    input: float = 0.0
    output: float = 0.0
    other: float = 0.0

    @property
    def total(self) -> float:
        return self.input + self.output + self.other
