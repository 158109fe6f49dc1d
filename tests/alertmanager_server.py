"""A real Alertmanager for tests, and a webhook receiver it posts to, both on 127.0.0.1.

::

    with WebhookReceiver() as hooks, AlertmanagerServer(config_yaml) as am:
        ...                                  # Prometheus sends alerts to am.address
        hooks.wait_for(lambda posts: ..., "what") # the JSON bodies Alertmanager posted, with their paths
        am.alerts()                          # GET /api/v2/alerts: every alert, with its status

``AlertmanagerServer`` (a ``tests.daemon.LocalDaemon``) runs Debian's ``/usr/bin/prometheus-alertmanager`` with a private config
and data folder, clustering off, on a free port; ``stop()`` terminates it and removes the folder.
Every wait is bounded and raises ``TimeoutError`` with what was last seen.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.daemon import LocalDaemon

__all__ = ["ALERTMANAGER", "AlertmanagerServer", "WebhookReceiver"]

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"


class AlertmanagerServer(LocalDaemon):
    """Alertmanager running ``config_yaml`` (a string)."""

    name = "Alertmanager"

    def __init__(self, config_yaml: str, *, binary: str = ALERTMANAGER, timeout: float = 30.0):
        super().__init__(binary, timeout)
        self.config_yaml = config_yaml

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> "AlertmanagerServer":
        folder = self._prepare("alertmanager-test-")
        config_path = folder / "alertmanager.yml"
        config_path.write_text(self.config_yaml)
        self._launch([
            f"--config.file={config_path}",
            f"--storage.path={folder / 'data'}",
            f"--web.listen-address={self.address}",
            "--cluster.listen-address=",  # no gossip port: a single, private instance
            "--log.level=warn",
        ], "/-/ready")
        return self

    def alerts(self) -> list[dict]:
        """Every alert Alertmanager holds (``/api/v2/alerts``), suppressed ones included."""
        response = self._client.get(self.url + "/api/v2/alerts")
        response.raise_for_status()
        return response.json()

    def wait_until(self, predicate, what: str, timeout: float | None = None) -> list[dict]:
        """Poll ``alerts()`` until ``predicate(alerts)`` is true; returns those alerts."""
        return self._wait(lambda: (lambda a: a if predicate(a) else None)(self.alerts()), what, timeout)


class WebhookReceiver:
    """Collects the notifications Alertmanager's webhook_configs post: ``posts`` is ``[(path, body)]``."""

    MAX_POSTS = 10_000  # a bound on what one test can make it hold

    def __init__(self):
        self.posts: list[tuple[str, dict]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (the http.server API)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with receiver._lock:
                    if len(receiver.posts) < receiver.MAX_POSTS:
                        receiver.posts.append((self.path, body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook-receiver", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def snapshot(self) -> list[tuple[str, dict]]:
        with self._lock:
            return list(self.posts)

    def wait_for(self, predicate, what: str, timeout: float = 60.0) -> list[tuple[str, dict]]:
        """Poll until ``predicate(posts)`` is true; returns the posts."""
        deadline = time.monotonic() + timeout
        while True:
            posts = self.snapshot()
            if predicate(posts):
                return posts
            if time.monotonic() > deadline:
                raise TimeoutError(f"waiting for {what}: got {json.dumps(posts, indent=1)[-4000:]}")
            time.sleep(0.1)

    def __enter__(self) -> "WebhookReceiver":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
