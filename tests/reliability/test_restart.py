"""Restart without loss: ``genai-lens serve --state-file`` stopped with SIGTERM in the middle of steady
SDK traffic and started again on the same port.

Prometheus's ``increase()`` over the whole window must equal exactly what the SDK sent: the exports
that fail while the exporter is down keep their batches, which the next exports deliver (with their
Idempotency-Key) to the restarted process. A :class:`~tests.reliability.support.Ledger` wraps the
SDK's metric exporter and records, per export, what its new batch carried and whether everything
waiting was delivered; the SDK's own count of dropped points must stay 0.

``increase()`` is evaluated at the timestamp of the last scrape, with a window reaching back before
the first one: the first sample of each series is 0 (the exporter serves new series at zero for one
scrape), so Prometheus neither extrapolates at the start nor at the end, and ``increase()`` is exact.
"""

from __future__ import annotations

import signal
import threading
import time

import httpx
import pytest

import sdk_instrumentation as lens
from sdk_instrumentation.fake_provider import FakeProvider
from sdk_instrumentation.local_server import LocalServer
from tests.prometheus_server import PrometheusServer

from .support import ExporterProcess, Ledger, call_cost, chat, openai_client, served_totals, wait_for

SCRAPE = "250ms"


def _sample_times(prom, expr: str, window: str = "10m") -> list[float]:
    """Timestamps of the raw samples of ``expr[window]`` (the first series)."""
    result = prom.query(f"{expr}[{window}]")
    return [float(t) for t, _ in result[0]["values"]] if result else []


def _scalar(prom, expr: str, at: float) -> float:
    result = prom.query(expr, time=at)
    return float(result[0]["value"][1]) if result else 0.0


@pytest.mark.parametrize("export_timeout", [0.5, 10.0], ids=["short-timeout", "long-timeout"])
def test_sigterm_restart_loses_nothing(tmp_path, export_timeout):
    state_file = tmp_path / "state.json"
    log = tmp_path / "exporter.log"
    env = {"GENAI_LENS_NEW_SERIES_HOLD_SECONDS": "1"}
    first = ExporterProcess(state_file=state_file, env=env, log_path=log).start()
    port = first.port
    second = None
    config = ("global: {scrape_interval: %s, evaluation_interval: 1s}\n"
              "scrape_configs:\n  - job_name: genai-lens\n    scrape_interval: %s\n"
              "    static_configs: [{targets: ['127.0.0.1:%d']}]\n") % (SCRAPE, SCRAPE, port)
    sent = {"tokens": 0, "calls": 0, "cost": 0.0}
    stop = threading.Event()
    errors = []
    try:
        with PrometheusServer(config) as prom, LocalServer(FakeProvider().app) as provider:
            prom.wait_for_targets_up(1)
            started = time.time()
            configured = lens.configure(endpoint=first.url, service_name="restart", export_interval_seconds=0.2,
                                        export_timeout_seconds=export_timeout, set_global=False)
            ledger = Ledger.install(configured)
            client = openai_client(provider.url)

            def traffic():
                n = 0
                while not stop.is_set():
                    n += 1
                    tokens_in, tokens_out = 50 + n % 97, 5 + n % 31
                    try:
                        chat(client, tokens_in, tokens_out)
                    except Exception as error:  # noqa: BLE001 - the app must never see the exporter's absence
                        errors.append(error)
                        return
                    sent["tokens"] += tokens_in + tokens_out
                    sent["calls"] += 1
                    sent["cost"] += call_cost(tokens_in, tokens_out)
                    time.sleep(0.01)

            worker = threading.Thread(target=traffic)
            worker.start()
            try:
                time.sleep(2.0)
                # SIGTERM: uvicorn finishes in-flight requests, the lifespan writes the state file, then
                # uvicorn re-raises the signal, so the exit status is -SIGTERM (a clean, signalled exit).
                assert first.stop() == -signal.SIGTERM
                assert state_file.exists() and "state saved to" in log.read_text()
                time.sleep(0.5)                                # down: exports fail or retry
                second = ExporterProcess(port=port, state_file=state_file, env=env, log_path=log).start()
                time.sleep(2.0)
            finally:
                stop.set()
                worker.join(30)
            configured.force_flush()
            sdk_exporter = configured.metric_exporter
            dropped, waiting = dict(sdk_exporter.dropped), sdk_exporter.pending_points
            configured.shutdown()
            assert errors == [] and sent["calls"] > 100
            assert waiting == 0 and dropped == {"max_points": 0, "max_age": 0, "rejected": 0}

            failed, carried = ledger.failed(), ledger.carried()
            # The SDK handed every recorded call to its exporter; each batch either arrived or was reported lost.
            assert carried["tokens"] == sent["tokens"] and carried["calls"] == sent["calls"]
            assert carried["cost"] == pytest.approx(sent["cost"], abs=1e-9)
            assert failed["exports"] > 0   # exports failed while the exporter was down; their batches waited

            served = served_totals(httpx.get(second.url + "/metrics", timeout=10).text)
            assert served["tokens"] == sent["tokens"] and served["calls"] == sent["calls"]
            assert served["cost"] == pytest.approx(sent["cost"], abs=1e-9)

            # Prometheus: wait for a scrape showing the final values, then increase() at that scrape's time.
            wait_for(lambda: _scalar(prom, "sum(gen_ai_client_token_usage_sum)", time.time()) == sent["tokens"],
                     "Prometheus to scrape the final values", timeout=20)
            last = max(_sample_times(prom, "gen_ai_client_token_usage_sum"))
            window = f"{int(last - started) + 5}s"
            increase = {
                "tokens": _scalar(prom, f"sum(increase(gen_ai_client_token_usage_sum[{window}]))", last),
                "calls": _scalar(prom, f"sum(increase(gen_ai_client_operation_duration_seconds_count[{window}]))", last),
                "cost": _scalar(prom, f"sum(increase(genai_lens_cost_usd_total[{window}]))", last),
            }
            # The outage shows in Prometheus as failed scrapes, not as a counter reset.
            assert _scalar(prom, f"sum(resets(gen_ai_client_token_usage_sum[{window}]))", last) == 0
            assert _scalar(prom, f"min_over_time(up[{window}])", last) == 0
    finally:
        stop.set()
        first.stop()
        if second is not None:
            second.stop()

    assert increase["tokens"] == pytest.approx(sent["tokens"], abs=1e-6)
    assert increase["calls"] == pytest.approx(sent["calls"], abs=1e-6)
    assert increase["cost"] == pytest.approx(sent["cost"], abs=1e-9)
    text = log.read_text()
    assert "state saved to" in text and "state loaded from" in text
    print(f"\nrestart[{export_timeout}s]: sent {sent['calls']} calls / {sent['tokens']} tokens / {sent['cost']:.9f} USD; "
          f"{failed['exports']} exports failed during the outage, their batches delivered later; "
          f"increase() {increase['calls']:.0f} calls / {increase['tokens']:.0f} tokens / {increase['cost']:.9f} USD")
