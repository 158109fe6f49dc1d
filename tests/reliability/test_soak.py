"""Soak: a bounded run at a steady rate of instrumented calls and scrapes.

Exporter (a ``genai-lens serve`` process) and app (this process: SDK + clients, and the fake
provider) must hold flat memory after warm-up, no growth in open files or threads, and a stable
scrape time; at the end the exporter serves exactly what was sent. Default 60 s; longer runs::

    GENAI_LENS_SOAK_SECONDS=1800 python -m pytest tests/reliability/test_soak.py -q -s

The figures are printed (``-s``) and recorded in docs/reliability.md.
"""

from __future__ import annotations

import os
import statistics
import threading
import time

import httpx
import pytest

import sdk_instrumentation as lens
from sdk_instrumentation.fake_provider import FakeProvider
from sdk_instrumentation.local_server import LocalServer

from .support import ExporterProcess, call_cost, chat, open_fds, openai_client, proc_status, served_totals

SECONDS = float(os.environ.get("GENAI_LENS_SOAK_SECONDS", "60"))
CALL_RATE = 25.0       # instrumented calls per second
SCRAPE_EVERY = 0.5     # seconds
SAMPLE_EVERY = 2.0     # seconds


def _sample(pid: int) -> dict:
    exporter, app = proc_status(pid), proc_status()
    return {"t": time.monotonic(), "exporter_rss_kb": exporter["VmRSS"], "exporter_threads": exporter["Threads"],
            "exporter_fds": open_fds(pid), "app_rss_kb": app["VmRSS"], "app_threads": app["Threads"], "app_fds": open_fds()}


def test_soak_is_flat():
    provider = FakeProvider()
    sent = {"tokens": 0, "calls": 0, "cost": 0.0}
    scrapes: list[tuple[float, float]] = []
    samples: list[dict] = []
    failures: list[BaseException] = []
    stop = threading.Event()
    with ExporterProcess() as exporter, LocalServer(provider.app) as provider_server:
        configured = lens.configure(endpoint=exporter.url, service_name="soak", export_interval_seconds=1.0,
                                    set_global=False)
        clients = [openai_client(provider_server.url, api_key=f"sk-soak-key-{i}-0000000000000000{i}") for i in range(3)]

        def traffic():
            n, started = 0, time.monotonic()
            while not stop.is_set():
                n += 1
                tokens_in, tokens_out = 100 + n % 113, 10 + n % 41
                try:
                    chat(clients[n % 3], tokens_in, tokens_out)
                except BaseException as error:  # noqa: BLE001
                    failures.append(error)
                    return
                sent["tokens"] += tokens_in + tokens_out
                sent["calls"] += 1
                sent["cost"] += call_cost(tokens_in, tokens_out)
                delay = started + n / CALL_RATE - time.monotonic()
                if delay > 0:
                    stop.wait(delay)

        def scraper():
            with httpx.Client(timeout=10) as client:
                while not stop.wait(SCRAPE_EVERY):
                    started = time.perf_counter()
                    response = client.get(exporter.url + "/metrics")
                    if response.status_code != 200:
                        failures.append(AssertionError(f"scrape {response.status_code}"))
                        return
                    scrapes.append((time.monotonic(), time.perf_counter() - started))

        threads = [threading.Thread(target=traffic), threading.Thread(target=scraper)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        try:
            while time.monotonic() - started < SECONDS and not failures:
                time.sleep(SAMPLE_EVERY)
                provider.clear()                     # the in-process fake provider records every request
                samples.append(_sample(exporter.process.pid))
        finally:
            stop.set()
            for thread in threads:
                thread.join(30)
            configured.shutdown()
        served = served_totals(httpx.get(exporter.url + "/metrics", timeout=10).text)

    assert failures == []
    assert served["tokens"] == sent["tokens"] and served["calls"] == sent["calls"]
    assert served["cost"] == pytest.approx(sent["cost"], abs=1e-9)

    # Thirds of the run: warm-up, middle, end. Flat = the end is no higher than the middle, within a bound.
    third = SECONDS / 3
    middle = [s for s in samples if third <= s["t"] - started < 2 * third]
    end = [s for s in samples if s["t"] - started >= 2 * third]
    assert len(middle) >= 3 and len(end) >= 3

    def median(rows, key):
        return statistics.median(r[key] for r in rows)

    growth = {key: median(end, key) - median(middle, key) for key in ("exporter_rss_kb", "app_rss_kb")}
    assert growth["exporter_rss_kb"] < 4096, growth
    assert growth["app_rss_kb"] < 8192, growth
    for key in ("exporter_fds", "exporter_threads", "app_fds", "app_threads"):
        assert max(r[key] for r in end) <= max(r[key] for r in middle) + 2, (key, [r[key] for r in samples])
    scrape_middle = [d for t, d in scrapes if third <= t - started < 2 * third]
    scrape_end = [d for t, d in scrapes if t - started >= 2 * third]
    p50_mid, p50_end = statistics.median(scrape_middle), statistics.median(scrape_end)
    assert p50_end <= 2 * p50_mid + 0.02, (p50_mid, p50_end)

    last = samples[-1]
    print(f"\nsoak {SECONDS:.0f}s: {sent['calls']} calls ({sent['calls'] / SECONDS:.1f}/s), {len(scrapes)} scrapes; "
          f"exporter RSS {median(middle, 'exporter_rss_kb') / 1024:.1f} -> {median(end, 'exporter_rss_kb') / 1024:.1f} MiB, "
          f"fds {last['exporter_fds']}, threads {last['exporter_threads']}; "
          f"app RSS {median(middle, 'app_rss_kb') / 1024:.1f} -> {median(end, 'app_rss_kb') / 1024:.1f} MiB, "
          f"fds {last['app_fds']}, threads {last['app_threads']}; "
          f"scrape p50 {p50_mid * 1e3:.1f} -> {p50_end * 1e3:.1f} ms, max {max(d for _, d in scrapes) * 1e3:.1f} ms")
