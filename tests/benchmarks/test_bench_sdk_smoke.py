"""Smoke test of benchmarks/bench_sdk.py: a tiny run completes and reports every variant.

No timing is asserted (timings flake); what is asserted is that each instrumentation was
really active in its rounds (one span per call, its metrics recorded), that every figure
the report promises is there, and that the both-threads figures add up (total = app thread
+ collection, the ratios are those totals' ratios).
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest

pytest.importorskip("opentelemetry.instrumentation.genai.openai",
                    reason="opentelemetry-instrumentation-genai-openai is not installed")

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_sdk.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_sdk", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_sdk"] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("bench_sdk", None)


def test_quick_run_reports_every_variant(bench, tmp_path, capsys):
    out = tmp_path / "bench.json"
    report = bench.main(["--quick", "--rounds", "2", "--calls", "3", "--streams", "2", "--chunks", "10",
                         "--blocks", "3", "--block-calls", "5", "--block-streams", "1", "--json", str(out)])

    assert json.loads(out.read_text()) == json.loads(json.dumps(report))
    assert set(report["results"]) == {"baseline", "genai-lens", "official", "span-floor"}
    warmup = bench.QUICK.warmup
    warm_streams = max(1, warmup // 5)
    end_to_end = 2 * (warmup + warm_streams + 3 + 2)                 # 2 rounds: warm-up, timed calls and streams
    # warm-up, then 3 blocks of 5 calls, 5 // 5 more calls (for the collection figures), a long and a short stream
    wrapper_only = warmup + 2 * warm_streams + 3 * (5 + 1 + 2 * 1)
    expected_spans = end_to_end + wrapper_only
    assert report["results"]["baseline"]["spans"] == 0
    assert report["results"]["genai-lens"]["spans"] == expected_spans
    assert report["results"]["official"]["spans"] == expected_spans
    assert report["results"]["span-floor"]["spans"] == expected_spans
    assert report["results"]["span-floor"]["metrics"] == []  # the floor is the span alone
    # genai-lens hides the usage-only chunk it asked for: role chunk + 10 content + finish chunk.
    assert report["results"]["baseline"]["chunks_seen_by_caller"] == 13
    assert report["results"]["official"]["chunks_seen_by_caller"] == 13
    assert report["results"]["genai-lens"]["chunks_seen_by_caller"] == 12
    lens_metrics = set(report["results"]["genai-lens"]["metrics"])
    assert {"gen_ai.client.operation.duration", "gen_ai.client.token.usage", "genai_lens.cost",
            "gen_ai.client.operation.time_to_first_chunk", "gen_ai.client.operation.time_per_output_chunk"} <= lens_metrics
    assert "gen_ai.client.operation.duration" in report["results"]["official"]["metrics"]
    for name in ("genai-lens", "official"):
        row = report["results"][name]
        for key in ("call_added_us", "chunk_added_us", "direct_call_added_us", "direct_chunk_added_us",
                    "direct_chunk_marginal_us"):
            assert math.isfinite(row[key]), (name, key)
    assert report["settings"] == {"rounds": 2, "calls": 3, "streams": 2, "chunks": 10, "warmup": warmup,
                                  "blocks": 3, "block_calls": 5, "block_streams": 1}
    assert "both_threads" not in report["results"]["baseline"]
    assert "both_threads" not in report["results"]["span-floor"]
    for clock in bench.CLOCKS:
        for name in ("genai-lens", "official"):
            b = report["results"][name]["both_threads"][clock]
            assert all(math.isfinite(value) for value in b.values()), (name, clock, b)
            for kind in ("call", "chunk"):
                assert b[f"total_{kind}_us"] == pytest.approx(b[f"app_{kind}_us"] + b[f"collect_{kind}_us"])
                assert b[f"total_{kind}_us"] > 0, (name, clock, kind, b)
            assert b["collect_empty_us"] > 0 and b["collect_per_block_call_us"] > 0, (name, clock, b)
            assert b["app_call_us"] > 0, (name, clock, b)
        lens = report["results"]["genai-lens"]["both_threads"][clock]
        # genai-lens records its metrics at collection: a call's records are seen there. A chunk gap's
        # (one in-process histogram value, ~1 µs) is within a quick run's noise, so only finite.
        assert lens["collect_call_us"] > 0, (clock, lens)
        official = report["results"]["official"]["both_threads"][clock]
        for kind in ("call", "chunk"):
            assert report["total_ratio"][clock][kind] == pytest.approx(lens[f"total_{kind}_us"] / official[f"total_{kind}_us"])
    # The CPU app-thread figures are the wrapper-only ones.
    for name in ("genai-lens", "official"):
        row = report["results"][name]
        assert row["both_threads"]["cpu"]["app_call_us"] == pytest.approx(row["direct_call_added_us"])
        assert row["both_threads"]["cpu"]["app_chunk_us"] == pytest.approx(row["direct_chunk_marginal_us"])
    for kind in ("call", "chunk"):
        assert report["meets_goals"][f"total_{kind}_ratio"] == (report["total_ratio"]["cpu"][kind] <= bench.GOAL_TOTAL_RATIO)
    table = capsys.readouterr().out
    assert "both threads" in table and "genai-lens / official" in table
    floor = report["above_span_floor_us"]
    assert floor["direct_call"] == pytest.approx(report["results"]["genai-lens"]["direct_call_added_us"]
                                                 - report["results"]["span-floor"]["direct_call_added_us"])
    for name in ("baseline", "genai-lens", "official", "span-floor"):
        assert name in table


def test_instruction_benchmark_workloads_run_for_every_variant(bench):
    """bench_sdk_instructions.py runs these sections inside valgrind (minutes, not run here);
    outside valgrind the same child code must run each variant's workloads to the end."""
    spec = importlib.util.spec_from_file_location("bench_sdk_instructions", BENCH.parent / "bench_sdk_instructions.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.VARIANT_NAMES == bench.VARIANTS
    for name in module.VARIANT_NAMES:
        module.child(name, calls=2, streams=1)
    with pytest.raises(SystemExit):
        module.main(["--calls", "0"])
