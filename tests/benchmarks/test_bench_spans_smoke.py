"""Smoke test of benchmarks/bench_spans.py: a quick run completes, every figure is reported, and the
benchmark's spans really become the series it says (its converter is the exporter's).

No timing is asserted (timings flake on a shared machine).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_run_reports_every_figure():
    result = subprocess.run([sys.executable, "benchmarks/bench_spans.py", "--quick"], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    figures = dict(re.findall(r"^  (.+?)\s{2,}([\d,]+) spans/s$", result.stdout, flags=re.M))
    assert set(figures) == {"decode", "decode + convert", "decode + convert + store",
                            "decode + convert + store, token counts and ids never repeated",
                            "the converted metric requests alone, decode + store", "through the ASGI app in process"}
    assert all(int(value.replace(",", "")) > 0 for value in figures.values())
    assert "one request of 500 spans becomes 102 metric points with 191 exemplars" in result.stdout


def test_the_benchmark_spans_are_counted_exactly():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import bench_spans
    finally:
        sys.path.pop(0)
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    from exporter.ingest import PROTOBUF, decode_request
    from exporter.span_metrics import SpanConverter

    request = decode_request(bench_spans.trace_body(0), PROTOBUF, ExportTraceServiceRequest, "traces")
    converted = SpanConverter(key_attributes=("tenant.id",)).convert(request)
    assert (converted.spans, converted.rejected_spans) == (500, 0)
    metrics = {m.name: m for m in converted.request.resource_metrics[0].scope_metrics[0].metrics}
    calls = sum(p.count for p in metrics["gen_ai.client.operation.duration"].histogram.data_points)
    errors = sum(p.count for p in metrics["gen_ai.client.operation.duration"].histogram.data_points
                 if any(kv.key == "error.type" for kv in p.attributes))
    streams = sum(p.count for p in metrics["gen_ai.client.operation.time_to_first_chunk"].histogram.data_points)
    assert (calls, errors, streams) == (500, 10, 100)
    tokens = sum(p.sum for p in metrics["gen_ai.client.token.usage"].histogram.data_points)
    assert tokens == sum(100 + i + 10 + i % 300 for i in range(500) if i % 50 != 49)
