"""The user pricing file: add and override models, billing, strict validation naming file:line."""

from __future__ import annotations

import logging
import textwrap

import pytest

from sdk_instrumentation.pricing import Pricing, PricingFileError
from sdk_instrumentation.pricing_file import load_pricing_file
from sdk_instrumentation.usage import Cost, Usage

TOL = 1e-9

EXAMPLE = """\
models:
  - provider: openai
    match: "ft:gpt-4o-mini:*"
    input_mtok: 0.30
    cache_read_mtok: 0.15
    output_mtok: 1.20
    request: 0.001
    web_search_per_call: 0.02
  - provider: openai
    match: gpt-4o
    input_mtok: 2.0
    output_mtok: 8.0
    billing: subscription
  - match: "my-long-model"
    input_mtok: 1
    output_mtok: 4
    tiers:
      - {above_input_tokens: 100000, input_mtok: 2, output_mtok: 6}
      - {above_input_tokens: 500000, input_mtok: 3}
  - provider: gcp.gemini
    match: gemini-2.5-flash*
    web_search_per_call: 0.05
  - provider: gcp.gemini
    match: gemini-2.5-pro
    billing: subscription
api_keys:
  - key: team-a
    billing: subscription
  - key: "sk-…*"
    billing: payg
"""


def write(tmp_path, text: str, name: str = "prices.yaml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return str(path)


@pytest.fixture(autouse=True)
def no_env(monkeypatch):
    monkeypatch.delenv("GENAI_LENS_PRICING_FILE", raising=False)


@pytest.fixture
def pricing(tmp_path) -> Pricing:
    return Pricing(pricing_file=write(tmp_path, EXAMPLE))


def test_adds_a_fine_tune_genai_prices_lacks(pricing, caplog):
    caplog.set_level(logging.WARNING, logger="sdk_instrumentation.pricing")
    assert Pricing().price("openai", "ft:gpt-4o-mini:acme:v1", Usage(input_tokens=1)) is None
    caplog.clear()
    usage = Usage(input_tokens=1_000_000, cache_read_tokens=200_000, output_tokens=500_000, web_search_calls=2)
    cost = pricing.price("openai", "ft:gpt-4o-mini:acme:v1", usage)
    assert cost.input == pytest.approx(0.8 * 0.30 + 0.2 * 0.15, abs=TOL)
    assert cost.output == pytest.approx(0.5 * 1.20, abs=TOL)
    assert cost.other == pytest.approx(0.001 + 2 * 0.02, abs=TOL)
    assert not caplog.records
    assert pricing.describe("openai", "ft:gpt-4o-mini:acme:v1").endswith("prices.yaml:2")


def test_overrides_genai_prices_and_missing_cache_rate_bills_input_rate(pricing):
    usage = Usage(input_tokens=1_000_000, cache_read_tokens=400_000, output_tokens=100_000)
    assert pricing.price("openai", "gpt-4o", usage) == Cost(input=2.0, output=0.8, other=0.0, source="pricing-file")
    assert Pricing().price("openai", "gpt-4o", usage).total == pytest.approx(3.0, abs=TOL)
    # other providers are untouched: the entry names provider openai
    assert pricing.price("azure.ai.openai", "gpt-4o", usage).total == pytest.approx(3.0, abs=TOL)


def test_user_tiers(pricing):
    small = pricing.price("x", "my-long-model", Usage(input_tokens=100_000, output_tokens=1_000_000))
    mid = pricing.price("x", "my-long-model", Usage(input_tokens=100_001, output_tokens=1_000_000))
    big = pricing.price("x", "my-long-model", Usage(input_tokens=600_000, output_tokens=1_000_000))
    assert (small.input, small.output) == (pytest.approx(0.1, abs=TOL), pytest.approx(4.0, abs=TOL))
    assert (mid.input, mid.output) == (pytest.approx(0.200002, abs=TOL), pytest.approx(6.0, abs=TOL))
    # the second tier names only input_mtok: output keeps the first tier's rate
    assert (big.input, big.output) == (pytest.approx(1.8, abs=TOL), pytest.approx(6.0, abs=TOL))


def test_web_search_override_keeps_genai_token_prices(pricing):
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000, web_search_calls=3)
    cost = pricing.price("gcp.gemini", "gemini-2.5-flash", usage)
    assert cost == Cost(input=pytest.approx(0.3, abs=TOL), output=pytest.approx(2.5, abs=TOL),
                        other=pytest.approx(0.15, abs=TOL))


def test_billing(pricing):
    assert pricing.billing("openai", "gpt-4o", None) == "subscription"
    assert pricing.billing("gcp.gemini", "models/gemini-2.5-pro", "") == "subscription"
    assert pricing.billing("gcp.gemini", "gemini-2.5-flash", None) == "payg"
    assert pricing.billing("openai", "gpt-4o-mini", "team-a") == "subscription"
    assert pricing.billing("openai", "gpt-4o-mini", "team-b") == "payg"
    # an api_keys entry wins over a models entry
    assert pricing.billing("openai", "gpt-4o", "sk-…a1b2") == "payg"
    assert Pricing().billing("openai", "gpt-4o", "team-a") == "payg"


def test_first_matching_entry_wins(tmp_path):
    pricing = Pricing(write(tmp_path, """\
        models:
          - {match: "gpt-4o*", input_mtok: 1, output_mtok: 1}
          - {match: "gpt-4o", input_mtok: 9, output_mtok: 9}
        """))
    assert pricing.price("openai", "gpt-4o", Usage(input_tokens=1_000_000)).input == pytest.approx(1.0, abs=TOL)


def test_env_var_is_read_when_no_file_given(tmp_path, monkeypatch):
    monkeypatch.setenv("GENAI_LENS_PRICING_FILE", write(tmp_path, EXAMPLE))
    assert Pricing().price("openai", "gpt-4o", Usage(input_tokens=1_000_000)).input == pytest.approx(2.0, abs=TOL)
    monkeypatch.setenv("GENAI_LENS_PRICING_FILE", write(tmp_path, "models: [{match: x, billing: maybe}]\n", "bad.yaml"))
    with pytest.raises(PricingFileError, match=r"bad\.yaml:1: 'billing' must be one of: payg, subscription"):
        Pricing()
    # an explicit file wins over the environment
    assert Pricing(write(tmp_path, "", "empty.yaml")).price("openai", "gpt-4o", Usage(input_tokens=1_000_000)).input \
        == pytest.approx(2.5, abs=TOL)


def test_empty_and_null_sections_are_fine(tmp_path):
    assert load_pricing_file(write(tmp_path, "")).models == ()
    assert load_pricing_file(write(tmp_path, "models:\napi_keys:\n")).api_keys == ()


BAD_FILES = [
    ("models:\n  - match: gpt-x\n    input_mtok: -1\n    output_mtok: 1\n", 3, "'input_mtok' must be a number >= 0"),
    ("models:\n  - match: gpt-x\n    input_mtok: '0.3'\n    output_mtok: 1\n", 3, "'input_mtok' must be a number >= 0"),
    ("models:\n  - match: gpt-x\n    input_mtok: true\n    output_mtok: 1\n", 3, "'input_mtok' must be a number >= 0"),
    ("models:\n  - match: gpt-x\n    input_mtok: .nan\n    output_mtok: 1\n", 3, "'input_mtok' must be a number >= 0"),
    ("models:\n  - match: gpt-x\n    input_mtok: 1\n    output_mtok: 1\n    colour: red\n", 5,
     "unknown key 'colour' in a models entry"),
    ("modles: []\n", 1, "unknown key 'modles' in the pricing file"),
    ("models:\n  - match: gpt-x\n    input_mtok: 1\n", 2, "a models entry with prices needs 'output_mtok'"),
    ("models:\n  - input_mtok: 1\n    output_mtok: 1\n", 2, "a models entry needs 'match'"),
    ("models:\n  - match: gpt-x\n", 2, "a models entry needs prices, 'web_search_per_call', 'markup' or 'billing'"),
    ("models:\n  - {match: x, input_mtok: 1, output_mtok: 1, markup: 0.1}\n", 2,
     "'markup' applies to prices found elsewhere"),
    ("models:\n  - match: 'gpt-[4o'\n    billing: payg\n", 2, "'match' is not a valid glob: unclosed '['"),
    ("models:\n  - match: 'gpt]'\n    billing: payg\n", 2, "'match' is not a valid glob: unmatched ']'"),
    ("models:\n  - match: ''\n    billing: payg\n", 2, "'match' must be a non-empty string"),
    ("models:\n  - match: 7\n    billing: payg\n", 2, "'match' must be a non-empty string"),
    ("models:\n  - match: a\n    billing: free\n", 3, "'billing' must be one of: payg, subscription"),
    ("models: {match: a}\n", 1, "'models' must be a list"),
    ("models:\n  - gpt-4o\n", 2, "a models entry must be a mapping"),
    ("models:\n  - match: a\n    billing: payg\n    billing: payg\n", 4, "duplicate key 'billing'"),
    ("models:\n  - match: a\n    input_mtok: 1\n    output_mtok: 1\n    tiers:\n      - {input_mtok: 2}\n", 6,
     "a tier needs 'above_input_tokens'"),
    ("models:\n  - match: a\n    input_mtok: 1\n    output_mtok: 1\n    tiers:\n"
     "      - {above_input_tokens: 10, input_mtok: 2}\n      - {above_input_tokens: 5, input_mtok: 3}\n", 7,
     "tiers must be in increasing 'above_input_tokens' order"),
    ("models:\n  - match: a\n    input_mtok: 1\n    output_mtok: 1\n    tiers:\n"
     "      - {above_input_tokens: 1.5, input_mtok: 2}\n", 6, "'above_input_tokens' must be an integer >= 0"),
    ("models:\n  - match: a\n    input_mtok: 1\n    output_mtok: 1\n    tiers:\n"
     "      - {above_input_tokens: 10}\n", 6, "a tier needs at least one price"),
    ("models:\n  - match: a\n    input_mtok: 1\n    output_mtok: 1\n    tiers:\n"
     "      - {above_input_tokens: 10, requests: 2}\n", 6, "unknown key 'requests' in a tier"),
    ("api_keys:\n  - key: team-a\n", 2, "an api_keys entry needs 'key' and 'billing'"),
    ("api_keys:\n  - key: team-a\n    billing: payg\n    secret: sk-123\n", 4, "unknown key 'secret'"),
    ("models:\n  - match: a\n    billing: [payg\n", 4, "invalid YAML"),
    ("models:\n  - match: a\n\tbilling: payg\n", 3, "invalid YAML"),
    ("- just\n- a list\n", 1, "the pricing file must be a mapping"),
    ("models:\n  - {match: a, markup: -1.5}\n", 2, "'markup' must be a number >= -1"),
    ("models:\n  - {match: a, markup: .inf}\n", 2, "'markup' must be a number >= -1"),
    ("models:\n  - {match: a, service_tier: default, markup: -0.5}\n", 2, "'service_tier' 'default' is the standard tier"),
    ("models:\n  - {match: a, service_tier: '', markup: -0.5}\n", 2, "'service_tier' must be a non-empty string"),
    ("models:\n  - {match: a, service_tier: flex, billing: subscription}\n", 2, "'billing' applies to every tier"),
]


@pytest.mark.parametrize(("text", "line", "message"), BAD_FILES)
def test_bad_file_names_file_and_line(tmp_path, text, line, message):
    path = tmp_path / "prices.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PricingFileError) as info:
        Pricing(pricing_file=str(path))
    assert isinstance(info.value, ValueError)
    assert str(info.value).startswith(f"{path}:{line}: ")
    assert message in str(info.value)


def test_missing_file_names_the_file(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(PricingFileError, match=r"nope\.yaml: cannot read pricing file"):
        Pricing(pricing_file=missing)


def test_source_and_date_of_an_entry(tmp_path):
    path = tmp_path / "prices.yaml"
    path.write_text(textwrap.dedent("""\
        models:
          - match: "my-model"
            web_search_per_call: 0.02
            source: "https://example.com/pricing"
            date: 2026-11-30
    """))
    (entry,) = load_pricing_file(path, require_sources=True).models
    assert (entry.source, entry.date, entry.web_search_per_call) == ("https://example.com/pricing", "2026-11-30", 0.02)


@pytest.mark.parametrize(("body", "line", "message"), [
    ('  - match: "m"\n    web_search_per_call: 0.02\n    date: "30/11/2026"\n', 4, "'date' must be a date, YYYY-MM-DD"),
    ('  - match: "m"\n    web_search_per_call: 0.02\n    date: "2026-11-30"\n', 2, "needs 'source' and 'date'"),
])
def test_the_shipped_files_rules_name_file_and_line(tmp_path, body, line, message):
    path = tmp_path / "prices.yaml"
    path.write_text("models:\n" + body)
    with pytest.raises(PricingFileError) as info:
        load_pricing_file(path, require_sources=True)
    assert str(info.value).startswith(f"{path}:{line}:") and message in str(info.value)


def test_shipped_token_prices_come_after_the_user_file_and_genai_prices(tmp_path):
    shipped = tmp_path / "shipped.yaml"
    shipped.write_text(textwrap.dedent("""\
        models:
          - {provider: openai, match: "genai-lens-test-model", input_mtok: 1.0, output_mtok: 2.0,
             source: "https://example.com/a", date: 2026-12-01}
          - {provider: openai, match: "gpt-4o", input_mtok: 100.0, output_mtok: 100.0,
             source: "https://example.com/b", date: 2026-12-01}
    """))
    user = tmp_path / "user.yaml"
    user.write_text('models:\n  - {provider: openai, match: "genai-lens-user-model", input_mtok: 3.0, output_mtok: 4.0}\n')
    pricing = Pricing(pricing_file=user, shipped_prices=shipped)
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    assert pricing.price("openai", "genai-lens-test-model", usage) == Cost(input=1.0, output=2.0, other=0.0, source="pricing-file")
    assert pricing.describe("openai", "genai-lens-test-model") == f"{shipped}:2"
    assert pricing.price("openai", "gpt-4o", usage) == Cost(input=2.5, output=10.0, other=0.0)  # genai-prices first
    assert pricing.price("openai", "genai-lens-user-model", usage) == Cost(input=3.0, output=4.0, other=0.0, source="pricing-file")


# -- entries for one service tier (issue 11, point 3) ---------------------------------------------------

def test_service_tier_entries_apply_to_that_tier_only(tmp_path):
    """A tier's own rates or discount from the user's file; other tiers and the standard price untouched;
    genai-prices' own tier variant (OpenAI flex) is kept when the file says nothing for that tier."""
    prices = tmp_path / "prices.yaml"
    prices.write_text(
        "models:\n"
        "  - {provider: gcp.gemini, match: gemini-2.5-pro, service_tier: priority, input_mtok: 2.25, output_mtok: 18}\n"
        "  - {provider: gcp.vertex_ai, match: 'gemini-*', service_tier: provisioned_throughput, markup: -1}\n")
    pricing = Pricing(pricing_file=prices)
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    standard = Pricing().price("gcp.gemini", "gemini-2.5-pro", usage)
    assert pricing.price("gcp.gemini", "gemini-2.5-pro", usage) == standard
    priority = pricing.price("gcp.gemini", "gemini-2.5-pro", usage, "priority")
    assert (priority.input, priority.output, priority.source) == (pytest.approx(2.25), pytest.approx(18.0), "pricing-file")
    prepaid = pricing.price("gcp.vertex_ai", "gemini-2.5-flash", usage, "provisioned_throughput")
    assert prepaid.total == 0.0 and prepaid.source == "pricing-file"  # reserved capacity, paid for up front
    flex = pricing.price("gcp.gemini", "gemini-2.5-pro", usage, "flex")  # the shipped Gemini API Flex discount
    assert flex.total == pytest.approx(standard.total / 2, rel=1e-12)
    assert pricing.price("openai", "gpt-5", usage, "flex") == Pricing().price("openai", "gpt-5", usage, "flex")
    assert pricing.price("openai", "gpt-5", usage, "flex").source == "genai-prices"
