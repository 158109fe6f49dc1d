"""The write-ahead log beside the ``--state-file`` snapshot: every accepted request, durably.

::

    log = WriteAheadLog("state.json.wal")
    for record in log.open(after=snapshot_seq):     # at start: what the snapshot does not hold yet
        apply(record)
    seq = log.append(key, payload, at=time.time())  # buffered ...
    log.sync()                                      # ... then one fsync for every record appended so far
    log.reset()                                     # after a snapshot that holds everything: empty the log

Records are framed as ``magic (4) | length (4) | crc32 (4) | body``, little-endian, where the body is
``seq (8) | time (8, float) | key length (2) | key | payload``. The crc covers the body. Reading stops
at the first record that is short, has a bad magic, a bad crc or a sequence number that does not
follow the previous one:

* at the end of the file (or followed only by zero bytes) that is a torn write: the process died
  mid-append, before the fsync that would have acknowledged it. The tail is cut off and the log
  goes on from there;
* with more data after it the log is corrupt: the records before it are replayed, the file is
  renamed ``<name>.corrupt-<unix time>`` with an error, and a new empty log is started. A corrupt
  log never stops the exporter from starting.
"""

from __future__ import annotations

import logging
import os
import struct
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

__all__ = ["WriteAheadLog", "Record", "MAX_KEY_BYTES"]

log = logging.getLogger("exporter.wal")

_MAGIC = b"GLW1"
_FRAME = struct.Struct("<4sII")  # magic, body length, crc32 of the body
_HEAD = struct.Struct("<QdH")  # seq, time, key length
MAX_KEY_BYTES = 256
_MAX_BODY = 1 << 30  # no record is this large; a length above it is corruption, not a huge record


@dataclass(frozen=True, slots=True)
class Record:
    seq: int        # 1, 2, 3, ... without gaps across the log's life
    at: float       # wall-clock seconds when the request was accepted
    key: str        # the request's Idempotency-Key ("" without one)
    payload: bytes  # the request as OTLP protobuf


class WriteAheadLog:
    """An append-only file of records; not thread-safe (one writer thread owns it)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._file = None
        self.next_seq = 1      # the seq the next append gets
        self.synced_seq = 0    # every record up to this one is on disk
        self.size = 0          # bytes in the file
        self.fsyncs = 0        # fsync calls made (for the benchmark and the exporter's own metrics)

    # -- reading, at start ----------------------------------------------------------------------

    def open(self, after: int = 0) -> list[Record]:
        """The records with ``seq > after``, in order; the log is then open for appends.

        A torn tail is cut off; a corrupt log is set aside (see the module docstring)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        good_end, last_seq, records, corrupt = self._scan(after)
        self.next_seq = max(last_seq, after) + 1
        if corrupt is not None:
            aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
            try:
                os.replace(self.path, aside)
                where = f"moved to {aside}"
            except OSError as error:
                where = f"could not be moved aside ({error})"
            log.error("write-ahead log %s is corrupt at byte %d (%s); the records before it (to seq %d) are "
                      "replayed, the rest is lost; %s; starting a new log", self.path, good_end, corrupt, last_seq,
                      where)
            self._open(truncate=True)
            self.synced_seq = self.next_seq - 1
            return records
        self._open(truncate=False)
        if self.size > good_end:
            log.warning("write-ahead log %s: a torn last record (%d bytes) was dropped: it was never acknowledged",
                        self.path, self.size - good_end)
            self._file.truncate(good_end)
            os.fsync(self._file.fileno())
            self.size = good_end
        self.synced_seq = self.next_seq - 1
        return records

    def _scan(self, after: int):
        """``(end of the last good record, its seq, records after ``after``, corruption or None)``."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return 0, 0, [], None
        records, offset, last_seq = [], 0, 0
        while offset < len(data):
            problem = None
            if len(data) - offset < _FRAME.size:
                problem = "short frame"
            else:
                magic, length, crc = _FRAME.unpack_from(data, offset)
                body = data[offset + _FRAME.size:offset + _FRAME.size + length]
                if magic != _MAGIC or length > _MAX_BODY or length < _HEAD.size:
                    problem = "bad frame"
                elif len(body) < length:
                    problem = "short record"
                elif zlib.crc32(body) != crc:
                    problem = "bad checksum"
                else:
                    seq, at, key_length = _HEAD.unpack_from(body)
                    if last_seq and seq != last_seq + 1:
                        problem = f"sequence {seq} after {last_seq}"
                    elif _HEAD.size + key_length > length:
                        problem = "bad key length"
            if problem is not None:
                # At the very end this is a torn write; with more after it, corruption.
                end = offset + _FRAME.size + (_FRAME.unpack_from(data, offset)[1] if len(data) - offset >= _FRAME.size else 0)
                torn = (problem in ("short frame", "short record") or end >= len(data)
                        or not data[offset:].strip(b"\0"))
                return offset, last_seq, records, None if torn else problem
            key = body[_HEAD.size:_HEAD.size + key_length].decode("utf-8", "replace")
            if seq > after:
                records.append(Record(seq, at, key, body[_HEAD.size + key_length:]))
            last_seq = seq
            offset += _FRAME.size + length
        return offset, last_seq, records, None

    # -- writing --------------------------------------------------------------------------------

    def _open(self, truncate: bool) -> None:
        if self._file is not None:
            self._file.close()
        self._file = open(self.path, "wb" if truncate else "ab")
        self.size = self._file.seek(0, os.SEEK_END)

    def append(self, key: str, payload: bytes, at: float) -> int:
        """Buffer one record; returns its seq. Durable only after :meth:`sync`."""
        key_bytes = key.encode("utf-8")[:MAX_KEY_BYTES]
        seq = self.next_seq
        body = _HEAD.pack(seq, at, len(key_bytes)) + key_bytes + payload
        self._file.write(_FRAME.pack(_MAGIC, len(body), zlib.crc32(body)) + body)
        self.next_seq = seq + 1
        self.size += _FRAME.size + len(body)
        return seq

    def sync(self) -> None:
        """Write out and fsync every record appended so far (one fsync for all of them)."""
        if self.synced_seq == self.next_seq - 1:
            return
        self._file.flush()
        os.fdatasync(self._file.fileno()) if hasattr(os, "fdatasync") else os.fsync(self._file.fileno())
        self.fsyncs += 1
        self.synced_seq = self.next_seq - 1

    def cut_back(self, size: int, next_seq: int) -> None:
        """After a failed write: drop what was appended past ``size`` bytes, so the log stays
        well-formed and the next append gets ``next_seq``."""
        self.next_seq = next_seq
        self._file.truncate(size)
        self._file.seek(size)
        self.size = size

    def reset(self) -> None:
        """Empty the log (its records are all in a durable snapshot); seq numbers go on."""
        self._open(truncate=True)
        os.fsync(self._file.fileno())
        self.synced_seq = self.next_seq - 1

    def close(self) -> None:
        if self._file is not None:
            try:
                self.sync()
            finally:
                self._file.close()
                self._file = None
