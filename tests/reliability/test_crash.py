"""kill -9 of ``genai-lens serve --state-file``: every increment answered 2xx survives, none is
counted twice, and no served counter ever goes down (docs/reliability.md).

Senders post delta cost increments, each with its own Idempotency-Key, and retry a request with
the same key until it is answered 200 (as the SDK does); the exporter is killed at random moments
and restarted on the same port; a scraper reads ``/metrics`` all along. Every increment is a
multiple of 1/8, so sums are exact in floating point.
"""

from __future__ import annotations

import random
import threading
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.exporter.otlp import number_point, request, sum_metric
from tests.reliability.support import ExporterProcess, free_port

SENDERS, REQUESTS = 4, 60
SERIES = {"genai_lens_api_key": "k1", "service_name": "svc"}


def body(usd: float) -> bytes:
    return request(sum_metric("genai_lens.cost", "usd", [number_point(usd, {"genai_lens.api_key": "k1"})])).SerializeToString()


def served_cost(url: str) -> float | None:
    try:
        text = httpx.get(url + "/metrics", timeout=2).text
    except httpx.TransportError:
        return None
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "genai_lens_cost_usd_total" and sample.labels == SERIES:
                return sample.value
    return 0.0


class Traffic:
    """Sender threads that retry each request, with its key, until it is acknowledged; a scraper."""

    def __init__(self, url: str, seed: int):
        self.url = url
        self.rng = random.Random(seed)
        self.values = [[(i % 7 + 1) / 8 for i in range(REQUESTS)] for _ in range(SENDERS)]
        self.acked = [0] * SENDERS
        self.seen: list[float] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._send, args=(n,)) for n in range(SENDERS)]
        self.threads.append(threading.Thread(target=self._scrape))

    @property
    def expected(self) -> float:
        return sum(sum(v) for v in self.values)

    def _send(self, n: int) -> None:
        deadline = time.monotonic() + 90
        with httpx.Client(timeout=3) as client:
            for i, usd in enumerate(self.values[n]):
                while time.monotonic() < deadline:
                    try:
                        response = client.post(self.url + "/v1/metrics", content=body(usd), headers={
                            "Content-Type": "application/x-protobuf", "Idempotency-Key": f"sender{n}-{i}"})
                        if response.status_code == 200:
                            self.acked[n] += 1
                            break
                    except httpx.TransportError:
                        pass
                    time.sleep(0.02)
                time.sleep(0.002)

    def _scrape(self) -> None:
        while not self.stop.is_set():
            value = served_cost(self.url)
            if value is not None:
                self.seen.append(value)
            time.sleep(0.01)

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        for thread in self.threads[:-1]:
            thread.join(120)
        self.stop.set()
        self.threads[-1].join(10)


def falls(values: list[float]) -> list[tuple[float, float]]:
    return [(a, b) for a, b in zip(values, values[1:]) if b < a]


@pytest.mark.parametrize("seed", [1, 2])
def test_kill_9_at_random_moments_loses_and_doubles_nothing(tmp_path, seed):
    state, port, log = tmp_path / "state.json", free_port(), tmp_path / "exporter.log"
    exporter = ExporterProcess(port=port, state_file=state, log_path=log).start()
    try:
        with Traffic(exporter.url, seed) as traffic:
            for _ in range(3):
                time.sleep(traffic.rng.uniform(0.1, 0.6))
                exporter.process.kill()  # SIGKILL: no shutdown, no snapshot
                exporter.process.wait(10)
                exporter.stop()
                exporter = ExporterProcess(port=port, state_file=state, log_path=log).start()
        assert traffic.acked == [REQUESTS] * SENDERS
        assert served_cost(exporter.url) == traffic.expected
        assert falls(traffic.seen) == []
        assert "records replayed" in log.read_text()
    finally:
        exporter.stop()


def test_graceful_restart_more_traffic_then_a_crash(tmp_path):
    """The measured failure of a snapshot written only at shutdown and left in place: a graceful
    restart, more traffic, kill -9 and a restart served the old snapshot again (1000 -> 600)."""
    state, port = tmp_path / "state.json", free_port()
    exporter = ExporterProcess(port=port, state_file=state).start()
    try:
        post = httpx.Client(timeout=5)
        for i in range(6):
            assert post.post(exporter.url + "/v1/metrics", content=body(100.0), headers={
                "Content-Type": "application/x-protobuf", "Idempotency-Key": f"a{i}"}).status_code == 200
        exporter.stop()  # graceful: the log is compacted into the snapshot
        exporter = ExporterProcess(port=port, state_file=state).start()
        assert served_cost(exporter.url) == 600.0
        for i in range(4):
            assert post.post(exporter.url + "/v1/metrics", content=body(100.0), headers={
                "Content-Type": "application/x-protobuf", "Idempotency-Key": f"b{i}"}).status_code == 200
        exporter.process.kill()
        exporter.process.wait(10)
        exporter.stop()
        wal = state.with_name("state.json.wal")
        wal.write_bytes(wal.read_bytes() + b"GLW1\x40\x00\x00\x00torn")  # and a torn, never-answered append
        exporter = ExporterProcess(port=port, state_file=state).start()
        assert served_cost(exporter.url) == 1000.0
        post.close()
    finally:
        exporter.stop()
