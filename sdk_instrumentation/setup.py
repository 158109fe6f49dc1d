"""One-call setup: providers, exporters and instrumentation.

    import sdk_instrumentation as lens
    lens.configure(endpoint="http://127.0.0.1:4318", service_name="checkout-api")
    lens.instrument()                 # every supported client that is installed

or, for one client only, with its own alias and attributes::

    client = lens.instrument_client(openai.OpenAI(), api_key_alias="team-search", attributes={"team": "search"})

``configure()`` sets global tracer and meter providers with OTLP/HTTP exporters
and delta temporality for metrics (what the genai-lens exporter wants: any
replica can take any batch), exemplars linking each metric point to the
span of a call that made it (``exemplars``), and an export at each UTC midnight
so no point mixes two days (``day_boundary``). ``endpoint`` is where metrics go (the exporter);
spans go to ``traces_endpoint``, or wherever the standard
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_ENDPOINT`` say,
and nowhere if none is set or ``OTEL_TRACES_EXPORTER=none``. Without ``endpoint`` the metrics exporter reads the
standard ``OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_ENDPOINT``.
A bad pricing file raises ``PricingFileError`` here, naming file and line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider, ObservableCounter, UpDownCounter
from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from .api_keys import ApiKeyLabeler, load_aliases
from .client_options import ClientOptions, set_options
from .day_boundary import DayBoundaryExport
from .exemplars import exemplar_views
from .histograms import LocalHistograms, LocalHistogramsExporter
from .instruments import Instruments
from .telemetry import Telemetry
from .wrappers import telemetry_from

__all__ = ["configure", "instrument", "uninstrument", "instrument_client", "Configured", "DELTA_TEMPORALITY", "default_labeler"]

DELTA_TEMPORALITY = {
    Counter: AggregationTemporality.DELTA,
    Histogram: AggregationTemporality.DELTA,
    ObservableCounter: AggregationTemporality.DELTA,
    UpDownCounter: AggregationTemporality.CUMULATIVE,
}


@dataclass
class Configured:
    """What ``configure()`` set up; ``shutdown()`` flushes and stops the exporters."""

    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    telemetry: Telemetry
    metric_exporter: Any = None  # the DeliveringMetricExporter: its pending_points and dropped counts
    day_boundary: Any = None     # the DayBoundaryExport: an export at each UTC midnight

    def force_flush(self, timeout_millis: int = 10_000) -> None:
        self.tracer_provider.force_flush(timeout_millis)
        self.meter_provider.force_flush(timeout_millis)

    def shutdown(self) -> None:
        if self.day_boundary is not None:
            self.day_boundary.stop()
        uninstrument()
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


def default_labeler(api_key_aliases: str | os.PathLike | Mapping[str, str] | None = None) -> ApiKeyLabeler:
    """A labeler from a mapping, an alias file, or ``GENAI_LENS_API_KEY_ALIASES`` (a file path)."""
    if api_key_aliases is None:
        api_key_aliases = os.environ.get("GENAI_LENS_API_KEY_ALIASES") or None
    if api_key_aliases is None:
        return ApiKeyLabeler()
    if isinstance(api_key_aliases, Mapping):
        return ApiKeyLabeler(api_key_aliases)
    return ApiKeyLabeler(load_aliases(api_key_aliases))


def _metrics_endpoint(endpoint: str) -> str:
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith("/v1/metrics") else endpoint + "/v1/metrics"


def _otlp_metrics_settings(endpoint: str | None, headers: Mapping[str, str] | None):
    """(endpoint, headers, compression) as the OTLP exporter reads them: the arguments, else the
    standard ``OTEL_EXPORTER_OTLP_[METRICS_]ENDPOINT`` / ``_HEADERS`` / ``_COMPRESSION`` variables."""
    from opentelemetry.util.re import parse_env_headers

    env = os.environ.get
    if endpoint:
        url = _metrics_endpoint(endpoint)
    elif env("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"):
        url = env("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
    else:
        url = _metrics_endpoint(env("OTEL_EXPORTER_OTLP_ENDPOINT") or "http://localhost:4318")
    if headers is None:
        raw = env("OTEL_EXPORTER_OTLP_METRICS_HEADERS") or env("OTEL_EXPORTER_OTLP_HEADERS") or ""
        headers = parse_env_headers(raw, liberal=True)
    compression = (env("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION") or env("OTEL_EXPORTER_OTLP_COMPRESSION") or "").strip()
    return url, dict(headers), "gzip" if compression.lower() == "gzip" else None


def configure(*, endpoint: str | None = None, traces_endpoint: str | None = None, service_name: str | None = None,
              pricing_file: str | os.PathLike | None = None, api_key_aliases=None, headers: Mapping[str, str] | None = None,
              export_interval_seconds: float | None = None, export_timeout_seconds: float = 10.0,
              capture_content: bool | None = None, attributes: Mapping[str, Any] | None = None,
              instrument_clients: bool = True, set_global: bool = True, undelivered_max_points: int = 100_000,
              undelivered_max_age_seconds: float = 900.0) -> Configured:
    """Set up tracing and metrics export and (by default) instrument every installed client.

    Metric batches the exporter did not take are kept and sent again with their Idempotency-Key, up
    to ``undelivered_max_points`` data points and ``undelivered_max_age_seconds`` (``delivery``)."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    from .delivery import DROPPED_POINTS, DeliveringMetricExporter

    from .pricing import Pricing

    pricing = Pricing(pricing_file=pricing_file)  # raises PricingFileError early, naming file and line
    labeler = default_labeler(api_key_aliases)
    resource = Resource.create({SERVICE_NAME: service_name} if service_name else {})

    url, metric_headers, compression = _otlp_metrics_settings(endpoint, headers)
    metric_exporter = DeliveringMetricExporter(
        url, headers=metric_headers, timeout=export_timeout_seconds, compression=compression,
        max_points=undelivered_max_points, max_age_seconds=undelivered_max_age_seconds,
        preferred_temporality=DELTA_TEMPORALITY)
    # The SDK's histograms cost ~30 µs a value; genai-lens aggregates its own and adds them to each batch.
    histograms = LocalHistograms()
    interval = export_interval_seconds
    if interval is None and not os.environ.get("OTEL_METRIC_EXPORT_INTERVAL"):
        interval = 10.0
    reader = PeriodicExportingMetricReader(
        LocalHistogramsExporter(metric_exporter, histograms, resource),
        export_interval_millis=interval * 1000 if interval is not None else None,
        export_timeout_millis=export_timeout_seconds * 1000)
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader], views=exemplar_views())
    Instruments.shared(meter_provider, histograms=histograms)
    meter_provider.get_meter("sdk_instrumentation.delivery").create_observable_counter(
        DROPPED_POINTS, callbacks=[metric_exporter.observe_dropped], unit="{point}",
        description="Metric data points the SDK dropped undelivered, by reason (max_points, max_age, rejected).")

    tracer_provider = TracerProvider(resource=resource)
    traces_off = os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none"
    if not traces_off and (traces_endpoint or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
                           or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")):
        span_exporter = OTLPSpanExporter(endpoint=traces_endpoint, headers=dict(headers) if headers else None,
                                         timeout=export_timeout_seconds)
        tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter))

    if set_global:
        trace.set_tracer_provider(tracer_provider)
        metrics.set_meter_provider(meter_provider)
    telemetry = Telemetry(tracer_provider=tracer_provider, meter_provider=meter_provider, pricing=pricing,
                          labeler=labeler, capture_content=capture_content, attributes=attributes)
    if instrument_clients:
        instrument(telemetry=telemetry)
    return Configured(tracer_provider, meter_provider, telemetry, metric_exporter, DayBoundaryExport(meter_provider))


def _instrumentors():
    found = []
    try:
        import openai  # noqa: F401

        from .openai_instrumentor import OpenAIInstrumentor
        found.append(OpenAIInstrumentor())
    except ImportError:
        pass
    try:
        import google.genai  # noqa: F401

        from .google_genai_instrumentor import GoogleGenAIInstrumentor
        found.append(GoogleGenAIInstrumentor())
    except ImportError:
        pass
    return found


def instrument(**kwargs: Any) -> list:
    """Instrument every supported client that is installed; returns the instrumentors.

    Keyword arguments go to each instrumentor's ``instrument()``; one ``Telemetry``
    is shared between them so pricing and key labels are resolved once.
    """
    if "telemetry" not in kwargs:
        kwargs["telemetry"] = telemetry_from(kwargs)
    instrumentors = _instrumentors()
    for instrumentor in instrumentors:
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()
        instrumentor.instrument(**kwargs)
    return instrumentors


def uninstrument() -> None:
    for instrumentor in _instrumentors():
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()


def instrument_client(client, *, api_key_alias: str | None = None, attributes: Mapping[str, Any] | None = None,
                      provider: str | None = None, **instrument_kwargs: Any):
    """Instrument one client instance (``openai.OpenAI``/``AsyncOpenAI`` or ``google.genai.Client``).

    ``api_key_alias`` names the key in ``genai_lens.api_key``; ``attributes`` are added to
    every span and metric of this client; ``provider`` overrides ``gen_ai.provider.name``.
    If its instrumentor is not active yet, it is turned on for registered clients only.
    Returns the client.
    """
    options = ClientOptions(api_key_alias=api_key_alias, attributes=dict(attributes or {}), provider=provider)
    api_client = getattr(client, "_api_client", None)
    if api_client is not None:  # google.genai.Client
        from .google_genai_instrumentor import GoogleGenAIInstrumentor as Instrumentor
        set_options(api_client, options)
    else:
        from .openai_instrumentor import OpenAIInstrumentor as Instrumentor
        set_options(client, options)
    instrumentor = Instrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(all_clients=False, **instrument_kwargs)
    return client
