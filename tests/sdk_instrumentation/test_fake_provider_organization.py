"""The fake provider's OpenAI organization Usage and Costs APIs, fed by the calls it served.

The calls go through the real openai client; the reports are read with httpx (and once with the
openai client's own admin resources), so both wire shapes are exercised.
"""

from __future__ import annotations

import math
import threading
from fractions import Fraction

import httpx
import openai
import pytest

from sdk_instrumentation.fake_provider.organization_api import (
    DEFAULT_PROJECT,
    USAGE_GROUPS,
    Organization,
    key_id_for,
    redacted_value,
)
from sdk_instrumentation.pricing import Pricing
from sdk_instrumentation.usage import Usage

from .conftest import OPENAI_KEY

DAY = 86_400
DAY0 = 1_767_225_600  # 2026-01-01T00:00:00Z
DAY1 = DAY0 + DAY
DAY2 = DAY0 + 2 * DAY
NOW = DAY2 + 12 * 3600  # the provider's clock: 2026-01-03T12:00:00Z

ADMIN_KEY = "sk-admin-fake"
KEY_A = "sk-proj-team-a-0123456789abcdefABCD"
KEY_B = "sk-proj-team-b-0123456789abcdefWXYZ"
DEFAULT_KEY_ID = key_id_for(OPENAI_KEY)  # the conftest client's key is not in the mapping
MINI = "gpt-4o-mini-2024-07-18"
USER = [{"role": "user", "content": "hi"}]


def at(when: int, **headers: str) -> dict[str, str]:
    return {"x-fake-usage-time": str(when), **headers}


@pytest.fixture
def org(fake_provider):
    fake_provider.organization.api_keys = {KEY_A: ("proj_a", "key_a"), KEY_B: ("proj_b", "key_b")}
    fake_provider.organization.clock = lambda: NOW
    return fake_provider.organization


@pytest.fixture
def admin(fake_provider, org):
    with httpx.Client(base_url=fake_provider.url + "/v1", headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as client:
        yield client


def client_for(fake_provider, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=fake_provider.url + "/v1", api_key=key, max_retries=0)


@pytest.fixture
def served(fake_provider, org, openai_client):
    """Six answered calls on three days, three keys, and three failed ones; returns their Usage."""
    a, b = client_for(fake_provider, KEY_A), client_for(fake_provider, KEY_B)
    a.chat.completions.create(model="gpt-4o-mini", messages=USER, extra_headers=at(
        DAY0 + 36_005, **{"x-fake-model": MINI, "x-fake-input-tokens": "1000", "x-fake-cached-tokens": "400",
                          "x-fake-output-tokens": "250", "x-fake-reasoning-tokens": "50"}))
    with a.responses.create(model="gpt-4o-mini", input="hi", stream=True, extra_headers=at(
            DAY0 + 36_040, **{"x-fake-model": MINI, "x-fake-input-tokens": "200", "x-fake-output-tokens": "20"})) as s:
        list(s)
    with b.chat.completions.create(model="gpt-4o", messages=USER, stream=True, stream_options={"include_usage": True},
                                   extra_headers=at(DAY0 + 86_370, **{"x-fake-input-tokens": "300",
                                                                      "x-fake-output-tokens": "30"})) as s:
        list(s)
    openai_client.chat.completions.create(model="gpt-4o", messages=USER, extra_headers=at(
        DAY1 + 28_800, **{"x-fake-input-tokens": "100", "x-fake-output-tokens": "10", "x-fake-service-tier": "priority"}))
    openai_client.embeddings.create(model="text-embedding-3-small", input="hello", extra_headers=at(
        DAY1 + 28_800, **{"x-fake-input-tokens": "50"}))
    a.chat.completions.create(model="gpt-4o-mini", messages=USER,
                              extra_headers={"x-fake-input-tokens": "10", "x-fake-output-tokens": "5"})  # at NOW
    for fault, error in (("429", openai.RateLimitError), ("500", openai.InternalServerError),
                         ("drop", openai.APIConnectionError)):
        with pytest.raises(error):
            a.chat.completions.create(model="gpt-4o-mini", messages=USER, extra_headers=at(
                DAY0 + 36_005, **{"x-fake-fault": fault, "x-fake-input-tokens": "9999"}))
    a.close()
    b.close()
    return {
        "a_chat": Usage(input_tokens=1000, output_tokens=250, cache_read_tokens=400, reasoning_tokens=50),
        "a_responses": Usage(input_tokens=200, output_tokens=20),
        "b_chat": Usage(input_tokens=300, output_tokens=30),
        "default_chat": Usage(input_tokens=100, output_tokens=10),
        "default_embeddings": Usage(input_tokens=50),
        "a_now": Usage(input_tokens=10, output_tokens=5),
    }


def get(admin: httpx.Client, path: str, **params) -> dict:
    response = admin.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def completions(input_tokens=0, output_tokens=0, cached=0, requests=1, audio_in=0, audio_out=0, **group) -> dict:
    """A completions result: the counts as the fake derives them, every group field null unless given."""
    uncached = input_tokens - cached
    result = {
        "object": "organization.usage.completions.result",
        "input_tokens": input_tokens, "output_tokens": output_tokens, "input_cached_tokens": cached,
        "input_uncached_tokens": uncached, "input_text_tokens": uncached - audio_in, "input_audio_tokens": audio_in,
        "input_image_tokens": 0, "input_cached_text_tokens": cached, "input_cached_audio_tokens": 0,
        "input_cached_image_tokens": 0, "input_cache_write_tokens": 0, "output_text_tokens": output_tokens - audio_out,
        "output_audio_tokens": audio_out, "output_image_tokens": 0, "num_model_requests": requests,
    }
    return {**result, **{name: group.get(name) for name in USAGE_GROUPS["completions"]}}


def results(page: dict) -> dict[int, list]:
    return {bucket["start_time"]: bucket["results"] for bucket in page["data"]}


# --- usage --------------------------------------------------------------------------------------


def test_every_answered_call_is_booked_by_day_model_project_and_key(admin, served):
    page = get(admin, "/organization/usage/completions", start_time=DAY0, group_by=["model", "project_id", "api_key_id"])

    assert page["object"] == "page" and page["has_more"] is False and page["next_page"] is None
    assert [(b["object"], b["start_time"], b["end_time"]) for b in page["data"]] == [
        ("bucket", DAY0, DAY1), ("bucket", DAY1, DAY2), ("bucket", DAY2, DAY2 + DAY)]
    assert results(page) == {
        DAY0: [  # sorted by the group fields in the API's order: project_id, user_id, api_key_id, model, ...
            completions(1200, 270, cached=400, requests=2, model=MINI, project_id="proj_a", api_key_id="key_a"),
            completions(300, 30, model="gpt-4o", project_id="proj_b", api_key_id="key_b"),
        ],
        DAY1: [completions(100, 10, model="gpt-4o", project_id=DEFAULT_PROJECT, api_key_id=DEFAULT_KEY_ID)],
        DAY2: [completions(10, 5, model="gpt-4o-mini", project_id="proj_a", api_key_id="key_a")],
    }


def test_ungrouped_results_have_null_group_fields(admin, served):
    page = get(admin, "/organization/usage/completions", start_time=DAY0, end_time=DAY1)
    assert results(page) == {DAY0: [completions(1500, 300, cached=400, requests=3)]}

    page = get(admin, "/organization/usage/completions", start_time=DAY1, end_time=DAY2,
               group_by=["batch", "service_tier", "api_source", "user_id"])
    assert results(page) == {DAY1: [completions(100, 10, batch=False, service_tier="priority", api_source="unlabeled")]}


def test_hourly_and_minute_buckets(admin, served):
    page = get(admin, "/organization/usage/completions", start_time=DAY0, end_time=DAY1, bucket_width="1h",
               group_by="project_id")
    assert len(page["data"]) == 24 and page["has_more"] is False
    assert {start: r for start, r in results(page).items() if r} == {
        DAY0 + 10 * 3600: [completions(1200, 270, cached=400, requests=2, project_id="proj_a")],
        DAY0 + 23 * 3600: [completions(300, 30, project_id="proj_b")],
    }

    page = get(admin, "/organization/usage/completions", start_time=DAY0 + 36_000, bucket_width="1m")
    assert len(page["data"]) == 60 and page["has_more"] is True  # the default limit of 1m buckets
    assert {start: r for start, r in results(page).items() if r} == {
        DAY0 + 36_000: [completions(1200, 270, cached=400, requests=2)]}


def test_filters_by_project_key_model_and_batch(admin, served):
    def day0(**params):
        return results(get(admin, "/organization/usage/completions", start_time=DAY0, end_time=DAY1, **params))[DAY0]

    assert day0(project_ids=["proj_b"]) == [completions(300, 30)]
    assert day0(api_key_ids=["key_a", "key_b"], group_by="api_key_id") == [
        completions(1200, 270, cached=400, requests=2, api_key_id="key_a"), completions(300, 30, api_key_id="key_b")]
    assert day0(models=[MINI]) == [completions(1200, 270, cached=400, requests=2)]
    assert day0(batch="true") == []
    assert day0(batch="false") == [completions(1500, 300, cached=400, requests=3)]
    assert day0(user_ids=["user-1"]) == []


def test_embeddings_are_booked_on_their_own_endpoint(admin, served):
    page = get(admin, "/organization/usage/embeddings", start_time=DAY1, end_time=DAY2,
               group_by=["model", "project_id", "api_key_id"])
    assert results(page) == {DAY1: [{
        "object": "organization.usage.embeddings.result", "input_tokens": 50, "num_model_requests": 1,
        "project_id": DEFAULT_PROJECT, "user_id": None, "api_key_id": DEFAULT_KEY_ID, "model": "text-embedding-3-small",
    }]}


def test_audio_tokens_are_reported(fake_provider, admin, openai_client):
    openai_client.chat.completions.create(model="gpt-4o-audio-preview", messages=USER, extra_headers=at(
        DAY0, **{"x-fake-input-tokens": "500", "x-fake-output-tokens": "80",
                 "x-fake-modality-tokens": "input_audio=300, output_audio=60"}))
    page = get(admin, "/organization/usage/completions", start_time=DAY0, end_time=DAY1)
    assert results(page) == {DAY0: [completions(500, 80, audio_in=300, audio_out=60)]}


@pytest.mark.parametrize("kind", [k for k in USAGE_GROUPS if k not in ("completions", "embeddings")])
def test_other_usage_kinds_answer_valid_empty_pages(admin, served, kind):
    page = get(admin, f"/organization/usage/{kind}", start_time=DAY0, group_by="project_id")
    assert page == {"object": "page", "has_more": False, "next_page": None, "data": [
        {"object": "bucket", "start_time": start, "end_time": start + DAY, "results": []}
        for start in (DAY0, DAY1, DAY2)]}


def test_a_gemini_call_is_not_booked(admin, org, gemini_client):
    gemini_client.models.generate_content(model="gemini-2.0-flash", contents="hi")
    assert org.cell_count() == 0
    assert results(get(admin, "/organization/usage/completions", start_time=DAY2)) == {DAY2: []}


# --- pagination ---------------------------------------------------------------------------------


def test_limit_one_walks_every_page_through_next_page(admin, served):
    params = {"start_time": DAY0, "end_time": DAY2 + DAY, "group_by": ["model"]}
    whole = get(admin, "/organization/usage/completions", **params)
    pages = [get(admin, "/organization/usage/completions", limit=1, **params)]
    while pages[-1]["has_more"]:
        pages.append(get(admin, "/organization/usage/completions", limit=1, page=pages[-1]["next_page"], **params))

    assert [len(p["data"]) for p in pages] == [1, 1, 1]
    assert [p["has_more"] for p in pages] == [True, True, False]
    assert pages[-1]["next_page"] is None and pages[0]["next_page"] != pages[1]["next_page"]
    assert [b for p in pages for b in p["data"]] == whole["data"]


def test_the_real_client_pages_the_minute_buckets(fake_provider, served):
    admin = openai.OpenAI(base_url=fake_provider.url + "/v1", api_key="unused", admin_api_key=ADMIN_KEY, max_retries=0)
    usage = admin.admin.organization.usage
    first = usage.completions(start_time=DAY0 + 36_000, end_time=DAY0 + 36_000 + 90 * 60, bucket_width="1m",
                              group_by=["model", "project_id"])
    second = usage.completions(start_time=DAY0 + 36_000, end_time=DAY0 + 36_000 + 90 * 60, bucket_width="1m",
                               group_by=["model", "project_id"], page=first.next_page)
    assert (len(first.data), first.has_more, len(second.data), second.has_more, second.next_page) == (60, True, 30, False,
                                                                                                        None)
    result = first.data[0].results[0]
    assert (result.model, result.project_id, result.input_tokens, result.input_cached_tokens, result.output_tokens,
            result.num_model_requests) == (MINI, "proj_a", 1200, 400, 270, 2)
    admin.close()


# --- costs --------------------------------------------------------------------------------------


def parts(cost) -> list[float]:
    return [cost.input, cost.output, cost.other]


def test_costs_equal_pricing_to_the_last_bit(admin, served):
    pricing = Pricing()
    cost = {name: pricing.price("openai", model, served[name], tier) for name, model, tier in (
        ("a_chat", MINI, "default"), ("a_responses", MINI, "default"), ("b_chat", "gpt-4o", "default"),
        ("default_chat", "gpt-4o", "priority"), ("default_embeddings", "text-embedding-3-small", None))}

    page = get(admin, "/organization/costs", start_time=DAY0, end_time=DAY2, group_by="project_id")
    assert [(b["start_time"], b["end_time"]) for b in page["data"]] == [(DAY0, DAY1), (DAY1, DAY2)]
    assert results(page) == {
        DAY0: [
            {"object": "organization.costs.result", "project_id": "proj_a", "line_item": None, "user_id": None,
             "api_key_id": None, "api_source": None, "quantity": None, "quantity_unit": None,
             "amount": {"value": math.fsum(parts(cost["a_chat"]) + parts(cost["a_responses"])), "currency": "usd"}},
            {"object": "organization.costs.result", "project_id": "proj_b", "line_item": None, "user_id": None,
             "api_key_id": None, "api_source": None, "quantity": None, "quantity_unit": None,
             "amount": {"value": cost["b_chat"].total, "currency": "usd"}},  # one call: exactly its Cost.total
        ],
        DAY1: [
            {"object": "organization.costs.result", "project_id": DEFAULT_PROJECT, "line_item": None, "user_id": None,
             "api_key_id": None, "api_source": None, "quantity": None, "quantity_unit": None,
             "amount": {"value": math.fsum(parts(cost["default_chat"]) + parts(cost["default_embeddings"])),
                        "currency": "usd"}},
        ],
    }

    lines = {r["line_item"]: r for r in results(get(admin, "/organization/costs", start_time=DAY0, end_time=DAY2,
                                                    group_by=["line_item"]))[DAY0]}
    assert {name: (r["quantity"], r["quantity_unit"]) for name, r in lines.items()} == {
        f"{MINI}, input": (800.0, "tokens"), f"{MINI}, cached input": (400.0, "tokens"),
        f"{MINI}, output": (270.0, "tokens"), "gpt-4o, input": (300.0, "tokens"), "gpt-4o, output": (30.0, "tokens")}
    assert lines[f"{MINI}, output"]["amount"]["value"] == cost["a_chat"].output + cost["a_responses"].output
    assert lines["gpt-4o, input"]["amount"]["value"] == cost["b_chat"].input
    # The input cost splits at the call's own rates; the two parts add up to Pricing's input cost.
    assert lines[f"{MINI}, cached input"]["amount"]["value"] == pytest.approx(400 * 0.075e-6, rel=1e-12)
    split = Fraction(lines[f"{MINI}, input"]["amount"]["value"]) + Fraction(lines[f"{MINI}, cached input"]["amount"]["value"])
    assert float(split) == pytest.approx(cost["a_chat"].input + cost["a_responses"].input, rel=1e-15)

    day1 = {r["line_item"]: r["amount"]["value"] for r in results(get(
        admin, "/organization/costs", start_time=DAY1, end_time=DAY2, group_by="line_item"))[DAY1]}
    assert day1 == {"priority | gpt-4o, input": cost["default_chat"].input,
                    "priority | gpt-4o, output": cost["default_chat"].output,
                    "text-embedding-3-small, input": cost["default_embeddings"].input}


def test_web_search_calls_are_billed_on_their_own_line(admin, openai_client):
    openai_client.responses.create(model="gpt-4o", input="news", tools=[{"type": "web_search"}], extra_headers=at(
        DAY0, **{"x-fake-input-tokens": "100", "x-fake-output-tokens": "10", "x-fake-web-search-calls": "2"}))
    cost = Pricing().price("openai", "gpt-4o", Usage(input_tokens=100, output_tokens=10, web_search_calls=2))
    lines = results(get(admin, "/organization/costs", start_time=DAY0, end_time=DAY1, group_by="line_item"))[DAY0]
    assert [(r["line_item"], r["amount"]["value"], r["quantity"], r["quantity_unit"]) for r in lines] == [
        ("gpt-4o, input", cost.input, 100.0, "tokens"), ("gpt-4o, output", cost.output, 10.0, "tokens"),
        ("web search tool calls", cost.other, 2.0, None)]
    assert cost.other > 0


def test_costs_filters_and_the_real_client(fake_provider, admin, served):
    one = results(get(admin, "/organization/costs", start_time=DAY0, end_time=DAY1,
                      line_items=[f"{MINI}, output"], group_by=["line_item", "api_key_id"]))[DAY0]
    assert [(r["line_item"], r["api_key_id"], r["quantity"]) for r in one] == [(f"{MINI}, output", "key_a", 270.0)]
    assert results(get(admin, "/organization/costs", start_time=DAY0, end_time=DAY1, project_ids="proj_x")) == {DAY0: []}

    client = openai.OpenAI(base_url=fake_provider.url + "/v1", api_key="unused", admin_api_key=ADMIN_KEY, max_retries=0)
    page = client.admin.organization.usage.costs(start_time=DAY0, end_time=DAY1, group_by=["project_id", "line_item"],
                                                 project_ids=["proj_b"])
    assert [(r.project_id, r.line_item, r.quantity_unit, r.amount.currency) for r in page.data[0].results] == [
        ("proj_b", "gpt-4o, input", "tokens", "usd"), ("proj_b", "gpt-4o, output", "tokens", "usd")]
    client.close()


def test_a_cost_factor_shows_as_drift(admin, org, served):
    pricing = Pricing()
    b_chat = pricing.price("openai", "gpt-4o", served["b_chat"])
    a_exact = sum(Fraction(x) for name in ("a_chat", "a_responses") for x in parts(pricing.price("openai", MINI, served[name])))

    def day0() -> dict[str, float]:
        page = get(admin, "/organization/costs", start_time=DAY0, end_time=DAY1, group_by="project_id")
        return {r["project_id"]: r["amount"]["value"] for r in results(page)[DAY0]}

    org.cost_factor = 1.1
    assert day0() == {"proj_a": float(a_exact * Fraction(1.1)), "proj_b": float(Fraction(b_chat.total) * Fraction(1.1))}
    org.cost_factors["gpt-4o"] = 1.0  # one model billed as priced, the others still 10% off
    assert day0() == {"proj_a": float(a_exact * Fraction(1.1)), "proj_b": b_chat.total}


def test_amounts_as_decimal_strings(admin, org, served):
    org.amount_as_string = True
    page = get(admin, "/organization/costs", start_time=DAY0, end_time=DAY1, project_ids="proj_b")
    value = results(page)[DAY0][0]["amount"]["value"]
    assert isinstance(value, str) and "e" not in value
    assert float(value) == Pricing().price("openai", "gpt-4o", served["b_chat"]).total


# --- revisions ----------------------------------------------------------------------------------


def test_a_late_booking_revises_a_bucket_already_read(fake_provider, admin, served):
    before = results(get(admin, "/organization/usage/completions", start_time=DAY0, end_time=DAY1))[DAY0]
    before_cost = results(get(admin, "/organization/costs", start_time=DAY0, end_time=DAY1))[DAY0][0]["amount"]["value"]
    late = client_for(fake_provider, KEY_B)
    late.chat.completions.create(model="gpt-4o", messages=USER, extra_headers=at(
        DAY0 + 3600, **{"x-fake-input-tokens": "1000", "x-fake-output-tokens": "100"}))
    late.close()

    after = results(get(admin, "/organization/usage/completions", start_time=DAY0, end_time=DAY1))[DAY0]
    after_cost = results(get(admin, "/organization/costs", start_time=DAY0, end_time=DAY1))[DAY0][0]["amount"]["value"]
    assert before == [completions(1500, 300, cached=400, requests=3)]
    assert after == [completions(2500, 400, cached=400, requests=4)]
    added = Pricing().price("openai", "gpt-4o", Usage(input_tokens=1000, output_tokens=100))
    assert Fraction(after_cost) - Fraction(before_cost) == pytest.approx(Fraction(added.total), rel=1e-15)


def test_revise_adds_tokens_and_cost_to_a_past_bucket(admin, org, served):
    before = results(get(admin, "/organization/costs", start_time=DAY0, end_time=DAY1, group_by="line_item"))[DAY0]
    org.revise(DAY0, MINI, project_id="proj_a", extra_input_tokens=500, extra_cost=0.01)

    usage = results(get(admin, "/organization/usage/completions", start_time=DAY0, end_time=DAY1,
                        group_by=["model", "api_key_id"]))[DAY0]
    assert usage == [completions(500, 0, requests=0, model=MINI),  # a revision on no key: api_key_id null
                     completions(1200, 270, cached=400, requests=2, model=MINI, api_key_id="key_a"),
                     completions(300, 30, model="gpt-4o", api_key_id="key_b")]
    after = results(get(admin, "/organization/costs", start_time=DAY0, end_time=DAY1, group_by="line_item"))[DAY0]
    changed = {r["line_item"]: (b["amount"]["value"], r["amount"]["value"], r["quantity"] - b["quantity"])
               for b, r in zip(before, after) if b != r}
    old_input = changed[f"{MINI}, input"][0]
    assert changed == {f"{MINI}, input": (old_input, float(Fraction(old_input) + Fraction(0.01)), 500.0)}

    org.revise(DAY1, "gpt-4o", extra_output_tokens=1000)  # no extra_cost: the tokens are priced
    day1 = results(get(admin, "/organization/costs", start_time=DAY1, end_time=DAY2, group_by="line_item"))[DAY1]
    assert {r["line_item"]: r["amount"]["value"] for r in day1}["gpt-4o, output"] == Pricing().price(
        "openai", "gpt-4o", Usage(output_tokens=1000)).output


# --- projects and keys --------------------------------------------------------------------------


def test_projects_and_their_keys_with_redacted_values(fake_provider, admin, served):
    projects = get(admin, "/organization/projects")
    assert [(p["object"], p["id"], p["name"], p["status"]) for p in projects["data"]] == [
        ("organization.project", DEFAULT_PROJECT, "Default project", "active"),
        ("organization.project", "proj_a", "proj_a", "active"), ("organization.project", "proj_b", "proj_b", "active")]
    assert (projects["object"], projects["first_id"], projects["last_id"], projects["has_more"]) == (
        "list", DEFAULT_PROJECT, "proj_b", False)
    second = get(admin, "/organization/projects", limit=1, after=DEFAULT_PROJECT)
    assert ([p["id"] for p in second["data"]], second["has_more"]) == (["proj_a"], True)

    keys = get(admin, "/organization/projects/proj_a/api_keys")["data"]
    assert [(k["object"], k["id"], k["redacted_value"], k["last_used_at"]) for k in keys] == [
        ("organization.project.api_key", "key_a", "sk-proj-***********************ABCD", NOW)]
    assert redacted_value(KEY_A) == KEY_A[:8] + "*" * (len(KEY_A) - 12) + KEY_A[-4:]
    default = get(admin, f"/organization/projects/{DEFAULT_PROJECT}/api_keys")["data"]
    assert [(k["id"], k["redacted_value"], k["last_used_at"]) for k in default] == [
        (DEFAULT_KEY_ID, "sk-test-*******************cdef", DAY1 + 28_800)]

    missing = admin.get("/organization/projects/proj_x/api_keys")
    assert (missing.status_code, missing.json()["error"]["type"]) == (404, "invalid_request_error")

    client = openai.OpenAI(base_url=fake_provider.url + "/v1", api_key="unused", admin_api_key=ADMIN_KEY, max_retries=0)
    assert [k.id for k in client.admin.organization.projects.api_keys.list("proj_b")] == ["key_b"]
    client.close()


# --- auth, faults, bad parameters ---------------------------------------------------------------


def test_only_the_admin_key_is_let_in(fake_provider, org):
    base = fake_provider.url + "/v1/organization/usage/completions"
    missing = httpx.get(base, params={"start_time": DAY0})
    wrong = httpx.get(base, params={"start_time": DAY0}, headers={"Authorization": f"Bearer {KEY_A}"})
    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert missing.json()["error"]["type"] == "invalid_request_error" and missing.json()["error"]["code"] is None
    assert {k: v for k, v in wrong.json()["error"].items() if k != "message"} == {
        "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}
    assert KEY_A not in wrong.text

    client = openai.OpenAI(base_url=fake_provider.url + "/v1", api_key="unused", admin_api_key="sk-admin-wrong",
                           max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        client.admin.organization.usage.costs(start_time=DAY0)
    client.close()
    assert {r.headers.get("authorization") for r in fake_provider.requests} == {None, "[redacted]"}


def test_queued_faults_answer_429_with_retry_after_then_500(admin, org):
    org.fail_next(429, retry_after=2)
    org.fail_next(500)
    org.fail_next(429, retry_after=None, path="/costs")

    limited = admin.get("/organization/usage/completions", params={"start_time": DAY0})
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "2")
    assert {k: v for k, v in limited.json()["error"].items() if k != "message"} == {
        "type": "requests", "param": None, "code": "rate_limit_exceeded"}
    broken = admin.get("/organization/usage/completions", params={"start_time": DAY0})
    assert (broken.status_code, broken.json()["error"]["type"]) == (500, "server_error")
    assert admin.get("/organization/usage/completions", params={"start_time": DAY0}).status_code == 200
    costs = admin.get("/organization/costs", params={"start_time": DAY0})
    assert (costs.status_code, "retry-after" in costs.headers) == (429, False)
    assert admin.get("/organization/costs", params={"start_time": DAY0}).status_code == 200


@pytest.mark.parametrize("path, params, param, code", [
    ("usage/completions", {}, "start_time", "missing_required_parameter"),
    ("usage/completions", {"start_time": "yesterday"}, "start_time", "invalid_value"),
    ("usage/completions", {"start_time": DAY0, "bucket_width": "1w"}, "bucket_width", "invalid_value"),
    ("usage/completions", {"start_time": DAY0, "group_by": "region"}, "group_by", "invalid_value"),
    ("usage/completions", {"start_time": DAY0, "limit": 32}, "limit", "invalid_value"),
    ("usage/completions", {"start_time": DAY0, "bucket_width": "1h", "limit": 169}, "limit", "invalid_value"),
    ("usage/completions", {"start_time": DAY0, "limit": 0}, "limit", "invalid_value"),
    ("usage/completions", {"start_time": DAY0, "end_time": DAY0}, "end_time", "invalid_value"),
    ("usage/completions", {"start_time": DAY0, "page": "not a cursor"}, "page", "invalid_value"),
    ("usage/completions", {"start_time": DAY0, "batch": "maybe"}, "batch", "invalid_value"),
    ("usage/embeddings", {"start_time": DAY0, "group_by": "service_tier"}, "group_by", "invalid_value"),
    ("usage/vector_stores", {"start_time": DAY0, "group_by": "model"}, "group_by", "invalid_value"),
    ("costs", {}, "start_time", "missing_required_parameter"),
    ("costs", {"start_time": DAY0, "bucket_width": "1h"}, "bucket_width", "invalid_value"),
    ("costs", {"start_time": DAY0, "group_by": "model"}, "group_by", "invalid_value"),
    ("costs", {"start_time": DAY0, "limit": 181}, "limit", "invalid_value"),
    ("projects", {"limit": 101}, "limit", "invalid_value"),
])
def test_bad_parameters_answer_400_in_openais_error_shape(admin, path, params, param, code):
    response = admin.get(f"/organization/{path}", params=params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (set(error), error["type"], error["param"], error["code"]) == (
        {"message", "type", "param", "code"}, "invalid_request_error", param, code)


def test_the_limits_at_their_maxima_are_accepted(admin):
    assert len(get(admin, "/organization/costs", start_time=DAY0 - 179 * DAY, limit=180)["data"]) == 180
    assert len(get(admin, "/organization/usage/completions", start_time=DAY0 - 30 * DAY, limit=31)["data"]) == 31


def test_a_bad_usage_time_header_answers_400(openai_client, org):
    with pytest.raises(openai.BadRequestError):
        openai_client.chat.completions.create(model="gpt-4o", messages=USER,
                                              extra_headers={"x-fake-usage-time": "yesterday"})
    assert org.cell_count() == 0


# --- the ledger ---------------------------------------------------------------------------------


def test_the_ledger_folds_old_days_and_keeps_daily_totals():
    org = Organization(max_cells=60)
    for minute in range(4 * 24 * 60 // 30):  # a call every 30 minutes for 4 days: 192 minute cells
        org.book("completions", "gpt-4o", Usage(input_tokens=10, output_tokens=1), api_key=KEY_A,
                 when=DAY0 + minute * 1800)
    assert org.cell_count() == 3 + 48  # three days folded to one cell each, the newest still per minute
    days = org.usage_results("completions", [DAY0 + d * DAY for d in range(4)], DAY, [], {})
    assert [(r[0]["input_tokens"], r[0]["num_model_requests"]) for r in days.values()] == [(480, 48)] * 4
    hours = org.usage_results("completions", [DAY0 + 3 * DAY + h * 3600 for h in range(24)], 3600, [], {})
    assert [r[0]["num_model_requests"] for r in hours.values()] == [2] * 24  # the newest day keeps its minutes


def test_booking_from_many_threads_adds_up_exactly():
    org = Organization()

    def book():
        for _ in range(200):
            org.book("completions", "gpt-4o-mini", Usage(input_tokens=7, output_tokens=3), api_key=KEY_B, when=DAY0)

    threads = [threading.Thread(target=book) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    [result] = org.usage_results("completions", [DAY0], DAY, [], {})[DAY0]
    assert (result["input_tokens"], result["output_tokens"], result["num_model_requests"]) == (11_200, 4_800, 1_600)
    [cost] = org.cost_results([DAY0], [], {})[DAY0]
    one = Pricing().price("openai", "gpt-4o-mini", Usage(input_tokens=7, output_tokens=3))
    assert cost["amount"]["value"] == float(1_600 * (Fraction(one.input) + Fraction(one.output)))
