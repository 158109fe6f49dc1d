"""Per-call cost of pricing one LLM call: genai-lens' Pricing.price vs genai-prices.

    python benchmarks/bench_pricing.py [--calls N]

Prints one row per (provider, model) and method: microseconds per call (best of 5 runs)
and the ratio to Pricing.price. Also checks the three answers agree to 1e-9 USD.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import genai_prices  # noqa: E402
from genai_prices.data_snapshot import get_snapshot  # noqa: E402

from sdk_instrumentation.pricing import Pricing  # noqa: E402
from sdk_instrumentation.usage import Usage  # noqa: E402

CASES = [
    # (gen_ai.provider.name, model, genai-prices provider id, usage)
    ("openai", "gpt-4o", "openai", Usage(input_tokens=1200, output_tokens=300, cache_read_tokens=1000)),
    ("gcp.gemini", "gemini-2.5-pro", "google",
     Usage(input_tokens=250_000, output_tokens=2000, cache_read_tokens=100_000, reasoning_tokens=1500)),
    ("openai", "gpt-5-mini", "openai",
     Usage(input_tokens=5000, output_tokens=4000, reasoning_tokens=3000, web_search_calls=1)),
]


def best_of(fn, calls: int, runs: int = 5) -> float:
    """Fastest of ``runs`` loops, in microseconds per call."""
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, time.perf_counter() - start)
    return best / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000, help="calls per timed loop (default 2000)")
    args = parser.parse_args()

    pricing = Pricing(pricing_file=None)
    print(f"genai-prices {genai_prices.__version__}, Python {sys.version.split()[0]}, {args.calls} calls x best of 5")
    print(f"{'provider/model':34} {'method':34} {'us/call':>9} {'x Pricing':>10}")
    for provider, model, provider_id, usage in CASES:
        gp_usage = genai_prices.Usage(
            input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_tokens, cache_write_tokens=usage.cache_write_tokens,
            output_reasoning_tokens=usage.reasoning_tokens, web_searches=usage.web_search_calls,
        )
        now = datetime.now(tz=UTC)
        _, gp_model = get_snapshot().find_provider_model(model, None, provider_id, None)
        model_price = gp_model.get_prices(now)  # what a "cached ModelPrice" caller keeps

        ours = pricing.price(provider, model, usage)
        reference = genai_prices.calc_price(gp_usage, model, provider_id=provider_id)
        cached = model_price.calc_price(gp_usage)
        assert abs(ours.total - float(reference.total_price)) < 1e-9, (ours, reference)
        assert abs(ours.total - float(cached["total_price"])) < 1e-9, (ours, cached)

        rows = [
            ("Pricing.price (genai-lens)", best_of(lambda: pricing.price(provider, model, usage), args.calls)),
            ("genai_prices.calc_price",
             best_of(lambda: genai_prices.calc_price(gp_usage, model, provider_id=provider_id), args.calls)),
            ("cached ModelPrice.calc_price", best_of(lambda: model_price.calc_price(gp_usage), args.calls)),
        ]
        base = rows[0][1]
        for method, micros in rows:
            print(f"{provider + '/' + model:34} {method:34} {micros:9.2f} {micros / base:9.0f}x")


if __name__ == "__main__":
    main()
