"""Hostile input to ``POST /v1/metrics`` and ``POST /v1/traces``: never a 5xx, never a crash, memory bounded by the series limit,
and the series accepted before the attack still exact after it.

Property-based with hypothesis on a fixed budget (``derandomize=True``: the same examples on every run):
random bytes, mutated and truncated protobuf, random and mutated JSON, wrong content types and
encodings, huge attribute keys and values, gzip bombs and label-cardinality floods. The app runs
in-process (starlette's ``TestClient``, lifespan included) for speed; a few cases go over real HTTP to
a ``genai-lens serve`` process.
"""

from __future__ import annotations

import copy
import gc
import gzip
import json
import socket
import tracemalloc

import httpx
import pytest
from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings, strategies as st
from starlette.testclient import TestClient

from exporter import Settings, create_app
from exporter.genai_spans import ATTRIBUTES
from tests.exporter.otlp import histogram_metric, histogram_point, number_point, request, sum_metric, values
from tests.exporter.test_traces import span as trace_span, traces as trace_request

from .support import ExporterProcess

SERIES_LIMIT = 50
BODY_LIMIT = 256 * 1024
BOUNDS = [1.0, 10.0, 100.0]
PROTOBUF = "application/x-protobuf"
JSON = "application/json"
ALLOWED = {200, 400, 413, 415}

BASELINE = request(
    sum_metric("genai_lens.cost", "usd", [number_point(0.000123456789, {"gen_ai.request.model": "gpt-4o"})]),
    histogram_metric("gen_ai.client.token.usage", "{token}",
                     [histogram_point(BOUNDS, [1, 2, 3, 4], 1234.0, {"gen_ai.request.model": "gpt-4o", "gen_ai.token.type": "input"})]),
    resource={"service.name": "baseline"},
)
BASELINE_LABELS = {"gen_ai_request_model": "gpt-4o", "service_name": "baseline"}

# A valid request from "attacker": the seed that mutations start from.
TEMPLATE = request(
    sum_metric("genai_lens.cost", "usd", [number_point(0.5, {"gen_ai.request.model": "m", "k": "v"})]),
    sum_metric("genai_lens.web_search.calls", "{call}", [number_point(3, {"gen_ai.request.model": "m"}, as_int=True)]),
    histogram_metric("gen_ai.client.token.usage", "{token}", [histogram_point(BOUNDS, [0, 1, 0, 1], 500.0, {"x": "y"})]),
    resource={"service.name": "attacker", "host.name": "h"},
)
TEMPLATE_PB = TEMPLATE.SerializeToString()
TEMPLATE_JSON = json_format.MessageToDict(TEMPLATE)
GZIP_BOMB = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)       # 64 MiB of zeros in ~64 kB


def check_baseline(text: str) -> None:
    labels = frozenset(BASELINE_LABELS.items())
    assert values(text, "genai_lens_cost_usd_total")[labels] == pytest.approx(0.000123456789, abs=1e-15)
    with_type = frozenset({**BASELINE_LABELS, "gen_ai_token_type": "input"}.items())
    assert values(text, "gen_ai_client_token_usage_sum")[with_type] == 1234.0
    assert values(text, "gen_ai_client_token_usage_count")[with_type] == 10
    buckets = values(text, "gen_ai_client_token_usage_bucket")
    assert [buckets[frozenset({**dict(with_type), "le": le}.items())] for le in ("1.0", "10.0", "100.0", "+Inf")] == [1, 3, 6, 10]


def check_bounded(store) -> None:
    assert len(store.families_by_name) <= store.metric_limit
    for family in store.families_by_name.values():
        assert len(family.series) <= SERIES_LIMIT


@pytest.fixture(scope="module")
def target():
    app = create_app(Settings(series_limit=SERIES_LIMIT, max_body_bytes=BODY_LIMIT, new_series_hold_seconds=0))
    with TestClient(app, raise_server_exceptions=True) as client:
        response = client.post("/v1/metrics", content=BASELINE.SerializeToString(), headers={"Content-Type": PROTOBUF})
        assert response.status_code == 200 and response.content == b""
        yield client, app.state.store


# -- strategies -------------------------------------------------------------------------------

def _mutate(data: bytes, edits) -> bytes:
    out = bytearray(data)
    for position, value, op in edits:
        if not out:
            break
        i = position % len(out)
        if op == 0:
            out[i] = value
        elif op == 1:
            out.insert(i, value)
        else:
            del out[i]
    return bytes(out)


_edits = st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255), st.integers(0, 2)), min_size=1, max_size=8)
_json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True), st.text(max_size=30))
_json_any = st.recursive(_json_leaf, lambda kids: st.one_of(st.lists(kids, max_size=4), st.dictionaries(st.text(max_size=12), kids, max_size=4)),
                         max_leaves=20)


@st.composite
def mutated_json(draw) -> bytes:
    """The template's JSON with one value somewhere replaced by an arbitrary JSON value."""
    doc = copy.deepcopy(TEMPLATE_JSON)
    node = doc
    path_choices = draw(st.lists(st.integers(0, 50), min_size=1, max_size=8))
    for choice in path_choices:
        children = list(node.items()) if isinstance(node, dict) else list(enumerate(node)) if isinstance(node, list) else []
        key, child = children[choice % len(children)] if children else (None, None)
        if key is None:
            break
        if not isinstance(child, (dict, list)) or choice % 3 == 0:
            node[key] = draw(_json_any)
            break
        node = child
    return json.dumps(doc).encode()


@st.composite
def huge_attributes(draw) -> bytes:
    size = draw(st.sampled_from([10_000, 60_000, 200_000, 300_000]))
    which = draw(st.sampled_from(["key", "value", "resource"]))
    big = draw(st.characters(min_codepoint=32, max_codepoint=0x2FFF)) * size
    attributes = {"gen_ai.request.model": "m"}
    resource = {"service.name": "attacker"}
    if which == "key":
        attributes[big] = "v"
    elif which == "value":
        attributes["k"] = big
    else:
        resource["service.name"] = big
    return request(sum_metric("genai_lens.cost", "usd", [number_point(1.0, attributes)]), resource=resource).SerializeToString()


@st.composite
def cardinality_flood(draw) -> bytes:
    n = draw(st.integers(SERIES_LIMIT, 2000))
    salt = draw(st.integers(0, 10**9))
    points = [number_point(0.001, {"gen_ai.request.model": f"m-{salt}-{i}", f"key-{salt % 97}-{i % 7}": str(i)}) for i in range(n)]
    return request(sum_metric("genai_lens.cost", "usd", points)).SerializeToString()


def _case(body_strategy, content_type=PROTOBUF, encoding=None):
    headers = {"Content-Type": content_type}
    if encoding:
        headers["Content-Encoding"] = encoding
    return body_strategy.map(lambda body: (body, headers))


# Header values as raw bytes (any octet a client can send: printable ASCII and obs-text 0x80-0xFF).
_header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\x7f"), max_size=40).map(
    lambda text: text.encode("latin-1"))
CONTENT_TYPES = st.one_of(st.sampled_from(["", "text/plain", "application/grpc", "application/json; charset=utf-16",
                                           "application/x-protobuf; foo=bar", "multipart/form-data", "*/*",
                                           "application/x-www-form-urlencoded"]), _header_text)
ENCODINGS = st.one_of(st.sampled_from(["gzip", "deflate", "br", "zstd", "GZIP", "identity", "gzip, gzip"]), _header_text)

CASES = st.one_of(
    _case(st.binary(max_size=3000)),
    _case(st.binary(max_size=3000), JSON),
    _case(_edits.map(lambda edits: _mutate(TEMPLATE_PB, edits))),
    _case(st.integers(0, len(TEMPLATE_PB)).map(lambda n: TEMPLATE_PB[:n])),                       # truncated
    _case(_json_any.map(lambda value: json.dumps(value).encode()), JSON),
    _case(mutated_json(), JSON),
    _case(mutated_json().map(lambda body: body[: len(body) // 2]), JSON),
    st.tuples(st.sampled_from([TEMPLATE_PB, json.dumps(TEMPLATE_JSON).encode(), b"garbage"]), CONTENT_TYPES).map(
        lambda t: (t[0], {"Content-Type": t[1]})),
    st.tuples(st.sampled_from([TEMPLATE_PB, gzip.compress(TEMPLATE_PB), b"\x1f\x8b\x08garbage"]), ENCODINGS).map(
        lambda t: (t[0], {"Content-Type": PROTOBUF, "Content-Encoding": t[1]})),
    _case(huge_attributes()),
    _case(st.just(GZIP_BOMB), PROTOBUF, "gzip"),
    _case(st.integers(1, len(GZIP_BOMB)).map(lambda n: GZIP_BOMB[:n]), PROTOBUF, "gzip"),               # truncated bomb
    _case(_edits.map(lambda edits: gzip.compress(_mutate(TEMPLATE_PB, edits))), PROTOBUF, "gzip"),
    _case(cardinality_flood()),
)


@settings(max_examples=200, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture])
@given(case=CASES)
def test_fuzzed_requests_never_5xx_and_baseline_stays_exact(target, case):
    client, store = target
    body, headers = case
    response = client.post("/v1/metrics", content=body, headers=headers)
    assert response.status_code in ALLOWED, (response.status_code, response.text[:300])
    check_bounded(store)


# POST /v1/traces: the same guarantees for spans (exporter/span_metrics.py).
_GENAI_KEYS = sorted({key for variants in ATTRIBUTES.values() for key, _ in variants} | {"ai.operationId"})
_SPAN_VALUES = st.one_of(st.integers(-2**63, 2**63 - 1), st.floats(allow_nan=True, allow_infinity=True),
                         st.text(max_size=20), st.booleans(), st.sampled_from(["chat", "openai", "gpt-4o", "True", "1e400"]))


@st.composite
def hostile_spans(draw) -> bytes:
    spans = []
    for _ in range(draw(st.integers(1, 5))):
        attributes = {"gen_ai.provider.name": draw(st.sampled_from(["openai", "gemini", "x" * 300, ""])),
                      "gen_ai.request.model": draw(st.sampled_from(["gpt-4o", "m" * 1000, "", "gemini-2.5-flash"]))}
        for key in draw(st.lists(st.sampled_from(_GENAI_KEYS), max_size=8)):
            attributes[key] = draw(_SPAN_VALUES)
        spans.append(trace_span(attributes, seconds=draw(st.floats(-5, 1e6)), error=draw(st.booleans())))
    return trace_request(*spans, resource={"service.name": "attacker"}).SerializeToString()


TRACE_TEMPLATE_PB = trace_request(trace_span({"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                                              "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 10,
                                              "gen_ai.usage.output_tokens": 5}),
                                  resource={"service.name": "attacker"}).SerializeToString()
TRACE_CASES = st.one_of(
    _case(st.binary(max_size=3000)),
    _case(st.binary(max_size=3000), JSON),
    _case(_edits.map(lambda edits: _mutate(TRACE_TEMPLATE_PB, edits))),
    _case(st.integers(0, len(TRACE_TEMPLATE_PB)).map(lambda n: TRACE_TEMPLATE_PB[:n])),
    _case(_json_any.map(lambda value: json.dumps(value).encode()), JSON),
    _case(hostile_spans()),
    _case(hostile_spans().map(gzip.compress), PROTOBUF, "gzip"),
    _case(st.just(GZIP_BOMB), PROTOBUF, "gzip"),
)


@settings(max_examples=150, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture])
@given(case=TRACE_CASES)
def test_fuzzed_trace_requests_never_5xx_and_baseline_stays_exact(target, case):
    client, store = target
    body, headers = case
    response = client.post("/v1/traces", content=body, headers=headers)
    assert response.status_code in ALLOWED, (response.status_code, response.text[:300])
    check_bounded(store)


def test_after_the_fuzzing_metrics_parse_and_baseline_is_exact(target):
    """Runs after the fuzz test (same module fixture): /metrics still renders, parses, and the baseline is untouched."""
    client, store = target
    response = client.get("/metrics")
    assert response.status_code == 200
    check_baseline(response.text)
    check_bounded(store)
    openmetrics = client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert openmetrics.status_code == 200 and openmetrics.text.endswith("# EOF\n")


def test_floods_keep_memory_bounded_by_the_series_limit():
    """Floods of new label sets, new attribute keys and huge attribute values: the memory the exporter keeps
    stays bounded (series past the limit fold into one overflow series) and totals stay exact."""
    app = create_app(Settings(series_limit=SERIES_LIMIT, new_series_hold_seconds=0))
    value_size = 20_000
    with TestClient(app) as client:
        client.post("/v1/metrics", content=BASELINE.SerializeToString(), headers={"Content-Type": PROTOBUF})

        def flood(round_: int) -> float:
            sent = 0.0
            for r in range(10):
                points = []
                for i in range(20):                # 60 points, 40 of them with 20 kB of distinct text: ~800 kB a request
                    n = (round_ * 10 + r) * 20 + i
                    points.append(number_point(0.25, {"gen_ai.request.model": "flood", "prompt": f"{n:08d}" + "x" * value_size}))
                    points.append(number_point(0.25, {"gen_ai.request.model": "flood", f"key-{n}-{'k' * 40}": "v"}))
                    points.append(number_point(0.25, {"gen_ai.request.model": "flood", f"{n:08d}" + "K" * value_size: "v"}))
                    sent += 0.75
                body = request(sum_metric("genai_lens.cost", "usd", points), resource={"service.name": "flood"}).SerializeToString()
                response = client.post("/v1/metrics", content=body, headers={"Content-Type": PROTOBUF})
                assert response.status_code == 200, response.text
            return sent

        sent = flood(0)   # fills the series limit and the caches
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.take_snapshot()
            for round_ in range(1, 6):
                sent += flood(round_)
            gc.collect()
            after = tracemalloc.take_snapshot()
        finally:
            tracemalloc.stop()
        harness = [tracemalloc.Filter(False, tracemalloc.__file__)]
        retained = sum(s.size_diff for s in after.filter_traces(harness).compare_to(before.filter_traces(harness), "filename"))
        top = after.filter_traces(harness).compare_to(before.filter_traces(harness), "lineno")[:3]
        text = client.get("/metrics").text
        store = app.state.store

    # 5 more rounds sent 600 new label sets (400 of them with 20 kB of label text: 40 MB in all): what is kept
    # is at most the label caches' bound (4 MiB of text, exporter/store.py), not the flood.
    assert retained < 6_000_000, f"{retained} bytes retained: {top}"
    family = next(f for name, f in store.families_by_name.items() if name.startswith("genai_lens_cost"))
    assert len(family.series) == SERIES_LIMIT and family.overflow is not None
    cost = values(text, "genai_lens_cost_usd_total")
    flood_total = sum(v for labels, v in cost.items() if ("service_name", "flood") in labels or ("otel_metric_overflow", "true") in labels)
    assert flood_total == pytest.approx(sent, abs=1e-9)
    check_baseline(text)


def test_hostile_requests_over_real_http():
    """A few of the cases against a ``genai-lens serve`` process: the server answers and keeps serving."""
    with ExporterProcess() as exporter, httpx.Client(timeout=30) as client:
        url = exporter.url + "/v1/metrics"
        assert client.post(url, content=BASELINE.SerializeToString(), headers={"Content-Type": PROTOBUF}).status_code == 200
        cases = [
            (GZIP_BOMB, {"Content-Type": PROTOBUF, "Content-Encoding": "gzip"}, 413),
            (b"\x00" * (9 * 1024 * 1024), {"Content-Type": PROTOBUF}, 413),                  # over the 8 MiB default
            (TEMPLATE_PB[:-3], {"Content-Type": PROTOBUF}, 400),
            (b"{not json", {"Content-Type": JSON}, 400),
            (TEMPLATE_PB, {"Content-Type": "text/plain"}, 415),
            (TEMPLATE_PB, {"Content-Type": PROTOBUF, "Content-Encoding": "br"}, 415),
        ]
        for body, headers, status in cases:
            assert client.post(url, content=body, headers=headers).status_code == status
        # a body announced longer than sent, cut off mid-way: the server must not hang or crash
        with socket.create_connection(("127.0.0.1", exporter.port), timeout=10) as raw:
            raw.sendall(b"POST /v1/metrics HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
                        b"Content-Length: 1000\r\n\r\n" + TEMPLATE_PB[:10])
            raw.shutdown(socket.SHUT_WR)
            answer = raw.recv(4096)          # the server closes (or answers 400); socket.timeout would fail the test
            assert answer == b"" or answer.startswith(b"HTTP/1.1 4")
        check_baseline(client.get(exporter.url + "/metrics").text)
        assert client.get(exporter.url + "/healthz").status_code == 200
