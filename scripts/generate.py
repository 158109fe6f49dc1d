#!/usr/bin/env python
"""Regenerate the committed Grafana dashboards and Prometheus rule files.

    python scripts/generate.py           # write grafana/dashboards/*.json and prometheus/rules/*.yml,
                                         # then run scripts/sync_chart.py's main() if that file exists
    python scripts/generate.py --check   # exit 1 listing the files that differ from the sources

Dashboards come from grafana/dashboards_src/ (grafana-foundation-sdk), rules from
prometheus/rules_src/ with the default knobs (DEFAULT_THRESHOLDS).
"""

import argparse
import importlib.util
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grafana.dashboards_src import render_dashboards  # noqa: E402
from prometheus.rules_src import dump_yaml, render_rules  # noqa: E402

DASHBOARD_DIR = ROOT / "grafana" / "dashboards"
RULES_DIR = ROOT / "prometheus" / "rules"


def dashboard_text(data: dict) -> str:
    """The committed form of a dashboard: sorted keys, 2-space indent, trailing newline."""
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def render_files() -> dict[pathlib.Path, str]:
    """Return ``{path: text}`` of every generated file."""
    files = {DASHBOARD_DIR / name: dashboard_text(data) for name, data in render_dashboards().items()}
    files.update({RULES_DIR / name: dump_yaml(doc) for name, doc in render_rules().items()})
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="report files that differ instead of writing")
    args = parser.parse_args(argv)
    files = render_files()
    if args.check:
        stale = [p for p, text in files.items() if not p.exists() or p.read_text() != text]
        for path in stale:
            print(f"out of date: {path.relative_to(ROOT)}")
        return 1 if stale else 0
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    sync = ROOT / "scripts" / "sync_chart.py"
    if sync.exists():
        spec = importlib.util.spec_from_file_location("sync_chart", sync)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
