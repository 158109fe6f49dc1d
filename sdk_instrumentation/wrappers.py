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

from opentelemetry import context as otel_context
from opentelemetry import trace

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
    try:
        return start(instance, kwargs)
    except Exception as exc:  # noqa: BLE001
        log_once(where, exc)
        return None


def _finish(finish: Finish, where: str, result, call: Call, context, is_async: bool):
    try:
        return finish(result, call, context, is_async)
    except Exception as exc:  # noqa: BLE001
        log_once(where, exc)
        call.end()
        return result


def _enter(call: Call):
    """Make the call's span the current span (so spans and logs made inside nest under it).

    ``context.attach`` directly rather than ``trace.use_span``, whose generator-based context
    manager costs twice as much; exceptions are recorded by ``Call.end`` instead."""
    span = call.span
    if span is None:
        return None
    try:
        return otel_context.attach(trace.set_span_in_context(span))
    except Exception as exc:  # noqa: BLE001
        log_once("context.attach", exc)
        return None


def _exit(token) -> None:
    if token is not None:
        try:
            otel_context.detach(token)
        except Exception as exc:  # noqa: BLE001
            log_once("context.detach", exc)


def make_wrapper(start: Start, finish: Finish, *, is_async: bool, where: str):
    if is_async:
        async def async_wrapper(wrapped, instance, args, kwargs):
            opened = _open(start, where, instance, kwargs)
            if opened is None:
                return await wrapped(*args, **kwargs)
            call, send, context = opened
            token = _enter(call)
            try:
                result = await wrapped(*args, **send)
            except BaseException as exc:  # cancellation and interrupts end the call too
                call.end(exc)
                raise
            finally:
                _exit(token)
            return _finish(finish, where, result, call, context, True)

        return async_wrapper

    def wrapper(wrapped, instance, args, kwargs):
        opened = _open(start, where, instance, kwargs)
        if opened is None:
            return wrapped(*args, **kwargs)
        call, send, context = opened
        token = _enter(call)
        try:
            result = wrapped(*args, **send)
        except BaseException as exc:  # cancellation and interrupts end the call too
            call.end(exc)
            raise
        finally:
            _exit(token)
        return _finish(finish, where, result, call, context, False)

    return wrapper
