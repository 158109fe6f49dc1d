"""Metric export that keeps what it could not deliver: each delta batch once, never twice.

``configure()`` uses it in place of the plain OTLP/HTTP metric exporter::

    exporter = DeliveringMetricExporter("http://127.0.0.1:4318/v1/metrics", timeout=10.0,
                                        max_points=100_000, max_age_seconds=900)
    reader = PeriodicExportingMetricReader(exporter)

Delta points that fail to reach the exporter are gone from the SDK's aggregation, so a failed export
would lose them. Here every batch gets an ``Idempotency-Key`` (a random 128-bit hex string) when it is
made, and is kept until the exporter answers it 2xx. Each export first sends the batches still waiting,
oldest first, each with its own key, then the new one; it stops at the first failure and keeps the
rest for the next export. The genai-lens exporter applies a key at most once, so a batch whose
answer was lost (a cut connection, a timeout on a slow exporter) is resent safely.

What is kept is bounded: at most ``max_points`` data points and ``max_age_seconds`` of age (both
keyword arguments of ``configure()``); past them the oldest batches are dropped, counted in
``genai_lens.sdk.export.dropped_points`` (reason ``max_points``, ``max_age`` or ``rejected``, the
last for a 4xx answer that no retry can change) and warned about once. Keep ``max_age_seconds`` below
the exporter's ``idempotency_window_seconds`` (an hour by default). Exports run on the metric
reader's thread: the app's calls never wait for any of this.
"""

from __future__ import annotations

import gzip
import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass

import requests
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult

__all__ = ["DeliveringMetricExporter", "DROPPED_POINTS", "DROP_REASONS"]

logger = logging.getLogger("sdk_instrumentation.delivery")

DROPPED_POINTS = "genai_lens.sdk.export.dropped_points"
DROP_REASONS = ("max_points", "max_age", "rejected")
# At shutdown, how long to keep trying to deliver what waits (the app is exiting; bounded).
SHUTDOWN_SECONDS = 10.0
# Answers after which a resend can succeed: the exporter is busy, restarting or away.
_RETRYABLE = frozenset((408, 429, 502, 503, 504))


@dataclass(slots=True)
class _Batch:
    key: str
    body: bytes       # the ExportMetricsServiceRequest, serialized (and gzipped when asked)
    points: int
    made: float       # time.monotonic() when it was made


def _count_points(request) -> int:
    total = 0
    for resource_metrics in request.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                data = metric.WhichOneof("data")
                if data:
                    total += len(getattr(metric, data).data_points)
    return total


class DeliveringMetricExporter(MetricExporter):
    """An OTLP/HTTP (protobuf) metric exporter with keys and a bounded redelivery queue."""

    def __init__(self, endpoint: str, *, headers: dict[str, str] | None = None, timeout: float = 10.0,
                 max_points: int = 100_000, max_age_seconds: float = 900.0, compression: str | None = None,
                 preferred_temporality=None, preferred_aggregation=None):
        super().__init__(preferred_temporality=preferred_temporality, preferred_aggregation=preferred_aggregation)
        self.endpoint = endpoint
        self.timeout = timeout
        self.max_points = max_points
        self.max_age_seconds = max_age_seconds
        self.compression = compression
        self._session = requests.Session()
        self._session.headers.update({"Content-Type": "application/x-protobuf", **(headers or {})})
        if compression == "gzip":
            self._session.headers["Content-Encoding"] = "gzip"
        self._pending: deque[_Batch] = deque()
        self._lock = threading.Lock()  # export, force_flush and shutdown may come from different threads
        self.dropped = dict.fromkeys(DROP_REASONS, 0)  # points, by reason
        self._warned: set[str] = set()
        self._shutdown = False

    @property
    def pending_points(self) -> int:
        return sum(batch.points for batch in self._pending)

    def export(self, metrics_data, timeout_millis: float = 10_000, **kwargs) -> MetricExportResult:
        """Send the waiting batches and this one; SUCCESS when everything waiting was delivered."""
        try:
            request = encode_metrics(metrics_data)
        except Exception as error:  # noqa: BLE001 - a batch that cannot be encoded cannot be sent
            logger.error("could not encode a metrics batch: %s", error)
            return MetricExportResult.FAILURE
        body = request.SerializeToString()
        if self.compression == "gzip":
            body = gzip.compress(body)
        with self._lock:
            self._pending.append(_Batch(os.urandom(16).hex(), body, _count_points(request), time.monotonic()))
            return self._deliver(time.monotonic() + (timeout_millis or 10_000) / 1000)

    def _deliver(self, deadline: float) -> MetricExportResult:
        """SUCCESS when every waiting batch was taken (2xx); FAILURE if one is still waiting or one was
        refused (and dropped) on the way."""
        self._enforce_limits()
        refused = False
        while self._pending:
            batch = self._pending[0]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            status = self._send(batch, min(self.timeout, remaining))
            if status is not None and 200 <= status < 300:
                self._pending.popleft()
            elif status is not None and 400 <= status < 500 and status not in _RETRYABLE:
                self._pending.popleft()  # no retry can make the exporter accept it
                self._drop("rejected", batch.points, f"the exporter answered {status}")
                refused = True
            else:
                break  # away, busy or slow: keep this batch and the ones after it for the next export
        return MetricExportResult.FAILURE if self._pending or refused else MetricExportResult.SUCCESS

    def _send(self, batch: _Batch, timeout: float) -> int | None:
        try:
            response = self._session.post(self.endpoint, data=batch.body, timeout=timeout,
                                          headers={"Idempotency-Key": batch.key})
        except requests.RequestException as error:
            logger.debug("metrics export to %s failed (%s); the batch is kept", self.endpoint, type(error).__name__)
            return None
        return response.status_code

    def _enforce_limits(self) -> None:
        now = time.monotonic()
        while self._pending and now - self._pending[0].made > self.max_age_seconds:
            batch = self._pending.popleft()
            self._drop("max_age", batch.points, f"undelivered for more than {self.max_age_seconds:g} s")
        total = self.pending_points
        while len(self._pending) > 1 and total > self.max_points:
            batch = self._pending.popleft()
            total -= batch.points
            self._drop("max_points", batch.points, f"more than {self.max_points} points waiting")

    def _drop(self, reason: str, points: int, why: str) -> None:
        self.dropped[reason] += points
        if reason not in self._warned:
            self._warned.add(reason)
            logger.warning("dropped %d undelivered metric points (%s); counted in %s{reason=%r}", points, why,
                           DROPPED_POINTS, reason)

    def observe_dropped(self, options=None):
        """Callback of the ``genai_lens.sdk.export.dropped_points`` observable counter."""
        from opentelemetry.metrics import Observation

        return [Observation(points, {"reason": reason}) for reason, points in self.dropped.items()]

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        """Try once more to deliver what is waiting."""
        with self._lock:
            return self._deliver(time.monotonic() + timeout_millis / 1000) is MetricExportResult.SUCCESS

    def shutdown(self, timeout_millis: float = 30_000, **kwargs) -> None:
        """Keep trying to deliver what is waiting, for at most the reader's remaining time (its
        ``timeout`` keyword, in milliseconds) and ``SHUTDOWN_SECONDS``, then give up with a warning."""
        budget = min(float(kwargs.get("timeout", timeout_millis)) / 1000, SHUTDOWN_SECONDS)
        deadline = time.monotonic() + budget
        with self._lock:
            while self._pending and time.monotonic() < deadline:
                if self._deliver(deadline) is MetricExportResult.SUCCESS or not self._pending:
                    break
                time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
            if self._pending:
                logger.warning("%d metric points were not delivered before shutdown (batches kept in memory "
                               "only)", self.pending_points)
            self._shutdown = True
        self._session.close()
