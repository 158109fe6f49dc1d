"""Pricing against genai-prices' own calc_price, published anchors, unknown models, dated prices."""

from __future__ import annotations

import dataclasses
import logging
import pathlib
import re
import socket
import threading
from datetime import UTC, datetime

import genai_prices
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdk_instrumentation.pricing import Pricing
from sdk_instrumentation.usage import MODALITY_KEYS, Cost, Usage

TOL = 1e-9

# (gen_ai.provider.name, model as the user gives it, genai-prices provider id, genai-prices model ref)
MODELS = [
    ("openai", "gpt-4o", "openai", "gpt-4o"),
    ("openai", "gpt-4o-2024-08-06", "openai", "gpt-4o-2024-08-06"),
    ("openai", "gpt-4o-mini", "openai", "gpt-4o-mini"),
    ("openai", "gpt-4.1", "openai", "gpt-4.1"),
    ("openai", "gpt-4.1-mini", "openai", "gpt-4.1-mini"),
    ("openai", "gpt-5", "openai", "gpt-5"),
    ("openai", "gpt-5-mini", "openai", "gpt-5-mini"),
    ("openai", "o3", "openai", "o3"),
    ("openai", "o4-mini", "openai", "o4-mini"),
    ("openai", "gpt-5.4", "openai", "gpt-5.4"),  # tiers above 272k input tokens
    ("openai", "gpt-5.6-luna", "openai", "gpt-5.6-luna"),  # tiered cache writes, dated price
    ("gcp.gemini", "gemini-2.5-pro", "google", "gemini-2.5-pro"),  # tiers above 200k
    ("gcp.gemini", "models/gemini-2.5-flash", "google", "gemini-2.5-flash"),
    ("gcp.gemini", "gemini-2.5-flash-lite", "google", "gemini-2.5-flash-lite"),
    ("gcp.gemini", "gemini-2.0-flash", "google", "gemini-2.0-flash"),
    ("gcp.vertex_ai", "gemini-3-pro-preview", "google", "gemini-3-pro-preview"),
    ("azure.ai.openai", "gpt-4o", "azure", "gpt-4o"),
    ("anthropic", "claude-sonnet-4-5", "anthropic", "claude-sonnet-4-5"),  # tiered cache writes
    ("perplexity", "sonar", "perplexity", "sonar"),  # per-request fee
    ("perplexity", "sonar-deep-research", "perplexity", "sonar-deep-research"),  # reasoning price
    ("deepseek", "deepseek-chat", "deepseek", "deepseek-chat"),  # time-of-day price
    ("x_ai", "grok-4.20", "x-ai", "grok-4.20"),
    ("mistral_ai", "mistral-large-latest", "mistral", "mistral-large-latest"),
    ("groq", "llama-3.3-70b-versatile", "groq", "llama-3.3-70b-versatile"),
]

USAGES = [
    Usage(),
    Usage(input_tokens=1, output_tokens=1),
    Usage(input_tokens=1200, output_tokens=300),
    Usage(input_tokens=1200, output_tokens=300, cache_read_tokens=1000),
    Usage(input_tokens=50_000, output_tokens=8_000, cache_read_tokens=20_000, cache_write_tokens=10_000),
    Usage(input_tokens=9_000, output_tokens=12_000, reasoning_tokens=10_000),
    Usage(input_tokens=4_000, output_tokens=900, reasoning_tokens=500, web_search_calls=3),
    Usage(input_tokens=200_000, output_tokens=1_000, cache_read_tokens=50_000),
    Usage(input_tokens=200_001, output_tokens=1_000, cache_read_tokens=50_000),
    Usage(input_tokens=272_000, output_tokens=2_000, cache_write_tokens=100_000),
    Usage(input_tokens=272_001, output_tokens=2_000, cache_write_tokens=100_000),
    Usage(input_tokens=900_000, output_tokens=30_000, cache_read_tokens=600_000, reasoning_tokens=20_000,
          web_search_calls=2),
]


def reference(provider_id: str, model: str, usage: Usage, when: datetime | None = None) -> Cost:
    """genai-prices' own answer, split like ours: input, output, and the rest of the total."""
    result = genai_prices.calc_price(
        genai_prices.Usage(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            output_reasoning_tokens=usage.reasoning_tokens,
            web_searches=usage.web_search_calls,
            **{key: (usage.modality_tokens or {}).get(key, 0) for key in MODALITY_KEYS},
        ),
        model,
        provider_id=provider_id,
        genai_request_timestamp=when,
    )
    other = result.total_price - result.input_price - result.output_price
    return Cost(input=float(result.input_price), output=float(result.output_price), other=float(other))


def assert_cost(actual: Cost | None, expected: Cost) -> None:
    assert actual is not None
    assert actual.input == pytest.approx(expected.input, abs=TOL, rel=0)
    assert actual.output == pytest.approx(expected.output, abs=TOL, rel=0)
    assert actual.other == pytest.approx(expected.other, abs=TOL, rel=0)


@pytest.fixture(scope="module")
def pricing() -> Pricing:
    return Pricing(pricing_file=None)


@pytest.fixture(autouse=True)
def no_pricing_file(monkeypatch):
    monkeypatch.delenv("GENAI_LENS_PRICING_FILE", raising=False)


@pytest.mark.parametrize(("provider", "model", "gp_provider", "gp_model"), MODELS)
def test_equals_genai_prices(pricing, provider, model, gp_provider, gp_model):
    for usage in USAGES:
        assert_cost(pricing.price(provider, model, usage), reference(gp_provider, gp_model, usage))


@settings(max_examples=300, deadline=None)
@given(
    model=st.sampled_from([m for m in MODELS if m[0] != "deepseek"]),
    cache_read=st.integers(0, 400_000),
    cache_write=st.integers(0, 200_000),
    uncached=st.integers(0, 600_000),
    reasoning=st.integers(0, 50_000),
    visible=st.integers(0, 50_000),
    searches=st.integers(0, 5),
)
def test_equals_genai_prices_random_usage(model, cache_read, cache_write, uncached, reasoning, visible, searches):
    provider, name, gp_provider, gp_model = model
    usage = Usage(input_tokens=uncached + cache_read + cache_write, output_tokens=reasoning + visible,
                  cache_read_tokens=cache_read, cache_write_tokens=cache_write, reasoning_tokens=reasoning,
                  web_search_calls=searches)
    assert_cost(_SHARED.price(provider, name, usage), reference(gp_provider, gp_model, usage))


_SHARED = Pricing()


def test_gpt_4o_published_anchor(pricing):
    # $2.50 input, $1.25 cached input, $10 output per 1M tokens
    cost = pricing.price("openai", "gpt-4o", Usage(input_tokens=1_000_000, cache_read_tokens=400_000,
                                                  output_tokens=100_000))
    assert cost == Cost(input=0.6 * 2.5 + 0.4 * 1.25, output=1.0, other=0.0)
    assert cost.total == pytest.approx(3.00, abs=TOL)
    assert pricing.price("openai", "gpt-4o", Usage(input_tokens=1_000_000)).input == pytest.approx(2.5, abs=TOL)
    assert pricing.price("openai", "gpt-4o", Usage(input_tokens=1_000_000, cache_read_tokens=1_000_000)).input \
        == pytest.approx(1.25, abs=TOL)
    assert pricing.price("openai", "gpt-4o", Usage(output_tokens=1_000_000)).output == pytest.approx(10.0, abs=TOL)


def test_reasoning_tokens_are_output_at_the_output_rate(pricing):
    with_reasoning = pricing.price("openai", "o4-mini", Usage(input_tokens=1000, output_tokens=5000,
                                                              reasoning_tokens=4000))
    assert with_reasoning.output == pytest.approx(5000 * 4.4 / 1e6, abs=TOL)


@pytest.mark.parametrize(("input_tokens", "input_mtok", "output_mtok"), [(100_000, 1.25, 10.0), (300_000, 2.5, 15.0)])
def test_gemini_25_pro_long_context_tier(pricing, input_tokens, input_mtok, output_mtok):
    # published: $1.25 / $10 per 1M up to 200k input tokens, $2.50 / $15 above; the whole request moves
    usage = Usage(input_tokens=input_tokens, output_tokens=10_000)
    cost = pricing.price("gcp.gemini", "gemini-2.5-pro", usage)
    assert cost.input == pytest.approx(input_tokens * input_mtok / 1e6, abs=TOL)
    assert cost.output == pytest.approx(10_000 * output_mtok / 1e6, abs=TOL)
    assert_cost(cost, reference("google", "gemini-2.5-pro", usage))


def test_tier_threshold_is_strictly_above_and_counts_all_input(pricing):
    at = pricing.price("gcp.gemini", "gemini-2.5-pro", Usage(input_tokens=200_000, cache_read_tokens=150_000))
    above = pricing.price("gcp.gemini", "gemini-2.5-pro", Usage(input_tokens=200_001, cache_read_tokens=150_000))
    assert at.input == pytest.approx((50_000 * 1.25 + 150_000 * 0.125) / 1e6, abs=TOL)
    assert above.input == pytest.approx((50_001 * 2.5 + 150_000 * 0.25) / 1e6, abs=TOL)


def test_web_search_from_genai_prices(pricing):
    # genai-prices prices these: OpenAI $10 / 1k calls, Gemini 2.5 $35 / 1k grounded prompts
    assert pricing.price("openai", "gpt-4o", Usage(web_search_calls=3)).other == pytest.approx(0.03, abs=TOL)
    assert pricing.price("gcp.gemini", "gemini-2.5-flash", Usage(web_search_calls=2)).other \
        == pytest.approx(0.07, abs=TOL)


@pytest.mark.parametrize(("provider", "model", "per_call"), [
    # genai-prices has no web search price for these search models: the shipped data file's, as published
    ("openai", "gpt-4o-search-preview", 0.025),
    ("openai", "gpt-4o-search-preview-2025-03-11", 0.025),
    ("openai", "gpt-4o-mini-search-preview", 0.010),  # genai-prices matches it to gpt-4o-mini: its price wins
    ("openai", "gpt-5-search-api", 0.010),
    # models that cannot search, or whose search price is not published for them: no fee, not guessed
    ("openai", "gpt-4o-mini-tts", 0.0),
    ("openai", "gpt-4o-transcribe", 0.0),
    ("openai", "gpt-image-1", 0.0),
    ("openai", "gpt-4.1-nano", 0.0),
    ("openai", "gpt-5.3", 0.0),
    ("gcp.gemini", "gemini-2.5-flash-tts", 0.0),
    ("gcp.gemini", "gemini-2.0-flash-lite", 0.0),
    ("azure.ai.openai", "o3-mini", 0.0),
])
def test_web_search_fees_of_the_shipped_data_file(pricing, provider, model, per_call):
    cost = pricing.price(provider, model, Usage(input_tokens=10, web_search_calls=4))
    assert cost.other == pytest.approx(4 * per_call, abs=TOL)


def test_the_shipped_data_file_names_source_and_date_of_every_price():
    from sdk_instrumentation.pricing import SHIPPED_PRICES
    from sdk_instrumentation.pricing_file import load_pricing_file

    shipped = load_pricing_file(SHIPPED_PRICES, require_sources=True)
    assert len(shipped.models) >= 2
    assert all(e.source.startswith("https://") and len(e.date) == 10 for e in shipped.models)


def test_no_prices_in_code():
    """Every number that is a price lives in genai-prices, the shipped data file or the user's file."""
    import sdk_instrumentation.pricing as module

    assert not hasattr(module, "WEB_SEARCH_DEFAULTS")
    source = pathlib.Path(module.__file__).read_text()
    assert not re.search(r"\b0\.0[0-9]*[1-9]\b", source), "a price-like literal in pricing.py"


def test_per_request_fee(pricing):
    assert pricing.price("perplexity", "sonar", Usage()).other == pytest.approx(0.012, abs=TOL)


def test_unknown_model_is_none_and_warns_once_per_model(caplog):
    pricing = Pricing()
    caplog.set_level(logging.WARNING, logger="sdk_instrumentation.pricing")
    for _ in range(5):
        assert pricing.price("openai", "no-such-model-xyz", Usage(input_tokens=10)) is None
        assert pricing.price("openai", "another-unknown", Usage(input_tokens=10)) is None
        assert pricing.price("no-such-provider", "gpt-4o", Usage(input_tokens=10)) is None
    records = [r for r in caplog.records if r.name == "sdk_instrumentation.pricing"]
    assert len(records) == 3
    assert sorted(r.getMessage().split(" model ")[1].split(":")[0] for r in records) == [
        "'another-unknown'", "'gpt-4o'", "'no-such-model-xyz'"]


def test_unknown_model_warns_once_across_threads(caplog):
    pricing = Pricing()
    caplog.set_level(logging.WARNING, logger="sdk_instrumentation.pricing")
    barrier = threading.Barrier(8)
    results = []

    def work():
        barrier.wait(timeout=10)
        for _ in range(200):
            results.append(pricing.price("openai", "thread-unknown", Usage(input_tokens=1)))
            results.append(pricing.price("openai", "gpt-4o", Usage(input_tokens=1_000_000)))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len([r for r in caplog.records if "thread-unknown" in r.getMessage()]) == 1
    assert len(results) == 8 * 400
    assert results.count(None) == 8 * 200
    assert all(c.input == pytest.approx(2.5, abs=TOL) for c in results if c is not None)


def test_time_of_day_price_follows_the_clock():
    # deepseek-chat: standard price 00:30-16:30 UTC, off-peak price otherwise (genai-prices data)
    peak = datetime(2025, 6, 2, 10, 0, tzinfo=UTC)
    off_peak = datetime(2025, 6, 2, 20, 0, tzinfo=UTC)
    now = [peak.timestamp()]
    pricing = Pricing(clock=lambda: now[0])
    usage = Usage(input_tokens=1_000_000, cache_read_tokens=200_000, output_tokens=1_000_000)
    at_peak = pricing.price("deepseek", "deepseek-chat", usage)
    assert_cost(at_peak, reference("deepseek", "deepseek-chat", usage, peak))
    now[0] = off_peak.timestamp()
    at_off_peak = pricing.price("deepseek", "deepseek-chat", usage)
    assert_cost(at_off_peak, reference("deepseek", "deepseek-chat", usage, off_peak))
    assert at_off_peak.total < at_peak.total


def test_start_date_price_changes_at_its_date():
    # openai o3: genai-prices holds the launch price and a lower price from a start date
    from genai_prices.types import StartDateConstraint

    model = genai_prices.data_snapshot.get_snapshot().find_provider_model("o3", None, "openai", None)[1]
    start = next(c.constraint.start_date for c in model.prices if isinstance(c.constraint, StartDateConstraint))
    before = datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp() - 3600
    now = [before]
    pricing = Pricing(clock=lambda: now[0])
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    old = pricing.price("openai", "o3", usage)
    assert_cost(old, reference("openai", "o3", usage, datetime.fromtimestamp(before, UTC)))
    now[0] = before + 7200
    new = pricing.price("openai", "o3", usage)
    assert_cost(new, reference("openai", "o3", usage, datetime.fromtimestamp(before + 7200, UTC)))
    assert new.total != old.total


def test_model_prefixes_are_stripped(pricing):
    usage = Usage(input_tokens=1000, output_tokens=100)
    expected = pricing.price("gcp.gemini", "gemini-2.5-flash", usage)
    assert pricing.price("gcp.gemini", "models/gemini-2.5-flash", usage) == expected
    assert pricing.price(
        "gcp.vertex_ai", "projects/p/locations/us-central1/publishers/google/models/gemini-2.5-flash", usage
    ) == expected


def test_no_network_and_bundled_snapshot_only(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("pricing must not use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    pricing = Pricing()
    for provider, model, _, _ in MODELS:
        assert pricing.price(provider, model, Usage(input_tokens=10, output_tokens=10)) is not None
    assert genai_prices.data_snapshot._custom_snapshot is None


# -- the self-check (issue 11, point 7) ---------------------------------------------------------

def test_self_check_finds_the_fast_path_equal_to_genai_prices_for_every_mapped_model():
    """Every model of every provider genai-lens maps: resolved once, the self-check's probe usages (cached,
    cache writes, reasoning, web search, both sides of every tier) agree with calc_price."""
    from genai_prices.data_snapshot import get_snapshot

    from sdk_instrumentation.pricing import PROVIDER_IDS

    pricing = Pricing()
    names = {}
    for name, provider_id in PROVIDER_IDS.items():
        names.setdefault(provider_id, name)
    checked, slow = 0, []
    for provider in get_snapshot().providers:
        if provider.id not in names:
            continue
        for model in provider.models:
            entry = pricing._resolve(names[provider.id], model.id)
            if entry.base is not None:
                checked += 1
                if entry.slow is not None:
                    slow.append((provider.id, model.id))
    assert checked > 400 and slow == []


def test_self_check_prices_through_genai_prices_when_the_fast_path_differs(caplog):
    """A model whose fast rates would disagree with genai-prices (as a new kind of price would make them)
    is priced by genai-prices itself from then on, with one warning."""
    from dataclasses import replace

    from genai_prices.data_snapshot import get_snapshot

    pricing = Pricing()
    entry = pricing._resolve("openai", "gpt-4o")
    assert entry.slow is None
    provider, model = get_snapshot().find_provider_model("gpt-4o", None, "openai", None)
    wrong = replace(entry, base=replace(entry.base, output_mtok=entry.base.output_mtok * 1.5))
    with caplog.at_level(logging.WARNING, logger="sdk_instrumentation.pricing"):
        checked = pricing._self_checked(wrong, provider, model, datetime.now(UTC), None, True)
    assert checked.slow is not None
    assert sum("differs from genai-prices" in r.message for r in caplog.records) == 1
    pricing._cache[("openai", "gpt-4o")] = checked
    usage = Usage(input_tokens=4_000, output_tokens=900, cache_read_tokens=1_000, web_search_calls=1)
    assert_cost(pricing.price("openai", "gpt-4o", usage), reference("openai", "gpt-4o", usage))


# -- modality parts (issue 11, point 2) -----------------------------------------------------------

# Models whose genai-prices entry prices audio, image or video tokens at their own rates.
MODALITY_MODELS = [
    ("gcp.gemini", "gemini-2.5-flash", "google", "gemini-2.5-flash"),  # audio input, cached audio
    ("gcp.gemini", "gemini-2.5-flash-image", "google", "gemini-2.5-flash-image"),  # image output
    ("gcp.gemini", "gemini-live-2.5-flash", "google", "gemini-live-2.5-flash"),  # audio/image/video in, audio out
    ("openai", "gpt-realtime", "openai", "gpt-realtime"),  # audio and image, cached audio and image
    ("openai", "gpt-audio", "openai", "gpt-audio"),  # audio in and out
    ("openai", "gpt-image-1.5", "openai", "gpt-image-1.5"),  # image in and out, cached image
]

MODALITY_USAGES = [
    # A Gemini audio prompt: 3,000 of 3,400 prompt tokens audio, 1,000 of them cached.
    Usage(input_tokens=3_400, output_tokens=250, cache_read_tokens=1_200,
          modality_tokens={"input_audio_tokens": 3_000, "cache_audio_read_tokens": 1_000}),
    # Realtime speech to speech with an image.
    Usage(input_tokens=6_000, output_tokens=2_000, cache_read_tokens=2_000,
          modality_tokens={"input_audio_tokens": 4_000, "input_image_tokens": 800, "cache_audio_read_tokens": 1_500,
                           "cache_image_read_tokens": 300, "output_audio_tokens": 1_600}),
    # An image edit: image in, image out.
    Usage(input_tokens=1_500, output_tokens=4_200, cache_read_tokens=500,
          modality_tokens={"input_image_tokens": 1_300, "cache_image_read_tokens": 400, "output_image_tokens": 4_160}),
    # Video in, at the long-context side of a tier.
    Usage(input_tokens=250_000, output_tokens=3_000, reasoning_tokens=1_000,
          modality_tokens={"input_video_tokens": 200_000, "input_audio_tokens": 20_000}),
]


@pytest.mark.parametrize(("provider", "model", "gp_provider", "gp_model"), MODALITY_MODELS)
def test_modality_parts_at_their_own_rates(pricing, provider, model, gp_provider, gp_model):
    """Audio, image and video tokens cost what genai-prices says, not the text rate."""
    differs = 0
    for usage in MODALITY_USAGES:
        cost = pricing.price(provider, model, usage)
        assert_cost(cost, reference(gp_provider, gp_model, usage))
        text_only = pricing.price(provider, model, dataclasses.replace(usage, modality_tokens=None))
        differs += abs(cost.total - text_only.total) > 1e-6
    assert differs >= 1  # the model has a modality rate that one of the usages exercises


def test_gemini_audio_prompt_anchor(pricing):
    """gemini-2.5-flash, 3,000 audio tokens (1,000 cached) of 3,400 prompt tokens, 250 output: the audio
    and cached-audio rates apply (USD per 1M: text 0.30, audio 1.00, cached text 0.03, cached audio 0.10)."""
    usage = MODALITY_USAGES[0]
    rates = {"input": 0.30, "audio": 1.00, "cache": 0.03, "cache_audio": 0.10, "output": 2.50}
    expected_input = (200 * rates["input"] + 2_000 * rates["audio"] + 200 * rates["cache"]
                      + 1_000 * rates["cache_audio"]) / 1e6
    cost = pricing.price("gcp.gemini", "gemini-2.5-flash", usage)
    assert cost.input == pytest.approx(expected_input, abs=TOL, rel=0)
    assert cost.output == pytest.approx(250 * rates["output"] / 1e6, abs=TOL, rel=0)


# -- every mapped model, several usages and dates (the self-check's guarantee, exhaustively) -------

PRICING_DATES = [datetime(2024, 7, 1, 12, tzinfo=UTC), datetime(2025, 6, 15, 3, tzinfo=UTC),
                 datetime(2026, 3, 1, 18, tzinfo=UTC), datetime(2026, 12, 1, 9, tzinfo=UTC)]
EXHAUSTIVE_USAGES = [USAGES[4], USAGES[6], USAGES[11], MODALITY_USAGES[1], MODALITY_USAGES[3]]


def test_every_mapped_model_equals_genai_prices_on_several_dates():
    """Every model of every provider genai-lens maps, at four dates (dated prices and time-of-day
    windows included), on text, cached, reasoning, long-context, web search and modality usages."""
    from genai_prices.data_snapshot import get_snapshot

    from sdk_instrumentation.pricing import PROVIDER_IDS

    names = {}
    for name, provider_id in PROVIDER_IDS.items():
        names.setdefault(provider_id, name)
    compared = 0
    for when in PRICING_DATES:
        pricing = Pricing(clock=when.timestamp)
        for provider in get_snapshot().providers:
            if provider.id not in names:
                continue
            for model in provider.models:
                for usage in EXHAUSTIVE_USAGES:
                    try:
                        expected = reference(provider.id, model.id, usage, when)
                        if usage.web_search_calls and expected == reference(
                                provider.id, model.id, dataclasses.replace(usage, web_search_calls=0), when):
                            # genai-prices has no search fee here: the shipped file's is tested on its own
                            usage = dataclasses.replace(usage, web_search_calls=0)
                    except (LookupError, ValueError):  # genai-prices itself refuses this usage for the model
                        continue
                    actual = pricing.price(names[provider.id], model.id, usage)
                    assert actual is not None, (provider.id, model.id)
                    for ours, theirs in ((actual.input, expected.input), (actual.output, expected.output),
                                         (actual.other, expected.other)):
                        assert ours == pytest.approx(theirs, abs=TOL, rel=1e-9), (provider.id, model.id, when, usage)
                    compared += 1
    assert compared > 4 * 400 * 4
