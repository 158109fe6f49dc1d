"""What an LLM call cost, in US dollars, with plain float arithmetic.

Usage::

    from sdk_instrumentation.pricing import Pricing
    from sdk_instrumentation.usage import Usage

    pricing = Pricing()                      # or Pricing("prices.yaml"), or env GENAI_LENS_PRICING_FILE
    cost = pricing.price("openai", "gpt-4o", Usage(input_tokens=1200, output_tokens=300, cache_read_tokens=1000))
    cost.input, cost.output, cost.other      # USD; None instead of a Cost when the model has no known price
    pricing.billing("openai", "gpt-4o", "team-a")   # "payg" or "subscription"

Prices come from the ``genai-prices`` package's bundled data (never fetched over the network)
and from the optional user file (``sdk_instrumentation.pricing_file``), whose entries win.
A model's rates are resolved once per (provider, model), turned into floats and cached;
each call is then a few multiplications. The result equals ``genai_prices.calc_price``
(tests check to 1e-9 USD). See docs/pricing.md for the rules.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sdk_instrumentation.pricing_file import FilePrice, PricingFile, PricingFileError, load_pricing_file
from sdk_instrumentation.usage import (
    COST_SOURCE_GENAI_PRICES,
    COST_SOURCE_PRICING_FILE,
    MODALITY_KEYS,
    STANDARD_SERVICE_TIERS,
    Cost,
    Usage,
)

__all__ = ["Pricing", "PricingFileError", "PRICING_FILE_ENV", "PROVIDER_IDS", "SHIPPED_PRICES"]

logger = logging.getLogger("sdk_instrumentation.pricing")

PRICING_FILE_ENV = "GENAI_LENS_PRICING_FILE"

# OpenTelemetry gen_ai.provider.name -> genai-prices provider id. Names not listed here are
# passed to genai-prices' own provider lookup (its ids and provider_match rules), e.g. "together".
PROVIDER_IDS: dict[str, str] = {
    "openai": "openai",
    "azure.ai.openai": "azure",
    "azure.ai.inference": "azure",
    "gcp.gemini": "google",
    "gcp.vertex_ai": "google",
    "gcp.gen_ai": "google",
    "anthropic": "anthropic",
    "aws.bedrock": "aws",
    "deepseek": "deepseek",
    "groq": "groq",
    "x_ai": "x-ai",
    "mistral_ai": "mistral",
    "perplexity": "perplexity",
    "cohere": "cohere",
    "openrouter": "openrouter",
    "cloudflare": "cloudflare",
    "litellm": "litellm",  # genai-prices resolves a LiteLLM name to its vendor's model
}

# Gateways the openai client reaches (providers.KNOWN_HOSTS names them; a LiteLLM proxy by the
# user's mapping). Their model names are often "vendor/model" (openai/gpt-4o,
# google/gemini-3-pro-preview): priced as the gateway itself if genai-prices knows the name there,
# else as the vendor's model with the prefix stripped, else (no prefix) as an OpenAI model. The
# model label keeps the full name.
GATEWAYS = frozenset(("openrouter", "zenmux", "vercel", "cloudflare", "portkey", "helicone", "litellm"))
# The vendor prefix of a gateway model name -> genai-prices provider id (others are tried as they are).
VENDOR_IDS: dict[str, str] = {
    "google": "google", "gemini": "google", "vertex_ai": "google", "google-vertex": "google",
    "openai": "openai", "anthropic": "anthropic", "x-ai": "x-ai", "xai": "x-ai",
    "mistralai": "mistral", "mistral": "mistral", "deepseek": "deepseek", "meta-llama": "meta",
    "cohere": "cohere", "perplexity": "perplexity", "moonshotai": "moonshotai", "groq": "groq",
}

# Prices genai-prices lacks (web search fees of some models, ...): one shipped data file in the
# pricing-file format, each entry with its source and date. Used after the user's file and genai-prices.
SHIPPED_PRICES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "prices.yaml")


@dataclass(frozen=True, slots=True)
class _Rates:
    """USD per 1M tokens (token rates) and USD per unit (web_search, request), for one tier."""

    input_mtok: float
    cache_read_mtok: float  # already the input rate when the model has no cache read price
    cache_write_mtok: float  # already the input rate when the model has no cache write price
    output_mtok: float
    reasoning_mtok: float  # already the output rate when the model has no reasoning price
    web_search: float
    request: float
    # (usage key, USD per 1M tokens, is output) for each MODALITY_KEYS part whose token adds to the
    # cost beyond what its totals already did (genai-prices' leaf decomposition, in linear form).
    modality: tuple[tuple[str, float, bool], ...] = ()


@dataclass(frozen=True, slots=True)
class _Entry:
    """A resolved (provider, model): ``tiers`` is ((above_input_tokens, rates), ...) ascending
    after the base rates, ``expires`` the epoch second when a dated price changes."""

    base: _Rates | None
    tiers: tuple[tuple[int, _Rates], ...] = ()
    expires: float = math.inf
    source: str = ""
    cost_source: str = COST_SOURCE_GENAI_PRICES  # genai_lens.cost.source of the costs it gives
    tier_priced: bool = False  # genai-prices has a price variant for the entry's service tier
    # Set when the self-check found the fast path differs from genai-prices for this model: every
    # call is then priced by genai-prices itself, ``slow(usage) -> Cost``.
    slow: Callable[[Usage], Cost] | None = None


_UNPRICED = _Entry(base=None)


class Pricing:
    """Prices LLM calls; thread-safe; resolves each (provider, model) once.

    ``pricing_file``: path of a user YAML file (see ``sdk_instrumentation.pricing_file``);
    when None, the environment variable ``GENAI_LENS_PRICING_FILE`` is read instead.
    ``clock``: seconds since the epoch, for dated genai-prices prices (tests pass their own).
    ``shipped_prices``: the data file of prices genai-prices lacks (default: the one shipped).
    """

    def __init__(self, pricing_file: str | os.PathLike[str] | None = None, *, clock: Callable[[], float] = time.time,
                 shipped_prices: str | os.PathLike[str] = SHIPPED_PRICES):
        if pricing_file is None:
            pricing_file = os.environ.get(PRICING_FILE_ENV) or None
        self._file = load_pricing_file(pricing_file) if pricing_file is not None else PricingFile()
        self._clock = clock
        self._cache: dict[tuple[str, str], _Entry] = {}
        self._lock = threading.Lock()
        self._warned: set[tuple[str, str]] = set()
        self._snapshot = _bundled_snapshot()
        self._shipped = load_pricing_file(shipped_prices, require_sources=True)

    def price(self, provider: str, model: str, usage: Usage, service_tier: str | None = None) -> Cost | None:
        """USD cost of one call, split into input / output / other; None when the model is unpriced.

        ``service_tier``: the tier the provider billed (OpenAI's response ``service_tier``: ``flex``,
        ``priority``, ...); priced with genai-prices' variant for that tier where it has one, else at
        the standard rates (``default``, ``auto`` and None are the standard rates).
        """
        if service_tier in STANDARD_SERVICE_TIERS:
            key = (provider, model)
        else:
            key = (provider, model, service_tier)
        entry = self._cache.get(key)
        if entry is None or (entry.expires != math.inf and self._clock() >= entry.expires):
            entry = self._resolve(*key)
        if entry.slow is not None:
            return entry.slow(usage)
        return _cost(entry, usage)

    def billing(self, provider: str, model: str, api_key_label: str | None = None) -> str:
        """``"subscription"`` or ``"payg"``: an api_keys entry wins, then a models entry, else payg."""
        if api_key_label:
            for key_entry in self._file.api_keys:
                if key_entry.matches(api_key_label):
                    return key_entry.billing
        name = _model_name(model)
        for model_entry in self._file.models:
            if model_entry.billing is not None and model_entry.matches(provider, name):
                return model_entry.billing
        return "payg"

    def describe(self, provider: str, model: str) -> str:
        """Where the price of (provider, model) comes from, for logs and debugging."""
        entry = self._cache.get((provider, model)) or self._resolve(provider, model)
        return entry.source or "unpriced"

    # resolution, once per (provider, model) -------------------------------------------------

    def _resolve(self, provider: str, model: str, service_tier: str | None = None) -> _Entry:
        key = (provider, model) if service_tier is None else (provider, model, service_tier)
        with self._lock:
            entry = self._cache.get(key)
            if entry is None or (entry.expires != math.inf and self._clock() >= entry.expires):
                entry = self._build(provider, model, service_tier)
                self._cache[key] = entry
            if entry.base is None and key[:2] not in self._warned:
                self._warned.add(key[:2])
                logger.warning(
                    "no price known for provider %r model %r: its calls are counted as unpriced "
                    "(add it to the pricing file, see docs/pricing.md)",
                    provider,
                    model,
                )
        return entry

    def _build(self, provider: str, model: str, service_tier: str | None = None) -> _Entry:
        name = _model_name(model)
        web_search_override = next(
            (
                e.web_search_per_call
                for e in self._file.models
                if e.web_search_per_call is not None and e.matches(provider, name, service_tier)
            ),
            None,
        )
        # The user's file, then genai-prices, then the shipped data file's token prices (none at present).
        entry = self._from_file(self._file, provider, name, web_search_override, service_tier)
        if entry is not None:
            return entry
        entry = self._from_genai_prices(provider, name, web_search_override, service_tier)
        if entry is _UNPRICED:
            entry = self._from_file(self._shipped, provider, name, web_search_override, service_tier) or _UNPRICED
        elif service_tier and not entry.tier_priced:
            # genai-prices has no variant for the tier: the shipped file's tier discount (Gemini API
            # Flex), else the standard rates, with one warning.
            tier_markup = next((e.markup for e in self._shipped.models
                                if e.markup is not None and e.service_tier and e.matches(provider, name, service_tier)),
                               None)
            if tier_markup is not None:
                entry = _marked_up(entry, tier_markup, tokens_only=True)
            elif not any(e.service_tier and e.matches(provider, name, service_tier) for e in self._file.models):
                logger.warning("no %r service tier price known for provider %r model %r: priced at the standard "
                               "rates (add a pricing-file entry with service_tier, see docs/pricing.md)",
                               service_tier, provider, model)
        markup = next((e.markup for e in self._file.models
                       if e.markup is not None and e.matches(provider, name, service_tier)), None)
        return _marked_up(entry, markup) if markup and entry.base is not None else entry

    def _from_file(self, prices: PricingFile, provider: str, name: str, web_search_override: float | None,
                   service_tier: str | None = None):
        """The first entry of ``prices`` with token prices for the model (and tier), as an _Entry; else None."""
        for entry in prices.models:
            if entry.price is not None and entry.matches(provider, name, service_tier):
                web_search = web_search_override
                if web_search is None:
                    web_search = self._shipped_web_search(provider, name)
                return _from_file_price(entry.price, web_search, f"{prices.path}:{entry.line}")
        return None

    def _from_genai_prices(self, provider: str, name: str, web_search_override: float | None,
                           service_tier: str | None = None) -> _Entry:
        found = self._find_model(provider, name)
        if found is None:
            return _UNPRICED
        gp_provider, gp_model, via = found
        now = datetime.fromtimestamp(self._clock(), tz=UTC)
        # A tier's price variant overrides the rates it names; the others stay standard (genai-prices).
        model_price = gp_model.get_prices(now, {"service_tier": service_tier} if service_tier else None)
        web_searches_kcount = getattr(model_price, "web_searches_kcount", None)
        if web_search_override is not None:
            web_search = web_search_override
        elif web_searches_kcount is not None:
            web_search = float(Decimal(web_searches_kcount) / 1000)
        else:
            web_search = self._shipped_web_search(provider, name)
        entry = _from_model_price(
            model_price,
            web_search,
            expires=_next_price_change(gp_model, now),
            source=f"genai-prices {gp_provider.id}/{gp_model.id}" + (f" via {via}" if via else "")
            + (f" ({service_tier})" if service_tier else ""),
        )
        if service_tier and _has_tier_variant(gp_model, service_tier):
            entry = replace(entry, tier_priced=True)
        search_by_genai_prices = web_search_override is None and web_searches_kcount is not None
        return self._self_checked(entry, gp_provider, gp_model, now, service_tier, search_by_genai_prices)

    def _find_model(self, provider: str, name: str):
        """``(genai-prices provider, model, gateway or "")`` for a model name, or None."""
        from genai_prices.data_snapshot import find_provider_by_id

        candidates = [(PROVIDER_IDS.get(provider, provider), name)]
        if provider in GATEWAYS:
            vendor, slash, rest = name.partition("/")
            candidates.append((VENDOR_IDS.get(vendor.lower(), vendor.lower()), rest) if slash else ("openai", name))
        for provider_id, model_name in candidates:
            if not provider_id or not model_name:
                continue
            # genai-prices has no "litellm" provider but resolves LiteLLM names to their vendor's model.
            if provider_id != "litellm" and find_provider_by_id(self._snapshot.providers, provider_id) is None:
                continue
            try:
                gp_provider, gp_model = self._snapshot.find_provider_model(model_name, None, provider_id, None)
            except LookupError:
                continue
            return gp_provider, gp_model, provider if gp_provider.id != PROVIDER_IDS.get(provider, provider) else ""
        return None

    def _self_checked(self, entry: _Entry, gp_provider, gp_model, now: datetime, service_tier: str | None,
                      search_by_genai_prices: bool) -> _Entry:
        """The entry if the fast path equals genai-prices' own calc_price on probe usages that exercise
        every price component the fast path knows (both sides of every tier); else the entry with a
        slow path through genai-prices, and one warning. A genai-prices upgrade that adds a new kind of
        price can then never make genai-lens silently wrong."""
        context = {"service_tier": service_tier} if service_tier else None
        thresholds = [above for above, _ in entry.tiers]

        def reference(usage: Usage) -> Cost:
            searches = usage.web_search_calls if search_by_genai_prices else 0
            result = gp_model.calc_price(_genai_usage(usage, searches), gp_provider,
                                         genai_request_timestamp=datetime.fromtimestamp(self._clock(), tz=UTC),
                                         price_context=context)
            other = float(result.total_price - result.input_price - result.output_price)
            if not search_by_genai_prices:  # the fee of the user's or the shipped file
                other += usage.web_search_calls * (entry.base.web_search if entry.base else 0.0)
            return Cost(input=float(result.input_price), output=float(result.output_price), other=other)

        for usage in _probe_usages(thresholds):
            try:
                theirs = reference(usage)
            except (ValueError, ArithmeticError) as exc:  # genai-prices refuses this usage for the model
                logger.debug("self-check of %s skipped a probe: %s", entry.source, exc)
                continue
            ours = _cost(entry, usage)
            if ours is None or not all(_close(x, y) for x, y in ((ours.input, theirs.input), (ours.output, theirs.output),
                                                                 (ours.other, theirs.other))):
                logger.warning(
                    "genai-lens's fast pricing of %s differs from genai-prices on %s (%s against %s): "
                    "pricing this model through genai-prices itself from now on",
                    entry.source, usage, ours, theirs)
                return replace(entry, slow=reference)
        return entry

    def _shipped_web_search(self, provider: str, name: str) -> float:
        """The shipped data file's web search fee for a model genai-prices has none for; else 0."""
        for entry in self._shipped.models:
            if entry.web_search_per_call is not None and entry.matches(provider, name):
                return entry.web_search_per_call
        return 0.0


def _cost(entry: _Entry, usage: Usage) -> Cost | None:
    """The fast path: plain float arithmetic on a model's resolved rates."""
    rates = entry.base
    if rates is None:
        return None
    n_input = usage.input_tokens
    for above, tier_rates in entry.tiers:
        if n_input > above:
            rates = tier_rates
        else:
            break
    cache_read = usage.cache_read_tokens
    cache_write = usage.cache_write_tokens
    uncached = n_input - cache_read - cache_write
    if uncached < 0:
        uncached = 0
    reasoning = usage.reasoning_tokens
    other_output = usage.output_tokens - reasoning
    if other_output < 0:
        other_output = 0
    input_cost = (
        uncached * rates.input_mtok + cache_read * rates.cache_read_mtok + cache_write * rates.cache_write_mtok
    ) / 1_000_000
    output_cost = (other_output * rates.output_mtok + reasoning * rates.reasoning_mtok) / 1_000_000
    parts = usage.modality_tokens
    if parts and rates.modality:
        for key, weight, is_output in rates.modality:
            n = parts.get(key)
            if n:
                if is_output:
                    output_cost += n * weight / 1_000_000
                else:
                    input_cost += n * weight / 1_000_000
    other_cost = rates.request + usage.web_search_calls * rates.web_search
    return Cost(input=input_cost, output=output_cost, other=other_cost, source=entry.cost_source)


def _has_tier_variant(model: object, service_tier: str) -> bool:
    """Whether genai-prices gives the model its own prices for the service tier."""
    return any((getattr(variant, "when", None) or {}).get("service_tier") == service_tier
               for variant in getattr(model, "price_variants", None) or ())


def _marked_up(entry: _Entry, markup: float, tokens_only: bool = False) -> _Entry:
    """Every rate of ``entry`` times (1 + markup): a gateway's fee on the vendor's price; with
    ``tokens_only`` the token rates only (a service tier's discount leaves per-call fees alone)."""
    factor = 1.0 + markup
    fees = 1.0 if tokens_only else factor

    def scaled(rates: _Rates) -> _Rates:
        return _Rates(*(value * factor for value in (rates.input_mtok, rates.cache_read_mtok, rates.cache_write_mtok,
                                                     rates.output_mtok, rates.reasoning_mtok)),
                      web_search=rates.web_search * fees, request=rates.request * fees,
                      modality=tuple((key, weight * factor, is_output) for key, weight, is_output in rates.modality))

    slow = entry.slow
    # The pricing file's markup shaped the figure, so it is the file's price (genai_lens.cost.source).
    return replace(entry, base=scaled(entry.base), tiers=tuple((above, scaled(r)) for above, r in entry.tiers),
                   source=f"{entry.source} + {markup:.4g} markup", cost_source=COST_SOURCE_PRICING_FILE,
                   slow=None if slow is None else (lambda usage: _scaled_cost(slow(usage), factor, fees)))


def _scaled_cost(cost: Cost, factor: float, fees: float) -> Cost:
    return Cost(input=cost.input * factor, output=cost.output * factor, other=cost.other * fees,
                source=COST_SOURCE_PRICING_FILE)


def _probe_usages(thresholds: list[int]) -> list[Usage]:
    """Usages that touch every rate of the fast path: cached reads, cache writes, reasoning, web
    search, every modality part, and input below the first tier and above each tier's start; each
    text-only too, for models whose rates differ only there."""
    probes = []
    for n_input in [5_000] + [above + 5_000 for above in thresholds]:
        text = Usage(input_tokens=n_input, output_tokens=1_300, cache_read_tokens=n_input // 4,
                     cache_write_tokens=n_input // 8, reasoning_tokens=400, web_search_calls=2)
        parts = {"input_audio_tokens": n_input // 5, "input_image_tokens": n_input // 10,
                 "input_video_tokens": n_input // 20, "cache_audio_read_tokens": n_input // 20,
                 "cache_image_read_tokens": n_input // 40, "cache_video_read_tokens": n_input // 80,
                 "output_audio_tokens": 200, "output_image_tokens": 100, "output_video_tokens": 50}
        probes += [text, replace(text, modality_tokens=parts)]
    return probes


def _genai_usage(usage: Usage, web_searches: int):
    """The genai-prices Usage of ``usage``, every modality part explicit (0 where none), so genai-prices
    never has to infer one."""
    import genai_prices

    parts = usage.modality_tokens or {}
    return genai_prices.Usage(input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
                              cache_read_tokens=usage.cache_read_tokens, cache_write_tokens=usage.cache_write_tokens,
                              output_reasoning_tokens=usage.reasoning_tokens, web_searches=web_searches,
                              **{key: parts.get(key, 0) for key in MODALITY_KEYS})


def _close(ours: float, theirs: float) -> bool:
    return abs(ours - theirs) <= 1e-12 + 1e-9 * abs(theirs)


def _model_name(model: str) -> str:
    """The name genai-prices matches: surrounding whitespace dropped; Gemini's ``models/x``, Vertex
    ``.../models/x`` and a tuned model's ``tunedModels/x`` become ``x``."""
    model = model.strip()
    if model.startswith(("models/", "projects/", "publishers/")) and "models/" in model:
        return model.rsplit("models/", 1)[1]
    if model.startswith("tunedModels/"):
        return model[len("tunedModels/"):]
    return model


def _from_file_price(price: FilePrice, web_search: float, source: str) -> _Entry:
    def rates(input_mtok: float, cache_read: float | None, cache_write: float | None, output_mtok: float) -> _Rates:
        return _Rates(
            input_mtok=input_mtok,
            cache_read_mtok=input_mtok if cache_read is None else cache_read,
            cache_write_mtok=input_mtok if cache_write is None else cache_write,
            output_mtok=output_mtok,
            reasoning_mtok=output_mtok,
            web_search=web_search,
            request=price.request,
        )

    base = rates(price.input_mtok, price.cache_read_mtok, price.cache_write_mtok, price.output_mtok)
    tiers = []
    # A tier keeps the rates it does not name from the tier below it (the base for the first).
    current = (price.input_mtok, price.cache_read_mtok, price.cache_write_mtok, price.output_mtok)
    for tier in price.tiers:
        named = (tier.input_mtok, tier.cache_read_mtok, tier.cache_write_mtok, tier.output_mtok)
        current = tuple(old if new is None else new for new, old in zip(named, current, strict=True))
        tiers.append((tier.above_input_tokens, rates(*current)))
    return _Entry(base=base, tiers=tuple(tiers), source=source, cost_source=COST_SOURCE_PRICING_FILE)


def _from_model_price(model_price: object, web_search: float, *, expires: float, source: str) -> _Entry:
    """Float rates from a genai-prices ModelPrice, one _Rates per input-token tier band."""
    from genai_prices.types import TieredPrices

    units = _token_units()
    # Every token price the model has, by genai-prices usage key (input_tokens, input_audio_tokens, ...).
    prices = {usage_key: value for usage_key, price_key in units.items()
              if (value := getattr(model_price, price_key, None)) is not None}
    thresholds = sorted({t.start for p in prices.values() if isinstance(p, TieredPrices) for t in p.tiers})

    def at(usage_key: str, above: int | None) -> float | None:
        # genai-prices: the highest tier whose start < input_tokens applies to all tokens of the key.
        price = prices.get(usage_key)
        if price is None:
            return None
        if isinstance(price, TieredPrices):
            chosen = price.base
            if above is not None:
                for tier in price.tiers:
                    if tier.start <= above:
                        chosen = tier.price
            return float(chosen)
        return float(price)

    requests = getattr(model_price, "requests_kcount", None)
    per_request = float(Decimal(requests) / 1000) if requests is not None else 0.0

    def rates(above: int | None) -> _Rates:
        input_mtok = at("input_tokens", above)
        output_mtok = at("output_tokens", above)
        input_mtok = 0.0 if input_mtok is None else input_mtok
        output_mtok = 0.0 if output_mtok is None else output_mtok
        cache_read = at("cache_read_tokens", above)
        cache_write = at("cache_write_tokens", above)
        reasoning = at("output_reasoning_tokens", above)
        weights = _leaf_weights({key: at(key, above) for key in prices})
        return _Rates(
            input_mtok=input_mtok,
            cache_read_mtok=input_mtok if cache_read is None else cache_read,
            cache_write_mtok=input_mtok if cache_write is None else cache_write,
            output_mtok=output_mtok,
            reasoning_mtok=output_mtok if reasoning is None else reasoning,
            web_search=web_search,
            request=per_request,
            modality=tuple((key, weights[key], key.startswith("output_")) for key in MODALITY_KEYS
                           if weights.get(key)),
        )

    return _Entry(
        base=rates(None),
        tiers=tuple((above, rates(above)) for above in thresholds),
        expires=expires,
        source=source,
    )


_units_lock = threading.Lock()
_units: dict[str, str] | None = None


def _token_units() -> dict[str, str]:
    """genai-prices' token units: usage key -> price key (input_audio_tokens -> input_audio_mtok)."""
    global _units
    with _units_lock:
        if _units is None:
            from genai_prices.units import _get_registry

            _units = {key: unit.price_key for key, unit in _get_registry().units.items()
                      if unit.dimensions.get("family") == "tokens"}
        return _units


def _leaf_weights(rates: dict[str, float]) -> dict[str, float]:
    """USD per 1M tokens that one more token reported under each usage key adds to the cost.

    genai-prices prices each priced unit's *leaf* count: its reported count less the leaf counts of
    its priced descendants (``genai_prices.decompose.compute_leaf_values``; ``cache_audio_read_tokens``
    descends from ``input_audio_tokens``, ``cache_read_tokens`` and ``input_tokens``). That is linear
    in the reported counts, so the cost is a sum of count x weight, the weights worked out here once
    per model. The self-check then compares the result with genai-prices itself."""
    from genai_prices.decompose import is_descendant_or_self
    from genai_prices.units import _get_registry

    registry = _get_registry()
    units = sorted((registry.units[key] for key in rates), key=lambda unit: (-len(unit.dimensions), unit.usage_key))
    leaves: dict[str, dict[str, float]] = {}  # a unit's leaf count, as coefficients of the reported counts
    for unit in units:
        leaf = {unit.usage_key: 1.0}
        for other in units:
            if other is not unit and is_descendant_or_self(unit, other):
                for key, coefficient in leaves[other.usage_key].items():
                    leaf[key] = leaf.get(key, 0.0) - coefficient
        leaves[unit.usage_key] = leaf
    weights: dict[str, float] = {}
    for usage_key, leaf in leaves.items():
        for key, coefficient in leaf.items():
            weights[key] = weights.get(key, 0.0) + coefficient * rates[usage_key]
    return weights


def _next_price_change(model: object, now: datetime) -> float:
    """Epoch second of the next date/time-of-day boundary among the model's dated prices."""
    from genai_prices.types import StartDateConstraint, TimeOfDateConstraint

    prices = getattr(model, "prices", None)
    if not isinstance(prices, list):
        return math.inf
    boundaries: list[datetime] = []
    for conditional in prices:
        constraint = conditional.constraint
        if isinstance(constraint, StartDateConstraint):
            start = datetime.combine(constraint.start_date, datetime.min.time(), tzinfo=UTC)
            if start > now:
                boundaries.append(start)
        elif isinstance(constraint, TimeOfDateConstraint):
            boundaries.extend(_next_times(now, (constraint.start_time, constraint.end_time)))
    return min(boundaries).timestamp() if boundaries else math.inf


def _next_times(now: datetime, times: Iterable) -> list[datetime]:
    out = []
    today: date = now.date()
    for t in times:
        tz = t.tzinfo or UTC
        for day in (today - timedelta(days=1), today, today + timedelta(days=1), today + timedelta(days=2)):
            candidate = datetime.combine(day, t.replace(tzinfo=None), tzinfo=tz).astimezone(UTC)
            if candidate > now:
                out.append(candidate)
                break
    return out


_snapshot_lock = threading.Lock()
_snapshot = None


def _bundled_snapshot():
    """genai-prices' bundled data (its own DataSnapshot, so a custom/updated snapshot is never used)."""
    global _snapshot
    with _snapshot_lock:
        if _snapshot is None:
            from genai_prices.data import providers
            from genai_prices.data_snapshot import DataSnapshot

            _snapshot = DataSnapshot(providers=providers, from_auto_update=False)
        return _snapshot
