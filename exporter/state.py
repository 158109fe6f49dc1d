"""The ``--state-file`` snapshot: written on graceful shutdown, reloaded on start.

::

    load_state(store, path)   # at start: True if a snapshot was loaded
    save_state(store, path)   # at shutdown: atomic write (temp file + rename)

A file that cannot be read as a snapshot is renamed to
``<name>.corrupt-<unix time>`` with an error log line, and the exporter starts
empty rather than not at all.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from pathlib import Path

from .store import Store

__all__ = ["load_state", "save_state"]

log = logging.getLogger("exporter.state")


def save_state(store: Store, path: str | Path) -> None:
    """Write ``store``'s snapshot to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps(store.snapshot(), separators=(",", ":"), allow_nan=False)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    log.info("state saved to %s (%d series, %d cumulative streams)", path, store.series_count(), len(store.streams))


def load_state(store: Store, path: str | Path) -> bool:
    """Load ``path`` into ``store`` if it exists. A corrupt file is set aside; returns True if loaded."""
    path = Path(path)
    if not path.exists():
        log.info("no state file at %s; starting empty", path)
        return False
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        store.restore(data)
    except (OSError, UnicodeDecodeError, ValueError) as error:
        aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
        try:
            os.replace(path, aside)
            where = f"moved to {aside}"
        except OSError as move_error:
            where = f"could not be moved aside ({move_error})"
        log.error("state file %s is corrupt (%s); %s; starting empty", path, error, where)
        return False
    log.info("state loaded from %s (%d series, %d cumulative streams)", path, store.series_count(), len(store.streams))
    return True
