"""Instructions the instrumentations add per call and per streamed chunk, counted by callgrind.

    python benchmarks/bench_sdk_instructions.py                 # about 3 minutes on 2 cores
    python benchmarks/bench_sdk_instructions.py --json out.json

``bench_sdk.py`` times CPU seconds, which on a shared VM swing by 2x from one minute to
the next. This companion counts executed instructions with ``valgrind --tool=callgrind``:
the same count for the same code and inputs whatever the neighbours do, so a change of a
few percent shows, and figures from different days compare. It runs the same
"wrapper only" workloads as ``bench_sdk.py`` (``Direct``: whatever wraps
``Completions.create`` is called with canned, already parsed responses) for the same four
variants, one valgrind process per variant:

- ``plain``: ``--calls`` chat completions;
- ``stream20`` / ``stream100``: ``--streams`` fully read streams of 20 and of 100 content chunks.

Per call added = (variant - baseline) / calls. Per chunk (marginal) = the added instructions
of a 100-chunk stream minus those of a 20-chunk stream, over 80 chunks. Metric collection is
not counted (it runs on the metric reader's thread; ``bench_sdk.py`` reports it).

How the sections are cut: callgrind collects only inside ``functools.reduce`` (each section
runs as one) and dumps its counters before every ``math.isqrt`` call, which the child makes
between sections and nowhere else; part k of the dump is section k.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
SECTIONS = ("plain", "stream20", "stream100")
VARIANT_NAMES = ("baseline", "genai-lens", "official", "span-floor")


def child(variant_name: str, calls: int, streams: int) -> None:
    """Run inside valgrind: set up, warm up, then the three sections, each one ``functools.reduce``."""
    sys.path.insert(0, str(HERE))
    import logging

    import bench_sdk as b

    logging.getLogger("opentelemetry").setLevel(logging.ERROR)
    directs = {}
    for chunks in (20, 100):
        plain, stream = b.record_responses(chunks)
        directs[chunks] = b.Direct(b.make_client(plain, stream))
    variant = {"baseline": b.Variant, "genai-lens": b.Lens, "official": b.Official, "span-floor": b.SpanFloor}[variant_name]()
    variant.instrument()
    for _ in range(20):  # warm-up: caches (pricing, endpoints, specialised bytecode)
        directs[20].plain_call()
        directs[20].stream_call()
        directs[100].stream_call()
    if variant.otel is not None:
        variant.otel.metric_names()  # apply what the warm-up queued; not counted
    # As in bench_sdk.py: long-lived objects leave the collector's view, so a full collection of
    # the modules' objects does not land in one section and not another.
    gc.collect()
    gc.freeze()
    math.isqrt(1)  # dump: part 1 is setup
    functools.reduce(lambda _a, _b: directs[20].plain_call(), range(calls), None)
    math.isqrt(1)
    functools.reduce(lambda _a, _b: directs[20].stream_call(), range(streams), None)
    math.isqrt(1)
    functools.reduce(lambda _a, _b: directs[100].stream_call(), range(streams), None)
    math.isqrt(1)
    gc.unfreeze()
    variant.uninstrument()


def count(variant: str, calls: int, streams: int, workdir: Path) -> dict[str, int]:
    """Instructions per section for one variant (a valgrind child process)."""
    out = workdir / f"cg-{variant}.out"
    cmd = ["valgrind", "--tool=callgrind", "--collect-atstart=no", "--toggle-collect=functools_reduce",
           "--dump-before=math_isqrt", f"--callgrind-out-file={out}",
           sys.executable, str(Path(__file__).resolve()), "--child", variant, "--calls", str(calls), "--streams", str(streams)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if result.returncode != 0:
        raise RuntimeError(f"{variant}: valgrind exited {result.returncode}:\n{result.stderr[-3000:]}")
    parts = sorted(workdir.glob(f"cg-{variant}.out.*"), key=lambda p: int(p.suffix[1:]))
    totals = [_total(p) for p in parts]
    # Parts 1..4 end at the four isqrt calls: setup, then the three sections.
    if len(totals) < 4:
        raise RuntimeError(f"{variant}: expected 4 dump parts, found {len(totals)}")
    return dict(zip(SECTIONS, totals[1:4]))


def _total(path: Path) -> int:
    text = path.read_text(errors="replace")
    found = re.search(r"^(?:totals|summary):\s*(\d+)", text, re.MULTILINE)
    if not found:
        raise RuntimeError(f"no totals in {path}")
    return int(found.group(1))


def run(calls: int, streams: int, jobs: int | None = None, log=print) -> dict:
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    jobs = jobs or os.cpu_count() or 2
    with tempfile.TemporaryDirectory(prefix="bench-instr-") as tmp:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = {name: pool.submit(count, name, calls, streams, Path(tmp)) for name in VARIANT_NAMES}
            raw = {}
            for name, future in futures.items():
                raw[name] = future.result()
                log(f"{name}: {raw[name]}")
    base = raw["baseline"]
    results = {}
    for name in VARIANT_NAMES:
        r = raw[name]
        added = {s: r[s] - base[s] for s in SECTIONS}
        results[name] = {
            "instructions": r,
            "call_added": added["plain"] / calls,
            "stream100_added": added["stream100"] / streams,
            "chunk_added": (added["stream100"] - added["stream20"]) / (80 * streams),
        }
    lens, official, floor = results["genai-lens"], results["official"], results["span-floor"]
    return {
        "settings": {"calls": calls, "streams": streams},
        "results": results,
        "ratio": {"call": lens["call_added"] / official["call_added"],
                  "chunk": lens["chunk_added"] / official["chunk_added"],
                  "call_vs_span_floor": lens["call_added"] / floor["call_added"]},
        "above_span_floor_call": lens["call_added"] - floor["call_added"],
    }


def table(report: dict) -> str:
    res = report["results"]
    lines = [f"{'variant':<12} {'instr/call added':>17} {'instr/stream added':>19} {'instr/chunk added':>18}"]
    for name in VARIANT_NAMES:
        r = res[name]
        stream = "-" if name in ("baseline", "span-floor") else f"{r['stream100_added']:,.0f}"
        chunk = "-" if name in ("baseline", "span-floor") else f"{r['chunk_added']:,.0f}"
        lines.append(f"{name:<12} {r['call_added']:>17,.0f} {stream:>19} {chunk:>18}")
    ratio = report["ratio"]
    lines.append(f"genai-lens / official: {ratio['call']:.2f} per call, {ratio['chunk']:.3f} per chunk; "
                 f"genai-lens / span floor: {ratio['call_vs_span_floor']:.2f} per call "
                 f"({report['above_span_floor_call']:,.0f} instructions of its own)")
    s = report["settings"]
    lines.append(f"callgrind, {s['calls']} calls and {s['streams']} streams of 20 and of 100 chunks per variant; "
                 "a stream is 100 content chunks; per chunk is the marginal cost of chunks 21-100")
    return "\n".join(lines)


def main(argv=None) -> dict | None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="plain calls per variant (default 200)")
    parser.add_argument("--streams", type=int, default=10, help="streams of each length per variant (default 10)")
    parser.add_argument("--jobs", type=int, help="valgrind processes at once (default: CPU count)")
    parser.add_argument("--json", metavar="FILE", help="write the figures as JSON to FILE")
    parser.add_argument("--child", choices=VARIANT_NAMES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.calls < 1 or args.streams < 1:
        parser.error("--calls and --streams must be at least 1")
    if args.child:
        child(args.child, args.calls, args.streams)
        return None
    report = run(args.calls, args.streams, args.jobs, log=lambda line: print(line, file=sys.stderr))
    print(table(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2), encoding="utf-8")
    return report


if __name__ == "__main__":
    main()
