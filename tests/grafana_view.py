"""What a Grafana user sees: every panel of a dashboard evaluated by Grafana's own front-end code.

::

    shown = evaluate("13.2", dashboard_json, prometheus_url, now=live.now,
                     time={"from": "now-1h", "to": "now"}, variables={"granularity": "1d"})
    panel = shown.panel("Total cost")
    panel["shown"]["strings"]      # ['$0.52']

Runs ``node grafana/frontend/src/evaluate.mjs`` (see its header for which steps are Grafana's own code
and which are ports) with the packages of one Grafana line installed under
``grafana/frontend/grafana-<line>/`` by ``npm ci`` (``scripts/test`` does it).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FRONTEND = ROOT / "grafana" / "frontend"
LINES = ("12.4", "13.2")


def available(line: str = "13.2") -> bool:
    """Node and the line's npm packages are installed."""
    return shutil.which("node") is not None and (FRONTEND / f"grafana-{line}" / "node_modules" / "@grafana" / "data").is_dir()


class Shown(dict):
    """The evaluator's output: ``{"grafana", "dashboard", "timeRange", "panels": [...]}``."""

    def panel(self, title: str) -> dict:
        matches = [p for p in self["panels"] if p.get("title") == title]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} panels titled {title!r} in {self['dashboard']['uid']}")
        return matches[0]


def request(dashboard: dict, prometheus_url: str, *, now: float, time: dict | None = None,
            variables: dict | None = None, scrape_interval: str = "15s", width: int = 1600) -> dict:
    """One evaluation request (see evaluate.mjs); ``now`` in seconds since the epoch."""
    body = {"dashboard": dashboard, "prometheusUrl": prometheus_url, "now": round(now * 1000),
            "variables": variables or {}, "scrapeInterval": scrape_interval, "width": width}
    if time:
        body["time"] = time
    return body


def evaluate_many(line: str, requests: list[dict], timeout: float = 300.0) -> list[Shown]:
    """Several requests in one Node process (Grafana's packages load once: about 3 s)."""
    result = subprocess.run(["node", str(FRONTEND / "src" / "evaluate.mjs"), "--line", line, "--input", "-"],
                            input=json.dumps(requests), capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"evaluate.mjs failed ({result.returncode}): {result.stderr[-4000:]}")
    return [Shown(one) for one in json.loads(result.stdout)]


def evaluate(line: str, dashboard: dict, prometheus_url: str, *, now: float, timeout: float = 120.0, **options) -> Shown:
    """Every panel of ``dashboard`` as Grafana ``line`` shows it; options as for ``request``."""
    return evaluate_many(line, [request(dashboard, prometheus_url, now=now, **options)], timeout=timeout)[0]
