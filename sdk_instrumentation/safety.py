"""Errors inside the instrumentation never reach the app.

``guard(where)`` swallows any exception from instrumentation code and logs it
once per place (with its traceback), so a broken attribute, a pricing failure
or a full exporter queue cannot break or flood the app::

    with guard("openai.response"):
        span.set_attribute(...)
"""

from __future__ import annotations

import contextlib
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


@contextlib.contextmanager
def guard(where: str):
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - the app must never see our errors
        log_once(where, exc)
