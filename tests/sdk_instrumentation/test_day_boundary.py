"""An export at each UTC midnight (sdk_instrumentation/day_boundary.py)."""

from __future__ import annotations

import time

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

import sdk_instrumentation as lens
from sdk_instrumentation.day_boundary import DAY, DayBoundaryExport
from sdk_instrumentation.setup import DELTA_TEMPORALITY


def test_it_collects_at_midnight_and_not_before():
    reader = InMemoryMetricReader(preferred_temporality=DELTA_TEMPORALITY)
    provider = MeterProvider(metric_readers=[reader])
    counter = provider.get_meter("t").create_counter("c")
    counter.add(3, {"day": "before"})
    started = time.monotonic()
    midnight = 1_764_633_600  # 2025-12-02 00:00 UTC
    assert midnight % DAY == 0
    boundary = DayBoundaryExport(provider, clock=lambda: midnight - 0.3 + (time.monotonic() - started))
    try:
        assert 0.2 < boundary.seconds_to_midnight() <= 0.3
        deadline = time.monotonic() + 5
        while boundary.exports == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert boundary.exports == 1
        assert time.monotonic() - started >= 0.29  # not before midnight
        # The midnight collection took the points (the in-memory reader keeps what it collected) ...
        data = reader.get_metrics_data()
        points = [p for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics for p in m.data.data_points]
        assert [(dict(p.attributes), p.value) for p in points] == [({"day": "before"}, 3)]
        assert reader.get_metrics_data() is None  # ... and, delta, nothing is left
        assert DAY - 1 < boundary.seconds_to_midnight() <= DAY  # and waits for the next one
    finally:
        boundary.stop()
        provider.shutdown()
    assert not boundary._thread.is_alive()  # noqa: SLF001


def test_configure_starts_it_and_shutdown_stops_it():
    from exporter.app import create_app
    from exporter.settings import Settings
    from sdk_instrumentation.local_server import LocalServer

    lens.uninstrument()
    with LocalServer(create_app(Settings())) as receiver:
        configured = lens.configure(endpoint=receiver.url, set_global=False, instrument_clients=False,
                                    export_interval_seconds=3600)
        boundary = configured.day_boundary
        assert isinstance(boundary, DayBoundaryExport) and boundary._thread.is_alive()  # noqa: SLF001
        configured.shutdown()
    assert not boundary._thread.is_alive()  # noqa: SLF001
