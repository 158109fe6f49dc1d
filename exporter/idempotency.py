"""The ``Idempotency-Key`` values of applied requests, in a window bounded in count and age.

::

    keys = KeyWindow(max_keys=200_000, max_age_seconds=3600)
    if keys.seen("0f8c...", now):     # a repeat of an applied request: answer success, apply nothing
        ...
    keys.add("0f8c...", now)
    data = keys.snapshot()            # persisted with the state; KeyWindow.restore(data) at start

A key is remembered for ``max_age_seconds`` after it was applied, and the oldest keys are forgotten
first when there are more than ``max_keys``. A sender must not repeat a request later than that: the
SDK gives up on a batch long before (its ``max_age`` for undelivered batches, docs/reliability.md).
"""

from __future__ import annotations

from collections import OrderedDict

__all__ = ["KeyWindow"]


class KeyWindow:
    """Keys in the order they were applied; not thread-safe (the committer's thread owns it)."""

    def __init__(self, max_keys: int = 200_000, max_age_seconds: float = 3600.0):
        self.max_keys = max_keys
        self.max_age_seconds = max_age_seconds
        self._keys: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._keys)

    def seen(self, key: str, now: float) -> bool:
        self._expire(now)
        return key in self._keys

    def add(self, key: str, now: float) -> None:
        self._keys[key] = now
        self._keys.move_to_end(key)
        while len(self._keys) > self.max_keys:
            self._keys.popitem(last=False)

    def _expire(self, now: float) -> None:
        horizon = now - self.max_age_seconds
        keys = self._keys
        while keys:
            key, at = next(iter(keys.items()))
            if at >= horizon:
                break
            keys.popitem(last=False)

    def snapshot(self) -> list[list]:
        return [[key, at] for key, at in self._keys.items()]

    def restore(self, data, now: float) -> None:
        """Load a :meth:`snapshot`; raises ``ValueError`` if it is malformed."""
        if not isinstance(data, list):
            raise ValueError("idempotency keys must be a list")
        for item in data:
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)
                    and isinstance(item[1], (int, float))):
                raise ValueError(f"malformed idempotency key entry {item!r:.80}")
            self.add(item[0], float(item[1]))
        self._expire(now)
