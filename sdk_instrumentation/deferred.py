"""Histogram records queued on the call path and applied when a metric reader collects.

An OpenTelemetry SDK ``Histogram.record`` cleans and hashes its attributes and
updates every reader's storage: 3-4 µs on a laptop, 12 µs on a slow VM, four
or more times per LLM call and once per streamed chunk. genai-lens does not
make the app's thread wait for that. ``DeferredHistogram.record`` appends to a
queue (a fraction of a microsecond); the queue is applied to the real
histograms at the start of every collection, from the reader's own thread
(an observable instrument's callback runs before the SDK reads its storages),
just as a ``BatchSpanProcessor`` moves span export off the call path::

    queue = RecordQueue()
    duration = DeferredHistogram(meter.create_histogram(...), queue)
    duration.record(0.42, attributes)      # queued
    queue.drain()                          # applied (done by the collect callback)

The data is exactly what direct records would give; only the moment the SDK
aggregates them moves, to before the next export. The total work is the same.
At most ``limit`` records wait: past that the calling thread applies the queue
itself, so memory stays bounded even with no reader collecting.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Mapping, Sequence

__all__ = ["RecordQueue", "DeferredHistogram"]


class RecordQueue:
    def __init__(self, limit: int = 10_000):
        self.limit = limit
        self._items: deque = deque()

    def put(self, histogram, values, attributes: Mapping[str, Any]) -> None:
        items = self._items
        items.append((histogram, values, attributes))
        if len(items) > self.limit:
            self.drain()

    def __len__(self) -> int:
        return len(self._items)

    def drain(self) -> None:
        """Apply every queued record to its histogram (thread-safe; each record once)."""
        pop = self._items.popleft
        while True:
            try:
                histogram, values, attributes = pop()
            except IndexError:
                return
            if type(values) is tuple:
                for value in values:
                    histogram.record(value, attributes)
            else:
                histogram.record(values, attributes)


class DeferredHistogram:
    """A histogram whose records go through a ``RecordQueue``."""

    __slots__ = ("histogram", "queue")

    def __init__(self, histogram, queue: RecordQueue):
        self.histogram = histogram
        self.queue = queue

    def record(self, value: float, attributes: Mapping[str, Any]) -> None:
        self.queue.put(self.histogram, value, attributes)

    def record_each(self, values: Sequence[float], attributes: Mapping[str, Any]) -> None:
        """One record per value, with the same attributes (e.g. the gaps between chunks)."""
        if values:
            self.queue.put(self.histogram, tuple(values), attributes)
