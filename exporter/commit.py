"""Applying accepted requests to the store exactly once, durably with a state file.

::

    committer = Committer(store, state_file="state.json")   # state_file=None: in memory only
    committer.start()                 # load the snapshot, replay the write-ahead log, start the thread
    result = committer.submit(key, request, payload)   # blocks until applied; None for a repeated key
    committer.stop()                  # compact: write the snapshot, empty the log

One thread (the committer) owns the store's writes, the write-ahead log (``wal``) and the window
of applied ``Idempotency-Key`` values (``idempotency``). Requests queue up; the thread takes every
request waiting, appends each to the log, makes them durable with **one** fsync (group commit:
concurrent requests share it), and only then applies them to the store, in log order, and answers.
So ``/metrics`` only ever serves increments that are on disk, and a restart after a crash (kill -9)
rebuilds exactly what was answered 2xx: the snapshot plus the log records after its ``wal_seq``.

A held series (``exporter.store``) is released the same way: ``release_due()`` (called by each scrape)
logs a release record naming the series, makes it durable, and only then lets the store serve
their values. A restart replays the releases with the requests, so the series no scrape has seen
a value of are held at zero again, and those it has are never served zero again.

A request whose key was already applied (a retry whose first answer was lost) is answered as a
success and not applied again; so is a repeat of a key still waiting in the same group.

The log is compacted into the snapshot every ``snapshot_interval_seconds``, when it grows past
``wal_max_bytes``, and at ``stop()``. The snapshot is written atomically and holds the sequence
number of the last record it contains, so a crash between writing it and emptying the log replays
nothing twice.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from .idempotency import KeyWindow
from .state import load_state, save_state
from .store import IngestResult, Store
from .wal import WriteAheadLog

__all__ = ["Committer", "CommitError", "RELEASE_KEY"]

log = logging.getLogger("exporter.commit")

# The key of a release record in the log; never an Idempotency-Key (those are printable ASCII).
RELEASE_KEY = "\x00release"


class CommitError(Exception):
    """The request could not be made durable (a disk error); nothing of it was applied."""


@dataclass
class _Pending:
    key: str
    request: ExportMetricsServiceRequest | None
    payload: bytes
    release: list | None = None  # a release record: the (family name, label key) series
    done: threading.Event = field(default_factory=threading.Event)
    result: IngestResult | None = None
    error: Exception | None = None


_STOP = object()


class Committer:
    """See the module docstring. Thread-safe: ``submit`` may be called from any thread."""

    def __init__(self, store: Store, state_file: str | Path | None = None, *, key_window: KeyWindow | None = None,
                 snapshot_interval_seconds: float = 300.0, wal_max_bytes: int = 64 * 1024 * 1024,
                 clock=time.time):
        self.store = store
        self.state_file = Path(state_file) if state_file is not None else None
        self.wal = WriteAheadLog(f"{self.state_file}.wal") if self.state_file is not None else None
        self.keys = key_window or KeyWindow()
        self.snapshot_interval_seconds = snapshot_interval_seconds
        self.wal_max_bytes = wal_max_bytes
        self.clock = clock
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._stopped = False
        self._last_snapshot = 0.0
        # What the exporter reports about itself (genai_lens_exporter_*).
        self.applied = 0          # requests applied
        self.duplicates = 0       # repeats answered without applying
        self.commits = 0          # groups made durable together
        self.replayed = 0         # log records applied at start

    # -- start and stop -----------------------------------------------------------------------

    def start(self) -> None:
        """Load the state (snapshot, then the log after it) and start the committer thread."""
        with self._start_lock:
            if self._thread is None and not self._stopped:
                self._start()

    def _start(self) -> None:
        if self.state_file is not None:
            seq = load_state(self.store, self.keys, self.state_file, self.clock())
            records = self.wal.open(after=seq)
            self._replay(records)
            self._last_snapshot = self.clock()
        self._thread = threading.Thread(target=self._run, name="genai-lens-committer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Apply what is queued, write the snapshot and empty the log; then the thread ends."""
        with self._start_lock:
            self._stopped = True
        if self._thread is None:
            return
        self._queue.put(_STOP)
        self._thread.join()
        self._thread = None
        if self.wal is not None:
            try:
                self._compact()
            finally:
                self.wal.close()

    def _replay(self, records) -> None:
        store = self.store
        clock = store.clock
        try:
            for record in records:
                if record.key == RELEASE_KEY:
                    try:
                        store.release(_release_items(record.payload))
                    except ValueError:
                        log.exception("write-ahead log record %d: not a release record", record.seq)
                    continue
                request = ExportMetricsServiceRequest()
                store.clock = lambda at=record.at: at  # the store's time when the request was first applied
                try:
                    request.ParseFromString(record.payload)
                    store.ingest(request)
                except Exception:  # noqa: BLE001 - as when it was first applied: logged, and the start goes on
                    log.exception("write-ahead log record %d could not be applied", record.seq)
                if record.key:
                    self.keys.add(record.key, record.at)
        finally:
            store.clock = clock
        # The series the log made and did not release are held again: no scrape saw their values.
        self.replayed = len(records)
        if records:
            log.info("write-ahead log %s: %d records replayed (to seq %d)", self.wal.path, len(records),
                     records[-1].seq)

    # -- the request path ---------------------------------------------------------------------

    def submit(self, key: str, request: ExportMetricsServiceRequest, payload: bytes) -> IngestResult | None:
        """Apply one request (after it is durable, with a state file); None if ``key`` was already
        applied. Raises ``CommitError`` if it could not be made durable. Starts the committer if the
        app was served without its lifespan (an ASGI transport in a test or a benchmark)."""
        return self._wait(_Pending(key, request, payload))

    def release_due(self) -> int:
        """Release the held series due for it (``Store.releasable``): durably first with a state
        file, so their values are never served before the release is on disk. Returns how many were
        released; with a disk error, none (they stay held, served at zero) and the error is logged."""
        store = self.store
        due = store.releasable()
        if not due:
            return 0
        if self.wal is None:
            return store.release(due)
        payload = json.dumps([[name, [list(pair) for pair in key]] for name, key in due]).encode()
        try:
            self._wait(_Pending(RELEASE_KEY, None, payload, release=due))
        except CommitError:
            return 0
        return len(due)

    def _wait(self, pending: _Pending):
        if self._thread is None:
            self.start()
            if self._thread is None:
                raise CommitError("the exporter is not accepting requests (stopped)")
        self._queue.put(pending)
        pending.done.wait()
        if pending.error is not None:
            raise pending.error
        return pending.result

    def _run(self) -> None:
        stopping = False
        while not stopping:
            try:
                first = self._queue.get(timeout=self._until_snapshot())
            except queue.Empty:
                self._maybe_compact()
                continue
            group = []
            item = first
            while True:
                if item is _STOP:
                    stopping = True
                else:
                    group.append(item)
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if group:
                self._commit(group)
            self._maybe_compact()

    def _commit(self, group: list[_Pending]) -> None:
        now = self.clock()
        fresh: list[_Pending] = []
        keys_in_group: set[str] = set()
        for pending in group:
            key = pending.key
            if pending.release is not None:
                fresh.append(pending)
                continue
            if key and (key in keys_in_group or self.keys.seen(key, now)):
                self.duplicates += 1
                pending.done.set()  # result None: a repeat
                continue
            if key:
                keys_in_group.add(key)
            fresh.append(pending)
        if not fresh:
            return
        if self.wal is not None:
            size, seq = self.wal.size, self.wal.next_seq
            try:
                for pending in fresh:
                    self.wal.append(pending.key, pending.payload, now)
                self.wal.sync()
            except OSError as error:
                log.error("write-ahead log %s: could not write %d requests (%s); they are answered 503 and "
                          "not applied", self.wal.path, len(fresh), error)
                try:
                    self.wal.cut_back(size, seq)
                except OSError as cut_error:
                    log.error("write-ahead log %s could not be cut back after a failed write (%s)", self.wal.path,
                              cut_error)
                for pending in fresh:
                    pending.error = CommitError(f"the request could not be made durable: {error.strerror or error}")
                    pending.done.set()
                return
        self.commits += 1
        for pending in fresh:
            if pending.release is not None:
                self.store.release(pending.release)
                pending.done.set()
                continue
            try:
                pending.result = self.store.ingest(pending.request)
            except Exception as error:  # noqa: BLE001 - never a dead committer (the app answers 400)
                log.exception("could not apply an OTLP request")
                pending.error = error
            if pending.key:
                self.keys.add(pending.key, now)
            self.applied += 1
            pending.done.set()

    # -- compaction ---------------------------------------------------------------------------

    def _until_snapshot(self) -> float | None:
        if self.wal is None:
            return None
        return max(0.05, self._last_snapshot + self.snapshot_interval_seconds - self.clock())

    def _maybe_compact(self) -> None:
        if self.wal is None:
            return
        due = self.clock() >= self._last_snapshot + self.snapshot_interval_seconds
        if due or self.wal.size >= self.wal_max_bytes:
            try:
                self._compact()
            except OSError as error:
                log.error("could not write the state snapshot %s (%s); the write-ahead log keeps everything",
                          self.state_file, error)
                self._last_snapshot = self.clock()  # try again after an interval, not on every request

    def _compact(self) -> None:
        """Snapshot the store (and keys) as of the last log record, then empty the log."""
        if self.wal.size == 0 and self.state_file.exists():
            self._last_snapshot = self.clock()
            return
        save_state(self.store, self.keys, self.state_file, self.wal.next_seq - 1)
        self.wal.reset()
        self._last_snapshot = self.clock()


def _release_items(payload: bytes) -> list[tuple[str, tuple]]:
    """The ``(family name, label key)`` series of a release record's payload."""
    try:
        return [(str(name), tuple((str(k), str(v)) for k, v in key)) for name, key in json.loads(payload)]
    except (TypeError, ValueError) as error:
        raise ValueError(f"malformed release record: {error}") from error
