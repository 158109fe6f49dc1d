"""The record queue: each item applied exactly once, bounded without a reader, a bad item dropped alone."""

import logging
import threading

from sdk_instrumentation import safety
from sdk_instrumentation.deferred import RecordQueue


def test_items_are_applied_at_drain_exactly_once_in_order():
    applied = []
    queue = RecordQueue(applied.append)
    for item in ("a", "b", "c"):
        queue.put(item)
    assert applied == [] and len(queue) == 3
    queue.drain()
    assert applied == ["a", "b", "c"] and len(queue) == 0
    queue.drain()
    assert applied == ["a", "b", "c"]


def test_queue_is_bounded_without_a_drain_and_loses_nothing():
    applied = []
    lock = threading.Lock()

    def apply(item):
        with lock:
            applied.append(item)

    queue = RecordQueue(apply, limit=100)

    def work(base):
        for i in range(1000):
            queue.put(base + i)

    threads = [threading.Thread(target=work, args=(n * 1000,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(queue) <= 100 + 4  # each put past the limit applies two: at most one extra per thread
    assert len(applied) >= 4000 - 104
    queue.drain()
    assert sorted(applied) == list(range(4000))


def test_past_the_limit_each_put_applies_the_two_oldest():
    """No single call pays for the backlog: past the limit, a put applies two items, oldest first."""
    applied = []
    queue = RecordQueue(applied.append, limit=10)
    for i in range(10):
        queue.put(i)
    assert applied == []
    queue.put(10)
    assert applied == [0, 1] and len(queue) == 9
    for i in range(11, 20):
        queue.put(i)
    assert len(queue) <= 11 and applied == list(range(len(applied)))


def test_an_item_that_fails_is_logged_once_and_the_rest_are_applied(caplog, monkeypatch):
    monkeypatch.setattr(safety, "_seen", set())  # log_once remembers places process-wide
    applied = []

    def apply(item):
        if item % 2:
            raise ValueError("broken item")
        applied.append(item)

    queue = RecordQueue(apply)
    for i in range(6):
        queue.put(i)
    with caplog.at_level(logging.WARNING, logger="sdk_instrumentation"):
        queue.drain()
    assert applied == [0, 2, 4] and len(queue) == 0
    assert [r.getMessage() for r in caplog.records] == [
        "genai-lens instrumentation error in metrics.record (ignored; logged once): ValueError"]
