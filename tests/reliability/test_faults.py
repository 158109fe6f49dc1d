"""Exactly once under faults, end to end: several app processes (each its own SDK), a faulty proxy,
``genai-lens serve --state-file`` killed with SIGKILL at random moments, and a real Prometheus.

The proxy, per request (seeded): passes it, cuts the connection before it reaches the exporter,
cuts it after the exporter applied it (the answer is lost), or holds the answer past the SDK's export
timeout. Prometheus scrapes the exporter itself every 250 ms. ``increase()`` over the whole window,
evaluated at the last scrape, must equal the exact workload (tests/workload_expectations.py): nothing
lost, nothing counted twice, and the SDKs report no dropped point.

With two replicas behind the proxy taking turns, one killed -9 mid-traffic and restarted, ``sum()`` over
both equals the workload exactly.
"""

from __future__ import annotations

import multiprocessing
import random
import threading
import time

import pytest

from sdk_instrumentation.fake_provider import FakeProvider
from sdk_instrumentation.local_server import LocalServer
from tests.prometheus_server import PrometheusServer
from tests.proxy import FaultyProxy
from tests.workload_expectations import expected

from .support import ExporterProcess, wait_for
from .workers import run_worker, worker_steps

CALLS = 60
EXPORT_TIMEOUT = 1.0
HOLD = {"GENAI_LENS_NEW_SERIES_HOLD_SECONDS": "1"}


def wanted(seeds) -> dict[str, float]:
    by_model, _ = expected([step for seed in seeds for step in worker_steps(seed, CALLS)])
    return {"tokens": sum(r["input_tokens"] + r["output_tokens"] for r in by_model.values()),
            "calls": sum(r["requests"] + r["errors"] for r in by_model.values()),
            "cost": sum(r["cost"] for r in by_model.values())}


def prometheus_config(ports) -> str:
    targets = ", ".join(f"'127.0.0.1:{port}'" for port in ports)
    return ("global: {scrape_interval: 250ms, evaluation_interval: 1s}\n"
            "scrape_configs:\n  - job_name: genai-lens\n    scrape_interval: 250ms\n"
            f"    static_configs: [{{targets: [{targets}]}}]\n")


def scalar(prom, expr: str, at: float) -> float:
    result = prom.query(expr, time=at)
    return float(result[0]["value"][1]) if result else 0.0


def increases(prom, started: float, want: dict) -> tuple[dict, float]:
    """``increase()`` of tokens, calls and cost over the whole run, summed over the exporters.

    Each target is scraped at its own phase, so each one's ``increase()`` is evaluated at its own last
    scrape (where Prometheus extrapolates nothing) and the results are added."""
    try:
        wait_for(lambda: scalar(prom, "sum(gen_ai_client_token_usage_sum)", time.time()) == want["tokens"],
                 "Prometheus to scrape the final values", timeout=30)
    except TimeoutError:
        pass  # the totals never matched: the assertions below show by how much
    time.sleep(0.6)  # two more scrapes of the final values
    got = dict.fromkeys(("tokens", "calls", "cost", "resets"), 0.0)
    last_of_all = 0.0
    for target in prom.query("up"):
        instance = target["metric"]["instance"]
        last = float(prom.query(f'max(timestamp(gen_ai_client_token_usage_sum{{instance="{instance}"}}))')[0]["value"][1])
        last_of_all = max(last_of_all, last)
        window = f"{int(last - started) + 5}s"
        only = f'{{instance="{instance}"}}'
        got["tokens"] += scalar(prom, f"sum(increase(gen_ai_client_token_usage_sum{only}[{window}]))", last)
        got["calls"] += scalar(prom, f"sum(increase(gen_ai_client_operation_duration_seconds_count{only}[{window}]))", last)
        got["cost"] += scalar(prom, f"sum(increase(genai_lens_cost_usd_total{only}[{window}]))", last)
        got["resets"] += scalar(prom, f"sum(resets(gen_ai_client_token_usage_sum{only}[{window}]))", last)
    got["dropped"] = scalar(prom, "sum(genai_lens_sdk_export_dropped_points_total)", last_of_all)
    return got, last_of_all


def run_apps(proxy_url: str, provider_url: str, seeds) -> list:
    context = multiprocessing.get_context("spawn")
    with context.Pool(len(seeds)) as pool:
        return pool.starmap_async(run_worker, [(proxy_url, provider_url, seed, CALLS, "faults", EXPORT_TIMEOUT)
                                               for seed in seeds]).get(timeout=240)


class Killer(threading.Thread):
    """Kills one exporter with SIGKILL at random moments while the apps run, restarting it each time."""

    def __init__(self, replicas: list, index: int, rng: random.Random, kills: int, state_file, log):
        super().__init__()
        self.replicas, self.index, self.rng, self.kills = replicas, index, rng, kills
        self.state_file, self.log = state_file, log
        self.done = threading.Event()
        self.killed = 0

    def run(self) -> None:
        for _ in range(self.kills):
            if self.done.wait(self.rng.uniform(0.8, 2.0)):
                return
            old = self.replicas[self.index]
            old.process.kill()
            old.process.wait(10)
            old.stop()
            self.killed += 1
            time.sleep(self.rng.uniform(0.0, 0.5))  # down a moment: exports fail and wait
            self.replicas[self.index] = ExporterProcess(port=old.port, state_file=self.state_file, env=HOLD,
                                                        log_path=self.log).start()


def test_faults_kills_and_slow_answers_count_everything_exactly_once(tmp_path):
    seeds = [31, 32, 33]
    rng = random.Random(12)
    decisions = ["pass"] * 14 + ["cut_before", "cut_before", "cut_after", "cut_after", f"delay:{EXPORT_TIMEOUT + 0.5}"]
    plan = [rng.choice(decisions) for _ in range(100_000)]
    state, log = tmp_path / "state.json", tmp_path / "exporter.log"
    replicas = [ExporterProcess(state_file=state, env=HOLD, log_path=log).start()]
    killer = Killer(replicas, 0, rng, kills=2, state_file=state, log=log)
    try:
        with LocalServer(FakeProvider().app) as provider, \
                FaultyProxy([replicas[0].url], decide=lambda n: plan[n % len(plan)]) as proxy, \
                PrometheusServer(prometheus_config([replicas[0].port])) as prom:
            prom.wait_for_targets_up(1)
            started = time.time()
            killer.start()
            results = run_apps(proxy.url, provider.url, seeds)
            killer.done.set()
            killer.join(60)
            want = wanted(seeds)
            got, _ = increases(prom, started, want)
    finally:
        killer.done.set()
        for replica in replicas:
            replica.stop()
    assert len(results) == len(seeds) and killer.killed == 2
    assert all(proxy.counts[kind] > 0 for kind in ("cut_before", "cut_after", "delay")), proxy.counts
    assert got["tokens"] == want["tokens"] and got["calls"] == want["calls"]
    assert got["cost"] == pytest.approx(want["cost"], abs=1e-9)
    assert got["resets"] == 0 and got["dropped"] == 0
    assert "records replayed" in log.read_text()


def test_two_replicas_one_killed_sum_exactly(tmp_path):
    seeds = [41, 42, 43]
    rng = random.Random(5)
    states = [tmp_path / "a" / "state.json", tmp_path / "b" / "state.json"]
    log = tmp_path / "exporter.log"
    replicas = [ExporterProcess(state_file=states[i], env=HOLD, log_path=log).start() for i in range(2)]
    killer = Killer(replicas, 1, rng, kills=1, state_file=states[1], log=log)
    try:
        with LocalServer(FakeProvider().app) as provider, \
                FaultyProxy([r.url for r in replicas]) as proxy, \
                PrometheusServer(prometheus_config([r.port for r in replicas])) as prom:
            prom.wait_for_targets_up(2)
            started = time.time()
            killer.start()
            run_apps(proxy.url, provider.url, seeds)
            killer.done.set()
            killer.join(60)
            want = wanted(seeds)
            got, last = increases(prom, started, want)
            per_replica = prom.query("sum by (instance) (gen_ai_client_token_usage_sum)", time=last)
    finally:
        killer.done.set()
        for replica in replicas:
            replica.stop()
    assert killer.killed == 1
    assert len(per_replica) == 2 and all(float(r["value"][1]) > 0 for r in per_replica)
    assert got["tokens"] == want["tokens"] and got["calls"] == want["calls"]
    assert got["cost"] == pytest.approx(want["cost"], abs=1e-9)
    assert got["resets"] == 0 and got["dropped"] == 0
