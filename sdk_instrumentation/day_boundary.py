"""An export at each UTC midnight, so no delta point holds the calls of two days.

The exporter counts each delta point on the UTC day its interval starts (docs/reconciliation.md),
to compare a day with the provider's daily billing. A periodic reader's interval that crossed
midnight would carry calls of both days; so ``configure()`` also collects and exports right at
each UTC midnight::

    boundary = DayBoundaryExport(meter_provider)   # a daemon thread; sleeps until midnight
    boundary.stop()                                # Configured.shutdown() does it

A call that ends in the few milliseconds between midnight and that export counts on the day
before. A failing export is logged once; the next periodic one carries the data.
"""

from __future__ import annotations

import threading
import time

from .safety import log_once

__all__ = ["DayBoundaryExport", "DAY"]

DAY = 86400


class DayBoundaryExport:
    def __init__(self, meter_provider, clock=time.time, timeout_millis: float = 10_000):
        self.meter_provider = meter_provider
        self.clock = clock
        self.timeout_millis = timeout_millis
        self.exports = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="genai-lens-day-boundary", daemon=True)
        self._thread.start()

    def seconds_to_midnight(self) -> float:
        now = self.clock()
        return (now // DAY + 1) * DAY - now

    def _run(self) -> None:
        while not self._stop.wait(self.seconds_to_midnight()):
            try:
                self.meter_provider.force_flush(self.timeout_millis)
                self.exports += 1
            except Exception as exc:  # noqa: BLE001 - never break the app
                log_once("metrics.day_boundary", exc)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
