"""The app never pays for the exporter: with the exporter down (closed port), hanging, answering 500
or answering 413, instrumented calls return the same results, take about as long as uninstrumented
ones (export runs on the metric reader's thread, off the call path), and the app's memory stays
bounded while every export fails.

Timing is compared with a generous bound (median per call, instrumented <= 2 x uninstrumented
+ 5 ms): the SDK adds ~0.5 ms per call on this machine (docs/sdk_performance.md), while an export
on the call path would add the exporter's timeout (1 s here) or its retries.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import threading
import time
import tracemalloc

import pytest
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

import sdk_instrumentation as lens
from sdk_instrumentation.fake_provider import FakeProvider
from sdk_instrumentation.local_server import LocalServer

from .support import Ledger, chat, free_port, openai_client

CALLS = 120
MEMORY_CALLS = 300
MEMORY_BOUND = 600_000   # bytes of Python allocations allowed to remain after MEMORY_CALLS calls
# Left out of the memory count: pytest keeps every log record it captures (the OTLP exporter logs each
# failed export), and tracemalloc's own bookkeeping.
HARNESS = [tracemalloc.Filter(False, "*/_pytest/*"), tracemalloc.Filter(False, "*/logging/__init__.py"),
           tracemalloc.Filter(False, tracemalloc.__file__)]
# The batches the SDK keeps for redelivery grow with the export intervals the exporter is away (not with
# the calls), up to undelivered_max_points: counted apart (asserted bounded), not as a leak.
KEPT = [tracemalloc.Filter(True, "*/sdk_instrumentation/delivery.py")]


class AwayExporter:
    """A stand-in for an unhealthy exporter: ``down``, ``hanging``, ``500`` or ``413``; counts requests."""

    def __init__(self, mode: str):
        self.mode = mode
        self.requests = 0
        self.release = threading.Event()
        self.server = None

    async def _metrics(self, request):
        self.requests += 1
        await request.body()
        if self.mode == "hanging":
            deadline = time.monotonic() + 30        # bounded: never longer than 30 s, released at teardown
            while not self.release.is_set() and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            return Response(status_code=200)
        return Response(b"no", status_code=int(self.mode))

    def __enter__(self) -> "AwayExporter":
        if self.mode == "down":
            self.url = f"http://127.0.0.1:{free_port()}"   # nothing listens there
        else:
            self.server = LocalServer(Starlette(routes=[Route("/v1/metrics", self._metrics, methods=["POST"])])).start()
            self.url = self.server.url
        return self

    def __exit__(self, *exc):
        self.release.set()
        if self.server is not None:
            self.server.stop()


def _timed_calls(client, n: int) -> tuple[list[float], list]:
    seconds, results = [], []
    for i in range(n):
        started = time.perf_counter()
        results.append(chat(client, 100 + i % 7, 20 + i % 5))
        seconds.append(time.perf_counter() - started)
    return seconds, results


@pytest.mark.parametrize("mode", ["down", "hanging", "500", "413"])
def test_app_never_pays_for_the_exporter(mode):
    lens.uninstrument()
    provider_app = FakeProvider()
    with LocalServer(provider_app.app) as provider, AwayExporter(mode) as away:
        client = openai_client(provider.url)
        _timed_calls(client, 10)                                    # warm up connections and imports
        plain_seconds, plain_results = _timed_calls(client, CALLS)

        configured = lens.configure(endpoint=away.url, service_name="away", export_interval_seconds=0.05,
                                    export_timeout_seconds=1.0, set_global=False)
        ledger = Ledger.install(configured)
        try:
            client = openai_client(provider.url)
            _timed_calls(client, 10)
            seconds, results = _timed_calls(client, CALLS)

            tracemalloc.start()
            try:
                _timed_calls(client, 50)
                provider_app.clear()
                gc.collect()
                before = tracemalloc.take_snapshot()
                started = time.monotonic()
                _timed_calls(client, MEMORY_CALLS)
                provider_app.clear()           # the in-process fake provider records every request: not the app's
                gc.collect()
                after = tracemalloc.take_snapshot()
                intervals = (time.monotonic() - started) / 0.05
                delivery = configured.metric_exporter
                pending, cap, refused = delivery.pending_points, delivery.max_points, delivery.dropped["rejected"]
            finally:
                tracemalloc.stop()
        finally:
            configured.shutdown()

    assert results == plain_results                              # same replies, whatever the exporter does
    plain, instrumented = statistics.median(plain_seconds), statistics.median(seconds)
    assert instrumented <= 2 * plain + 0.005, (plain, instrumented)
    assert max(seconds) < 0.5                                     # no call ever waited for an export (1 s timeout)
    exports = ledger.carried()
    assert exports["exports"] >= 2 and ledger.delivered()["exports"] == 0   # exports were attempted, all failed
    if mode != "down":
        assert away.requests >= 2                                 # the exporter was really asked, and failed
    assert intervals > 20                                         # memory measured over many export intervals
    others = HARNESS + [tracemalloc.Filter(False, KEPT[0].filename_pattern)]
    growth = sum(stat.size_diff for stat in after.filter_traces(others).compare_to(before.filter_traces(others), "filename"))
    top = after.filter_traces(others).compare_to(before.filter_traces(others), "lineno")[:5]
    assert growth < MEMORY_BOUND, f"{growth} bytes retained: {top}"
    kept = sum(stat.size_diff for stat in after.filter_traces(KEPT).compare_to(before.filter_traces(KEPT), "filename"))
    if mode == "413":   # a refused batch is dropped at once (the one in flight may still be waiting)
        assert refused > 0 and pending <= cap
    else:
        assert 0 < pending <= cap and refused == 0                # kept for redelivery, within its bound
    print(f"\naway[{mode}]: median per call {plain * 1e3:.2f} ms plain, {instrumented * 1e3:.2f} ms instrumented, "
          f"max {max(seconds) * 1e3:.1f} ms; {exports['exports']} exports failed; "
          f"memory +{growth / 1e3:.0f} kB over {MEMORY_CALLS} calls / {intervals:.0f} intervals, "
          f"+{kept / 1e3:.0f} kB in {pending} points kept for redelivery")
