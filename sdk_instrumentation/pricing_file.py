"""The user's pricing file: extra models, negotiated rates, subscription billing.

``load_pricing_file(path)`` reads and strictly validates a YAML file such as::

    models:
      - provider: openai              # gen_ai.provider.name; omit to match any provider
        match: "ft:gpt-4o-mini:*"     # exact model name or a glob (case-insensitive)
        input_mtok: 0.30              # USD per 1M uncached input tokens
        cache_read_mtok: 0.15         # optional: USD per 1M cached input tokens
        cache_write_mtok: 0.375       # optional: USD per 1M tokens written to the cache
        output_mtok: 1.20             # USD per 1M output tokens (reasoning included)
        request: 0.0                  # optional: USD per request
        web_search_per_call: 0.01     # optional: USD per web search call
        tiers:                        # optional: long-context prices
          - {above_input_tokens: 200000, input_mtok: 2.5, output_mtok: 15}
        billing: subscription         # optional: payg (default) or subscription
      - provider: openrouter          # a gateway's markup on the prices found for its models
        match: "*"
        markup: 0.055                 # +5.5% on genai-prices' (or the shipped file's) price
      - provider: gcp.gemini          # an entry for one service tier only (the tier the response reports)
        match: "gemini-*"
        service_tier: flex
        markup: -0.5                  # a negative markup is a discount: half the standard price
        source: "negotiated, contract 42"  # optional: where the price comes from
        date: 2026-11-30              # optional: when it was read (required, with source, in the shipped file)
    api_keys:
      - key: team-a                   # the API key label (alias or redaction), never a raw key
        billing: subscription

Any mistake raises ``PricingFileError`` (a ``ValueError``) whose message starts
with ``file:line:``, for example ``prices.yaml:12: 'input_mtok' must be a number >= 0``.
``sdk_instrumentation.pricing.Pricing`` decides how entries are used; see docs/pricing.md.
"""

from __future__ import annotations

import datetime
import fnmatch
import math
import os
import re
from dataclasses import dataclass

import yaml

__all__ = [
    "PricingFileError",
    "FileTier",
    "FilePrice",
    "ModelEntry",
    "ApiKeyEntry",
    "PricingFile",
    "load_pricing_file",
]

BILLING_VALUES = ("payg", "subscription")
_TOP_KEYS = ("models", "api_keys")
_PRICE_KEYS = ("input_mtok", "cache_read_mtok", "cache_write_mtok", "output_mtok", "request", "tiers")
_MODEL_KEYS = ("provider", "match", *_PRICE_KEYS, "web_search_per_call", "billing", "markup", "service_tier",
               "source", "date")
_TIER_KEYS = ("above_input_tokens", "input_mtok", "cache_read_mtok", "cache_write_mtok", "output_mtok")
_API_KEY_KEYS = ("key", "billing")


class PricingFileError(ValueError):
    """The pricing file cannot be read or is invalid; the message names file and line."""


@dataclass(frozen=True, slots=True)
class FileTier:
    """Prices that replace the base ones when input_tokens > above_input_tokens (None: keep base)."""

    above_input_tokens: int
    input_mtok: float | None = None
    cache_read_mtok: float | None = None
    cache_write_mtok: float | None = None
    output_mtok: float | None = None


@dataclass(frozen=True, slots=True)
class FilePrice:
    """Token prices in USD per 1M tokens; a missing cache rate bills those tokens at the input rate."""

    input_mtok: float
    output_mtok: float
    cache_read_mtok: float | None = None
    cache_write_mtok: float | None = None
    request: float = 0.0
    tiers: tuple[FileTier, ...] = ()


@dataclass(frozen=True, slots=True)
class ModelEntry:
    match: str
    provider: str | None = None
    price: FilePrice | None = None
    web_search_per_call: float | None = None
    billing: str | None = None
    line: int = 0
    markup: float | None = None  # a fee on the price found elsewhere, as a fraction (0.055 = +5.5%, -0.5 = half)
    source: str | None = None  # where the price was read (required in the shipped data file)
    date: str | None = None    # when, YYYY-MM-DD
    service_tier: str | None = None  # the entry applies only to calls billed at this tier

    def matches(self, provider: str, model: str, service_tier: str | None = None) -> bool:
        """Whether the entry applies to a call of ``model`` on ``provider`` billed at ``service_tier``
        (None: the standard tier). An entry without ``service_tier`` applies to every tier."""
        if self.provider is not None and self.provider != provider:
            return False
        if self.service_tier is not None and self.service_tier != service_tier:
            return False
        return _glob_match(self.match, model)


@dataclass(frozen=True, slots=True)
class ApiKeyEntry:
    key: str
    billing: str
    line: int = 0

    def matches(self, label: str) -> bool:
        return _glob_match(self.key, label)


@dataclass(frozen=True, slots=True)
class PricingFile:
    path: str = ""
    models: tuple[ModelEntry, ...] = ()
    api_keys: tuple[ApiKeyEntry, ...] = ()


def _glob_match(pattern: str, name: str) -> bool:
    return fnmatch.fnmatchcase(name.lower(), pattern.lower())


def load_pricing_file(path: str | os.PathLike[str], *, require_sources: bool = False) -> PricingFile:
    """Read and validate a pricing file; raise PricingFileError naming file and line.

    ``require_sources``: every models entry must carry ``source`` and ``date`` (the shipped data file).
    """
    name = os.fspath(path)
    try:
        with open(name, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise PricingFileError(f"{name}: cannot read pricing file: {exc}") from None
    return parse_pricing_file(text, name, require_sources=require_sources)


def parse_pricing_file(text: str, name: str = "<pricing file>", *, require_sources: bool = False) -> PricingFile:
    """Validate YAML text; ``name`` is used in error messages."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise PricingFileError(f"{name}:{line}: invalid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise PricingFileError(f"{name}:1: invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    if root is None:
        return PricingFile(path=name)
    return _Reader(loader, name, require_sources).read(root)


class _Reader:
    """Walks the composed YAML nodes so every error can name its line."""

    def __init__(self, loader: yaml.SafeLoader, name: str, require_sources: bool = False) -> None:
        self._require_sources = require_sources
        self._loader = loader
        self._name = name

    def _error(self, node: yaml.Node, message: str) -> PricingFileError:
        return PricingFileError(f"{self._name}:{node.start_mark.line + 1}: {message}")

    def _mapping(self, node: yaml.Node, allowed: tuple[str, ...], what: str) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            raise self._error(node, f"{what} must be a mapping")
        out: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = self._loader.construct_object(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str):
                raise self._error(key_node, f"{what} keys must be strings")
            if key not in allowed:
                raise self._error(key_node, f"unknown key {key!r} in {what} (allowed: {', '.join(allowed)})")
            if key in out:
                raise self._error(key_node, f"duplicate key {key!r} in {what}")
            out[key] = value_node
        return out

    def _sequence(self, node: yaml.Node, key: str) -> list[yaml.Node]:
        if isinstance(node, yaml.ScalarNode) and self._loader.construct_object(node) is None:
            return []
        if not isinstance(node, yaml.SequenceNode):
            raise self._error(node, f"{key!r} must be a list")
        return list(node.value)

    def _scalar(self, node: yaml.Node) -> object:
        if not isinstance(node, yaml.ScalarNode):
            return node  # never a valid scalar; callers reject it by type
        return self._loader.construct_object(node)

    def _number(self, fields: dict[str, yaml.Node], key: str) -> float | None:
        if key not in fields:
            return None
        value = self._scalar(fields[key])
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise self._error(fields[key], f"{key!r} must be a number >= 0")
        return float(value)

    def _string(self, fields: dict[str, yaml.Node], key: str) -> str | None:
        if key not in fields:
            return None
        value = self._scalar(fields[key])
        if not isinstance(value, str) or not value.strip():
            raise self._error(fields[key], f"{key!r} must be a non-empty string")
        return value

    def _date(self, fields: dict[str, yaml.Node]) -> str | None:
        """``date: 2026-12-01`` (quoted or not) as the string ``"2026-12-01"``."""
        if "date" not in fields:
            return None
        value = self._scalar(fields["date"])
        text = value.isoformat() if isinstance(value, datetime.date) else value
        if not isinstance(text, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise self._error(fields["date"], "'date' must be a date, YYYY-MM-DD")
        return text

    def _glob(self, fields: dict[str, yaml.Node], key: str) -> str | None:
        value = self._string(fields, key)
        if value is not None:
            problem = _glob_problem(value)
            if problem:
                raise self._error(fields[key], f"{key!r} is not a valid glob: {problem}")
        return value

    def _billing(self, fields: dict[str, yaml.Node], key: str = "billing") -> str | None:
        value = self._string(fields, key)
        if value is not None and value not in BILLING_VALUES:
            raise self._error(fields[key], f"{key!r} must be one of: {', '.join(BILLING_VALUES)}")
        return value

    def read(self, root: yaml.Node) -> PricingFile:
        if isinstance(root, yaml.ScalarNode) and self._scalar(root) is None:
            return PricingFile(path=self._name)
        top = self._mapping(root, _TOP_KEYS, "the pricing file")
        models = tuple(self._model(node) for node in self._sequence(top["models"], "models")) if "models" in top else ()
        api_keys = (
            tuple(self._api_key(node) for node in self._sequence(top["api_keys"], "api_keys"))
            if "api_keys" in top
            else ()
        )
        return PricingFile(path=self._name, models=models, api_keys=api_keys)

    def _model(self, node: yaml.Node) -> ModelEntry:
        fields = self._mapping(node, _MODEL_KEYS, "a models entry")
        match = self._glob(fields, "match")
        if match is None:
            raise self._error(node, "a models entry needs 'match'")
        provider = self._string(fields, "provider")
        price = None
        if any(key in fields for key in _PRICE_KEYS):
            for key in ("input_mtok", "output_mtok"):
                if key not in fields:
                    raise self._error(node, f"a models entry with prices needs {key!r}")
            price = FilePrice(
                input_mtok=self._number(fields, "input_mtok"),
                output_mtok=self._number(fields, "output_mtok"),
                cache_read_mtok=self._number(fields, "cache_read_mtok"),
                cache_write_mtok=self._number(fields, "cache_write_mtok"),
                request=self._number(fields, "request") or 0.0,
                tiers=self._tiers(fields["tiers"]) if "tiers" in fields else (),
            )
        web_search = self._number(fields, "web_search_per_call")
        billing = self._billing(fields)
        markup = self._markup(fields)
        service_tier = self._string(fields, "service_tier")
        if service_tier is not None and service_tier.strip().lower() in ("default", "standard", "auto"):
            raise self._error(fields["service_tier"], f"'service_tier' {service_tier!r} is the standard tier: "
                                                      "leave 'service_tier' out for the standard price")
        if service_tier is not None and billing is not None:
            raise self._error(fields["billing"], "'billing' applies to every tier: not in an entry with 'service_tier'")
        if price is not None and markup is not None:
            raise self._error(fields["markup"], "'markup' applies to prices found elsewhere, not to this entry's own")
        if price is None and web_search is None and billing is None and markup is None:
            raise self._error(node, "a models entry needs prices, 'web_search_per_call', 'markup' or 'billing'")
        source = self._string(fields, "source")
        date = self._date(fields)
        if self._require_sources and (source is None or date is None):
            raise self._error(node, "every entry of this file needs 'source' and 'date'")
        return ModelEntry(
            match=match,
            provider=provider,
            price=price,
            web_search_per_call=web_search,
            billing=billing,
            line=node.start_mark.line + 1,
            markup=markup,
            source=source,
            date=date,
            service_tier=None if service_tier is None else service_tier.strip().lower(),
        )

    def _markup(self, fields: dict[str, yaml.Node]) -> float | None:
        """A fraction added to the price: 0.055 is +5.5%, -0.5 half the price; never below -1 (free)."""
        if "markup" not in fields:
            return None
        value = self._scalar(fields["markup"])
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < -1:
            raise self._error(fields["markup"], "'markup' must be a number >= -1 (a fraction: 0.055 = +5.5%)")
        return float(value)

    def _tiers(self, node: yaml.Node) -> tuple[FileTier, ...]:
        tiers: list[FileTier] = []
        for tier_node in self._sequence(node, "tiers"):
            fields = self._mapping(tier_node, _TIER_KEYS, "a tier")
            if "above_input_tokens" not in fields:
                raise self._error(tier_node, "a tier needs 'above_input_tokens'")
            above = self._scalar(fields["above_input_tokens"])
            if isinstance(above, bool) or not isinstance(above, int) or above < 0:
                raise self._error(fields["above_input_tokens"], "'above_input_tokens' must be an integer >= 0")
            if tiers and above <= tiers[-1].above_input_tokens:
                raise self._error(
                    fields["above_input_tokens"], "tiers must be in increasing 'above_input_tokens' order"
                )
            rates = {key: self._number(fields, key) for key in _TIER_KEYS[1:]}
            if all(value is None for value in rates.values()):
                raise self._error(tier_node, "a tier needs at least one price")
            tiers.append(FileTier(above_input_tokens=above, **rates))
        return tuple(tiers)

    def _api_key(self, node: yaml.Node) -> ApiKeyEntry:
        fields = self._mapping(node, _API_KEY_KEYS, "an api_keys entry")
        key = self._glob(fields, "key")
        billing = self._billing(fields)
        if key is None or billing is None:
            raise self._error(node, "an api_keys entry needs 'key' and 'billing'")
        return ApiKeyEntry(key=key, billing=billing, line=node.start_mark.line + 1)


def _glob_problem(pattern: str) -> str:
    """Why ``pattern`` is not a usable glob, or '' when it is."""
    depth_open = None
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "[":
            j = i + 1
            if j < len(pattern) and pattern[j] in "!^":
                j += 1
            if j < len(pattern) and pattern[j] == "]":
                j += 1
            close = pattern.find("]", j)
            if close < 0:
                depth_open = i
                break
            i = close + 1
            continue
        if c == "]":
            return f"unmatched ']' at position {i + 1}"
        i += 1
    if depth_open is not None:
        return f"unclosed '[' at position {depth_open + 1}"
    try:
        re.compile(fnmatch.translate(pattern))
    except re.error as exc:  # pragma: no cover - translate output is normally valid
        return str(exc)
    return ""
