"""The OpenAI billing poller against the fake provider's organization APIs, in a real exporter.

Calls go through the real openai client to a FakeProvider on 127.0.0.1 (several keys, mapped to
projects and key ids, booked on past days with ``x-fake-usage-time``); the exporter polls it with
``billing.openai.base_url`` pointing there. The fake prices with exact binary rates (``Rates``), so
every expected cost is exact. Clocks are injected: nothing depends on today's date.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import date
from types import SimpleNamespace

import openai
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from exporter import Settings, create_app
from exporter.billing import BilledCollector, Figures, RowKey, Windows, model_family, unix, windows
from exporter.collector import render
from exporter.measured import COST, MeasuredDays, MeasuredRows
from exporter.store import Store
from exporter.billing_openai import BillingConfigError, BillingError, Health, line_item_model, match_redacted
from sdk_instrumentation.api_keys import fingerprint
from sdk_instrumentation.fake_provider import FakeProvider
from sdk_instrumentation.fake_provider.organization_api import redacted_value
from sdk_instrumentation.local_server import LocalServer
from tests.exporter.conftest import Running
from tests.exporter.otlp import labels, number_point, request, sum_metric, values

ADMIN_KEY = "sk-admin-S3CRET-do-not-leak-0123456789"
ADMIN_ENV = "GENAI_LENS_TEST_OPENAI_ADMIN_KEY"
KEY_A = "sk-proj-team-a-0123456789abcdefABCD"
KEY_B = "sk-proj-team-b-0123456789abcdefWXYZ"
OTHER_KEY = "sk-proj-unmapped-0123456789abcdef9999"  # not in the fake's mapping: proj_default
MINI = "gpt-4o-mini-2024-07-18"
USER = [{"role": "user", "content": "hi"}]

D = lambda y, m, d: unix(date(y, m, d))  # noqa: E731
NOW = D(2026, 1, 3) + 12 * 3600  # 2026-01-03T12:00:00Z

# Exact binary prices (USD per token, per search call); a model's rates are these times its factor.
IN, CACHED, OUT, SEARCH = 2.0 ** -20, 2.0 ** -22, 2.0 ** -18, 2.0 ** -7
FACTORS = {MINI: 1.0, "gpt-4o-mini": 1.0, "gpt-4o": 16.0, "text-embedding-3-small": 0.125}


class Rates:
    """A Pricing stand-in for the fake: ``price()`` as Pricing's, at the exact rates above."""

    def price(self, provider, model, usage, service_tier=None):
        factor = FACTORS.get(model)
        if factor is None:
            return None
        uncached = usage.input_tokens - usage.cache_read_tokens
        return SimpleNamespace(input=factor * (uncached * IN + usage.cache_read_tokens * CACHED),
                               output=factor * usage.output_tokens * OUT, other=usage.web_search_calls * SEARCH)


def cost(model, input=0, cached=0, output=0):
    return FACTORS[model] * ((input - cached) * IN + cached * CACHED + output * OUT)


def wait_until(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


@pytest.fixture
def provider():
    fake = FakeProvider(api_keys={KEY_A: ("proj_a", "key_a"), KEY_B: ("proj_b", "key_b")}, admin_key=ADMIN_KEY,
                        clock=lambda: NOW)
    fake.organization.pricing = Rates()
    clients: dict[str, openai.OpenAI] = {}

    def client(key: str) -> openai.OpenAI:  # the real openai client, one per key
        if key not in clients:
            clients[key] = openai.OpenAI(base_url=fake.url + "/v1", api_key=key, max_retries=0)
        return clients[key]

    with LocalServer(fake.app) as server:
        fake.url, fake.client = server.url, client
        yield fake
    for c in clients.values():
        c.close()


def chat(provider, key, when, model="gpt-4o-mini", served=None, input=10, cached=0, output=5):
    provider.client(key).chat.completions.create(model=model, messages=USER, extra_headers={
        "x-fake-usage-time": str(when), "x-fake-model": served or model, "x-fake-input-tokens": str(input),
        "x-fake-cached-tokens": str(cached), "x-fake-output-tokens": str(output)})


class Billed:
    """An exporter with ``billing.openai`` on the fake; its poller, and the retry waits it asked for."""

    def __init__(self, running: Running):
        self.running = running
        self.poller = running.app.state.billing
        self.sleeps: list[float] = []

    def metrics(self) -> str:
        return self.running.metrics()


@pytest.fixture
def billed(provider, monkeypatch):
    """``billed(clock=..., **billing_openai)``: an exporter polling the fake; its first poll is done."""
    monkeypatch.setenv(ADMIN_ENV, ADMIN_KEY)
    started = []

    def start(clock=lambda: NOW, base_url=None, wait=True, **config) -> Billed:
        config = {"admin_key_env": ADMIN_ENV, "base_url": base_url or provider.url + "/v1", "interval_seconds": 3600,
                  "timeout_seconds": 5, **config}
        running = Running(Settings(new_series_hold_seconds=0, billing={"openai": config}))
        b = Billed(running)
        b.poller.clock = clock
        b.poller.sleep = b.sleeps.append  # retry waits are recorded, not slept
        b.poller.random.seed(0)
        running.__enter__()
        started.append(running)
        if wait:
            wait_until(lambda: b.poller.polls >= 1)
        return b

    yield start
    for running in started:
        running.__exit__(None, None, None)


def provider_series(rows: dict) -> dict:
    """The /metrics samples ``{name: {labels: value}}`` that serve ``rows``."""
    out = {"genai_lens_billed_cost_usd": {}, "genai_lens_billed_tokens": {}, "genai_lens_billed_requests": {}}
    for (window, period, model, key, project), f in rows.items():
        base = dict(source="provider", window=window, period=period, gen_ai_provider_name="openai",
                    gen_ai_request_model=model, genai_lens_api_key=key, openai_project=project)
        out["genai_lens_billed_cost_usd"][labels(**base)] = f.cost_usd
        for token_type, n in (("input", f.input_tokens), ("cached_input", f.cached_input_tokens),
                              ("output", f.output_tokens)):
            out["genai_lens_billed_tokens"][labels(**base, gen_ai_token_type=token_type)] = n
        out["genai_lens_billed_requests"][labels(**base)] = f.requests
    return out


def assert_serves(b: Billed, rows: dict) -> str:
    text = b.metrics()
    for name, expected in provider_series(rows).items():
        assert values(text, name) == expected, name
    return text


def health(text: str) -> dict:
    return {
        "up": values(text, "genai_lens_exporter_billing_up"),
        "last_success": values(text, "genai_lens_exporter_billing_last_success_timestamp_seconds"),
        "errors": {dict(k)["reason"]: v for k, v in values(text, "genai_lens_exporter_billing_errors_total").items()},
    }


def errors(**counts) -> dict:
    return {reason: counts.get(reason, 0)
            for reason in ("unauthorized", "rate_limited", "server_error", "network", "bad_response")}


def org_requests(provider, part="/organization/") -> list:
    return [r for r in provider.requests if part in r.path]


# --- pure parts ---------------------------------------------------------------------------------


def test_model_family_and_line_item_model():
    assert model_family("gpt-4o-mini-2024-07-18") == "gpt-4o-mini"
    assert model_family("claude-3-5-sonnet-20241022") == "claude-3-5-sonnet"
    assert model_family("gpt-4o") == "gpt-4o"
    assert model_family("gpt-4-0613") == "gpt-4-0613"
    assert model_family("ft:gpt-4o-mini-2024-07-18:org::abc") == "ft:gpt-4o-mini-2024-07-18:org::abc"
    assert line_item_model("gpt-4o-mini-2024-07-18, input") == "gpt-4o-mini-2024-07-18"
    assert line_item_model("gpt-4o-mini-2024-07-18, cached input") == "gpt-4o-mini-2024-07-18"
    assert line_item_model("priority | gpt-4o, output") == "gpt-4o"
    assert line_item_model("web search tool calls") == "web search tool calls"


def test_windows():
    assert windows(date(2026, 1, 3), 7) == Windows(date(2025, 12, 27), date(2025, 12, 27), date(2026, 1, 1), date(2026, 1, 3))
    assert windows(date(2026, 1, 20), 3) == Windows(date(2026, 1, 1), date(2026, 1, 17), date(2026, 1, 1), date(2026, 1, 20))
    assert windows(date(2026, 2, 1), 7) == Windows(date(2026, 1, 25), date(2026, 1, 25), date(2026, 2, 1), date(2026, 2, 1))


def test_match_redacted():
    c = "sk-proj-team-c-0123456789abcdefC0DE"
    d, e = "sk-proj-team-d-0123456789abcdefQQQQ", "sk-proj-team-e-0123456789abcdefQQQQ"
    listed = [("key_c", redacted_value(c)), ("key_d", redacted_value(d)), ("key_e", redacted_value(e)),
              ("key_a", redacted_value(KEY_A))]
    entries = {"sk-proj-…c0de": "team-c", "sk-…qqqq": "team-q", "sk-proj-****************************abcd": "team-a",
               "sk-proj-***abcd": "wrong-length"}
    matched, ambiguous = match_redacted(entries, listed)
    assert matched == {"key_c": "team-c"}
    assert ambiguous == {"key_d": ["team-q"], "key_e": ["team-q"]}  # key_a: the lengths differ, nothing fits
    matched, _ = match_redacted({"sk-proj-…c0de": "team-c", redacted_value(KEY_A).lower(): "team-a"}, listed)
    assert matched == {"key_c": "team-c", "key_a": "team-a"}


def test_the_measured_side_is_served_in_the_same_families():
    store = Store(hold_seconds=0, measured=MeasuredDays(), clock=lambda: NOW)
    key = (("gen_ai_provider_name", "openai"), ("gen_ai_request_model", MINI), ("genai_lens_api_key", "team-a"))
    store.measured.add(COST, key, 0.25, at=D(2026, 1, 2) + 60)
    rows = {RowKey("day", "2026-01-02", "gpt-4o-mini", "team-a", "proj_a"): f(0.5, 10, 0, 5, 1)}
    poller = SimpleNamespace(snapshot=SimpleNamespace(rows=rows), health=lambda: Health(1, NOW, {}))
    text, _ = render([BilledCollector(poller, measured=MeasuredRows(store, days=7))], None)
    text = text.decode()
    assert text.count("# TYPE genai_lens_billed_cost_usd gauge") == 1
    base = dict(window="day", period="2026-01-02", gen_ai_provider_name="openai", gen_ai_request_model="gpt-4o-mini",
                genai_lens_api_key="team-a")
    assert {k: v for k, v in values(text, "genai_lens_billed_cost_usd").items() if dict(k)["window"] == "day"} == {
        labels(source="provider", openai_project="proj_a", **base): 0.5,
        labels(source="measured", openai_project="", **base): 0.25,
    }


# --- a poll -------------------------------------------------------------------------------------


@pytest.fixture
def served(provider):
    """Calls on Dec 26 (outside the window), Dec 30, Jan 1, Jan 2 and today (Jan 3, never served)."""
    chat(provider, KEY_A, D(2026, 1, 1) + 36_000, served=MINI, input=1000, cached=400, output=250)
    client = provider.client(KEY_A)
    client.embeddings.create(model="text-embedding-3-small", input="hello", extra_headers={
        "x-fake-usage-time": str(D(2026, 1, 1) + 40_000), "x-fake-input-tokens": "64"})
    client.responses.create(model="gpt-4o-mini", input="news?", tools=[{"type": "web_search"}], extra_headers={
        "x-fake-usage-time": str(D(2026, 1, 2) + 3600), "x-fake-model": MINI, "x-fake-input-tokens": "200",
        "x-fake-output-tokens": "20", "x-fake-web-search-calls": "2"})
    chat(provider, KEY_B, D(2026, 1, 2) + 7200, model="gpt-4o", input=300, output=30)
    chat(provider, KEY_B, D(2025, 12, 30) + 7200, model="gpt-4o", input=100, output=10)
    chat(provider, KEY_B, D(2025, 12, 26) + 7200, model="gpt-4o", input=7000, output=700)
    chat(provider, OTHER_KEY, D(2026, 1, 2) + 9000, model="gpt-4o", input=50, output=5)
    chat(provider, KEY_A, NOW - 3600, served=MINI, input=9000, output=900)


def f(cost_usd=0.0, input=0, cached=0, output=0, requests=0):
    return Figures(cost_usd, input, cached, output, requests)


MINI_JAN1 = cost(MINI, 1000, 400, 250)
EMB_JAN1 = cost("text-embedding-3-small", 64)
MINI_JAN2 = cost(MINI, 200, 0, 20)
SEARCH_JAN2 = 2 * SEARCH
B_JAN2, B_DEC30, OTHER_JAN2 = cost("gpt-4o", 300, 0, 30), cost("gpt-4o", 100, 0, 10), cost("gpt-4o", 50, 0, 5)

# keys: {key_a: team-a}, projects: {proj_b: team-b}; proj_default and OTHER_KEY are not mapped.
SERVED_ROWS = {
    RowKey("day", "2025-12-30", "gpt-4o", "team-b", "proj_b"): f(B_DEC30, 100, 0, 10, 1),
    RowKey("day", "2026-01-01", "gpt-4o-mini", "team-a", "proj_a"): f(MINI_JAN1, 1000, 400, 250, 1),
    RowKey("day", "2026-01-01", "text-embedding-3-small", "team-a", "proj_a"): f(EMB_JAN1, 64, 0, 0, 1),
    RowKey("day", "2026-01-02", "gpt-4o", "", "proj_default"): f(OTHER_JAN2, 50, 0, 5, 1),
    RowKey("day", "2026-01-02", "gpt-4o", "team-b", "proj_b"): f(B_JAN2, 300, 0, 30, 1),
    RowKey("day", "2026-01-02", "gpt-4o-mini", "team-a", "proj_a"): f(MINI_JAN2, 200, 0, 20, 1),
    RowKey("day", "2026-01-02", "web search tool calls", "team-a", "proj_a"): f(SEARCH_JAN2),
    RowKey("month", "2026-01", "gpt-4o", "", "proj_default"): f(OTHER_JAN2, 50, 0, 5, 1),
    RowKey("month", "2026-01", "gpt-4o", "team-b", "proj_b"): f(B_JAN2, 300, 0, 30, 1),
    RowKey("month", "2026-01", "gpt-4o-mini", "team-a", "proj_a"): f(MINI_JAN1 + MINI_JAN2, 1200, 400, 270, 2),
    RowKey("month", "2026-01", "text-embedding-3-small", "team-a", "proj_a"): f(EMB_JAN1, 64, 0, 0, 1),
    RowKey("month", "2026-01", "web search tool calls", "team-a", "proj_a"): f(SEARCH_JAN2),
}
MAPPING = {"keys": {"key_a": "team-a"}, "projects": {"proj_b": "team-b"}}


def test_a_poll_serves_what_openai_billed(billed, served, provider):
    b = billed(**MAPPING)
    assert dict(b.poller.snapshot.rows) == SERVED_ROWS
    text = assert_serves(b, SERVED_ROWS)
    # the label set of one row, spelled out
    assert values(text, "genai_lens_billed_requests")[labels(
        source="provider", window="month", period="2026-01", gen_ai_provider_name="openai",
        gen_ai_request_model="gpt-4o-mini", genai_lens_api_key="team-a", openai_project="proj_a")] == 2
    assert health(text) == {"up": {labels(provider="openai"): 1}, "last_success": {labels(provider="openai"): NOW},
                            "errors": errors()}
    # one page per endpoint; the window [Dec 27, Jan 3) in 1d buckets, grouped as the contract says
    reads = org_requests(provider)
    assert [r.path for r in reads] == ["/v1/organization/usage/completions", "/v1/organization/usage/embeddings",
                                       "/v1/organization/costs"]
    assert reads[0].query == {"start_time": str(D(2025, 12, 27)), "end_time": str(D(2026, 1, 3)), "bucket_width": "1d",
                              "limit": "31", "group_by": "api_key_id"}  # dict(query) keeps the last repeated value
    assert reads[0].headers["authorization"] == "[redacted]"
    openmetrics = b.running.client.get(b.running.url + "/metrics", headers={"Accept": "application/openmetrics-text"}).text
    assert "# UNIT genai_lens_billed_cost_usd usd\n" in openmetrics
    assert 'genai_lens_exporter_billing_errors_total{provider="openai",reason="network"} 0.0\n' in openmetrics


def test_pagination_follows_next_page(billed, served, provider):
    b = billed(**MAPPING)
    provider.clear()
    b.poller.page_limit = 2  # 7 daily buckets: 4 pages per endpoint
    assert dict(b.poller.poll_now().rows) == SERVED_ROWS
    paths = [r.path.rsplit("/", 1)[-1] for r in org_requests(provider)]
    assert paths == ["completions"] * 4 + ["embeddings"] * 4 + ["costs"] * 4
    assert ["page" in r.query for r in org_requests(provider, "completions")] == [False, True, True, True]

    b.poller.max_pages = 3  # a bounded page count: past it, the poll fails and the figures stay
    before = b.poller.snapshot
    with pytest.raises(BillingError, match="more than 3 pages") as failure:
        b.poller.poll_now()
    assert failure.value.reason == "bad_response" and b.poller.snapshot is before
    assert health(b.metrics())["errors"] == errors(bad_response=1)


def test_a_revised_bucket_is_served_on_the_next_poll(billed, served, provider):
    b = billed(**MAPPING)
    provider.organization.revise(D(2026, 1, 1) + 50_000, MINI, project_id="proj_a", api_key_id="key_a",
                                 extra_input_tokens=500, extra_output_tokens=40, extra_requests=1)
    provider.organization.revise(D(2025, 12, 30), "gpt-4o", project_id="proj_b", api_key_id="key_b",
                                 extra_cost=0.5)  # cost only, on the "input" line
    assert dict(b.poller.snapshot.rows) == SERVED_ROWS  # not yet polled
    b.poller.poll_now()
    revised = dict(SERVED_ROWS)
    revised[RowKey("day", "2026-01-01", "gpt-4o-mini", "team-a", "proj_a")] = f(
        MINI_JAN1 + cost(MINI, 500, 0, 40), 1500, 400, 290, 2)
    revised[RowKey("month", "2026-01", "gpt-4o-mini", "team-a", "proj_a")] = f(
        MINI_JAN1 + cost(MINI, 500, 0, 40) + MINI_JAN2, 1700, 400, 310, 3)
    revised[RowKey("day", "2025-12-30", "gpt-4o", "team-b", "proj_b")] = f(B_DEC30 + 0.5, 100, 0, 10, 1)
    assert dict(b.poller.snapshot.rows) == revised
    assert_serves(b, revised)


def test_the_poller_thread_polls_every_interval(billed, served, provider):
    b = billed(interval_seconds=0.05, **MAPPING)
    assert dict(b.poller.snapshot.rows) == SERVED_ROWS
    chat(provider, KEY_B, D(2026, 1, 2) + 7300, model="gpt-4o", input=1, output=1)  # a late booking
    wait_until(lambda: b.poller.snapshot.rows.get(RowKey("day", "2026-01-02", "gpt-4o", "team-b", "proj_b"))
               == f(B_JAN2 + cost("gpt-4o", 1, 0, 1), 301, 0, 31, 2))
    poller_thread = b.poller._thread
    b.running.__exit__(None, None, None)  # stop: the thread is joined
    assert b.poller._thread is None and not poller_thread.is_alive()


# --- failures -----------------------------------------------------------------------------------


def test_429_waits_retry_after_then_succeeds(billed, served, provider):
    b = billed(**MAPPING)
    provider.organization.fail_next(429, retry_after=2, path="/costs")
    assert dict(b.poller.poll_now().rows) == SERVED_ROWS
    assert b.sleeps == [2.0]
    assert health(b.metrics())["errors"] == errors(rate_limited=1)
    assert health(b.metrics())["up"] == {labels(provider="openai"): 1}

    b.poller.max_retry_after_seconds = 5  # a retry-after is honoured up to a bound
    provider.organization.fail_next(429, retry_after=3600)
    b.poller.poll_now()
    assert b.sleeps == [2.0, 5.0]


def test_repeated_500_keeps_the_previous_figures(billed, served, provider):
    b = billed(**MAPPING)
    before = b.poller.snapshot
    chat(provider, KEY_B, D(2026, 1, 2) + 7300, model="gpt-4o", input=1, output=1)  # would change a figure
    provider.organization.fail_next(500, count=4, path="/usage/embeddings")
    with pytest.raises(BillingError, match=r"HTTP 500.*attempt 4 of 4") as failure:
        b.poller.poll_now()
    assert failure.value.reason == "server_error"
    assert b.poller.snapshot is before  # a half-read poll never replaces a complete one
    assert len(b.sleeps) == 3 and all(0.5 * 2 ** n <= s <= 2 ** n for n, s in enumerate(b.sleeps))
    text = assert_serves(b, SERVED_ROWS)
    assert health(text) == {"up": {labels(provider="openai"): 0}, "last_success": {labels(provider="openai"): NOW},
                            "errors": errors(server_error=4)}

    later = NOW + 60
    b.poller.clock = lambda: later
    b.poller.poll_now()  # the API is back: the new figures, up again
    assert b.poller.snapshot.rows[RowKey("month", "2026-01", "gpt-4o", "team-b", "proj_b")].requests == 2
    assert health(b.metrics())["up"] == {labels(provider="openai"): 1}
    assert health(b.metrics())["last_success"] == {labels(provider="openai"): later}


def test_unauthorized_is_not_retried_and_the_key_never_leaks(billed, served, provider, caplog):
    caplog.set_level(logging.DEBUG)
    provider.organization.admin_key = "sk-admin-the-right-one"  # the exporter's is not
    b = billed(**MAPPING)  # its startup poll fails
    with pytest.raises(BillingError) as failure:
        b.poller.poll_now()
    assert failure.value.reason == "unauthorized"
    assert "HTTP 401" in str(failure.value)
    text = b.metrics()
    assert health(text) == {"up": {labels(provider="openai"): 0}, "last_success": {labels(provider="openai"): 0.0},
                            "errors": errors(unauthorized=2)}
    assert values(text, "genai_lens_billed_cost_usd") == {}  # nothing billed is known yet
    assert len(org_requests(provider)) == 2  # one request per poll: no retry
    for where in (caplog.text, text, str(failure.value), repr(b.poller), repr(b.running.settings)):
        assert ADMIN_KEY not in where


@pytest.fixture
def echo():
    """An API that echoes the Authorization header in every error body (as some proxies do)."""
    state = {"status": 401, "costs": None}

    async def answer(request: Request):
        secret = request.headers.get("authorization", "")
        if request.url.path.endswith("/costs") and state["costs"] is not None:
            return JSONResponse(state["costs"](secret))
        if state["status"] == 200:
            return JSONResponse({"object": "page", "data": [], "has_more": False, "next_page": None})
        if state["status"] == "text":
            return PlainTextResponse(f"<html>bad gateway {secret}</html>", status_code=502)
        return JSONResponse({"error": {"message": f"Incorrect API key provided: {secret} ({secret.split()[-1]})",
                                       "type": "invalid_request_error"}}, status_code=state["status"])

    app = Starlette(routes=[Route("/v1/{path:path}", answer)])
    with LocalServer(app) as server:
        yield SimpleNamespace(url=server.url + "/v1", state=state)


@pytest.mark.parametrize("status, reason", [(401, "unauthorized"), (403, "unauthorized"), (500, "server_error"),
                                            ("text", "server_error"), (400, "bad_response"), (200, "bad_response")])
def test_the_key_never_leaks_even_when_echoed(billed, echo, caplog, status, reason):
    caplog.set_level(logging.DEBUG)
    echo.state["status"] = status
    if status == 200:  # a cost amount that is not a number but the key itself
        echo.state["costs"] = lambda secret: {"object": "page", "has_more": False, "data": [{
            "start_time": D(2026, 1, 2), "results": [{"amount": {"value": secret.split()[-1], "currency": "usd"},
                                                      "line_item": "gpt-4o, input", "project_id": "p"}]}]}
    b = billed(base_url=echo.url)
    with pytest.raises(BillingError) as failure:
        b.poller.poll_now()
    assert failure.value.reason == reason
    text = b.metrics()
    per_poll = 4 if reason == "server_error" else 1  # 5xx are retried; the startup poll failed the same way
    assert health(text)["errors"] == errors(**{reason: 2 * per_poll})
    for where in (caplog.text, text, str(failure.value), repr(failure.value), b.poller.last_error):
        assert ADMIN_KEY not in where
        assert "S3CRET" not in where
    assert "[redacted]" in str(failure.value)  # the echo, scrubbed


def test_an_unreachable_api_never_fails_ingest_or_metrics(billed):
    closed = LocalServer(Starlette())  # bound, never started, then closed: connections are refused
    port = closed.port
    closed.stop()
    b = billed(base_url=f"http://127.0.0.1:{port}/v1")
    assert b.poller.last_error.startswith("GET /organization/usage/completions: ConnectError")
    assert len(b.sleeps) == 3  # 4 attempts
    response = b.running.post(request(sum_metric("genai_lens.cost", "usd", [number_point(0.25, {"gen_ai.provider.name": "openai"})])))
    assert response.status_code == 200
    assert b.running.client.get(b.running.url + "/readyz").status_code == 200
    text = b.metrics()
    assert values(text, "genai_lens_cost_usd_total") == {labels(gen_ai_provider_name="openai", service_name="svc"): 0.25}
    assert health(text)["errors"] == errors(network=4) and health(text)["up"] == {labels(provider="openai"): 0}


def test_a_missing_admin_key_stops_the_start_naming_the_file(tmp_path, monkeypatch):
    missing = tmp_path / "openai-admin-key"
    app = create_app(Settings(billing={"openai": {"admin_key_file": str(missing), "base_url": "http://127.0.0.1:9/v1"}}))

    async def start():
        async with app.router.lifespan_context(app):
            pass

    with pytest.raises(BillingConfigError) as failure:
        asyncio.run(start())  # what uvicorn runs: the start fails ("Application startup failed")
    assert str(failure.value) == f"billing.openai.admin_key_file {missing}: cannot be read (No such file or directory)"

    missing.write_text("\n")
    with pytest.raises(BillingConfigError, match=f"^billing.openai.admin_key_file {missing} is empty$"):
        asyncio.run(start())

    monkeypatch.delenv("OPENAI_ADMIN_KEY", raising=False)
    app = create_app(Settings(billing={"openai": {}}))
    with pytest.raises(BillingConfigError, match="the environment variable OPENAI_ADMIN_KEY is not set or empty"):
        asyncio.run(start())


# --- windows ------------------------------------------------------------------------------------


def test_month_sums_and_a_day_window_bounded_to_days(billed, provider):
    now = D(2026, 1, 20) + 600
    provider.organization.clock = lambda: now
    for day, n in ((D(2025, 12, 31), 1), (D(2026, 1, 5), 2), (D(2026, 1, 16), 4), (D(2026, 1, 18), 8),
                   (D(2026, 1, 19), 16), (D(2026, 1, 20), 32)):
        chat(provider, KEY_A, day + 100, model="gpt-4o", input=n, output=n)
    b = billed(clock=lambda: now, days=3, keys={"key_a": "team-a"})
    day = lambda n: f(cost("gpt-4o", n, 0, n), n, 0, n, 1)  # noqa: E731
    month_n = 2 + 4 + 8 + 16
    expected = {
        RowKey("day", "2026-01-18", "gpt-4o", "team-a", "proj_a"): day(8),
        RowKey("day", "2026-01-19", "gpt-4o", "team-a", "proj_a"): day(16),
        RowKey("month", "2026-01", "gpt-4o", "team-a", "proj_a"): f(
            cost("gpt-4o", month_n, 0, month_n), month_n, 0, month_n, 4),
    }
    assert dict(b.poller.snapshot.rows) == expected
    assert_serves(b, expected)
    assert org_requests(provider)[0].query["start_time"] == str(D(2026, 1, 1))  # the month's start is earlier

    first = D(2026, 2, 1) + 600  # on the 1st: no month row; the day rows are Jan 29..31
    chat(provider, KEY_A, D(2026, 1, 30) + 100, model="gpt-4o", input=64, output=64)
    b.poller.clock = lambda: first
    b.poller.poll_now()
    assert dict(b.poller.snapshot.rows) == {RowKey("day", "2026-01-30", "gpt-4o", "team-a", "proj_a"): day(64)}


# --- mapping ------------------------------------------------------------------------------------

KEY_C = "sk-proj-team-c-0123456789abcdefC0DE"
KEY_D = "sk-proj-team-d-0123456789abcdefQQQQ"
KEY_E = "sk-proj-team-e-0123456789abcdefQQQQ"


def test_redacted_values_match_the_alias_file(billed, provider, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="exporter.billing")
    provider.organization.api_keys.update({KEY_C: ("proj_c", "key_c"), KEY_D: ("proj_d", "key_d"),
                                           KEY_E: ("proj_d", "key_e")})
    for key in (KEY_A, KEY_B, KEY_C, KEY_D, KEY_E):
        chat(provider, key, D(2026, 1, 2) + 100, model="gpt-4o", input=10, output=1)
    aliases = tmp_path / "aliases.yaml"
    aliases.write_text(
        "api_key_aliases:\n"
        f"  {fingerprint(KEY_B)}: team-b-by-fingerprint\n"  # the SDK's entries cannot be matched
        "  'sk-proj-…c0de': team-c\n"                   # a redaction entry: one key fits
        "  'sk-…QQQQ': team-q\n"                        # two keys fit: ambiguous, nothing mapped
        "  'sk-…ABCD': team-a-by-redaction\n")          # key_a is mapped explicitly: that wins
    b = billed(api_key_aliases_file=str(aliases), keys={"key_a": "team-a"})
    b.poller.poll_now()  # a second poll: the ambiguity is logged once
    one = f(cost("gpt-4o", 10, 0, 1), 10, 0, 1, 1)
    rows = {key: figures for key, figures in b.poller.snapshot.rows.items() if key.window == "day"}
    assert rows == {
        RowKey("day", "2026-01-02", "gpt-4o", "team-a", "proj_a"): one,
        RowKey("day", "2026-01-02", "gpt-4o", "", "proj_b"): one,
        RowKey("day", "2026-01-02", "gpt-4o", "team-c", "proj_c"): one,
        RowKey("day", "2026-01-02", "gpt-4o", "", "proj_d"): f(2 * one.cost_usd, 20, 0, 2, 2),
    }
    ambiguous = [r.getMessage() for r in caplog.records if "is not mapped" in r.getMessage()]
    assert ambiguous == [
        f"billing: OpenAI API key {key_id} is not mapped: its redacted value fits alias file entries that are not "
        "unique to it (aliases team-q); name it in billing.openai.keys" for key_id in ("key_d", "key_e")]
    assert {r.path for r in org_requests(provider, "/projects")} == {
        "/v1/organization/projects", *(f"/v1/organization/projects/{p}/api_keys"
                                       for p in ("proj_default", "proj_a", "proj_b", "proj_c", "proj_d"))}


def test_a_fingerprint_only_alias_file_maps_nothing(billed, provider, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="exporter.billing")
    chat(provider, KEY_B, D(2026, 1, 2) + 100, model="gpt-4o", input=10, output=1)
    aliases = tmp_path / "aliases.yaml"
    aliases.write_text(f"api_key_aliases:\n  {fingerprint(KEY_B)}: team-b\n")
    b = billed(api_key_aliases_file=str(aliases))
    assert {key.api_key for key in b.poller.snapshot.rows} == {""}
    assert "holds only key fingerprints" in caplog.text
    assert org_requests(provider, "/projects") == []  # nothing to match: the listings are not read


def test_a_project_cost_goes_to_the_one_alias_of_its_keys(billed, provider):
    provider.organization.api_keys.update({KEY_C: ("proj_a", "key_c")})  # proj_a: key_a and key_c
    chat(provider, KEY_A, D(2026, 1, 2) + 100, model="gpt-4o", input=10, output=1)
    chat(provider, KEY_C, D(2026, 1, 2) + 100, model="gpt-4o", input=20, output=2)
    b = billed(keys={"key_a": "team-a", "key_c": "team-a"})
    day = {k: v for k, v in b.poller.snapshot.rows.items() if k.window == "day"}
    assert day == {RowKey("day", "2026-01-02", "gpt-4o", "team-a", "proj_a"): f(cost("gpt-4o", 30, 0, 3), 30, 0, 3, 2)}

    b.poller.config = b.poller.config.model_copy(update={"keys": {"key_a": "team-a", "key_c": "team-c"}})
    b.poller.poll_now()  # two aliases in the project: its cost is nobody's
    day = {k: v for k, v in b.poller.snapshot.rows.items() if k.window == "day"}
    assert day == {
        RowKey("day", "2026-01-02", "gpt-4o", "team-a", "proj_a"): f(0.0, 10, 0, 1, 1),
        RowKey("day", "2026-01-02", "gpt-4o", "team-c", "proj_a"): f(0.0, 20, 0, 2, 1),
        RowKey("day", "2026-01-02", "gpt-4o", "", "proj_a"): f(cost("gpt-4o", 30, 0, 3)),
    }
