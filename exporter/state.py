"""The ``--state-file`` snapshot: the store, the applied ``Idempotency-Key`` window, and the
sequence number of the last write-ahead log record they hold (``exporter.commit`` writes it).

::

    seq = load_state(store, keys, path, now)   # at start: 0 if there is no snapshot
    save_state(store, keys, path, wal_seq)     # atomic write (temp file, fsync, rename, fsync of the folder)

A file that cannot be read as a snapshot is renamed to ``<name>.corrupt-<unix time>`` with an
error log line, and the exporter starts from the write-ahead log alone rather than not at all.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from pathlib import Path

from .idempotency import KeyWindow
from .store import Store

__all__ = ["load_state", "save_state"]

log = logging.getLogger("exporter.state")


def save_state(store: Store, keys: KeyWindow, path: str | Path, wal_seq: int) -> None:
    """Write the store, the key window and ``wal_seq`` (the last log record they hold) atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = store.snapshot()
    data["wal_seq"] = wal_seq
    data["idempotency_keys"] = keys.snapshot()
    text = json.dumps(data, separators=(",", ":"), allow_nan=False)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename itself is durable before the log is emptied
        finally:
            os.close(directory)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    log.info("state saved to %s (%d series, %d cumulative streams, log seq %d)", path, store.series_count(),
             len(store.streams), wal_seq)


def load_state(store: Store, keys: KeyWindow, path: str | Path, now: float) -> int:
    """Load ``path`` into ``store`` and ``keys``; returns the log seq it holds (0 if none).

    A file that cannot be read as a snapshot is set aside as ``<name>.corrupt-<unix time>`` with an
    error, and the exporter starts from the log alone rather than not at all."""
    path = Path(path)
    if not path.exists():
        log.info("no state file at %s; starting from the write-ahead log, if any", path)
        return 0
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        store.restore(data)
        keys.restore(data.get("idempotency_keys", []), now)
        seq = data.get("wal_seq", 0)
        if not isinstance(seq, int) or seq < 0:
            raise ValueError(f"bad wal_seq {seq!r}")
    except (OSError, UnicodeDecodeError, ValueError, AttributeError) as error:
        aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
        try:
            os.replace(path, aside)
            where = f"moved to {aside}"
        except OSError as move_error:
            where = f"could not be moved aside ({move_error})"
        log.error("state file %s is corrupt (%s); %s; starting from the write-ahead log alone", path, error, where)
        store.restore({"version": 1, "families": [], "streams": []})
        return 0
    log.info("state loaded from %s (%d series, %d cumulative streams, log seq %d)", path, store.series_count(),
             len(store.streams), seq)
    return seq
