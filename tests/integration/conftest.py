"""Fixtures of the integration tests: the whole pipeline scraped by a real Prometheus (``live``, see
pipeline.py), and a Prometheus holding 35 days of synthetic history made with
``promtool tsdb create-blocks-from openmetrics`` (``history``).

``history`` (module scope) is a second Prometheus with no scrapes whose data folder starts with
the blocks promtool made from ``History.openmetrics()``.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.pipeline import PROMTOOL, Live, live_pipeline  # noqa: F401  (Live: for type hints)
from tests.prometheus_server import PROMETHEUS, PrometheusServer


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/integration/" in str(item.fspath) and (shutil.which(PROMETHEUS) is None or not Path(PROMTOOL).exists()):
            item.add_marker(pytest.mark.skip(reason="needs /usr/bin/prometheus and /usr/bin/promtool"))


@pytest.fixture(scope="package")
def live(tmp_path_factory):
    """One pipeline for every integration module that reads it (none writes to it), stopped when the
    integration tests end (a session-wide one would keep Prometheus scraping through the rest)."""
    with live_pipeline(tmp_path_factory.mktemp("live")) as running:
        yield running


# ------------------------------------------------------------------ history

class History:
    """35 days of synthetic counters, one sample every 6 hours, ending on a Month (30 d) and Week boundary.

    Since the epoch, 1723680000 (2024-08-15 00:00 UTC, a Thursday) is a multiple of both 30 d and
    1 w, so Grafana's step-aligned buckets fall on samples. Every increment is a multiple of 1/8,
    so sums are exact in floating point. Two series start at day 10, at 0.
    """

    END = 1723680000
    START = END - 35 * 86400
    EVERY = 6 * 3600
    BASE = {"gen_ai_operation_name": "chat", "genai_lens_billing": "payg", "service_name": "history"}
    GPT = {"gen_ai_provider_name": "openai", "gen_ai_request_model": "gpt-4o", "genai_lens_api_key": "team-search"}
    GEMINI = {"gen_ai_provider_name": "gcp.gemini", "gen_ai_request_model": "gemini-2.5-flash",
              "genai_lens_api_key": "team-support"}
    LATE = 40  # the Gemini series start at sample 40 (day 10)

    def __init__(self):
        self.times = list(range(self.START, self.END + 1, self.EVERY))
        # (metric, labels, increment at sample i (None before the series starts))
        self.series = [
            ("cost", {**self.GPT, "genai_lens_cost_type": "input", "genai_lens_cost_source": "genai-prices"},
             lambda i: (i % 7 + 1) * 0.25),
            ("cost", {**self.GPT, "genai_lens_cost_type": "output", "genai_lens_cost_source": "genai-prices"},
             lambda i: (i % 5 + 1) * 0.5),
            ("cost", {**self.GEMINI, "genai_lens_cost_type": "other", "genai_lens_cost_source": "provider"},
             lambda i: (i % 3 + 1) * 0.125 if i >= self.LATE else None),
            ("tokens", {**self.GPT, "gen_ai_token_type": "input"}, lambda i: 1000.0 * (i % 4 + 1)),
            ("tokens", {**self.GEMINI, "gen_ai_token_type": "output"},
             lambda i: 250.0 * (i % 6 + 1) if i >= self.LATE else None),
        ]

    def samples(self, increment):
        """``[(timestamp, cumulative value)]``; the first sample of a series is 0."""
        out, value = [], 0.0
        for i, t in enumerate(self.times):
            step = increment(i)
            if step is None:
                continue
            value = value + step if out else 0.0
            out.append((t, value))
        return out

    def bucket(self, metric: str, label: str, start: int, end: int) -> dict[str, float]:
        """Growth of ``metric`` per ``label`` value in the bucket (start, end]: the sum of the increments in it."""
        sums: dict[str, float] = {}
        for name, labels, increment in self.series:
            if name != metric:
                continue
            points = self.samples(increment)
            inside = [v for t, v in points if start <= t <= end]
            if len(inside) >= 2:
                growth = sum(b - a for a, b in zip(inside, inside[1:]))
                sums[labels[label]] = sums.get(labels[label], 0.0) + growth
        return sums

    def openmetrics(self) -> str:
        def fmt(labels: dict, **extra) -> str:
            return ",".join(f'{k}="{v}"' for k, v in sorted({**self.BASE, **labels, **extra}.items()))

        lines = ["# TYPE genai_lens_cost_usd counter"]
        for name, labels, increment in self.series:
            if name == "cost":
                lines += [f"genai_lens_cost_usd_total{{{fmt(labels)}}} {v!r} {t}" for t, v in self.samples(increment)]
        lines.append("# TYPE gen_ai_client_token_usage histogram")
        for name, labels, increment in self.series:
            if name == "tokens":
                for n, (t, v) in enumerate(self.samples(increment)):
                    lines += [f'gen_ai_client_token_usage_bucket{{{fmt(labels, le="+Inf")}}} {n} {t}',
                              f"gen_ai_client_token_usage_count{{{fmt(labels)}}} {n} {t}",
                              f"gen_ai_client_token_usage_sum{{{fmt(labels)}}} {v!r} {t}"]
        lines.append("# EOF")
        return "\n".join(lines) + "\n"


def _launcher(blocks: Path, directory: Path) -> Path:
    """An executable for ``PrometheusServer(binary=...)``: copies ``blocks`` into the fresh data folder
    Prometheus is given, then runs /usr/bin/prometheus with a 10-year retention (so the 2024 history stays)."""
    script = directory / "prometheus-with-history"
    script.write_text("#!/bin/sh\n"
                      'for arg; do case "$arg" in --storage.tsdb.path=*) '
                      f'cp -R "{blocks}" "${{arg#*=}}";; esac; done\n'
                      f'exec {PROMETHEUS} "$@" --storage.tsdb.retention.time=3650d\n')
    script.chmod(0o755)
    return script


@dataclass
class Loaded:
    prom: PrometheusServer
    history: History


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("history")
    data = History()
    source = tmp / "history.om"
    source.write_text(data.openmetrics())
    blocks = tmp / "blocks"
    result = subprocess.run([PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", "-q", str(source), str(blocks)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    with PrometheusServer("global: {scrape_interval: 1s, evaluation_interval: 1s}\n",
                          binary=str(_launcher(blocks, tmp)), timeout=30) as prom:
        yield Loaded(prom, data)
