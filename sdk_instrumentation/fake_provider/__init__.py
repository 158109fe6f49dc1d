"""A local fake LLM provider that speaks the OpenAI and Gemini wire protocols.

The real ``openai`` and ``google-genai`` clients work against it unchanged, so the
demo, the SDK tests and the benchmarks exercise real HTTP, real SSE parsing and
real error mapping without a network or an account::

    import openai
    from google import genai
    from google.genai import types
    from sdk_instrumentation.fake_provider import FakeProvider
    from sdk_instrumentation.local_server import LocalServer

    provider = FakeProvider(ttft=0.0, chunk_delay=0.0, slow_seconds=2.0)
    with LocalServer(provider.app) as server:
        oai = openai.OpenAI(base_url=server.url + "/v1", api_key="sk-test-1234abcd", max_retries=0)
        oai.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}],
                                    extra_headers={"x-fake-output-tokens": "7"})

        # Gemini Developer API
        g = genai.Client(api_key="AIza-test", http_options=types.HttpOptions(base_url=server.url))
        g.models.generate_content(model="gemini-2.0-flash", contents="hi")

        # Vertex AI, express mode (API key): POST /v1beta1/publishers/google/models/{model}:...
        v = genai.Client(vertexai=True, api_key="AQ-test",
                         http_options=types.HttpOptions(base_url=server.url))

        # Vertex AI with project + location: POST /v1beta1/projects/{p}/locations/{l}/publishers/google/models/...
        # The client needs credentials that already hold a token (no refresh, so no network);
        # google.auth.credentials.AnonymousCredentials does NOT work (no token; refreshing it raises).
        import google.oauth2.credentials
        v = genai.Client(vertexai=True, project="demo-project", location="us-central1",
                         credentials=google.oauth2.credentials.Credentials(token="fake-token"),
                         http_options=types.HttpOptions(base_url=server.url))

    provider.requests   # [RecordedRequest(method, path, query, headers, body), ...]

Every OpenAI call it answers is booked in ``provider.organization``, which answers OpenAI's
organization Usage and Costs APIs (``GET /v1/organization/usage/*``, ``/costs``, ``/projects``,
``/projects/{id}/api_keys``, with ``Authorization: Bearer <admin_key>``) from those bookings::

    provider = FakeProvider(api_keys={"sk-team-a-0123456789abcdef": ("proj_a", "key_a")},
                            admin_key="sk-admin-fake", clock=time.time)

See ``organization_api.py``.

Per-request behaviour (token counts, faults, pacing, reply text, model name) is
set with ``x-fake-*`` request headers: see ``controls.py`` and docs/fake_provider.md.
The constructor arguments are provider-wide defaults and may be changed at run time.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from . import gemini_api, openai_api, organization_api
from .controls import Controls, ControlError
from .organization_api import DEFAULT_ADMIN_KEY, Organization

__all__ = ["FakeProvider", "RecordedRequest", "Controls", "ControlError", "Organization", "DEFAULT_REPLY"]

DEFAULT_REPLY = "The quick brown fox jumps over the lazy dog"

# Secrets never kept in recorded requests: the key stays (so tests can see it was sent), the value goes.
_SECRET_HEADERS = frozenset({"authorization", "x-goog-api-key", "api-key", "proxy-authorization"})
REDACTED = "[redacted]"


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake provider received it (secrets redacted)."""

    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None


class FakeProvider:
    """The fake provider: ``app`` is the ASGI app, ``requests`` what it received, in order,
    ``organization`` the usage ledger of the OpenAI calls it answered (``organization_api``).

    ``api_keys`` (``{api key: (project id, key id)}``), ``admin_key`` and ``clock`` are passed to the
    ``Organization``; they are its attributes (``provider.organization.clock``, ...) afterwards.
    """

    def __init__(
        self,
        ttft: float = 0.0,
        chunk_delay: float = 0.0,
        slow_seconds: float = 2.0,
        reply: str = DEFAULT_REPLY,
        *,
        api_keys: dict[str, tuple[str, str]] | None = None,
        admin_key: str = DEFAULT_ADMIN_KEY,
        clock: Callable[[], float] = time.time,
    ):
        self.ttft = ttft
        self.chunk_delay = chunk_delay
        self.slow_seconds = slow_seconds
        self.reply = reply
        self.organization = Organization(api_keys=api_keys, admin_key=admin_key, clock=clock)
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route("/healthz", _healthz, methods=["GET"]),
                *openai_api.routes(self),
                *organization_api.routes(self),
                *gemini_api.routes(self),
            ]
        )

    def clear(self) -> None:
        """Forget the recorded requests."""
        with self._lock:
            self.requests.clear()

    async def intake(self, request: Request) -> tuple[Any, Controls]:
        """Record ``request`` and resolve its controls; raises ``ControlError`` on a bad ``x-fake-*`` header."""
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        headers = {k.lower(): (REDACTED if k.lower() in _SECRET_HEADERS else v) for k, v in request.headers.items()}
        recorded = RecordedRequest(request.method, request.url.path, dict(request.query_params), headers, body)
        with self._lock:
            self.requests.append(recorded)
        return body, Controls.from_headers(request.headers, body, self)


async def _healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})
