"""``genai-lens demo`` as a user runs it: a real subprocess, the summary read back from the exporter."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from exporter.demo import build_workload


def run_demo(*args: str, timeout: float = 120) -> str:
    result = subprocess.run([sys.executable, "-m", "exporter.cli", "demo", "--port", "0", *args],
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def totals(output: str) -> list[tuple[int, int, str]]:
    """(requests, errors, cost) of each table's total line."""
    return [(int(m[0]), int(m[1]), m[2]) for m in re.findall(r"^total\s+(\d+)\s+(\d+)\s+[\d,]+\s+[\d,]+\s+([\d.]+)$",
                                                             output, flags=re.M)]


def test_demo_runs_the_workload_and_prints_what_the_exporter_serves():
    output = run_demo("--duration", "0", "--calls", "16")
    steps = build_workload(16)
    failed = sum(1 for s in steps if s.fault)
    assert f"done: {16 - failed} succeeded, {failed} failed" in output
    by_model, by_key = totals(output)
    assert by_model == by_key
    assert by_model[:2] == (16 - failed, failed)
    assert float(by_model[2]) > 0
    for model in ("gpt-4o", "gpt-4o-mini", "gemini-2.5-pro", "gemini-2.5-flash"):
        assert re.search(rf"^{re.escape(model)}\s+\d+", output, flags=re.M), model
    for key in ("team-search", "team-support", "sk-…0003"):
        assert key in output
    assert "/metrics" in output and "[ 16/16]" in output


@pytest.mark.skipif(shutil.which("prometheus") is None, reason="needs Debian's prometheus package")
def test_demo_with_prometheus_starts_it_and_stops_after_duration():
    output = run_demo("--duration", "1", "--calls", "4", "--hold", "1", "--prometheus")
    assert re.search(r"^prometheus\s+http://127\.0\.0\.1:\d+", output, flags=re.M)
    assert "serving with light background traffic" in output


def test_demo_refuses_bad_arguments():
    result = subprocess.run([sys.executable, "-m", "exporter.cli", "demo", "--calls", "0"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "--calls must be at least 1" in result.stderr
