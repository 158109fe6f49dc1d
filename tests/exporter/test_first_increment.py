"""First increments count: proved against a real Prometheus 2.42 (/usr/bin/prometheus).

Two exporters are scraped every second by one Prometheus: ``held`` serves a new
series at zero for 1.5 s (and at least one scrape) before its value, as the
exporter does by default (60 s); ``control`` has no hold. The same first delta
of a new API key goes to both. In ``held``, Prometheus stores 0 then 0.25, so
``increase()`` over the range is 0.25; in ``control`` it stores only 0.25s and
``increase()`` is 0: the first call vanishes, which is the problem being solved.

``increase()`` is evaluated at the timestamp of the last stored sample, where
Prometheus' extrapolation adds nothing (no gap at the end; at the start it
stops where the counter was 0), so the value is exact, not approximate.
"""

import shutil

import pytest

from tests.exporter.otlp import number_point, request, sum_metric
from tests.prometheus_server import PROMETHEUS, PrometheusServer

pytestmark = pytest.mark.skipif(shutil.which(PROMETHEUS) is None, reason="needs /usr/bin/prometheus")

SERIES = 'genai_lens_cost_usd_total{job="%s",genai_lens_api_key="k-new"}'


def samples(prom, job):
    (result,) = prom.query(SERIES % job + "[1m]")
    return [(float(t), float(v)) for t, v in result["values"]]


def test_first_call_of_a_new_key_shows_in_increase(exporter):
    held = exporter(new_series_hold_seconds=1.5)
    control = exporter(new_series_hold_seconds=0)
    config = "global: {scrape_interval: 1s, evaluation_interval: 1s}\nscrape_configs:\n" + "".join(
        f"  - job_name: {job}\n    static_configs: [{{targets: ['127.0.0.1:{server.server.port}']}}]\n"
        for job, server in (("held", held), ("control", control))
    )
    existing = request(sum_metric("genai_lens.cost", "usd", [number_point(1.0, {"genai_lens.api_key": "k-old"})]))
    first_call = request(sum_metric("genai_lens.cost", "usd", [number_point(0.25, {"genai_lens.api_key": "k-new"})]))
    with PrometheusServer(config) as prom:
        for server in (held, control):
            assert server.post(existing).status_code == 200
        prom.wait_for_targets_up(2)
        for server in (held, control):
            assert server.post(first_call).status_code == 200
        # both jobs have stored the real value at least three times
        for job in ("held", "control"):
            prom.wait_until(f"count_over_time(({SERIES % job} == 0.25)[1m:])", lambda r: r and float(r[0]["value"][1]) >= 3, timeout=30)

        held_samples = samples(prom, "held")
        assert held_samples[0][1] == 0.0 and held_samples[-1][1] == 0.25
        assert {v for _, v in held_samples} == {0.0, 0.25}
        last = held_samples[-1][0]
        (spread,) = prom.query(f"max_over_time({SERIES % 'held'}[1m]) - min_over_time({SERIES % 'held'}[1m])", time=last)
        assert float(spread["value"][1]) == 0.25
        (increase,) = prom.query(f"increase({SERIES % 'held'}[1m])", time=last)
        assert float(increase["value"][1]) == pytest.approx(0.25, abs=1e-9)

        control_samples = samples(prom, "control")
        assert {v for _, v in control_samples} == {0.25}
        (lost,) = prom.query(f"increase({SERIES % 'control'}[1m])", time=control_samples[-1][0])
        assert float(lost["value"][1]) == 0.0
