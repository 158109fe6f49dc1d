"""Workload runners for the concurrency tests, importable by ``multiprocessing`` (spawn) children.

::

    steps = worker_steps(seed=3, calls=24)     # the demo's deterministic mix, without its slow calls
    run_worker(exporter_url, provider_url, seed=3, calls=24)   # in a child: its own SDK, exports deltas, flushes

Each worker process has its own ``MeterProvider`` (``sdk_instrumentation.configure``) exporting
delta temporality over OTLP/HTTP, so the exporter must add the deltas of many processes.
"""

from __future__ import annotations

from exporter.demo import DEMO_KEYS, build_workload, make_clients, run_workload
from sdk_instrumentation.api_keys import fingerprint

__all__ = ["ALIASES", "worker_steps", "run_steps", "run_worker"]

ALIASES = {}
for _openai_key, _gemini_key, _alias in DEMO_KEYS:
    if _alias:
        ALIASES[fingerprint(_openai_key)] = _alias
        ALIASES[fingerprint(_gemini_key)] = _alias


def worker_steps(seed: int, calls: int) -> list:
    """The demo workload for ``seed``, slow calls left out (they only add waiting)."""
    return [step for step in build_workload(calls, seed=seed) if not step.slow]


def run_steps(steps, provider_url: str) -> tuple[int, int]:
    return run_workload(steps, make_clients(provider_url))


def run_worker(exporter_url: str, provider_url: str, seed: int, calls: int, service_name: str = "reliability",
               export_timeout_seconds: float = 10.0) -> tuple[int, int]:
    """Configure the SDK in this process, run the workload, flush and shut down; returns (ok, failed)."""
    import sdk_instrumentation as lens

    configured = lens.configure(endpoint=exporter_url, service_name=service_name, api_key_aliases=ALIASES,
                                export_interval_seconds=0.3, export_timeout_seconds=export_timeout_seconds,
                                set_global=False)
    try:
        return run_steps(worker_steps(seed, calls), provider_url)
    finally:
        configured.shutdown()   # final collect + export of the last deltas
