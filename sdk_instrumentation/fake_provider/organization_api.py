"""OpenAI's organization Usage and Costs APIs, answered from the calls the fake provider served.

Every OpenAI call the fake answers (chat completions, responses, embeddings; plain and streamed)
is booked in a usage ledger: its time, the model the response names, the project and API key id
of the key it used, the service tier the response reports, the token counts the response reports
and its cost by the project's own ``Pricing``. The admin endpoints read that ledger, so a correct
measured-vs-billed pipeline reconciles to a difference of 0::

    import httpx, openai
    from sdk_instrumentation.fake_provider import FakeProvider
    from sdk_instrumentation.local_server import LocalServer

    provider = FakeProvider(api_keys={"sk-team-a-0123456789abcdef": ("proj_a", "key_a")},
                            admin_key="sk-admin-fake", clock=lambda: 1767441600.0)
    with LocalServer(provider.app) as server:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="sk-team-a-0123456789abcdef", max_retries=0)
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}],
                                       extra_headers={"x-fake-usage-time": "1767261600"})  # booked on a past day

        admin = httpx.Client(base_url=server.url + "/v1", headers={"Authorization": "Bearer sk-admin-fake"})
        admin.get("/organization/usage/completions",
                  params={"start_time": 1767225600, "group_by": ["model", "project_id"]}).json()
        admin.get("/organization/costs", params={"start_time": 1767225600, "group_by": ["line_item"]}).json()
        admin.get("/organization/projects").json()
        admin.get("/organization/projects/proj_a/api_keys").json()   # redacted_value "sk-team-**************cdef"
        # the real client works too: openai.OpenAI(..., admin_api_key="sk-admin-fake").admin.organization.usage

    org = provider.organization                 # this module's Organization
    org.cost_factor = 1.1                       # bill 10% above Pricing (an injected pricing error)
    org.cost_factors["gpt-4o"] = 0.5            # or one model differently
    org.fail_next(429, retry_after=2)           # the next organization request answers 429 + retry-after
    org.revise(1767225600, "gpt-4o-mini", extra_input_tokens=500)   # revise a past bucket after it was read

Rules (docs/fake_provider.md has the full list):

- Booked: calls answered successfully, including the ``slow`` fault; not 400/429/500 answers nor a
  ``drop``. Gemini calls are never booked (Gemini has no such API). A streamed chat call without
  ``stream_options.include_usage`` is booked too (OpenAI bills it; the client saw no usage).
- Time: ``clock()`` when the call is answered, or the request's ``x-fake-usage-time: <unix seconds>``.
- Project and key: ``api_keys[key] = (project_id, key_id)``; other keys are ``key_<sha256[:16]>``
  in ``proj_default``. batch is always false.
- The ledger keeps one cell per (kind, minute, model, project, key, batch, tier), not one per call;
  past ``max_cells`` cells the oldest day still at minute resolution is folded into one cell per
  day (its 1m/1h buckets then show that day's usage at 00:00; 1d buckets are unchanged).
- Buckets are aligned to the bucket width in UTC; every bucket that overlaps [start_time, end_time)
  is reported whole (empty ones with ``results: []``); ``end_time`` defaults to ``clock()``.
  Results are sorted by their group fields in the API's order (project_id, user_id, api_key_id, ...).
- Costs: each call priced by ``Pricing.price("openai", model, usage, tier)``; the input cost is split
  into "input" / "cached input" / "cache writes" line items at the call's own rates. Amounts are
  exact sums of those float parts (kept as integers of 2**-1074 USD, the smallest float step), times
  ``cost_factor``, rounded once to a float: the same as ``math.fsum`` of the parts.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import struct
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, NamedTuple

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..usage import STANDARD_SERVICE_TIERS, Usage
from .controls import ControlError

__all__ = [
    "Organization", "routes", "wire_usage", "redacted_value", "key_id_for",
    "DEFAULT_ADMIN_KEY", "DEFAULT_PROJECT", "USAGE_GROUPS", "COST_GROUPS", "BUCKET_WIDTHS",
]

DEFAULT_ADMIN_KEY = "sk-admin-fake"
DEFAULT_PROJECT = "proj_default"
DEFAULT_PROJECT_NAME = "Default project"  # what OpenAI names an organization's first project
DEFAULT_MAX_CELLS = 100_000
CREATED_AT = 1711471533  # created_at of every project and key (the timestamp of OpenAI's examples)
DAY = 86_400
# USD are kept as exact integer multiples of 2**-1074, the smallest step between floats (every float is
# one), so sums never round; int / int true division rounds once, correctly, when a report is read.
_UNIT = 2 ** 1074

# Usage endpoint (/v1/organization/usage/<kind>) -> the group_by values it accepts, which are also the
# group fields of its results (null when not grouped). As openai-python 3.57's admin types document them.
USAGE_GROUPS: dict[str, tuple[str, ...]] = {
    "completions": ("project_id", "user_id", "api_key_id", "model", "batch", "service_tier", "api_source"),
    "embeddings": ("project_id", "user_id", "api_key_id", "model"),
    "moderations": ("project_id", "user_id", "api_key_id", "model"),
    "images": ("project_id", "user_id", "api_key_id", "model", "size", "source"),
    "audio_speeches": ("project_id", "user_id", "api_key_id", "model"),
    "audio_transcriptions": ("project_id", "user_id", "api_key_id", "model"),
    "vector_stores": ("project_id",),
    "code_interpreter_sessions": ("project_id",),
}
COST_GROUPS = ("project_id", "user_id", "line_item", "api_key_id", "api_source")
BOOKED_KINDS = ("completions", "embeddings")  # the usage kinds the fake serves calls of

# bucket_width -> (seconds, default limit, max limit). Costs: 1d only, limit 1..180, default 7.
BUCKET_WIDTHS = {"1m": (60, 60, 1440), "1h": (3600, 24, 168), "1d": (DAY, 7, 31)}
COST_WIDTHS = {"1d": (DAY, 7, 180)}

# The line kinds of a cost, in the order they are listed; "input" is the uncached input.
LINE_KINDS = ("input", "cached input", "cache writes", "output", "web search tool calls", "requests")
_NOT_PER_MODEL = ("web search tool calls",)

_NO_KEY = ("You didn't provide an API key. You need to provide your API key in an Authorization header using "
           "Bearer auth (i.e. Authorization: Bearer YOUR_KEY). You can obtain an API key from "
           "https://platform.openai.com/account/api-keys.")
_BAD_KEY = ("Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys. "
            "(fake provider: the organization endpoints want the admin key)")

logger = logging.getLogger("sdk_instrumentation.fake_provider")


# --- helpers ------------------------------------------------------------------------------------


def key_id_for(api_key: str) -> str:
    """The id of a key that is not in the mapping: ``key_`` + 16 hex digits of its sha256."""
    return "key_" + hashlib.sha256(api_key.encode()).hexdigest()[:16]


def redacted_value(api_key: str) -> str:
    """A key as OpenAI's key listings show it: the first 8 characters, then ``*`` up to the last 4, as
    long as the key (``sk-proj-****...****excA``). A key under 20 characters keeps only its first 3."""
    if len(api_key) < 20:
        return api_key[:3] + "*" * max(0, len(api_key) - 3)
    return api_key[:8] + "*" * (len(api_key) - 12) + api_key[-4:]


def wire_usage(usage: dict, web_search_calls: int = 0) -> Usage:
    """The ``Usage`` an OpenAI usage object reports: chat or embeddings (``prompt_tokens``, ...) or
    Responses (``input_tokens``, ...), with the cached, cache-write, reasoning, audio and image parts."""
    chat = "prompt_tokens" in usage
    inputs = usage.get("prompt_tokens_details" if chat else "input_tokens_details") or {}
    outputs = usage.get("completion_tokens_details" if chat else "output_tokens_details") or {}
    parts = {}
    for details, prefix in ((inputs, "input_"), (outputs, "output_")):
        for modality in ("audio", "image"):
            if details.get(f"{modality}_tokens"):
                parts[f"{prefix}{modality}_tokens"] = details[f"{modality}_tokens"]
    return Usage(
        input_tokens=usage.get("prompt_tokens" if chat else "input_tokens") or 0,
        output_tokens=usage.get("completion_tokens" if chat else "output_tokens") or 0,
        cache_read_tokens=inputs.get("cached_tokens") or 0,
        cache_write_tokens=inputs.get("cache_write_tokens") or 0,
        reasoning_tokens=outputs.get("reasoning_tokens") or 0,
        web_search_calls=web_search_calls,
        modality_tokens=parts or None,
    )


def _exact(usd: float) -> int:
    """``usd`` in units of 2**-1074 USD, exactly."""
    numerator, denominator = float(usd).as_integer_ratio()
    return numerator * (_UNIT // denominator)


def _usage_tokens(kind: str, usage: Usage, requests: int) -> dict[str, int]:
    """The counts a usage result adds up for one booking (the fields of its result object)."""
    if kind != "completions":
        return {"input_tokens": usage.input_tokens, "num_model_requests": requests}
    parts = usage.modality_tokens or {}
    audio_in, image_in = parts.get("input_audio_tokens", 0), parts.get("input_image_tokens", 0)
    audio_out, image_out = parts.get("output_audio_tokens", 0), parts.get("output_image_tokens", 0)
    uncached = max(0, usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens)
    # OpenAI's responses do not say which cached tokens were audio or image: cached counts as text.
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "input_cached_tokens": usage.cache_read_tokens,
        "input_uncached_tokens": uncached,
        "input_text_tokens": max(0, uncached - audio_in - image_in),
        "input_audio_tokens": audio_in,
        "input_image_tokens": image_in,
        "input_cached_text_tokens": usage.cache_read_tokens,
        "input_cached_audio_tokens": 0,
        "input_cached_image_tokens": 0,
        "input_cache_write_tokens": usage.cache_write_tokens,
        "output_text_tokens": max(0, usage.output_tokens - audio_out - image_out),
        "output_audio_tokens": audio_out,
        "output_image_tokens": image_out,
        "num_model_requests": requests,
    }


# The fake prices with its own Pricing; its "no price known" warnings must not land in the logs a
# test asserts on, so they are dropped while (and only while) the fake prices, in that thread.
_quiet = threading.local()


class _QuietWhileTheFakePrices(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(_quiet, "on", False)


logging.getLogger("sdk_instrumentation.pricing").addFilter(_QuietWhileTheFakePrices())


_pricing_lock = threading.Lock()
_shared_pricing = None


def _default_pricing():
    """One ``Pricing`` for every fake provider: genai-prices and the shipped file, no user file
    (``GENAI_LENS_PRICING_FILE`` is not read, so a test's broken file never breaks the fake)."""
    global _shared_pricing
    with _pricing_lock:
        if _shared_pricing is None:
            from ..pricing import Pricing

            _shared_pricing = Pricing(os.devnull)
        return _shared_pricing


# --- the ledger ---------------------------------------------------------------------------------


class _Key(NamedTuple):
    kind: str  # "completions" or "embeddings"
    time: int  # the minute (or, once folded, the day) it is booked in, unix seconds
    model: str
    project_id: str
    api_key_id: str | None
    batch: bool
    service_tier: str | None


@dataclass
class _Cell:
    """What the bookings of one ``_Key`` add up to."""

    tokens: dict[str, int] = field(default_factory=dict)  # usage result field -> count
    costs: dict[str, int] = field(default_factory=dict)  # line kind -> USD in units of 2**-1074 (_exact)
    quantities: dict[str, int] = field(default_factory=dict)  # line kind -> tokens (or calls)

    def add(self, tokens: dict[str, int], lines: dict[str, tuple[int, int]]) -> None:
        for name, n in tokens.items():
            self.tokens[name] = self.tokens.get(name, 0) + n
        for kind, (usd, n) in lines.items():
            self.costs[kind] = self.costs.get(kind, 0) + usd
            self.quantities[kind] = self.quantities.get(kind, 0) + n


@dataclass
class _Fault:
    status: int
    retry_after: float | None
    path: str | None


class Organization:
    """The usage ledger and the settings of the organization endpoints of one fake provider.

    ``api_keys``: ``{api key: (project id, key id)}``; ``admin_key``: the only key the organization
    endpoints accept; ``clock``: unix seconds of a booking and of the default ``end_time``;
    ``pricing``: a ``Pricing`` (default: a shared one without a user file); ``cost_factor``: every
    cost is billed times this (``cost_factors[model]`` wins for a model); ``max_cells``: the bound of
    the ledger. All are attributes and may be changed at run time; ``amount_as_string = True``
    answers ``amount.value`` as a decimal string, as the live API has been seen to.
    """

    def __init__(
        self,
        api_keys: dict[str, tuple[str, str]] | None = None,
        admin_key: str = DEFAULT_ADMIN_KEY,
        clock: Callable[[], float] = time.time,
        pricing: Any = None,
        cost_factor: float = 1.0,
        max_cells: int = DEFAULT_MAX_CELLS,
    ):
        self.api_keys: dict[str, tuple[str, str]] = dict(api_keys or {})
        self.admin_key = admin_key
        self.clock = clock
        self.pricing = pricing
        self.cost_factor = cost_factor
        self.cost_factors: dict[str, float] = {}
        self.amount_as_string = False
        self.max_cells = max_cells
        self._cells: dict[_Key, _Cell] = {}
        self._coarse_days: set[int] = set()
        self._seen_keys: dict[str, str] = {}  # key id -> redacted value, for keys not in api_keys
        self._last_used: dict[str, int] = {}  # key id -> unix seconds of its latest booking
        self._faults: deque[_Fault] = deque()
        self._lock = threading.Lock()

    # booking ---------------------------------------------------------------------------------

    def ids(self, api_key: str) -> tuple[str, str]:
        """``(project id, key id)`` of an API key."""
        return self.api_keys.get(api_key) or (DEFAULT_PROJECT, key_id_for(api_key))

    def book(self, kind: str, model: str, usage: Usage, *, api_key: str = "", service_tier: str | None = None,
             when: float | None = None) -> None:
        """Book one served call: ``kind`` "completions" (chat, responses) or "embeddings"."""
        project_id, key_id = self.ids(api_key)
        lines = self._priced_lines(kind, model, usage, service_tier)
        at = int(self.clock() if when is None else when)
        with self._lock:
            if api_key not in self.api_keys:
                self._seen_keys[key_id] = redacted_value(api_key)
            self._last_used[key_id] = max(at, self._last_used.get(key_id, at))
            self._add(_Key(kind, at - at % 60, model, project_id, key_id, False, service_tier),
                      _usage_tokens(kind, usage, 1), lines)

    def revise(self, when: float, model: str, *, kind: str = "completions", project_id: str = DEFAULT_PROJECT,
               api_key_id: str | None = None, service_tier: str | None = "default", extra_input_tokens: int = 0,
               extra_cached_tokens: int = 0, extra_output_tokens: int = 0, extra_requests: int = 0,
               extra_cost: float | None = None) -> None:
        """Add a late correction to the bucket holding ``when``, as OpenAI revises past buckets.

        The extra tokens are priced like a call unless ``extra_cost`` (USD) is given, which is then
        the whole extra cost, billed on the model's "input" line item. ``api_key_id=None`` books it on
        no key (null when grouped by api_key_id). Reads after this return the revised figures.
        """
        usage = Usage(input_tokens=extra_input_tokens, output_tokens=extra_output_tokens,
                      cache_read_tokens=extra_cached_tokens)
        if kind != "completions":
            service_tier = None
        if extra_cost is None:
            lines = self._priced_lines(kind, model, usage, service_tier)
        else:
            lines = {"input": (_exact(extra_cost), max(0, extra_input_tokens - extra_cached_tokens))}
        at = int(when)
        with self._lock:
            self._add(_Key(kind, at - at % 60, model, project_id, api_key_id, False, service_tier),
                      _usage_tokens(kind, usage, extra_requests), lines)

    def clear(self) -> None:
        """Forget every booking, seen key and queued fault."""
        with self._lock:
            self._cells.clear()
            self._coarse_days.clear()
            self._seen_keys.clear()
            self._last_used.clear()
            self._faults.clear()

    def cell_count(self) -> int:
        """How many cells the ledger holds: at most ``max_cells``, unless even one cell per group and
        day is more (each day then keeps one cell per group it has)."""
        with self._lock:
            return len(self._cells)

    def _priced_lines(self, kind: str, model: str, usage: Usage, tier: str | None) -> dict[str, tuple[int, int]]:
        """A call's cost by line kind: (exact USD, quantity). Empty when Pricing has no price for the model.

        The input cost is split at the call's own rates (the same input token count, so the same
        price tier): cached = cost of all input as cached reads x cached / input; likewise cache
        writes; "input" is the rest, so the parts add up exactly to ``Cost.input``.
        """
        pricing = self.pricing or _default_pricing()
        n_in = usage.input_tokens
        parts = {}
        _quiet.on = True
        try:
            cost = pricing.price("openai", model, usage, tier)
            if cost is None:
                return {}
            for line, n, name in (("cached input", usage.cache_read_tokens, "cache_read_tokens"),
                                  ("cache writes", usage.cache_write_tokens, "cache_write_tokens")):
                if n and n_in:
                    whole = pricing.price("openai", model, Usage(input_tokens=n_in, **{name: n_in}), tier)
                    parts[line] = (_exact(whole.input if n == n_in else whole.input * n / n_in), n)
        finally:
            _quiet.on = False
        uncached = max(0, n_in - usage.cache_read_tokens - usage.cache_write_tokens)
        lines = {"input": (_exact(cost.input) - sum(usd for usd, _ in parts.values()), uncached)}
        lines.update(parts)
        if kind == "completions":
            lines["output"] = (_exact(cost.output), usage.output_tokens)
        if usage.web_search_calls:
            lines["web search tool calls"] = (_exact(cost.other), usage.web_search_calls)
        elif cost.other:
            lines["requests"] = (_exact(cost.other), 1)
        return lines

    def _add(self, key: _Key, tokens: dict[str, int], lines: dict[str, tuple[int, int]]) -> None:
        day = key.time - key.time % DAY
        if day in self._coarse_days:
            key = key._replace(time=day)
        cell = self._cells.get(key)
        if cell is None:
            cell = self._cells[key] = _Cell()
        cell.add(tokens, lines)
        if len(self._cells) > self.max_cells:
            self._fold()

    def _fold(self) -> None:
        """Fold the oldest days still kept per minute into one cell per day until within max_cells."""
        while len(self._cells) > self.max_cells:
            fine = {k.time - k.time % DAY for k in self._cells} - self._coarse_days
            if not fine:
                return
            day = min(fine)
            self._coarse_days.add(day)
            for key in [k for k in self._cells if day <= k.time < day + DAY]:
                cell = self._cells.pop(key)
                into = self._cells.setdefault(key._replace(time=day), _Cell())
                into.add(cell.tokens, {kind: (usd, cell.quantities[kind]) for kind, usd in cell.costs.items()})

    # faults ----------------------------------------------------------------------------------

    def fail_next(self, status: int = 429, count: int = 1, retry_after: float | None = 1,
                  path: str | None = None) -> None:
        """Make the next ``count`` organization requests (those whose path contains ``path``, if given)
        fail: 429 (with a ``retry-after`` header when ``retry_after`` is not None) or a 5xx."""
        if status != 429 and not 500 <= status <= 599:
            raise ValueError(f"status {status}: only 429 and 5xx faults are supported")
        with self._lock:
            self._faults.extend(_Fault(status, retry_after, path) for _ in range(count))

    def _take_fault(self, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.path is None or fault.path in path:
                    self._faults.remove(fault)
                    return fault
        return None

    # reports ---------------------------------------------------------------------------------

    def usage_results(self, kind: str, starts: list[int], width: int, group_by: list[str],
                      filters: dict[str, set]) -> dict[int, list[dict]]:
        """Usage results per bucket start for ``kind``; empty lists for the kinds the fake never serves."""
        fields = USAGE_GROUPS[kind]
        sums: dict[int, dict[tuple, dict[str, int]]] = {start: {} for start in starts}
        if kind in BOOKED_KINDS:
            with self._lock:
                for key, cell in self._cells.items():
                    bucket = key.time - key.time % width
                    if key.kind != kind or bucket not in sums or not _kept(key, filters):
                        continue
                    group = tuple(_group_value(key, name) if name in group_by else None for name in fields)
                    total = sums[bucket].setdefault(group, {})
                    for name, n in cell.tokens.items():
                        total[name] = total.get(name, 0) + n
        out = {}
        for start, groups in sums.items():
            out[start] = [{"object": f"organization.usage.{kind}.result", **tokens, **dict(zip(fields, group))}
                          for group, tokens in sorted(groups.items(), key=lambda item: _order(item[0]))]
        return out

    def cost_results(self, starts: list[int], group_by: list[str], filters: dict[str, set]) -> dict[int, list[dict]]:
        """Cost results per day start."""
        sums: dict[int, dict[tuple, list]] = {start: {} for start in starts}
        by_line = "line_item" in group_by
        with self._lock:
            for key, cell in self._cells.items():
                day = key.time - key.time % DAY
                if day not in sums or not _kept(key, filters):
                    continue
                factor = _exact(self.cost_factors.get(key.model, self.cost_factor))
                for kind in LINE_KINDS:
                    if kind not in cell.costs:
                        continue
                    line = _line_item(key.model, key.service_tier, kind)
                    if "line_items" in filters and line not in filters["line_items"]:
                        continue
                    group = tuple((line if by_line else None) if name == "line_item" else
                                  (_group_value(key, name) if name in group_by else None) for name in COST_GROUPS)
                    total = sums[day].setdefault(group, [0, 0, kind])
                    total[0] += cell.costs[kind] * factor  # exact, in units of 2**-1074 * 2**-1074 USD
                    total[1] += cell.quantities[kind]
        out = {}
        for start, groups in sums.items():
            out[start] = []
            for group, (usd, quantity, kind) in sorted(groups.items(), key=lambda item: _order(item[0])):
                value: float | str = usd / (_UNIT * _UNIT)  # int / int: rounded once, correctly
                if self.amount_as_string:
                    value = format(Decimal(repr(value)), "f")
                out[start].append({
                    "object": "organization.costs.result",
                    "amount": {"value": value, "currency": "usd"},
                    **dict(zip(COST_GROUPS, group)),
                    "quantity": float(quantity) if by_line else None,
                    "quantity_unit": ("tokens" if kind not in ("web search tool calls", "requests") else None)
                    if by_line else None,
                })
        return out

    def projects(self) -> list[dict]:
        mapped = dict.fromkeys(project for project, _ in self.api_keys.values())
        ids = [DEFAULT_PROJECT] + [p for p in mapped if p != DEFAULT_PROJECT]
        return [{"id": p, "object": "organization.project", "name": DEFAULT_PROJECT_NAME if p == DEFAULT_PROJECT else p,
                 "created_at": CREATED_AT, "archived_at": None, "status": "active"} for p in ids]

    def project_keys(self, project_id: str) -> list[dict]:
        with self._lock:
            keys = [(key_id, redacted_value(key)) for key, (p, key_id) in self.api_keys.items() if p == project_id]
            if project_id == DEFAULT_PROJECT:
                keys += [(key_id, redacted) for key_id, redacted in self._seen_keys.items()]
            last_used = dict(self._last_used)
        return [{
            "object": "organization.project.api_key",
            "redacted_value": redacted,
            "name": key_id,
            "created_at": CREATED_AT,
            "last_used_at": last_used.get(key_id),
            "id": key_id,
            "owner": {"type": "service_account",
                      "service_account": {"id": "svc_acct_" + key_id.removeprefix("key_"), "name": key_id,
                                          "created_at": CREATED_AT, "role": "member"}},
            "owner_project_access": "active",
        } for key_id, redacted in keys]


def _group_value(key: _Key, name: str) -> Any:
    if name == "api_source":
        return "unlabeled"  # the fake serves no Agents API calls
    if name in ("user_id", "size", "source"):
        return None  # API-key calls have no user
    return getattr(key, name)


def _kept(key: _Key, filters: dict[str, set]) -> bool:
    for param, name in (("project_ids", "project_id"), ("api_key_ids", "api_key_id"), ("models", "model")):
        if param in filters and getattr(key, name) not in filters[param]:
            return False
    if "user_ids" in filters:
        return False  # no booking has a user
    return "batch" not in filters or key.batch in filters["batch"]


def _order(group: tuple) -> tuple:
    return tuple("" if value is None else str(value) for value in group)


def _line_item(model: str, tier: str | None, kind: str) -> str:
    """OpenAI's line item name: "gpt-4o-mini-2024-07-18, cached input", "priority | gpt-5, output"."""
    name = kind if kind in _NOT_PER_MODEL else f"{model}, {kind}"
    return name if tier in STANDARD_SERVICE_TIERS else f"{tier} | {name}"


# --- HTTP ---------------------------------------------------------------------------------------


class _BadRequest(Exception):
    def __init__(self, message: str, param: str, code: str = "invalid_value"):
        super().__init__(message)
        self.message, self.param, self.code = message, param, code


def _error(status: int, message: str, *, kind: str = "invalid_request_error", param: str | None = None,
           code: str | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    headers = {"x-request-id": "req_" + uuid.uuid4().hex, **(headers or {})}
    return JSONResponse(body, status_code=status, headers=headers)


def _list(query, name: str) -> list[str]:
    """A list parameter, sent repeated (``group_by=a&group_by=b``) or with brackets (openai-python)."""
    return query.getlist(name) + query.getlist(name + "[]")


def _integer(query, name: str, required: bool = False) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        if required:
            raise _BadRequest(f"Missing required parameter: '{name}'.", name, "missing_required_parameter")
        return None
    try:
        value = int(raw)
    except ValueError:
        raise _BadRequest(f"Invalid '{name}': expected an integer, got {raw!r}.", name) from None
    if value < 0:
        raise _BadRequest(f"Invalid '{name}': must not be negative.", name)
    return value


def _cursor(start: int) -> str:
    return base64.b64encode(struct.pack(">q", start)).decode()


def _buckets(query, now: float, widths: dict[str, tuple[int, int, int]]) -> tuple[list[int], int, str | None]:
    """The bucket starts of this page, the bucket width and the next page's cursor (None: last page)."""
    start = _integer(query, "start_time", required=True)
    end = _integer(query, "end_time")
    end = now if end is None else end
    width_name = query.get("bucket_width") or "1d"
    if width_name not in widths:
        raise _BadRequest(f"Invalid 'bucket_width': {width_name!r}; supported: {', '.join(widths)}.", "bucket_width")
    width, default_limit, max_limit = widths[width_name]
    limit = _integer(query, "limit")
    limit = default_limit if limit is None else limit
    if not 1 <= limit <= max_limit:
        raise _BadRequest(f"Invalid 'limit': {limit}; with bucket_width={width_name} it must be 1 to {max_limit}.",
                          "limit")
    if end <= start:
        raise _BadRequest("Invalid 'end_time': it must be after 'start_time'.", "end_time")
    first = start - start % width
    at = first
    if query.get("page"):
        try:
            (at,) = struct.unpack(">q", base64.b64decode(query["page"], validate=True))
        except (binascii.Error, struct.error, ValueError):
            raise _BadRequest("Invalid 'page': not a cursor from 'next_page'.", "page") from None
        if at < first or at >= end or (at - first) % width:
            raise _BadRequest("Invalid 'page': not a cursor of this query.", "page")
    starts = []
    while at < end and len(starts) < limit:
        starts.append(at)
        at += width
    return starts, width, _cursor(at) if at < end else None


def _group_by(query, allowed: tuple[str, ...]) -> list[str]:
    group_by = _list(query, "group_by")
    for name in group_by:
        if name not in allowed:
            raise _BadRequest(f"Invalid 'group_by': {name!r}; supported: {', '.join(allowed)}.", "group_by")
    return group_by


def _filters(query, names: tuple[str, ...]) -> dict[str, set]:
    filters: dict[str, set] = {name: set(_list(query, name)) for name in names if _list(query, name)}
    batch = query.get("batch")
    if batch is not None and "batch" in names:
        if batch.lower() not in ("true", "false"):
            raise _BadRequest(f"Invalid 'batch': {batch!r}; expected true or false.", "batch")
        filters["batch"] = {batch.lower() == "true"}
    return filters


def _page(starts: list[int], width: int, next_page: str | None, results: dict[int, list[dict]]) -> dict:
    return {
        "object": "page",
        "data": [{"object": "bucket", "start_time": s, "end_time": s + width, "results": results[s]} for s in starts],
        "has_more": next_page is not None,
        "next_page": next_page,
    }


def _listing(items: list[dict], query) -> dict:
    """An ``after``/``limit`` cursor list (limit 1..100, default 20), as the projects endpoints page."""
    limit = _integer(query, "limit")
    limit = 20 if limit is None else limit
    if not 1 <= limit <= 100:
        raise _BadRequest(f"Invalid 'limit': {limit}; it must be 1 to 100.", "limit")
    ids = [item["id"] for item in items]
    after = query.get("after")
    if after and after not in ids:
        raise _BadRequest(f"Invalid 'after': no object {after!r}.", "after")
    at = ids.index(after) + 1 if after else 0
    page = items[at:at + limit]
    return {"object": "list", "data": page, "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None, "has_more": at + limit < len(items)}


async def _admit(provider, request: Request) -> JSONResponse | None:
    """Record the request (its key redacted), check the admin key, apply a queued fault."""
    try:
        await provider.intake(request)
    except ControlError:
        pass  # x-fake-* controls mean nothing here
    org = provider.organization
    authorization = request.headers.get("authorization")
    if not authorization:
        return _error(401, _NO_KEY)
    if authorization != "Bearer " + org.admin_key:
        return _error(401, _BAD_KEY, code="invalid_api_key")
    fault = org._take_fault(request.url.path)
    if fault is None:
        return None
    if fault.status == 429:
        headers = {} if fault.retry_after is None else {"retry-after": f"{fault.retry_after:g}"}
        return _error(429, "Rate limit reached for organization usage requests (fake provider).", kind="requests",
                      code="rate_limit_exceeded", headers=headers)
    return _error(fault.status, "The server had an error while processing your request. Sorry about that! "
                  "(fake provider)", kind="server_error")


async def _report_query(provider, request: Request, widths, groups, filter_names):
    """``(bucket starts, width, next page, group_by, filters)`` of a usage or costs request, or the
    response that refuses it (401, a fault, 400)."""
    denied = await _admit(provider, request)
    if denied is not None:
        return denied
    try:
        starts, width, next_page = _buckets(request.query_params, provider.organization.clock(), widths)
        return (starts, width, next_page, _group_by(request.query_params, groups),
                _filters(request.query_params, filter_names))
    except _BadRequest as exc:
        return _error(400, exc.message, param=exc.param, code=exc.code)


async def usage_endpoint(provider, request: Request, kind: str):
    query = await _report_query(provider, request, BUCKET_WIDTHS, USAGE_GROUPS[kind],
                                ("project_ids", "user_ids", "api_key_ids", "models", "batch"))
    if not isinstance(query, tuple):
        return query
    starts, width, next_page, group_by, filters = query
    results = provider.organization.usage_results(kind, starts, width, group_by, filters)
    return JSONResponse(_page(starts, width, next_page, results))


async def costs_endpoint(provider, request: Request):
    query = await _report_query(provider, request, COST_WIDTHS, COST_GROUPS, ("project_ids", "api_key_ids", "line_items"))
    if not isinstance(query, tuple):
        return query
    starts, width, next_page, group_by, filters = query
    return JSONResponse(_page(starts, width, next_page, provider.organization.cost_results(starts, group_by, filters)))


async def projects_endpoint(provider, request: Request):
    denied = await _admit(provider, request)
    if denied is not None:
        return denied
    try:
        return JSONResponse(_listing(provider.organization.projects(), request.query_params))
    except _BadRequest as exc:
        return _error(400, exc.message, param=exc.param, code=exc.code)


async def api_keys_endpoint(provider, request: Request):
    denied = await _admit(provider, request)
    if denied is not None:
        return denied
    org = provider.organization
    project_id = request.path_params["project_id"]
    if project_id not in {p["id"] for p in org.projects()}:
        return _error(404, f"No such project: '{project_id}'.", param="project_id")
    try:
        return JSONResponse(_listing(org.project_keys(project_id), request.query_params))
    except _BadRequest as exc:
        return _error(400, exc.message, param=exc.param, code=exc.code)


def routes(provider) -> list[Route]:
    """The organization routes, bound to ``provider`` (which holds an ``Organization`` as ``organization``)."""

    def bind(handler, *args):
        async def endpoint(request: Request):
            return await handler(provider, request, *args)

        return endpoint

    return [
        *(Route(f"/v1/organization/usage/{kind}", bind(usage_endpoint, kind), methods=["GET"])
          for kind in USAGE_GROUPS),
        Route("/v1/organization/costs", bind(costs_endpoint), methods=["GET"]),
        Route("/v1/organization/projects", bind(projects_endpoint), methods=["GET"]),
        Route("/v1/organization/projects/{project_id}/api_keys", bind(api_keys_endpoint), methods=["GET"]),
    ]
