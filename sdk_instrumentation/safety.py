"""Errors inside the instrumentation never reach the app.

``guard(where)`` swallows any exception from instrumentation code and logs it
once per place (with its traceback), so a broken attribute, a pricing failure
or a full exporter queue cannot break or flood the app::

    with guard("openai.response"):
        span.set_attribute(...)
"""

from __future__ import annotations

import logging
import threading

__all__ = ["guard", "log_once"]

logger = logging.getLogger("sdk_instrumentation")
_seen: set[str] = set()
_lock = threading.Lock()


def log_once(where: str, exc: BaseException) -> None:
    key = f"{where}:{type(exc).__name__}"
    with _lock:
        if key in _seen:
            return
        _seen.add(key)
    logger.warning("genai-lens instrumentation error in %s (ignored; logged once): %s", where, type(exc).__name__, exc_info=exc)


class guard:
    """Context manager that swallows and logs (once per place) any exception from its block.

    A plain class rather than ``contextlib.contextmanager``: it sits on every call's path,
    and this form costs a fraction of a generator-based one.
    """

    __slots__ = ("where",)

    def __init__(self, where: str):
        self.where = where

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is not None and isinstance(exc, Exception):
            log_once(self.where, exc)
            return True
        return False
