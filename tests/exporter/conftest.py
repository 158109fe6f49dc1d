"""Fixtures for the exporter tests: a real exporter served by uvicorn on 127.0.0.1."""

from __future__ import annotations

import httpx
import pytest

from exporter import Settings, create_app
from sdk_instrumentation.local_server import LocalServer


class Running:
    """An exporter app on a free port with an httpx client."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.app = create_app(settings)
        self.server = LocalServer(self.app)
        self.client = httpx.Client(timeout=10.0)

    def __enter__(self):
        self.server.start()
        return self

    def __exit__(self, *exc):
        self.client.close()
        self.server.stop()

    @property
    def url(self) -> str:
        return self.server.url

    def post(self, request, headers=None, **kwargs) -> httpx.Response:
        headers = {"Content-Type": "application/x-protobuf", **(headers or {})}
        return self.client.post(self.url + "/v1/metrics", content=request.SerializeToString(), headers=headers, **kwargs)

    def metrics(self, headers=None) -> str:
        response = self.client.get(self.url + "/metrics", headers=headers or {})
        assert response.status_code == 200, response.text
        return response.text


@pytest.fixture
def exporter():
    """``exporter(**settings)`` starts an exporter (no new-series hold unless asked); stopped after the test."""
    running = []

    def start(**overrides) -> Running:
        overrides.setdefault("new_series_hold_seconds", 0)
        server = Running(Settings(**overrides)).__enter__()
        running.append(server)
        return server

    yield start
    for server in running:
        server.__exit__(None, None, None)
