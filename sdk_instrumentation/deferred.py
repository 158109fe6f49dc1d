"""Finished calls queued on the call path, turned into metric records when a reader collects.

An OpenTelemetry SDK ``Histogram.record`` or ``Counter.add`` cleans and hashes its
attributes and updates every reader's storage: 3-4 µs on a laptop, 12 µs on a slow
VM, and a call makes five or more of them (duration, input and output tokens,
throughput, three cost types, one per gap between streamed chunks). genai-lens does
not make the app's thread wait for that. When a call ends, the whole finished call
goes into a ``RecordQueue`` (one ``deque.append``); the queue is applied at the start
of every collection, from the metric reader's own thread (an observable instrument's
callback runs before the SDK reads its storages), just as a ``BatchSpanProcessor``
moves span export off the call path::

    queue = RecordQueue(instruments.record)
    queue.put(call)        # on the app's thread: queued
    queue.drain()          # on the reader's thread: instruments.record(call), once per call

The data is exactly what recording on the call path would give; only the moment the
SDK aggregates it moves, to before the next export. About ``limit`` items wait at most:
past that, each ``put`` applies the two oldest items on the calling thread, so memory
stays bounded when calls come faster than the reader collects (or no reader does), and
no single call pays for the whole backlog. An item whose ``apply`` raises is logged once
and dropped; the others are applied.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Callable

from .safety import log_once

__all__ = ["RecordQueue"]


class RecordQueue:
    def __init__(self, apply: Callable[[Any], None], limit: int = 10_000):
        self.apply = apply
        self.limit = limit
        self._items: deque = deque()

    def put(self, item: Any) -> None:
        items = self._items
        items.append(item)
        if len(items) > self.limit:
            self._apply(2)

    def __len__(self) -> int:
        return len(self._items)

    def drain(self) -> None:
        """Apply every queued item (thread-safe: each item is popped, so applied, once)."""
        self._apply(None)

    def _apply(self, at_most: int | None) -> None:
        pop = self._items.popleft
        apply = self.apply
        n = 0
        while at_most is None or n < at_most:
            try:
                item = pop()
            except IndexError:
                return
            n += 1
            try:
                apply(item)
            except Exception as exc:  # noqa: BLE001 - one bad item must not stop a collection
                log_once("metrics.record", exc)
