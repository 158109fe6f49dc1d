"""Keep the Helm chart's copies of the rules and dashboards in sync with the originals.

    python scripts/sync_chart.py           # write helm/genai-lens/files/, values and schema blocks
    python scripts/sync_chart.py --check   # exit 1 (and list the files) when anything is out of sync

``scripts/generate.py`` calls ``main()`` after it writes prometheus/rules/ and grafana/dashboards/.

What it writes:

- ``helm/genai-lens/files/dashboards/*.json``: byte copies of ``grafana/dashboards/*.json``.
- ``helm/genai-lens/files/rules/*.yml``: the rule files of ``prometheus/rules/``. Those that
  ``prometheus.rules_src.render_rules`` produces are rendered again with every alert knob
  (thresholds, budgets, the ``job`` name, the runbook base URL) replaced by a placeholder
  ``__knob__<Alert>.<knob>__``; the chart's PrometheusRule template substitutes the values of
  ``prometheusRule.alerts.<Alert>.<knob>`` (and ``prometheusRule.runbookBase``) for them. Other
  rule files are copied as they are. ``enabled``, ``for`` and ``severity`` are applied by the
  template to the parsed rules, so they are not placeholders.
- the block between ``# BEGIN generated alerts`` and ``# END generated alerts`` in
  ``values.yaml`` (each alert's defaults, from ``DEFAULT_THRESHOLDS``), the matching
  ``prometheusRule.alerts`` part of ``values.schema.json``, and the alert table of the chart
  README between ``<!-- BEGIN generated alerts -->`` and ``<!-- END generated alerts -->``.

With no rule or dashboard originals the chart ships none, and still renders.
"""

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "helm" / "genai-lens"
RULES_SRC = ROOT / "prometheus" / "rules"
DASHBOARDS_SRC = ROOT / "grafana" / "dashboards"
RULES_DST = CHART / "files" / "rules"
DASHBOARDS_DST = CHART / "files" / "dashboards"

RULE_GLOBS = ("*.yml", "*.yaml")
# Knobs applied by the template to the parsed rule, not substituted as text.
STRUCTURAL_KNOBS = ("enabled", "for", "severity")

VALUES_BEGIN, VALUES_END = "    # BEGIN generated alerts", "    # END generated alerts"
README_BEGIN, README_END = "<!-- BEGIN generated alerts -->", "<!-- END generated alerts -->"


def placeholder(alert: str, knob: str) -> str:
    """The text that stands for ``prometheusRule.alerts.<alert>.<knob>`` in the chart's rule copies."""
    return f"__knob__{alert}.{knob}__"


RUNBOOK_PLACEHOLDER = "__knob__runbook_base__"


def _rules_source():
    """``prometheus.rules_src`` when the repository has it, else None (rules are then copied)."""
    if not (ROOT / "prometheus" / "rules_src" / "__init__.py").exists():
        return None
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from prometheus import rules_src

    return rules_src


def alert_defaults() -> dict:
    """``{alert: {knob: default}}`` from ``DEFAULT_THRESHOLDS`` ({} without a rules source)."""
    src = _rules_source()
    if src is None:
        return {}
    return {k: dict(v) for k, v in src.DEFAULT_THRESHOLDS.items() if isinstance(v, dict)}


def expected_rule_files() -> dict[str, str]:
    """``{file name: text}`` the chart's files/rules/ should hold."""
    originals = sorted({p for g in RULE_GLOBS for p in RULES_SRC.glob(g)})
    files = {p.name: p.read_text() for p in originals}
    src = _rules_source()
    if src is None:
        return files
    overrides = {
        alert: {knob: placeholder(alert, knob) for knob in knobs if knob not in STRUCTURAL_KNOBS}
        for alert, knobs in alert_defaults().items()
    }
    overrides["runbook_base"] = RUNBOOK_PLACEHOLDER
    for alert, knobs in overrides.items():
        if alert != "runbook_base":
            knobs["enabled"] = True  # every alert ships; the chart's switch drops it
    for name, document in src.render_rules(overrides).items():
        if name in files:
            files[name] = src.dump_yaml(document)
    return files


def expected_dashboard_files() -> dict[str, bytes]:
    """``{file name: bytes}`` the chart's files/dashboards/ should hold."""
    return {p.name: p.read_bytes() for p in sorted(DASHBOARDS_SRC.glob("*.json"))}


def _values_block() -> str:
    import yaml

    defaults = alert_defaults()
    if not defaults:
        return "    {}\n"
    text = yaml.safe_dump(defaults, sort_keys=False, default_flow_style=False)
    return "".join(f"    {line}\n" for line in text.splitlines())


def _replace_block(text: str, begin: str, end: str, body: str) -> str:
    head, sep, rest = text.partition(begin + "\n")
    if not sep:
        raise SystemExit(f"marker {begin!r} not found")
    _, sep, tail = rest.partition(end)
    if not sep:
        raise SystemExit(f"marker {end!r} not found")
    return head + begin + "\n" + body + end + tail


def expected_values_yaml() -> str:
    return _replace_block((CHART / "values.yaml").read_text(), VALUES_BEGIN, VALUES_END, _values_block())


def _knob_schema(value, common: dict, knob: str) -> dict:
    suffix = knob.rsplit("_", 1)[-1]
    if suffix in ("for", "window"):  # a duration: a rule's own `for` (fast_for), a rate window
        return common["for"]
    if suffix == "severity":  # a rule's own severity in an alert of several rules (slow_severity)
        return common["severity"]
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, (int, float)):
        return {"type": "number", "minimum": 0}
    return {"type": "string", "pattern": r"^[A-Za-z0-9_.:/-]+$"}


def expected_schema() -> str:
    schema = json.loads((CHART / "values.schema.json").read_text())
    alerts = schema["properties"]["prometheusRule"]["properties"]["alerts"]
    common = {
        "enabled": {"type": "boolean"},
        "for": {"type": "string", "pattern": r"^(0|([0-9]+(ms|s|m|h|d|w|y))+)$"},
        "severity": {"type": "string", "enum": ["info", "warning", "critical", "page", "ticket", "none"]},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    }
    properties = {}
    for alert, knobs in alert_defaults().items():
        props = dict(common)
        props.update({k: _knob_schema(v, common, k) for k, v in knobs.items() if k not in common})
        properties[alert] = {"type": "object", "additionalProperties": False, "properties": props}
    alerts.clear()
    alerts.update({
        "type": "object",
        "description": "Per-alert switch, knobs and labels, keyed by alert name (generated by scripts/sync_chart.py).",
        "additionalProperties": False,
        "properties": properties,
    })
    return json.dumps(schema, indent=2) + "\n"


def _readme_block() -> str:
    rows = ["| Value | Default |", "|---|---|"]
    for alert, knobs in alert_defaults().items():
        for knob, default in knobs.items():
            shown = json.dumps(default)
            rows.append(f"| `prometheusRule.alerts.{alert}.{knob}` | `{shown}` |")
    return "\n".join(rows) + "\n"


def expected_readme() -> str:
    return _replace_block((CHART / "README.md").read_text(), README_BEGIN, README_END, _readme_block())


def _sync_dir(dst: Path, wanted: dict, check: bool, stale: list[str], pattern: tuple[str, ...]) -> None:
    present = {p.name: p for g in pattern for p in dst.glob(g)}
    for name, content in wanted.items():
        path = dst / name
        data = content.encode() if isinstance(content, str) else content
        if not path.exists() or path.read_bytes() != data:
            stale.append(str(path.relative_to(ROOT)))
            if not check:
                dst.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
    for name, path in present.items():
        if name not in wanted:
            stale.append(str(path.relative_to(ROOT)))
            if not check:
                path.unlink()


def _sync_file(path: Path, wanted: str, check: bool, stale: list[str]) -> None:
    if path.read_text() != wanted:
        stale.append(str(path.relative_to(ROOT)))
        if not check:
            path.write_text(wanted)


def main(check: bool = False) -> int:
    """Write the chart's copies (or with ``check``, only compare). Returns 1 when out of sync on check."""
    stale: list[str] = []
    _sync_dir(RULES_DST, expected_rule_files(), check, stale, RULE_GLOBS)
    _sync_dir(DASHBOARDS_DST, expected_dashboard_files(), check, stale, ("*.json",))
    _sync_file(CHART / "values.yaml", expected_values_yaml(), check, stale)
    _sync_file(CHART / "values.schema.json", expected_schema(), check, stale)
    _sync_file(CHART / "README.md", expected_readme(), check, stale)
    for path in stale:
        print(("out of sync: " if check else "wrote: ") + path)
    return 1 if check and stale else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 when out of sync")
    sys.exit(main(check=parser.parse_args().check))
