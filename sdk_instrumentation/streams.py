"""Stream proxies: the caller's stream, unchanged, with the call ended exactly once.

``TracedStream`` (sync) and ``AsyncTracedStream`` (async) wrap a client's stream
object (``openai.Stream``, a google-genai generator, ...) with ``wrapt.ObjectProxy``,
so ``isinstance`` checks, attributes and methods of the original keep working.
Each item goes through ``handler.process(item)``, which records it and says
whether to hide it (the usage-only chunk genai-lens asked for on the caller's
behalf). The call ends, once, at whichever comes first: the end of iteration,
an error mid-stream (recorded with ``error.type``), ``close()``, leaving a
``with`` block, or garbage collection of an abandoned stream.

A handler has ``process(item) -> bool`` and ``finish(error)``; ``finish`` must be
idempotent (``Call.end`` is).
"""

from __future__ import annotations

import wrapt

from .safety import guard, log_once

__all__ = ["TracedStream", "AsyncTracedStream"]


def _items(owner, handler, wrapped_next):
    """The caller's items, each through ``handler.process`` (hidden when it says so).

    A generator: a ``for`` loop resumes it per chunk, which costs less than a ``__next__``
    method called through the type slot. ``owner`` is the proxy when a loop runs over
    ``iter(proxy)``: the loop may hold only this generator (``for c in client.create(...)``),
    so it keeps the proxy alive until the loop ends. ``__next__``'s generator, stored on the
    proxy, gets None, so that no cycle delays an abandoned proxy's ``__del__``. Leaving a loop
    part-way (``break``) does not end the call: the stream may still be read on, so the call
    ends with the stream (exhaustion, ``close()``, ``with`` or garbage collection).
    """
    process = handler.process
    while True:
        try:
            item = wrapped_next()
        except StopIteration:
            _finish(handler)
            return
        except Exception as exc:
            _finish(handler, exc)
            raise
        try:
            hide = process(item)
        except Exception as exc:  # noqa: BLE001
            log_once("stream.process", exc)
            hide = False
        if not hide:
            yield item


async def _async_items(owner, handler, wrapped_anext):
    """``_items`` for async streams (an async generator)."""
    process = handler.process
    while True:
        try:
            item = await wrapped_anext()
        except StopAsyncIteration:
            _finish(handler)
            return
        except Exception as exc:
            _finish(handler, exc)
            raise
        try:
            hide = process(item)
        except Exception as exc:  # noqa: BLE001
            log_once("stream.process", exc)
            hide = False
        if not hide:
            yield item


def _finish(handler, error=None) -> None:
    with guard("stream.finish"):
        handler.finish(error)


class TracedStream(wrapt.ObjectProxy):
    def __init__(self, wrapped, handler):
        super().__init__(wrapped)
        self._self_handler = handler
        self._self_items = None  # the generator next(stream) reads, made on first use

    def __iter__(self):
        return _items(self, self._self_handler, self.__wrapped__.__next__)

    def __next__(self):
        items = self._self_items
        if items is None:
            items = self._self_items = _items(None, self._self_handler, self.__wrapped__.__next__)
        return next(items)

    def __enter__(self):
        self.__wrapped__.__enter__()
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            return self.__wrapped__.__exit__(exc_type, exc, tb)
        finally:
            _finish(self._self_handler)

    def close(self):
        try:
            return self.__wrapped__.close()
        finally:
            _finish(self._self_handler)

    def __del__(self):
        handler = getattr(self, "_self_handler", None)
        if handler is not None:
            _finish(handler)


class AsyncTracedStream(wrapt.ObjectProxy):
    def __init__(self, wrapped, handler):
        super().__init__(wrapped)
        self._self_handler = handler
        self._self_items = None  # the async generator await anext(stream) reads, made on first use

    def __aiter__(self):
        return _async_items(self, self._self_handler, self.__wrapped__.__anext__)

    async def __anext__(self):
        items = self._self_items
        if items is None:
            items = self._self_items = _async_items(None, self._self_handler, self.__wrapped__.__anext__)
        return await items.__anext__()

    async def __aenter__(self):
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(self, exc_type, exc, tb):
        try:
            return await self.__wrapped__.__aexit__(exc_type, exc, tb)
        finally:
            _finish(self._self_handler)

    async def close(self):
        try:
            return await self.__wrapped__.close()
        finally:
            _finish(self._self_handler)

    async def aclose(self):
        try:
            return await self.__wrapped__.aclose()
        finally:
            _finish(self._self_handler)

    def __del__(self):
        handler = getattr(self, "_self_handler", None)
        if handler is not None:
            _finish(handler)
