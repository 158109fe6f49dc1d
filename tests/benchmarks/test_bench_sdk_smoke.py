"""Smoke test of benchmarks/bench_sdk.py: a tiny run completes and reports every variant.

No timing is asserted (timings flake); what is asserted is that each instrumentation was
really active in its rounds (one span per call, its metrics recorded) and that every figure
the report promises is there.
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
                         "--blocks", "3", "--block-calls", "4", "--block-streams", "1", "--json", str(out)])

    assert json.loads(out.read_text()) == json.loads(json.dumps(report))
    assert set(report["results"]) == {"baseline", "genai-lens", "official", "span-floor"}
    warmup = bench.QUICK.warmup
    warm_streams = max(1, warmup // 5)
    end_to_end = 2 * (warmup + warm_streams + 3 + 2)                 # 2 rounds: warm-up, timed calls and streams
    wrapper_only = warmup + 2 * warm_streams + 3 * (4 + 2 * 1)       # warm-up, then 3 blocks of calls, long and short streams
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
                                  "blocks": 3, "block_calls": 4, "block_streams": 1}
    table = capsys.readouterr().out
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
