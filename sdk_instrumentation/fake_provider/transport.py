"""ASGI responses that pace server-sent events and cut connections on purpose.

``EventStream`` sends its response headers at once, the first ``lead`` events
straight after, then waits ``ttft`` seconds before the next event and
``chunk_delay`` seconds between content events. With ``drop=True`` it sends half
of the content events (at least one) and returns without finishing the chunked
body, so uvicorn closes the connection and the client fails mid-iteration.
``CutResponse`` does the same to a plain JSON answer: it announces the full
``content-length``, sends half the body and stops.

uvicorn logs "ASGI callable returned without completing response." for each cut;
that line is expected.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse

from .controls import ControlError, Controls

__all__ = ["Event", "EventStream", "CutResponse", "sse", "begin", "answer"]


def sse(data: Any, event: str | None = None, *, newline: str = "\n") -> bytes:
    """One server-sent event: optional ``event:`` line, a ``data:`` line, a blank line."""
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    head = f"event: {event}{newline}" if event else ""
    return f"{head}data: {payload}{newline}{newline}".encode()


@dataclass
class Event:
    body: bytes
    content: bool = False  # a content chunk: paced by chunk_delay, counted for drop


def _headers(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]


class EventStream:
    """A ``text/event-stream`` answer made of pre-built events, paced and optionally dropped."""

    def __init__(
        self,
        events: list[Event],
        *,
        lead: int = 0,
        ttft: float = 0.0,
        chunk_delay: float = 0.0,
        drop: bool = False,
        headers: dict[str, str] | None = None,
    ):
        self.events = events
        self.lead = lead
        self.ttft = ttft
        self.chunk_delay = chunk_delay
        self.drop = drop
        self.headers = {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", **(headers or {})}

    @property
    def drop_after(self) -> int:
        return max(1, sum(e.content for e in self.events) // 2)

    async def __call__(self, scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": _headers(self.headers)})
        sent_content = 0
        for index, event in enumerate(self.events):
            if index == self.lead and self.ttft > 0:
                await asyncio.sleep(self.ttft)
            elif event.content and sent_content and self.chunk_delay > 0:
                await asyncio.sleep(self.chunk_delay)
            await send({"type": "http.response.body", "body": event.body, "more_body": True})
            if event.content:
                sent_content += 1
                if self.drop and sent_content >= self.drop_after:
                    return  # no final empty body: uvicorn closes the connection mid-stream
        await send({"type": "http.response.body", "body": b"", "more_body": False})


class CutResponse:
    """A JSON answer whose connection closes after half of its announced body."""

    def __init__(self, content: Any, headers: dict[str, str] | None = None):
        self.body = json.dumps(content).encode()
        self.headers = {"content-type": "application/json", "content-length": str(len(self.body)), **(headers or {})}

    async def __call__(self, scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": _headers(self.headers)})
        await send({"type": "http.response.body", "body": self.body[: len(self.body) // 2], "more_body": True})


async def begin(provider, request: Request, error: Callable[..., JSONResponse]) -> tuple[Any, Controls] | JSONResponse:
    """Record the request, read its controls and apply the faults that come before any answer.

    Returns ``(body, controls)``, or the error response to send (``error(status, message=None)``
    builds it in the provider's own JSON shape): 400 for a bad control header, 429/500 on request.
    The ``slow`` fault sleeps here.
    """
    try:
        body, controls = await provider.intake(request)
    except ControlError as exc:
        return error(400, str(exc))
    await controls.wait_before_answer()
    if controls.fault in ("429", "500"):
        return error(int(controls.fault))
    return (body if isinstance(body, dict) else {}), controls


async def answer(payload: Any, controls: Controls, headers: dict[str, str] | None = None):
    """A non-streamed answer after ``controls.ttft`` seconds; cut in half on the ``drop`` fault."""
    if controls.ttft > 0:
        await asyncio.sleep(controls.ttft)
    if controls.fault == "drop":
        return CutResponse(payload, headers)
    return JSONResponse(payload, headers=headers)
