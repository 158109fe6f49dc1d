"""Exact under concurrency: many threads and processes sending deltas at once; nothing lost, nothing doubled.

* raw OTLP requests (protobuf, JSON, gzip) from 16 threads to one exporter: every series exact;
* the real SDK in threads of this process and in spawned processes (each its own MeterProvider,
  delta temporality over OTLP/HTTP) to one ``genai-lens serve`` process: tokens, requests,
  errors and cost per model and per key equal the workload's, to the token and to 1e-9 USD;
* two exporter replicas with the traffic split between them, scraped by a real Prometheus:
  ``sum()`` over both equals the total sent.
"""

from __future__ import annotations

import gzip
import multiprocessing
import random
import threading
from collections import defaultdict

import httpx
import pytest
from google.protobuf import json_format

import sdk_instrumentation as lens
from exporter import Settings, create_app
from exporter.demo import read_summary
from sdk_instrumentation.fake_provider import FakeProvider
from sdk_instrumentation.local_server import LocalServer
from tests.exporter.otlp import histogram_metric, request, sum_metric, number_point, histogram_point, values
from tests.prometheus_server import PrometheusServer
from tests.workload_expectations import expected

from .support import ExporterProcess
from .workers import ALIASES, run_steps, run_worker, worker_steps

BOUNDS = [1.0, 10.0, 100.0, 1000.0]


def _check_summary(text: str, steps) -> None:
    summary = read_summary(text)
    want_model, want_key = expected(steps)
    for got, want in ((summary["by_model"], want_model), (summary["by_key"], want_key)):
        assert set(got) == set(want)
        for name, row in want.items():
            for field in ("requests", "errors", "input_tokens", "output_tokens"):
                assert got[name][field] == row[field], (name, field, got[name][field], row[field])
            assert got[name]["cost"] == pytest.approx(row["cost"], abs=1e-9), name


@pytest.fixture
def provider():
    with LocalServer(FakeProvider().app) as server:
        yield server


def test_raw_otlp_from_16_threads_is_exact():
    """16 threads x 60 requests, mixed encodings, overlapping series: every sum and bucket exact."""
    threads, per_thread = 16, 60
    want_cost = defaultdict(float)
    want_counts = defaultdict(lambda: [0] * (len(BOUNDS) + 1))
    want_sum = defaultdict(float)
    bodies = []
    for t in range(threads):
        rng = random.Random(t)
        mine = []
        for i in range(per_thread):
            model = f"m{rng.randrange(5)}"
            usd = rng.randrange(1, 10**6) / 1e9             # nano-dollar steps, like real per-call costs
            counts = [rng.randrange(3) for _ in range(len(BOUNDS) + 1)]
            total = float(rng.randrange(10_000))
            want_cost[model] += usd
            want_sum[model] += total
            want_counts[model] = [a + b for a, b in zip(want_counts[model], counts)]
            message = request(
                sum_metric("genai_lens.cost", "usd", [number_point(usd, {"gen_ai.request.model": model})]),
                histogram_metric("gen_ai.client.token.usage", "{token}",
                                 [histogram_point(BOUNDS, counts, total, {"gen_ai.request.model": model})]),
                resource={"service.name": "svc", "host.name": f"host-{t}"},
            )
            kind = i % 3
            if kind == 0:
                mine.append((message.SerializeToString(), {"Content-Type": "application/x-protobuf"}))
            elif kind == 1:
                mine.append((json_format.MessageToJson(message).encode(), {"Content-Type": "application/json"}))
            else:
                mine.append((gzip.compress(message.SerializeToString()),
                             {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}))
        bodies.append(mine)

    with LocalServer(create_app(Settings(new_series_hold_seconds=0))) as server:
        errors = []

        def send(mine):
            with httpx.Client(timeout=30) as client:
                for body, headers in mine:
                    response = client.post(server.url + "/v1/metrics", content=body, headers=headers)
                    if response.status_code != 200:
                        errors.append(response.status_code)

        workers = [threading.Thread(target=send, args=(mine,)) for mine in bodies]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        assert not any(w.is_alive() for w in workers) and errors == []
        text = httpx.get(server.url + "/metrics").text

    cost = values(text, "genai_lens_cost_usd_total")
    assert {dict(k)["gen_ai_request_model"] for k in cost} == set(want_cost)
    for model, usd in want_cost.items():
        assert cost[frozenset({"gen_ai_request_model": model, "service_name": "svc"}.items())] == pytest.approx(usd, abs=1e-9)
    sums = values(text, "gen_ai_client_token_usage_sum")
    buckets = values(text, "gen_ai_client_token_usage_bucket")
    for model, total in want_sum.items():
        labels = {"gen_ai_request_model": model, "service_name": "svc"}
        assert sums[frozenset(labels.items())] == total
        cumulative = 0
        for bound, count in zip(BOUNDS + [float("inf")], want_counts[model]):
            cumulative += count
            le = "+Inf" if bound == float("inf") else str(bound)
            assert buckets[frozenset({**labels, "le": le}.items())] == cumulative


def test_sdk_threads_and_processes_to_one_exporter_are_exact(provider):
    """4 threads here (one shared SDK) and 3 spawned processes (an SDK each), all at once, one exporter process."""
    calls = 40
    thread_seeds, process_seeds = [1, 2, 3, 4], [11, 12, 13]
    with ExporterProcess() as exporter:
        configured = lens.configure(endpoint=exporter.url, service_name="reliability", api_key_aliases=ALIASES,
                                    export_interval_seconds=0.3, set_global=False)
        try:
            context = multiprocessing.get_context("spawn")
            with context.Pool(len(process_seeds)) as pool:
                pending = pool.starmap_async(run_worker, [(exporter.url, provider.url, s, calls) for s in process_seeds])
                results = {}
                threads = [threading.Thread(target=lambda s=s: results.__setitem__(s, run_steps(worker_steps(s, calls), provider.url)))
                           for s in thread_seeds]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join(120)
                process_results = pending.get(timeout=180)
        finally:
            configured.shutdown()
        text = httpx.get(exporter.url + "/metrics", timeout=10).text

    steps = [step for seed in thread_seeds + process_seeds for step in worker_steps(seed, calls)]
    assert sorted(results) == thread_seeds and len(process_results) == len(process_seeds)
    failed = sum(f for _, f in results.values()) + sum(f for _, f in process_results)
    assert failed == sum(1 for s in steps if s.fault) > 0
    _check_summary(text, steps)
    assert 'service_name="reliability"' in text


def test_two_replicas_summed_by_prometheus(provider):
    """Traffic split over two exporter processes; Prometheus's sum() over both equals the total sent."""
    calls = 40
    seeds = [21, 22, 23, 24]
    with ExporterProcess() as first, ExporterProcess() as second:
        replicas = [first, second]
        context = multiprocessing.get_context("spawn")
        with context.Pool(len(seeds)) as pool:
            results = pool.starmap_async(
                run_worker, [(replicas[i % 2].url, provider.url, seed, calls) for i, seed in enumerate(seeds)]
            ).get(timeout=180)
        assert len(results) == len(seeds)
        steps = [step for seed in seeds for step in worker_steps(seed, calls)]
        per_replica = [httpx.get(r.url + "/metrics", timeout=10).text for r in replicas]
        for i, text in enumerate(per_replica):   # each replica holds exactly its own share
            _check_summary(text, [s for j, seed in enumerate(seeds) if j % 2 == i for s in worker_steps(seed, calls)])

        targets = ", ".join(f'"127.0.0.1:{r.port}"' for r in replicas)
        config = ("global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
                  f"scrape_configs:\n  - job_name: genai-lens\n    static_configs: [{{targets: [{targets}]}}]\n")
        want_model, _ = expected(steps)
        want_tokens = sum(r["input_tokens"] + r["output_tokens"] for r in want_model.values())
        want_cost = sum(r["cost"] for r in want_model.values())
        want_calls = sum(r["requests"] + r["errors"] for r in want_model.values())
        with PrometheusServer(config) as prom:
            prom.wait_for_targets_up(2)
            prom.wait_until("count(up == 1)", lambda r: r and float(r[0]["value"][1]) == 2)
            prom.wait_until("count by (instance) (genai_lens_cost_usd_total)", lambda r: len(r) == 2)
            tokens = prom.query("sum(gen_ai_client_token_usage_sum)")
            cost = prom.query("sum(genai_lens_cost_usd_total)")
            count = prom.query("sum(gen_ai_client_operation_duration_seconds_count)")
            by_instance = prom.query("sum by (instance) (gen_ai_client_token_usage_sum)")
    assert float(tokens[0]["value"][1]) == want_tokens
    assert float(cost[0]["value"][1]) == pytest.approx(want_cost, abs=1e-9)
    assert float(count[0]["value"][1]) == want_calls
    assert len(by_instance) == 2 and all(float(r["value"][1]) > 0 for r in by_instance)
