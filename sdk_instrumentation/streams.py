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


def _process(handler, item) -> bool:
    try:
        return handler.process(item)
    except Exception as exc:  # noqa: BLE001
        log_once("stream.process", exc)
        return False


def _finish(handler, error=None) -> None:
    with guard("stream.finish"):
        handler.finish(error)


class TracedStream(wrapt.ObjectProxy):
    def __init__(self, wrapped, handler):
        super().__init__(wrapped)
        self._self_handler = handler

    def __iter__(self):
        """A generator over the same items ``__next__`` gives: a ``for`` loop resumes it per
        chunk, which costs less than calling ``__next__`` through the type slot. Dropping it
        part-way (``break``) does not end the call: the stream may still be read on, so the
        call ends with the stream (exhaustion, ``close()``, ``with`` or garbage collection)."""
        handler = self._self_handler
        process = handler.process
        wrapped_next = self.__wrapped__.__next__
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

    def __next__(self):
        handler = self._self_handler
        wrapped_next = self.__wrapped__.__next__
        while True:
            try:
                item = wrapped_next()
            except StopIteration:
                _finish(handler)
                raise
            except Exception as exc:
                _finish(handler, exc)
                raise
            if not _process(handler, item):
                return item

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

    async def __aiter__(self):
        """An async generator over the same items ``__anext__`` gives (cheaper per chunk than a
        coroutine per ``__anext__``); as in ``TracedStream.__iter__``, leaving it part-way does
        not end the call."""
        handler = self._self_handler
        process = handler.process
        wrapped_anext = self.__wrapped__.__anext__
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

    async def __anext__(self):
        handler = self._self_handler
        wrapped = self.__wrapped__
        while True:
            try:
                item = await wrapped.__anext__()
            except StopAsyncIteration:
                _finish(handler)
                raise
            except Exception as exc:
                _finish(handler, exc)
                raise
            if not _process(handler, item):
                return item

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
