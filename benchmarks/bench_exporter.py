"""Exporter benchmark: ingest rate, /metrics render time against prometheus_client, memory per series,
and the cost of durable ingest (the write-ahead log) over real HTTP.

    python benchmarks/bench_exporter.py [--quick]

The ingest, render and memory parts run on one core (one thread); the durability part runs a real
server on 127.0.0.1 with 1 and with 8 concurrent senders, in memory and with ``--state-file``, so the
group commit shows. Figures are recorded in docs/exporter.md.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

import httpx
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2
from prometheus_client import CollectorRegistry, Counter, generate_latest

from exporter import Settings, create_app
from exporter.collector import StoreCollector, render
from exporter.ingest import PROTOBUF, decode_request
from exporter.store import Store
from sdk_instrumentation.local_server import LocalServer

MODELS = [f"model-{i}" for i in range(20)]


def labels_for(i: int) -> dict:
    return {
        "gen_ai.provider.name": "openai" if i % 2 else "gcp.gemini",
        "gen_ai.request.model": MODELS[i % len(MODELS)],
        "gen_ai.operation.name": "chat",
        "genai_lens.api_key": f"key-{i // 40:05d}",
        "genai_lens.cost.type": ("input", "output", "other")[i % 3],
        "genai_lens.billing": "payg",
    }


def kvs(mapping: dict) -> list:
    return [KeyValue(key=k, value=AnyValue(string_value=v)) for k, v in mapping.items()]


def body(points: int, offset: int, temporality: int, step: int = 1) -> bytes:
    t0 = 1_700_000_000_000_000_000
    data = [
        metrics_pb2.NumberDataPoint(
            attributes=kvs(labels_for(offset + i)), as_double=0.001 * step, start_time_unix_nano=t0, time_unix_nano=t0 + step
        )
        for i in range(points)
    ]
    metric = metrics_pb2.Metric(
        name="genai_lens.cost", unit="usd",
        sum=metrics_pb2.Sum(data_points=data, aggregation_temporality=temporality, is_monotonic=True),
    )
    request = ExportMetricsServiceRequest(resource_metrics=[metrics_pb2.ResourceMetrics(
        resource={"attributes": kvs({"service.name": "svc", "service.instance.id": "abc", "host.name": "h1"})},
        scope_metrics=[metrics_pb2.ScopeMetrics(scope={"name": "genai_lens"}, metrics=[metric])],
    )])
    return request.SerializeToString()


def bench_ingest(requests: int) -> dict:
    out = {}
    for name, temporality in (("delta", 1), ("cumulative", 2)):
        store = Store(series_limit=10**6, hold_seconds=0)
        bodies = [body(1000, (r % 10) * 1000, temporality, step=r + 1) for r in range(requests)]
        start = time.perf_counter()
        for data in bodies:
            result = store.ingest(decode_request(data, PROTOBUF))
            assert result.accepted == 1000, result
        elapsed = time.perf_counter() - start
        out[f"decode+store {name}"] = requests * 1000 / elapsed
    # through the ASGI app, in process
    for name, temporality in (("delta", 1), ("cumulative", 2)):
        app = create_app(Settings(series_limit=10**6, new_series_hold_seconds=0))
        bodies = [body(1000, (r % 10) * 1000, temporality, step=r + 1) for r in range(requests)]

        async def run():
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                start = time.perf_counter()
                for data in bodies:
                    response = await client.post("/v1/metrics", content=data, headers={"Content-Type": PROTOBUF})
                    assert response.status_code == 200 and response.content == b""
                return time.perf_counter() - start

        elapsed = asyncio.run(run())
        out[f"ASGI app {name}"] = requests * 1000 / elapsed
    return out


def filled_store(series: int) -> Store:
    store = Store(series_limit=series + 1, hold_seconds=0)
    for offset in range(0, series, 1000):
        store.ingest(decode_request(body(min(1000, series - offset), offset, 1), PROTOBUF))
    assert store.series_count() == series
    return store


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_render(series: int, repeat: int) -> dict:
    store = filled_store(series)
    collectors = [StoreCollector(store)]
    ours_body = render(collectors, None)[0]
    ours = best_of(lambda: render(collectors, None), repeat)
    registry = CollectorRegistry()
    counter = Counter("genai_lens_cost_usd", "floor", ["gen_ai_provider_name", "gen_ai_request_model", "gen_ai_operation_name",
                      "genai_lens_api_key", "genai_lens_cost_type", "genai_lens_billing", "service_name"], registry=registry)
    for i in range(series):
        l = labels_for(i)
        counter.labels(l["gen_ai.provider.name"], l["gen_ai.request.model"], "chat", l["genai_lens.api_key"],
                       l["genai_lens.cost.type"], "payg", "svc").inc(0.001)
    floor_body = generate_latest(registry)
    floor = best_of(lambda: generate_latest(registry), repeat)
    assert ours_body.count(b"\ngenai_lens_cost_usd_total{") == series
    return {"series": series, "exporter_s": ours, "prometheus_client_s": floor, "ratio": ours / floor,
            "bytes": len(ours_body), "floor_bytes": len(floor_body)}


def bench_memory(series: int) -> dict:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    store = filled_store(series)
    gc.collect()
    counters = (tracemalloc.get_traced_memory()[0] - before) / series
    # histograms: 15 buckets, like the semconv duration buckets
    hstore = Store(series_limit=series + 1, hold_seconds=0)
    before = tracemalloc.get_traced_memory()[0]
    bounds = [0.01 * 2**i for i in range(14)]
    for offset in range(0, series, 1000):
        points = [metrics_pb2.HistogramDataPoint(attributes=kvs(labels_for(offset + i)), explicit_bounds=bounds,
                                                 bucket_counts=[1] * 15, count=15, sum=1.0, time_unix_nano=1)
                  for i in range(min(1000, series - offset))]
        metric = metrics_pb2.Metric(name="d", unit="s", histogram=metrics_pb2.Histogram(data_points=points, aggregation_temporality=1))
        hstore.ingest(ExportMetricsServiceRequest(resource_metrics=[metrics_pb2.ResourceMetrics(
            resource={"attributes": kvs({"service.name": "svc"})},
            scope_metrics=[metrics_pb2.ScopeMetrics(metrics=[metric])])]))
    gc.collect()
    histograms = (tracemalloc.get_traced_memory()[0] - before) / series
    tracemalloc.stop()
    del store, hstore
    return {"counter series": counters, "histogram series (15 buckets)": histograms}


def bench_durability(requests: int, senders: int) -> dict:
    """Requests/s, median latency and fsyncs/s over real HTTP: 50-point delta requests (an SDK batch),
    each with its own Idempotency-Key, from ``senders`` threads; in memory and with a state file."""
    bodies = [body(50, (r % 20) * 50, 1, step=r + 1) for r in range(requests)]
    out = {}
    for mode in ("memory", "state file"):
        with tempfile.TemporaryDirectory() as folder:
            state = Path(folder) / "state.json" if mode == "state file" else None
            app = create_app(Settings(series_limit=10**6, new_series_hold_seconds=0, state_file=state,
                                      snapshot_interval_seconds=3600))
            with LocalServer(app) as server:
                latencies: list[float] = []
                lock = threading.Lock()

                def send(share: range) -> None:
                    with httpx.Client(timeout=30) as client:
                        for r in share:
                            started = time.perf_counter()
                            response = client.post(server.url + "/v1/metrics", content=bodies[r], headers={
                                "Content-Type": PROTOBUF, "Idempotency-Key": f"bench-{r}"})
                            assert response.status_code == 200, response.text
                            with lock:
                                latencies.append(time.perf_counter() - started)

                threads = [threading.Thread(target=send, args=(range(i, requests, senders),)) for i in range(senders)]
                start = time.perf_counter()
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                elapsed = time.perf_counter() - start
                committer = app.state.committer
                out[mode] = {"requests_per_s": requests / elapsed, "median_ms": statistics.median(latencies) * 1000,
                             "fsyncs_per_s": (committer.wal.fsyncs / elapsed) if committer.wal else 0.0,
                             "requests_per_fsync": (requests / committer.wal.fsyncs) if committer.wal else 0.0}
    return out


def fsync_ms() -> float:
    """The disk's own cost: median of 50 appends of 4 kB each followed by fsync, in a temp folder."""
    with tempfile.TemporaryDirectory() as folder, open(os.path.join(folder, "f"), "ab") as f:
        times = []
        for _ in range(50):
            started = time.perf_counter()
            f.write(b"x" * 4096)
            f.flush()
            os.fdatasync(f.fileno())
            times.append(time.perf_counter() - started)
        return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller run (CI smoke)")
    args = parser.parse_args()
    requests = 20 if args.quick else 200
    print(f"ingest, protobuf requests of 1,000 points ({requests} requests each):")
    for name, rate in bench_ingest(requests).items():
        print(f"  {name:28s} {rate:>12,.0f} points/s   (goal >= 100,000)")
    print("render /metrics (best of runs), exporter vs prometheus_client alone:")
    for series in ((10_000,) if args.quick else (10_000, 100_000)):
        r = bench_render(series, 3 if args.quick else 5)
        print(f"  {r['series']:>7,} series: exporter {r['exporter_s'] * 1000:8.1f} ms, prometheus_client "
              f"{r['prometheus_client_s'] * 1000:8.1f} ms, ratio {r['ratio']:.2f} (goal <= 1.5); {r['bytes']:,} bytes")
    print("memory per series (tracemalloc, store only):")
    for name, size in bench_memory(10_000 if args.quick else 100_000).items():
        print(f"  {name:32s} {size:8.0f} bytes   (goal < 2048)")
    durable_requests = 200 if args.quick else 2000
    print(f"durable ingest over HTTP, {durable_requests} requests of 50 points with Idempotency-Key "
          f"(this disk: append + fdatasync {fsync_ms():.2f} ms median):")
    for senders in (1, 8):
        r = bench_durability(durable_requests, senders)
        memory, wal = r["memory"], r["state file"]
        print(f"  {senders} sender(s): in memory {memory['requests_per_s']:7,.0f} req/s, median {memory['median_ms']:.2f} ms;"
              f" state file {wal['requests_per_s']:7,.0f} req/s ({wal['requests_per_s'] / memory['requests_per_s']:.2f}x),"
              f" median {wal['median_ms']:.2f} ms (+{wal['median_ms'] - memory['median_ms']:.2f} ms),"
              f" {wal['fsyncs_per_s']:,.0f} fsyncs/s, {wal['requests_per_fsync']:.1f} requests per fsync")


if __name__ == "__main__":
    main()
