"""The wrapper every patched client method runs through.

An instrumentor supplies two functions and gets a ``wrapt`` wrapper::

    def start(instance, kwargs):          # -> (call, kwargs to send, context) or None to pass through
    def finish(result, call, context, is_async):   # -> what the caller gets back
    wrapt.wrap_function_wrapper(module, "Completions.create", make_wrapper(start, finish, is_async=False))

The wrapper opens the call (errors there are swallowed and the call passes
through unmeasured), runs the client method with the call's span as the
current span, ends the call with ``error.type`` if the method raises (and
re-raises the very same exception), and otherwise hands the result to
``finish``, whose own errors are swallowed too.
"""

from __future__ import annotations

from typing import Any, Callable

from opentelemetry.context import attach, detach
from opentelemetry.trace import set_span_in_context

from .safety import log_once
from .telemetry import Call, Telemetry

__all__ = ["make_wrapper", "telemetry_from"]

Start = Callable[[Any, dict], "tuple[Call, dict, Any] | None"]
Finish = Callable[[Any, Call, Any, bool], Any]


def telemetry_from(kwargs: dict) -> Telemetry:
    """The ``Telemetry`` an instrumentor's ``instrument(**kwargs)`` asks for."""
    return kwargs.get("telemetry") or Telemetry(
        tracer_provider=kwargs.get("tracer_provider"), meter_provider=kwargs.get("meter_provider"),
        pricing=kwargs.get("pricing"), labeler=kwargs.get("labeler"),
        capture_content=kwargs.get("capture_content"), attributes=kwargs.get("attributes"))


def _open(start: Start, where: str, instance, kwargs):
    """``(call, kwargs to send, context, token)`` or None to pass through; never raises.

    The call's span becomes the current span (so spans and logs made inside nest under it)
    through ``context.attach`` directly: ``trace.use_span``'s generator-based context manager
    costs twice as much, and exceptions are recorded by ``Call.end`` instead."""
    try:
        opened = start(instance, kwargs)
    except Exception as exc:  # noqa: BLE001
        log_once(where, exc)
        return None
    if opened is None:
        return None
    call, send, context = opened
    token = None
    if call.span is not None:
        try:
            token = attach(set_span_in_context(call.span))
        except Exception as exc:  # noqa: BLE001
            log_once("context.attach", exc)
    return call, send, context, token


def _finish(finish: Finish, where: str, result, call: Call, context, is_async: bool):
    try:
        return finish(result, call, context, is_async)
    except Exception as exc:  # noqa: BLE001
        log_once(where, exc)
        call.end()
        return result


def make_wrapper(start: Start, finish: Finish, *, is_async: bool, where: str):
    # detach() logs and swallows its own errors (opentelemetry.context.detach).
    if is_async:
        async def async_wrapper(wrapped, instance, args, kwargs):
            opened = _open(start, where, instance, kwargs)
            if opened is None:
                return await wrapped(*args, **kwargs)
            call, send, context, token = opened
            try:
                result = await wrapped(*args, **send)
            except BaseException as exc:  # cancellation and interrupts end the call too
                call.end(exc)
                raise
            finally:
                if token is not None:
                    detach(token)
            return _finish(finish, where, result, call, context, True)

        return async_wrapper

    def wrapper(wrapped, instance, args, kwargs):
        opened = _open(start, where, instance, kwargs)
        if opened is None:
            return wrapped(*args, **kwargs)
        call, send, context, token = opened
        try:
            result = wrapped(*args, **send)
        except BaseException as exc:  # cancellation and interrupts end the call too
            call.end(exc)
            raise
        finally:
            if token is not None:
                detach(token)
        return _finish(finish, where, result, call, context, False)

    return wrapper
