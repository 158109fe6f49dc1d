"""The exporter's FastAPI application.

::

    app = create_app(Settings(series_limit=500))
    uvicorn.run(app, host="127.0.0.1", port=4318)     # what `genai-lens serve` does

Routes:

* ``POST /v1/metrics``: OTLP/HTTP metrics, protobuf or JSON, optionally gzip.
  Answers ``ExportMetricsServiceResponse`` in the request's encoding, with
  ``partial_success`` when points were rejected; 400 malformed body, 401 bad or
  missing bearer token, 413 body over the limit (as sent or decompressed),
  415 unsupported content type or encoding. Error bodies are ``google.rpc.Status``.
* ``POST /v1/traces``: OTLP/HTTP traces, the same encodings, limits, token and error answers. Each
  GenAI span of any instrumentation becomes the series the SDK makes for a call, priced here by
  the SDK's pricing engine (``exporter.span_metrics``); ``partial_success.rejected_spans`` counts
  the GenAI spans that could not be read.
* ``GET /metrics``: Prometheus text format, or OpenMetrics when ``Accept`` asks.
* ``GET /healthz`` (alive) and ``GET /readyz`` (state loaded, not shutting down).

A request with an ``Idempotency-Key`` header is applied at most once: a repeat of an applied key is
answered as a success. With ``settings.state_file`` every request is in the write-ahead log, on
disk, before it is applied and answered (``exporter.commit``); 503 when the disk refuses it. The
lifespan loads the state on start and compacts it on shutdown.
"""

from __future__ import annotations

import hmac
import math
import logging
import time
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from google.rpc import status_pb2
from prometheus_client import CollectorRegistry, Counter, Histogram

from .billing import BilledCollector
from .measured import MeasuredDays, MeasuredRows, project_of_alias
from .billing_openai import OpenAIBillingPoller
from .collector import CommitterCollector, StoreCollector, render
from .ingest import (
    JSON,
    PROTOBUF,
    BodyTooLarge,
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
    MalformedBody,
    decode_request,
    decompress,
    encode_message,
    media_type,
)
from .commit import CommitError, Committer
from .idempotency import KeyWindow
from .settings import Settings
from .span_metrics import SpanConverter
from .store import Store
from .wal import MAX_KEY_BYTES

__all__ = ["create_app"]

log = logging.getLogger("exporter")

# gRPC status codes used in google.rpc.Status error bodies.
_GRPC_CODE = {400: 3, 401: 16, 413: 8, 415: 3, 503: 14}


def _status(code: int, message: str, kind: str | None, headers: dict | None = None) -> Response:
    kind = kind or JSON
    body = encode_message(status_pb2.Status(code=_GRPC_CODE.get(code, 2), message=message), kind)
    return Response(body, status_code=code, media_type=kind, headers=headers)


def _token_ok(expected, header: str | None) -> bool:
    if expected is None:
        return True
    scheme, _, given = (header or "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), expected.get_secret_value().encode())


def _scrape_timeout(headers) -> float | None:
    """The scraper's timeout in seconds, from Prometheus's ``X-Prometheus-Scrape-Timeout-Seconds``."""
    try:
        timeout = float(headers.get("x-prometheus-scrape-timeout-seconds", ""))
    except ValueError:
        return None
    return timeout if timeout > 0 and math.isfinite(timeout) else None


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new exporter app with its own store and registry."""
    settings = settings or Settings()
    store = Store(
        series_limit=settings.series_limit,
        label_allow=settings.label_allow,
        label_deny=settings.label_deny,
        resource_labels=settings.resource_labels,
        hold_seconds=settings.new_series_hold_seconds,
        stream_ttl=settings.stream_ttl_seconds,
        max_streams=settings.max_streams,
        exemplars=settings.exemplars,
        budgets=settings.budgets,
        label_value_limits=settings.label_value_limits,
        # Per-UTC-day sums for the billing reconciliation (docs/reconciliation.md), when configured.
        measured=MeasuredDays(providers=("openai",)) if settings.billing.openai is not None else None,
    )
    spans = SpanConverter(key_attributes=tuple(settings.span_key_attributes), pricing_file=settings.pricing_file)
    registry = CollectorRegistry(auto_describe=True)
    requests_total = Counter(
        "genai_lens_exporter_requests", "HTTP requests served, by route and status code.", ["route", "code"], registry=registry
    )
    durations = Histogram(
        "genai_lens_exporter_request_duration_seconds", "HTTP request durations, by route.", ["route"], registry=registry,
        unit="seconds",
    )
    committer = Committer(
        store, settings.state_file,
        key_window=KeyWindow(settings.idempotency_max_keys, settings.idempotency_window_seconds),
        snapshot_interval_seconds=settings.snapshot_interval_seconds, wal_max_bytes=settings.wal_max_bytes,
    )
    collectors = [StoreCollector(store, created_timestamps=settings.created_timestamps),
                  CommitterCollector(committer), registry]
    # Billing reconciliation (docs/reconciliation.md): OpenAI's own usage and cost reports, polled in a
    # thread; a failing billing API never fails ingest, /metrics or the start (only a missing admin key does).
    openai_billing = settings.billing.openai
    billing = OpenAIBillingPoller(openai_billing) if openai_billing is not None and openai_billing.poll else None
    billing_collector = None
    if openai_billing is not None:  # every replica serves its measured figures; the polling one the billed
        billing_collector = BilledCollector(billing, measured=MeasuredRows(
            store, openai_billing.days, project_of_alias(openai_billing.projects)))
    if billing_collector is not None:
        collectors.append(billing_collector)
    limit = settings.max_body_bytes
    ready = {"ready": False}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await to_thread.run_sync(committer.start)
        if billing is not None:
            try:
                billing.start()  # reads the admin key: a missing key file or variable stops the start, naming it
            except Exception:
                await to_thread.run_sync(committer.stop)
                raise
        ready["ready"] = True
        try:
            yield
        finally:
            ready["ready"] = False
            if billing is not None:
                await to_thread.run_sync(billing.stop)
            try:
                await to_thread.run_sync(committer.stop)
            except Exception:  # a failed save must not hide the shutdown; the log still holds everything
                log.exception("could not write state file %s", settings.state_file)

    app = FastAPI(title="genai-lens exporter", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.store = store
    app.state.committer = committer
    app.state.registry = registry
    app.state.billing = billing  # the OpenAIBillingPoller, or None
    app.state.billing_collector = billing_collector

    @app.middleware("http")
    async def observe(request: Request, call_next):
        start = time.perf_counter()
        response = await call_next(request)
        route = request.url.path if request.url.path in ("/v1/metrics", "/v1/traces", "/metrics", "/healthz", "/readyz") else "other"
        durations.labels(route).observe(time.perf_counter() - start)
        requests_total.labels(route, str(response.status_code)).inc()
        return response

    async def read_otlp(request: Request, message_type, what: str):
        """``(kind, idempotency key, decoded message, body bytes)``, or the error ``Response`` to answer."""
        headers = request.headers
        kind = media_type(headers.get("content-type"))
        if not _token_ok(settings.ingest_token, headers.get("authorization")):
            return _status(401, "missing or invalid bearer token", kind, {"WWW-Authenticate": "Bearer"})
        if kind is None:
            return _status(415, f"unsupported content type {headers.get('content-type')!r}; use {PROTOBUF} or {JSON}", None)
        encoding = headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("gzip", "identity", ""):
            return _status(415, f"unsupported content encoding {encoding!r}; use gzip or none", kind)
        key = headers.get("idempotency-key", "").strip()
        if len(key.encode()) > MAX_KEY_BYTES or not key.isprintable() or not key.isascii():
            return _status(400, f"Idempotency-Key must be printable ASCII of at most {MAX_KEY_BYTES} bytes", kind)
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            return _status(413, f"body is over {limit} bytes", kind)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                return _status(413, f"body is over {limit} bytes", kind)
        try:
            data = decompress(bytes(body), limit) if encoding == "gzip" else bytes(body)
            message = decode_request(data, kind, message_type, what)
        except BodyTooLarge as error:
            return _status(413, str(error), kind)
        except MalformedBody as error:
            return _status(400, str(error), kind)
        return kind, key, message, data

    async def commit(kind: str, key: str, message, payload: bytes):
        """Submit a metrics request to the committer: its result, or the error ``Response`` to answer."""
        try:
            return await to_thread.run_sync(committer.submit, key, message, payload)
        except CommitError as error:  # the disk refused it: nothing applied, the sender retries
            return _status(503, str(error), kind, {"Retry-After": "1"})
        except Exception as error:  # never a 500: report it, keep serving
            log.exception("could not process an OTLP request")
            return _status(400, f"request could not be processed: {error!r}", kind)

    @app.post("/v1/metrics")
    async def ingest(request: Request) -> Response:
        read = await read_otlp(request, ExportMetricsServiceRequest, "metrics")
        if isinstance(read, Response):
            return read
        kind, key, message, data = read
        result = await commit(kind, key, message, data if kind == PROTOBUF else message.SerializeToString())
        if isinstance(result, Response):
            return result
        response = ExportMetricsServiceResponse()
        if result is not None and result.rejected:
            response.partial_success.rejected_data_points = result.rejected_count
            response.partial_success.error_message = result.error_message
        return Response(encode_message(response, kind), media_type=kind)

    @app.post("/v1/traces")
    async def ingest_traces(request: Request) -> Response:
        read = await read_otlp(request, ExportTraceServiceRequest, "traces")
        if isinstance(read, Response):
            return read
        kind, key, message, _ = read
        try:
            converted = await to_thread.run_sync(spans.convert, message)
        except Exception as error:  # never a 500
            log.exception("could not turn OTLP spans into metrics")
            return _status(400, f"spans could not be processed: {error!r}", kind)
        result = await commit(kind, key, converted.request, converted.request.SerializeToString())
        if isinstance(result, Response):
            return result
        response = ExportTraceServiceResponse()
        if converted.rejected_spans:
            response.partial_success.rejected_spans = converted.rejected_spans
            response.partial_success.error_message = converted.error_message
        elif result is not None and result.rejected:
            response.partial_success.error_message = "some metric points made from the spans were rejected: " + result.error_message
        return Response(encode_message(response, kind), media_type=kind)

    @app.get("/metrics")
    async def metrics(request: Request) -> Response:
        if not _token_ok(settings.scrape_token, request.headers.get("authorization")):
            return PlainTextResponse("missing or invalid bearer token\n", status_code=401, headers={"WWW-Authenticate": "Bearer"})
        body, content_type = await to_thread.run_sync(
            scrape, request.headers.get("accept"), _scrape_timeout(request.headers), time.monotonic())
        return Response(body, media_type=content_type)

    def scrape(accept: str | None, timeout: float | None, started: float) -> tuple[bytes, str]:
        """Release the held series due for it (durably), render, and count the series served at zero
        as seen only when the answer was ready within half the scraper's timeout: a scrape that timed
        out never saw them, so they stay held for the next one."""
        committer.release_due()
        held: list = []
        answer = render(collectors, accept, settings.created_timestamps, held=held)
        if held and (timeout is None or time.monotonic() - started <= timeout / 2):
            store.mark_served(held)
        return answer

    @app.get("/healthz")
    async def healthz() -> Response:
        return PlainTextResponse("ok\n")

    @app.get("/readyz")
    async def readyz() -> Response:
        if ready["ready"]:
            return PlainTextResponse("ready\n")
        return PlainTextResponse("not ready\n", status_code=503)

    return app
