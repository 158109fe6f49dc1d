#!/usr/bin/env python
"""Draw the genai-lens Grafana dashboards, filled with live data, to PNGs (docs/images/<uid>.png).

    python scripts/render_dashboards.py                       # every dashboard into docs/images/
    python scripts/render_dashboards.py --only genai-lens-cost --width 1280 --out /tmp/shots

What it does:

1. runs the whole pipeline on 127.0.0.1 (``tests/integration/pipeline.py``: exporter, fake provider,
   Debian's Prometheus scraping every second, the demo workload through the real clients);
2. evaluates each dashboard with Grafana 13.2's own front-end code (``tests/grafana_view.evaluate``,
   i.e. ``node grafana/frontend/src/evaluate.mjs``) over ``now-1h``..``now`` with ``$granularity`` = 1h
   (the hour's bars are inside the range), "now" being a scrape 10 s after the workload's last
   (Grafana rounds a range query's end down to its step, 5 s here: the workload must lie before it);
3. stops the pipeline and draws each evaluation with @grafana/ui in headless Chromium
   (``node grafana/frontend/src/render.mjs``) to ``<out>/<dashboard uid>.png``.

Only the PNGs are written to ``--out``; the evaluations and the renderer's reports stay in a
temporary folder that is removed at the end. A dashboard whose render reports errors is not
written. Everything started here (the pipeline, node, Chromium) is stopped before the command
returns, also on Ctrl-C / SIGTERM, and every step is bounded by a timeout.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DASHBOARD_DIR = ROOT / "grafana" / "dashboards"
RENDER = ROOT / "grafana" / "frontend" / "src" / "render.mjs"
DEFAULT_OUT = ROOT / "docs" / "images"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
PROMETHEUS = "/usr/bin/prometheus"  # where tests.prometheus_server cannot be imported
LINE = "13.2"
SCRAPE_INTERVAL = "1s"  # the pipeline's Prometheus scrapes every second (pipeline.SCRAPE_INTERVAL_S)
DEFAULT_VARIABLES = {"granularity": "1h"}

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_MISSING = 0, 1, 2, 3

_started = time.monotonic()


def progress(message: str) -> None:
    print(f"[{time.monotonic() - _started:6.1f}s] {message}", file=sys.stderr, flush=True)


class Failure(Exception):
    """A clear, one-paragraph reason to stop, with the exit status to stop with."""

    def __init__(self, message: str, code: int = EXIT_FAILED):
        super().__init__(message)
        self.code = code


def load_dashboards() -> dict[str, dict]:
    """``{uid: dashboard JSON}`` of every committed dashboard, in file order."""
    dashboards = {}
    for path in sorted(DASHBOARD_DIR.glob("*.json")):
        data = json.loads(path.read_text())
        dashboards[data["uid"]] = data
    return dashboards


def parse_variable(text: str) -> tuple[str, str | list[str]]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"want NAME=VALUE, got {text!r}")
    return name, value.split(",") if "," in value else value


def build_parser(uids: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python scripts/render_dashboards.py",
        description="Run the genai-lens pipeline with the demo workload, evaluate the Grafana dashboards "
                    f"with Grafana {LINE}'s front-end code and draw each to <out>/<dashboard uid>.png "
                    "with @grafana/ui in headless Chromium.",
        epilog="Needs: the project's venv (. .venv/bin/activate), /usr/bin/prometheus, node with the npm packages "
               f"of grafana/frontend/grafana-{LINE} (scripts/test installs them), and Chromium. Progress goes to "
               "stderr, the written PNG paths to stdout. Exit status: 0 all drawn; 1 a step failed or a render "
               "reported errors; 2 bad arguments; 3 a prerequisite is missing.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="DIR",
                        help="folder for the PNGs (default: docs/images)")
    parser.add_argument("--only", action="append", choices=uids, metavar="UID",
                        help="render only this dashboard (repeatable); one of: " + ", ".join(uids))
    parser.add_argument("--width", type=int, default=1600, metavar="PX",
                        help="page width in pixels, also the evaluator's dashboard width (default: 1600)")
    parser.add_argument("--from", dest="time_from", default="now-1h", metavar="WHEN",
                        help="dashboard time range start (default: now-1h)")
    parser.add_argument("--to", dest="time_to", default="now", metavar="WHEN",
                        help="dashboard time range end (default: now)")
    parser.add_argument("--var", action="append", type=parse_variable, default=[], metavar="NAME=VALUE",
                        help="a dashboard variable (repeatable; commas make a multi-value list); "
                             "default: granularity=1h, the others as saved in the dashboard")
    parser.add_argument("--chromium", default=os.environ.get("CHROMIUM_PATH", DEFAULT_CHROMIUM), metavar="PATH",
                        help="Chromium executable (default: $CHROMIUM_PATH or /usr/bin/chromium)")
    parser.add_argument("--timeout", type=float, default=90.0, metavar="S",
                        help="seconds allowed for each evaluation and each render (default: 90)")
    return parser


def check_prerequisites(chromium: str) -> None:
    """Raise Failure(EXIT_MISSING) naming everything that is missing."""
    missing = []
    try:
        import tests.integration.pipeline  # noqa: F401  (imports the SDK, the exporter and the clients)
    except ImportError as error:
        missing.append(f"Python packages ({error}): activate the project's venv (. .venv/bin/activate) "
                       "or install it: pip install -e '.[test]'")
    from tests.grafana_view import FRONTEND, available  # the standard library only

    try:
        from tests.prometheus_server import PROMETHEUS as prometheus
    except ImportError:  # reported above
        prometheus = PROMETHEUS
    if not Path(prometheus).exists():
        missing.append(f"Prometheus ({prometheus}): apt-get install prometheus")
    if shutil.which("node") is None:
        missing.append("node: apt-get install nodejs npm")
    elif not available(LINE):
        missing.append(f"Grafana {LINE} npm packages: npm ci --prefix {FRONTEND / f'grafana-{LINE}'} (or run scripts/test)")
    if not Path(chromium).exists():
        missing.append(f"Chromium ({chromium}): apt-get install chromium, or pass --chromium PATH")
    if missing:
        raise Failure("missing prerequisites:\n  " + "\n  ".join(missing), EXIT_MISSING)


def settled_now(live, seconds: float = 10.0) -> float:
    """A scrape timestamp at least ``seconds`` after ``live.now``: instant queries there are exact (the
    counters are flat since the workload), and range panels' step-aligned ends fall after the workload."""
    from tests.integration.pipeline import JOB

    def value(result):
        return float(result[0]["value"][1]) if result else 0.0

    result = live.prom.wait_until(f'timestamp(up{{job="{JOB}"}})', lambda r: value(r) >= live.now + seconds,
                                  timeout=seconds + 30)
    return value(result)


def evaluate_all(dashboards: dict[str, dict], args, variables: dict, work: Path) -> dict[str, Path]:
    """Start the pipeline, evaluate every dashboard at its last scrape, stop it; ``{uid: evaluation file}``."""
    from tests.grafana_view import evaluate
    from tests.integration.pipeline import live_pipeline

    files = {}
    progress("starting the pipeline (exporter, fake provider, Prometheus) and running the demo workload ...")
    with live_pipeline(work) as live:
        now = settled_now(live)
        progress(f"pipeline ready: Prometheus {live.prom.url}, {len(live.records)} records, now = {now:.3f}")
        for uid, dashboard in dashboards.items():
            progress(f"evaluating {uid} with Grafana {LINE} ({args.time_from} .. {args.time_to}, {variables})")
            try:
                shown = evaluate(LINE, dashboard, live.prom.url, now=now,
                                 time={"from": args.time_from, "to": args.time_to}, variables=variables,
                                 scrape_interval=SCRAPE_INTERVAL, width=args.width, timeout=args.timeout)
            except subprocess.TimeoutExpired:
                raise Failure(f"{uid}: the evaluation took longer than {args.timeout:g} s") from None
            except RuntimeError as error:
                raise Failure(f"{uid}: {error}") from None
            for panel in shown["panels"]:
                for message in panel.get("errors") or []:
                    progress(f"  warning: panel {panel.get('title')!r}: query error: {str(message).splitlines()[0]}")
            path = work / f"{uid}.evaluated.json"
            path.write_text(json.dumps(shown))
            files[uid] = path
        progress("stopping the pipeline")
    return files


def render(uid: str, evaluated: Path, output: Path, args) -> dict:
    """Run render.mjs in its own process group (so Chromium goes with it on a timeout); its JSON report."""
    command = ["node", str(RENDER), "--input", str(evaluated), "--output", str(output), "--width", str(args.width),
               "--chromium", args.chromium, "--timeout", str(int(args.timeout * 1000))]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True, cwd=ROOT)
    try:
        stdout, stderr = process.communicate(timeout=args.timeout + 15)
    except subprocess.TimeoutExpired:
        stop_group(process)
        raise Failure(f"{uid}: render.mjs did not finish within {args.timeout + 15:g} s; stopped it") from None
    except BaseException:  # Ctrl-C, SIGTERM: take node and its Chromium down too
        stop_group(process)
        raise
    report = None
    try:
        report = json.loads(stdout.strip().splitlines()[-1]) if stdout.strip() else None
    except (ValueError, IndexError):
        pass
    if process.returncode not in (0, 1) or report is None:
        raise Failure(f"{uid}: render.mjs exited with {process.returncode}: {stderr.strip() or stdout.strip()[-2000:]}",
                      EXIT_MISSING if process.returncode == 3 else EXIT_FAILED)
    report["exit"] = process.returncode
    return report


def stop_group(process: subprocess.Popen) -> None:
    """SIGTERM to the process group of ``process`` (node and its Chromium), SIGKILL if node is still there after 5 s.

    The group's id is node's pid, which stays reserved until node is reaped by the wait here.
    """
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            continue


def run(args, dashboards: dict[str, dict]) -> int:
    selected = {uid: d for uid, d in dashboards.items() if not args.only or uid in args.only}
    variables = {**DEFAULT_VARIABLES, **dict(args.var)}
    if not 320 <= args.width <= 8192:
        raise Failure("--width: want 320 to 8192 pixels", EXIT_USAGE)
    check_prerequisites(args.chromium)
    out = args.out.resolve()
    with tempfile.TemporaryDirectory(prefix="genai-lens-render-") as tmp:
        work = Path(tmp)
        evaluated = evaluate_all(selected, args, variables, work)
        failed = []
        out.mkdir(parents=True, exist_ok=True)
        for uid, path in evaluated.items():
            progress(f"drawing {uid} ({args.width} px wide) in Chromium ...")
            drawn = work / f"{uid}.png"
            report = render(uid, path, drawn, args)
            for warning in report.get("warnings", []):
                progress(f"  warning: {warning}")
            if report["errors"] or report["exit"] != 0:
                reasons = "; ".join(f"panel {e.get('panel', 'page')}: {e.get('message')}" for e in report["errors"]) \
                    or f"render.mjs exited with {report['exit']}"
                progress(f"  FAILED: {reasons} (not written)")
                failed.append(uid)
                continue
            target = out / f"{uid}.png"
            shutil.copyfile(drawn, target)
            timing = report.get("timing", {})
            progress(f"  wrote {target} ({report['width']}x{report['height']}, {report.get('panels')} panels, "
                     f"font {report.get('font')}, {timing.get('totalMs')} ms)")
            print(target)
    if failed:
        raise Failure(f"the render reported errors for: {', '.join(failed)}")
    progress(f"done: {len(evaluated)} dashboard(s)")
    return EXIT_OK


def _terminate(signum, frame):
    progress(f"got {signal.Signals(signum).name}: stopping everything started")
    raise SystemExit(128 + signum)  # unwinds through the finally blocks: the pipeline and node are stopped


def main(argv: list[str] | None = None) -> int:
    dashboards = load_dashboards()
    args = build_parser(list(dashboards)).parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    try:
        return run(args, dashboards)
    except Failure as failure:
        print(f"render_dashboards: error: {failure}", file=sys.stderr)
        return failure.code
    except (TimeoutError, RuntimeError) as error:  # the pipeline's bounded waits
        print(f"render_dashboards: error: the pipeline failed: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("render_dashboards: interrupted; everything started was stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
