"""promtool checks of prometheus/: the config, the rule files, and the rule unit tests."""

import pathlib
import subprocess
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
PROMTOOL = "/usr/bin/promtool"
RULES = sorted((ROOT / "prometheus" / "rules").glob("*.yml"))
UNIT_TESTS = sorted((ROOT / "prometheus" / "tests").glob("*.yml"))

sys.path.insert(0, str(ROOT))
from prometheus.rules_src import DEFAULT_THRESHOLDS, render_rules  # noqa: E402


def promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PROMTOOL, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_check_config():
    result = promtool("check", "config", "prometheus/prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 2 rule files found" in result.stdout


def test_check_rules():
    result = promtool("check", "rules", *map(str, RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 41 rules found" in result.stdout  # recording: 20, and 21 in genai-lens-billing
    # alerts: BudgetBurnRateHigh is two (fast, slow), CostEstimateDrift two (scope total, model)
    assert "SUCCESS: 15 rules found" in result.stdout


@pytest.mark.parametrize("path", UNIT_TESTS, ids=lambda p: p.name)
def test_promtool_unit_tests(path):
    result = promtool("test", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def _rules(file_name):
    return [r for g in yaml.safe_load((ROOT / "prometheus" / "rules" / file_name).read_text())["groups"]
            for r in g["rules"]]


def _tested_exprs_and_alerts():
    exprs, alerts = [], []
    for path in UNIT_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            exprs += [t["expr"] for t in case.get("promql_expr_test", [])]
            for t in case.get("alert_rule_test", []):
                alerts.append((t["alertname"], bool(t["exp_alerts"])))
                # The rule an expected alert came from, by its severity (BudgetBurnRateHigh has two).
                alerts += [((t["alertname"], a["exp_labels"]["severity"]), True) for a in t["exp_alerts"]]
    return exprs, alerts


def test_every_recording_rule_has_a_case():
    exprs, _ = _tested_exprs_and_alerts()
    records = [r["record"] for r in _rules("genai-lens-recording.yml")]
    assert len(records) == 41
    missing = [r for r in records if not any(r in e for e in exprs)]
    assert missing == []


def test_every_alert_is_tested_on_both_sides_of_its_for_window():
    _, alerts = _tested_exprs_and_alerts()
    rules = _rules("genai-lens-alerts.yml")
    names = list(dict.fromkeys(r["alert"] for r in rules))
    assert names == [k for k in DEFAULT_THRESHOLDS if k != "runbook_base"]
    for name in names:
        assert (name, False) in alerts, f"{name}: no case inside its for window"
        assert (name, True) in alerts, f"{name}: no case where it fires"
    for rule in rules:  # every rule of an alert of several rules fires in some case
        assert ((rule["alert"], rule["labels"]["severity"]), True) in alerts, rule["alert"] + " " + str(rule["labels"])


def test_every_alert_has_severity_summary_description_and_runbook_anchor():
    runbook = (ROOT / "docs" / "runbook.md").read_text()
    anchors = {line[3:].strip().lower() for line in runbook.splitlines() if line.startswith("## ")}
    for rule in _rules("genai-lens-alerts.yml"):
        assert rule["labels"]["severity"] in {"info", "warning", "critical"}
        assert rule["annotations"]["summary"]
        assert "{{" in rule["annotations"]["description"]
        url = rule["annotations"]["runbook_url"]
        assert url == "docs/runbook.md#" + rule["alert"].lower()
        assert rule["alert"].lower() in anchors


def test_render_rules_applies_knobs():
    files = render_rules({
        "SpendRateHigh": {"usd_per_hour": "{{ .Values.spend }}", "for": "5m"},
        "ExporterDown": {"enabled": False},
        "runbook_base": "https://example.test/runbook",
    })
    alerts = {r["alert"]: r for r in files["genai-lens-alerts.yml"]["groups"][0]["rules"]}
    assert "ExporterDown" not in alerts
    assert alerts["SpendRateHigh"]["expr"] == (
        'sum by (genai_lens_billing) (rate(genai_lens_cost_usd_total{genai_lens_billing="payg"}[1h])) * 3600'
        ' > {{ .Values.spend }}')
    assert alerts["SpendRateHigh"]["for"] == "5m"
    assert alerts["SpendSpike"]["annotations"]["runbook_url"] == "https://example.test/runbook#spendspike"
    with pytest.raises(KeyError):
        render_rules({"SpendRateHigh": {"usd_per_day": 1}})


def test_billing_group_and_cost_drift_knobs():
    """The measured-vs-billed rules are their own group, named level:metric:operations; the
    CostEstimateDrift knobs reach both of its rules' expressions and annotations."""
    groups = {g["name"]: g for g in render_rules()["genai-lens-recording.yml"]["groups"]}
    assert list(groups) == ["genai-lens-recording", "genai-lens-billing"]
    records = [r["record"] for r in groups["genai-lens-billing"]["rules"]]
    assert len(records) == 21 and len(set(records)) == 21
    for record in records:
        level, metric, operation = record.split(":")
        assert metric in ("genai_lens_billed_cost_usd", "genai_lens_billed_tokens", "genai_lens_billed_requests")
        assert operation in ("sum", "measured_minus_billed", "drift_ratio")
        assert level.startswith("source_" if operation == "sum" else "window_provider")
        assert ("token_type" in level) == (metric == "genai_lens_billed_tokens")

    rules = [r for r in render_rules({"CostEstimateDrift": {"percent": 12.5, "min_usd": 20, "for": "3h"}})[
        "genai-lens-alerts.yml"]["groups"][0]["rules"] if r["alert"] == "CostEstimateDrift"]
    assert [r["labels"] for r in rules] == [{"severity": "warning", "scope": "total"},
                                            {"severity": "warning", "scope": "model"}]
    for rule in rules:
        assert rule["for"] == "3h"
        assert ") > 20\n" in rule["expr"] and "12.5 / 100 * (" in rule["expr"]
        assert 'window="day"' in rule["expr"]
        assert rule["annotations"]["description"].endswith("beyond both 12.5% and 20 USD.")
        assert "more than 12.5%" in rule["annotations"]["summary"]
    assert "CostEstimateDrift" not in [r["alert"] for r in render_rules({"CostEstimateDrift": {"enabled": False}})[
        "genai-lens-alerts.yml"]["groups"][0]["rules"]]
