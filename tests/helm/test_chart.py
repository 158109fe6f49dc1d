"""The Helm chart, rendered and linted by Helm's own Go engine (helm-python-sdk, no helm binary).

Every rendered manifest is validated with kubernetes-validate in strict mode (unknown fields
refused). The prometheus-operator kinds (ServiceMonitor, PrometheusRule, AlertmanagerConfig) are not in its
schemas: they are checked against the CRD fields they use (CRD_SCHEMAS below, taken from the
monitoring.coreos.com/v1 and v1alpha1 CRDs), and the PrometheusRule's groups are checked by
`promtool check rules` as a rule file. The exporter's config file is loaded with the exporter's own
`Settings`.
"""

import base64
import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import helm_python as helm
import jsonschema
import kubernetes_validate
import pytest
import yaml

from exporter.budgets import Budget
from exporter.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "genai-lens"
SCENARIOS = sorted(CHART.glob("ci/*.yaml"))
KUBE_VERSIONS = ("1.25.0", kubernetes_validate.latest_version())
RELEASE, NAMESPACE = "lens", "monitoring"
FULLNAME = "lens-genai-lens"
OPTIONAL_KINDS = {"ServiceMonitor", "PrometheusRule", "ConfigMap", "PodDisruptionBudget",
                  "HorizontalPodAutoscaler", "Secret", "PersistentVolumeClaim", "AlertmanagerConfig"}

# --- structural schemas of the prometheus-operator objects, from the v1 CRDs ---------------------
_DURATION = {"type": "string",
             "pattern": r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"}
_STRMAP = {"type": "object", "additionalProperties": {"type": "string"}}
_SECRET_KEY = {"type": "object", "additionalProperties": False, "required": ["key"],
               "properties": {"name": {"type": "string"}, "key": {"type": "string"}, "optional": {"type": "boolean"}}}
_RELABEL = {"type": "object", "additionalProperties": False, "properties": {
    "action": {"enum": ["replace", "Replace", "keep", "Keep", "drop", "Drop", "hashmod", "HashMod",
                        "labelmap", "LabelMap", "labeldrop", "LabelDrop", "labelkeep", "LabelKeep",
                        "lowercase", "Lowercase", "uppercase", "Uppercase", "keepequal", "KeepEqual",
                        "dropequal", "DropEqual"]},
    "modulus": {"type": "integer"}, "regex": {"type": "string"}, "replacement": {"type": "string"},
    "separator": {"type": "string"}, "targetLabel": {"type": "string"},
    "sourceLabels": {"type": "array", "items": {"type": "string", "pattern": "^[a-zA-Z_][a-zA-Z0-9_]*$"}}}}
_METADATA = {"type": "object", "required": ["name", "namespace"], "properties": {
    "name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
             "maxLength": 253},
    "namespace": {"type": "string"}, "labels": _STRMAP, "annotations": _STRMAP}}
CRD_SCHEMAS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): {
        "type": "object", "additionalProperties": False, "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {"apiVersion": {}, "kind": {}, "metadata": _METADATA, "spec": {
            "type": "object", "additionalProperties": False, "required": ["selector", "endpoints"],
            "properties": {
                "jobLabel": {"type": "string"},
                "namespaceSelector": {"type": "object", "additionalProperties": False, "properties": {
                    "any": {"type": "boolean"}, "matchNames": {"type": "array", "items": {"type": "string"}}}},
                "selector": {"type": "object", "additionalProperties": False, "properties": {
                    "matchLabels": _STRMAP, "matchExpressions": {"type": "array"}}},
                "endpoints": {"type": "array", "items": {
                    "type": "object", "additionalProperties": False, "properties": {
                        "port": {"type": "string"}, "path": {"type": "string"},
                        "scheme": {"enum": ["http", "https", "HTTP", "HTTPS"]},
                        "interval": _DURATION, "scrapeTimeout": _DURATION, "honorLabels": {"type": "boolean"},
                        "authorization": {"type": "object", "additionalProperties": False, "properties": {
                            "type": {"type": "string"}, "credentials": _SECRET_KEY}},
                        "relabelings": {"type": "array", "items": _RELABEL},
                        "metricRelabelings": {"type": "array", "items": _RELABEL}}}}}}}},
    ("monitoring.coreos.com/v1", "PrometheusRule"): {
        "type": "object", "additionalProperties": False, "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {"apiVersion": {}, "kind": {}, "metadata": _METADATA, "spec": {
            "type": "object", "additionalProperties": False, "properties": {"groups": {"type": "array", "items": {
                "type": "object", "additionalProperties": False, "required": ["name"], "properties": {
                    "name": {"type": "string", "minLength": 1}, "interval": _DURATION, "query_offset": _DURATION,
                    "limit": {"type": "integer"}, "labels": _STRMAP,
                    "partial_response_strategy": {"type": "string", "pattern": "^([Aa][Bb][Oo][Rr][Tt]|[Ww][Aa][Rr][Nn])?$"},
                    "rules": {"type": "array", "items": {
                        "type": "object", "additionalProperties": False, "required": ["expr"],
                        "oneOf": [{"required": ["record"]}, {"required": ["alert"]}],
                        "properties": {"record": {"type": "string"}, "alert": {"type": "string"},
                                       "expr": {"type": ["string", "integer"]}, "for": _DURATION,
                                       "keep_firing_for": _DURATION, "labels": _STRMAP,
                                       "annotations": _STRMAP}}}}}}}}}},
}
_NONEMPTY_DURATION = dict(_DURATION, minLength=1)
_MATCHER = {"type": "object", "additionalProperties": False, "required": ["name"], "properties": {
    "name": {"type": "string", "minLength": 1}, "value": {"type": "string"},
    "matchType": {"enum": ["!=", "=", "=~", "!~"]}, "regex": {"type": "boolean"}}}
_MATCHERS = {"type": "array", "items": _MATCHER}
_STRINGS = {"type": "array", "items": {"type": "string"}}
CRD_SCHEMAS[("monitoring.coreos.com/v1alpha1", "AlertmanagerConfig")] = {
    "type": "object", "additionalProperties": False, "required": ["apiVersion", "kind", "metadata", "spec"],
    "definitions": {"route": {  # Route.routes is raw JSON in the CRD; the operator decodes it as a Route
        "type": "object", "additionalProperties": False, "properties": {
            "receiver": {"type": "string"}, "groupBy": _STRINGS, "groupWait": _NONEMPTY_DURATION,
            "groupInterval": _NONEMPTY_DURATION, "repeatInterval": _NONEMPTY_DURATION,
            "matchers": _MATCHERS, "continue": {"type": "boolean"},
            "routes": {"type": "array", "items": {"$ref": "#/definitions/route"}},
            "muteTimeIntervals": _STRINGS, "activeTimeIntervals": _STRINGS}}},
    "properties": {"apiVersion": {}, "kind": {}, "metadata": _METADATA, "spec": {
        "type": "object", "additionalProperties": False, "properties": {
            "route": {"$ref": "#/definitions/route"},
            "receivers": {"type": "array", "items": {
                "type": "object", "additionalProperties": False, "required": ["name"], "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "webhookConfigs": {"type": "array", "items": {
                        "type": "object", "additionalProperties": False, "properties": {
                            "sendResolved": {"type": "boolean"},
                            "url": {"type": "string", "pattern": "^https?://.+$"},
                            "urlSecret": _SECRET_KEY, "httpConfig": {"type": "object"},
                            "maxAlerts": {"type": "integer", "minimum": 0}, "timeout": _DURATION}}}}}},
            "inhibitRules": {"type": "array", "items": {
                "type": "object", "additionalProperties": False, "properties": {
                    "sourceMatch": _MATCHERS, "targetMatch": _MATCHERS, "equal": _STRINGS}}},
            "muteTimeIntervals": {"type": "array"}}}}}


# --- helpers ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def chart():
    with helm.Chart.load(CHART) as loaded:
        yield loaded


def render(chart, values=None):
    """Rendered objects (NOTES.txt and empty documents left out), in template order."""
    out = chart.render(values, name=RELEASE, namespace=NAMESPACE)
    objects = []
    for template, text in sorted(out.items()):
        if template.endswith("NOTES.txt"):
            continue
        objects += [doc for doc in yaml.safe_load_all(text) if doc]
    return objects


def kinds(objects):
    return sorted(o["kind"] for o in objects)


def one(objects, kind):
    found = [o for o in objects if o["kind"] == kind]
    assert len(found) == 1, f"{len(found)} {kind} objects"
    return found[0]


def container(objects):
    return one(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]


def env_of(objects):
    return {e["name"]: e for e in container(objects).get("env", [])}


def load_values(path):
    return yaml.safe_load(path.read_text()) if path else None


def original_rule_groups():
    groups = []
    for path in sorted(p for g in ("*.yml", "*.yaml") for p in (ROOT / "prometheus" / "rules").glob(g)):
        groups += yaml.safe_load(path.read_text())["groups"]
    return groups


def promtool_check(groups, tmp_path):
    rule_file = tmp_path / "rules.yml"
    rule_file.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    result = subprocess.run(["promtool", "check", "rules", str(rule_file)], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


# --- lint and validate every scenario ----------------------------------------------------------
@pytest.mark.parametrize("scenario", [None, *SCENARIOS], ids=lambda p: p.name if p else "defaults")
def test_lint_is_clean(scenario):
    report = helm.lint(CHART, load_values(scenario), strict=True, namespace=NAMESPACE)
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


@pytest.mark.parametrize("scenario", [None, *SCENARIOS], ids=lambda p: p.name if p else "defaults")
def test_every_manifest_is_valid(chart, scenario):
    objects = render(chart, load_values(scenario))
    assert {"Deployment", "Service"} <= set(kinds(objects))
    for obj in objects:
        crd_schema = CRD_SCHEMAS.get((obj["apiVersion"], obj["kind"]))
        if crd_schema is not None:
            jsonschema.validate(obj, crd_schema)
            continue
        for version in KUBE_VERSIONS:
            kubernetes_validate.validate(obj, version, strict=True)


def test_scenarios_exist():
    assert {p.name for p in SCENARIOS} >= {"all-on-values.yaml", "persistence-pvc-values.yaml",
                                          "existing-secret-values.yaml", "hpa-values.yaml",
                                          "budgets-values.yaml"}


def test_validators_refuse_what_they_should(chart):
    """The validators above can fail: an unknown container field and a bad ServiceMonitor are refused."""
    deployment = copy.deepcopy(one(render(chart), "Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePolicy"] = "x"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBE_VERSIONS[-1], strict=True)
    monitor = copy.deepcopy(one(render(chart, {"serviceMonitor": {"enabled": True}}), "ServiceMonitor"))
    monitor["spec"]["endpoints"][0]["interval"] = "30 seconds"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(monitor, CRD_SCHEMAS[("monitoring.coreos.com/v1", "ServiceMonitor")])
    amc = copy.deepcopy(one(render(chart, {"alertmanagerConfig": {"enabled": True, "receivers": {
        "page": {"webhookUrl": "https://pager.example.com"}}}}), "AlertmanagerConfig"))
    amc["spec"]["route"]["routes"][0]["routes"][0]["matchers"][0]["matchType"] = "=="  # in a nested route
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(amc, CRD_SCHEMAS[("monitoring.coreos.com/v1alpha1", "AlertmanagerConfig")])


# --- defaults ----------------------------------------------------------------------------------
def test_defaults_render_only_the_core_objects(chart):
    objects = render(chart)
    assert kinds(objects) == ["Deployment", "Service", "ServiceAccount"]
    assert {o["metadata"]["name"] for o in objects} == {FULLNAME}
    assert {o["metadata"]["namespace"] for o in objects} == {NAMESPACE}


def test_deployment_is_locked_down(chart):
    objects = render(chart)
    deployment = one(objects, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    c = container(objects)
    assert deployment["spec"]["replicas"] == 1
    assert pod["securityContext"] == {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001,
                                      "fsGroup": 10001, "seccompProfile": {"type": "RuntimeDefault"}}
    assert c["securityContext"] == {"runAsNonRoot": True, "readOnlyRootFilesystem": True,
                                    "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    assert pod["automountServiceAccountToken"] is False
    assert c["image"] == "genai-lens/exporter:0.1.0"
    assert c["args"] == ["serve", "--host", "0.0.0.0", "--port", "4318"]
    assert c["ports"] == [{"name": "http", "containerPort": 4318, "protocol": "TCP"}]
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert c["resources"] == {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}}
    assert c["lifecycle"] == {"preStop": {"exec": {"command": ["sleep", "5"]}}}
    assert pod["terminationGracePeriodSeconds"] == 30
    assert c["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    assert pod["volumes"] == [{"name": "tmp", "emptyDir": {}}]
    assert "env" not in c
    service = one(objects, "Service")
    assert service["spec"]["ports"] == [{"name": "http", "port": 4318, "targetPort": "http", "protocol": "TCP"}]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "genai-lens", "app.kubernetes.io/instance": RELEASE}


# --- each switch: its object when on, nothing when off ------------------------------------------
SWITCHES = [
    ({"serviceMonitor": {"enabled": True}}, "ServiceMonitor"),
    ({"prometheusRule": {"enabled": True}}, "PrometheusRule"),
    ({"podDisruptionBudget": {"enabled": True}}, "PodDisruptionBudget"),
    ({"autoscaling": {"enabled": True}}, "HorizontalPodAutoscaler"),
    ({"auth": {"ingestToken": "t0ken"}}, "Secret"),
    ({"persistence": {"enabled": True, "type": "pvc"}}, "PersistentVolumeClaim"),
    ({"exporter": {"config": {"series_limit": 500}}}, "ConfigMap"),
    ({"alertmanagerConfig": {"enabled": True, "receivers": {"page": {"webhookUrl": "https://pager.example.com"}}}},
     "AlertmanagerConfig"),
]


@pytest.mark.parametrize(("values", "kind"), SWITCHES, ids=[k for _, k in SWITCHES])
def test_switch_renders_its_object_only_when_on(chart, values, kind):
    on = render(chart, values)
    assert kinds(on) == sorted(["Deployment", "Service", "ServiceAccount", kind])
    assert one(on, kind)["metadata"]["name"] in (FULLNAME, f"{FULLNAME}-state")
    assert kind not in kinds(render(chart))


def test_persistence_emptydir_renders_no_claim(chart):
    objects = render(chart, {"persistence": {"enabled": True}})
    assert kinds(objects) == ["Deployment", "Service", "ServiceAccount"]
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    assert {"name": "state", "emptyDir": {"sizeLimit": "256Mi"}} in pod["volumes"]
    assert env_of(objects)["GENAI_LENS_STATE_FILE"] == {"name": "GENAI_LENS_STATE_FILE",
                                                        "value": "/var/lib/genai-lens/state.json"}
    assert {"name": "state", "mountPath": "/var/lib/genai-lens"} in container(objects)["volumeMounts"]


def test_persistence_pvc_mounts_claim_and_recreates(chart):
    objects = render(chart, load_values(CHART / "ci" / "persistence-pvc-values.yaml"))
    deployment = one(objects, "Deployment")
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert {"name": "state", "persistentVolumeClaim": {"claimName": f"{FULLNAME}-state"}} in \
        deployment["spec"]["template"]["spec"]["volumes"]
    claim = one(objects, "PersistentVolumeClaim")
    assert claim["spec"] == {"accessModes": ["ReadWriteOnce"], "storageClassName": "standard",
                             "resources": {"requests": {"storage": "1Gi"}}}
    assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 60
    assert container(objects)["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "10"]


def test_persistence_existing_claim_creates_none(chart):
    objects = render(chart, {"persistence": {"enabled": True, "type": "pvc", "existingClaim": "mine"}})
    assert "PersistentVolumeClaim" not in kinds(objects)
    assert {"name": "state", "persistentVolumeClaim": {"claimName": "mine"}} in \
        one(objects, "Deployment")["spec"]["template"]["spec"]["volumes"]


def test_pvc_with_several_replicas_is_refused(chart):
    with pytest.raises(helm.HelmError, match="persistence.type=pvc keeps one state file"):
        render(chart, {"persistence": {"enabled": True, "type": "pvc"}, "replicaCount": 2})
    with pytest.raises(helm.HelmError, match="persistence.type=pvc keeps one state file"):
        render(chart, {"persistence": {"enabled": True, "type": "pvc"}, "autoscaling": {"enabled": True}})


def test_hpa_takes_over_replicas(chart):
    objects = render(chart, load_values(CHART / "ci" / "hpa-values.yaml"))
    assert "replicas" not in one(objects, "Deployment")["spec"]
    hpa = one(objects, "HorizontalPodAutoscaler")["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": FULLNAME}
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 10)
    assert hpa["metrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}}]
    assert hpa["behavior"] == {"scaleDown": {"stabilizationWindowSeconds": 300}}
    pdb = one(objects, "PodDisruptionBudget")["spec"]
    assert pdb == {"maxUnavailable": 1, "selector": {"matchLabels": {
        "app.kubernetes.io/name": "genai-lens", "app.kubernetes.io/instance": RELEASE}}}


# --- tokens ------------------------------------------------------------------------------------
def test_tokens_from_created_secret(chart):
    objects = render(chart, {"auth": {"ingestToken": "in-tok", "scrapeToken": "scr-tok"},
                             "serviceMonitor": {"enabled": True}})
    secret = one(objects, "Secret")
    assert {k: base64.b64decode(v).decode() for k, v in secret["data"].items()} == {
        "ingest-token": "in-tok", "scrape-token": "scr-tok"}
    env = env_of(objects)
    assert env["GENAI_LENS_INGEST_TOKEN"]["valueFrom"] == {"secretKeyRef": {"name": FULLNAME, "key": "ingest-token"}}
    assert env["GENAI_LENS_SCRAPE_TOKEN"]["valueFrom"] == {"secretKeyRef": {"name": FULLNAME, "key": "scrape-token"}}
    endpoint = one(objects, "ServiceMonitor")["spec"]["endpoints"][0]
    assert endpoint["authorization"] == {"type": "Bearer", "credentials": {"name": FULLNAME, "key": "scrape-token"}}
    annotations = one(objects, "Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert set(annotations) == {"checksum/secret"}


def test_tokens_from_existing_secret(chart):
    objects = render(chart, load_values(CHART / "ci" / "existing-secret-values.yaml"))
    assert "Secret" not in kinds(objects)
    env = env_of(objects)
    assert env["GENAI_LENS_INGEST_TOKEN"]["valueFrom"] == {
        "secretKeyRef": {"name": "genai-lens-tokens", "key": "ingest"}}
    assert env["GENAI_LENS_SCRAPE_TOKEN"]["valueFrom"] == {
        "secretKeyRef": {"name": "genai-lens-tokens", "key": "scrape"}}
    assert one(objects, "ServiceMonitor")["spec"]["endpoints"][0]["authorization"]["credentials"] == {
        "name": "genai-lens-tokens", "key": "scrape"}


def test_ingest_token_only_leaves_scrape_open(chart):
    objects = render(chart, {"auth": {"ingestToken": "in-tok"}, "serviceMonitor": {"enabled": True}})
    assert set(env_of(objects)) == {"GENAI_LENS_INGEST_TOKEN"}
    assert "authorization" not in one(objects, "ServiceMonitor")["spec"]["endpoints"][0]


# --- ServiceMonitor ----------------------------------------------------------------------------
def test_service_monitor_scrapes_the_http_port(chart):
    objects = render(chart, {"serviceMonitor": {"enabled": True, "labels": {"release": "kps"},
                                                "namespace": "prom"}})
    monitor = one(objects, "ServiceMonitor")
    assert monitor["metadata"]["namespace"] == "prom"
    assert monitor["metadata"]["labels"]["release"] == "kps"
    assert monitor["spec"] == {
        "jobLabel": "app.kubernetes.io/name",
        "namespaceSelector": {"matchNames": [NAMESPACE]},
        "selector": {"matchLabels": {"app.kubernetes.io/name": "genai-lens", "app.kubernetes.io/instance": RELEASE}},
        "endpoints": [{"port": "http", "path": "/metrics", "scheme": "http", "honorLabels": True, "interval": "30s"}],
    }
    # jobLabel makes the job "genai-lens", which the ExporterDown alert watches.
    assert one(objects, "Service")["metadata"]["labels"]["app.kubernetes.io/name"] == "genai-lens"


# --- PrometheusRule ----------------------------------------------------------------------------
def test_prometheus_rule_defaults_equal_the_rule_files(chart, tmp_path):
    rule = one(render(chart, {"prometheusRule": {"enabled": True}}), "PrometheusRule")
    assert rule["spec"]["groups"] == original_rule_groups()
    if rule["spec"]["groups"]:
        promtool_check(rule["spec"]["groups"], tmp_path)


def test_prometheus_rule_overrides(chart, tmp_path):
    """The chart with knobs set renders what prometheus.rules_src renders with the same knobs."""
    if not (ROOT / "prometheus" / "rules_src").exists():
        pytest.skip("no prometheus/rules_src yet")
    sys.path.insert(0, str(ROOT))
    from prometheus.rules_src import render_rules

    values = load_values(CHART / "ci" / "all-on-values.yaml")  # budget 5000 critical, ExporterDown off
    values["prometheusRule"]["runbookBase"] = "https://runbooks.example.com/genai-lens.md"
    values["prometheusRule"]["alerts"]["SpendRateHigh"] = {"usd_per_hour": 42.5, "for": "7m",
                                                           "labels": {"page": "yes"}}
    rule = one(render(chart, values), "PrometheusRule")

    expected = render_rules({
        "runbook_base": "https://runbooks.example.com/genai-lens.md",
        "SpendRateHigh": {"usd_per_hour": 42.5, "for": "7m"},
        "MonthlySpendForecastOverBudget": {"budget_usd": 5000, "severity": "critical"},
        "ExporterDown": {"enabled": False},
    })
    groups = [g for name in sorted(expected) for g in expected[name]["groups"]]
    for group in groups:
        for r in group["rules"]:
            if "alert" in r:
                r["labels"]["team"] = "platform"  # additionalAlertLabels
                if r["alert"] == "SpendRateHigh":
                    r["labels"]["page"] = "yes"
    assert rule["spec"]["groups"] == groups

    alerts = {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r}
    assert "ExporterDown" not in alerts
    assert alerts["MonthlySpendForecastOverBudget"]["expr"].endswith("> 5000")
    assert alerts["MonthlySpendForecastOverBudget"]["labels"] == {"severity": "critical", "team": "platform"}
    assert alerts["SpendRateHigh"]["expr"].endswith("* 3600 > 42.5")
    assert alerts["SpendRateHigh"]["annotations"]["runbook_url"] == \
        "https://runbooks.example.com/genai-lens.md#spendratehigh"
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    promtool_check(rule["spec"]["groups"], tmp_path)


def test_prometheus_rule_cost_drift_knobs(chart, tmp_path):
    """CostEstimateDrift's knobs (percent, min_usd, for, severity) reach both of its rules as
    prometheus.rules_src renders them; the billing recording group ships as it is."""
    sys.path.insert(0, str(ROOT))
    from prometheus.rules_src import render_rules

    knobs = {"percent": 2.5, "min_usd": 10, "for": "3h", "severity": "critical"}
    rule = one(render(chart, {"prometheusRule": {"enabled": True, "alerts": {"CostEstimateDrift": knobs}}}),
               "PrometheusRule")
    expected = render_rules({"CostEstimateDrift": knobs})
    groups = [g for name in sorted(expected) for g in expected[name]["groups"]]
    assert rule["spec"]["groups"] == groups
    drift = [r for g in groups for r in g["rules"] if r.get("alert") == "CostEstimateDrift"]
    assert [(r["labels"]["scope"], r["labels"]["severity"], r["for"]) for r in drift] == [
        ("total", "critical", "3h"), ("model", "critical", "3h")]
    assert all("> 10\n" in r["expr"] and "2.5 / 100 * (" in r["expr"] for r in drift)
    assert "genai-lens-billing" in [g["name"] for g in rule["spec"]["groups"]]
    promtool_check(rule["spec"]["groups"], tmp_path)

    off = one(render(chart, {"prometheusRule": {"enabled": True, "alerts": {"CostEstimateDrift": {"enabled": False}}}}),
              "PrometheusRule")
    assert "CostEstimateDrift" not in [r.get("alert") for g in off["spec"]["groups"] for r in g["rules"]]


def test_prometheus_rule_from_no_rule_files(tmp_path):
    """With no rule files the PrometheusRule renders, empty."""
    copy_dir = tmp_path / "genai-lens"
    shutil.copytree(CHART, copy_dir)
    for path in (copy_dir / "files" / "rules").glob("*"):
        path.unlink()
    with helm.Chart.load(copy_dir) as c:
        rule = one(render(c, {"prometheusRule": {"enabled": True}}), "PrometheusRule")
    assert rule["spec"] == {"groups": []}


# --- AlertmanagerConfig ------------------------------------------------------------------------
_BUDGET = {"name": "genai_lens_budget", "value": ".+", "matchType": "=~"}
_CRITICAL = {"name": "severity", "value": "critical", "matchType": "="}
_WARNING = {"name": "severity", "value": "warning", "matchType": "="}
PAGE_URL, TICKET_URL = "https://pager.example.com/hooks/genai-lens", "https://tickets.example.com/hooks/genai-lens"


def _crd_matcher(text):
    """`name="value"` / `name=~"re"` (prometheus/alertmanager.yml) as a CRD Matcher."""
    name, op, value = next((text.partition(op)) for op in ("=~", "!~", "!=", "=") if op in text)
    return {"name": name.strip(), "value": yaml.safe_load(value), "matchType": op}


def _crd_route(route):
    """An Alertmanager route (snake_case, string matchers) in the AlertmanagerConfig CRD's shape."""
    names = {"group_by": "groupBy", "group_wait": "groupWait", "group_interval": "groupInterval",
             "repeat_interval": "repeatInterval", "receiver": "receiver"}
    out = {names[k]: v for k, v in route.items() if k in names}
    if "matchers" in route:
        out["matchers"] = [_crd_matcher(m) for m in route["matchers"]]
    if "routes" in route:
        out["routes"] = [_crd_route(r) for r in route["routes"]]
    return out


def test_alertmanager_config_is_absent_by_default(chart):
    assert "AlertmanagerConfig" not in kinds(render(chart))
    assert "AlertmanagerConfig" not in kinds(render(chart, load_values(CHART / "ci" / "hpa-values.yaml")))


def test_alertmanager_config_routes_and_inhibits(chart):
    objects = render(chart, {"alertmanagerConfig": {"enabled": True, "receivers": {
        "page": {"webhookUrl": PAGE_URL}, "ticket": {"webhookUrl": TICKET_URL}}}})
    amc = one(objects, "AlertmanagerConfig")
    assert amc["apiVersion"] == "monitoring.coreos.com/v1alpha1"
    assert (amc["metadata"]["name"], amc["metadata"]["namespace"]) == (FULLNAME, NAMESPACE)
    assert amc["spec"] == {
        "route": {
            "receiver": "ticket", "groupBy": ["alertname"],
            "groupWait": "30s", "groupInterval": "5m", "repeatInterval": "4h",
            "routes": [
                {"matchers": [_BUDGET], "groupBy": ["genai_lens_budget"],
                 "routes": [{"matchers": [_CRITICAL], "receiver": "page"}, {"receiver": "ticket"}]},
                {"matchers": [_CRITICAL], "receiver": "page"},
            ]},
        "inhibitRules": [{"sourceMatch": [_CRITICAL, _BUDGET], "targetMatch": [_WARNING, _BUDGET],
                          "equal": ["genai_lens_budget"]}],
        "receivers": [
            {"name": "page", "webhookConfigs": [{"url": PAGE_URL, "sendResolved": True}]},
            {"name": "ticket", "webhookConfigs": [{"url": TICKET_URL, "sendResolved": True}]},
        ],
    }
    jsonschema.validate(amc, CRD_SCHEMAS[("monitoring.coreos.com/v1alpha1", "AlertmanagerConfig")])


def test_alertmanager_config_matches_the_example_alertmanager_yml(chart):
    """Same tree, timings, inhibit rule and receivers as prometheus/alertmanager.yml, in the CRD's shape."""
    example = yaml.safe_load((ROOT / "prometheus" / "alertmanager.yml").read_text())
    urls = {r["name"]: r["webhook_configs"][0]["url"] for r in example["receivers"]}
    spec = one(render(chart, {"alertmanagerConfig": {"enabled": True, "receivers": {
        name: {"webhookUrl": url} for name, url in urls.items()}}}), "AlertmanagerConfig")["spec"]
    assert spec["route"] == _crd_route(example["route"])
    assert spec["inhibitRules"] == [
        {"sourceMatch": [_crd_matcher(m) for m in rule["source_matchers"]],
         "targetMatch": [_crd_matcher(m) for m in rule["target_matchers"]],
         "equal": rule["equal"]} for rule in example["inhibit_rules"]]
    assert spec["receivers"] == [
        {"name": r["name"], "webhookConfigs": [{"url": w["url"], "sendResolved": w["send_resolved"]}
                                               for w in r["webhook_configs"]]} for r in example["receivers"]]


def test_alertmanager_config_values(chart):
    objects = render(chart, load_values(CHART / "ci" / "budgets-values.yaml"))
    amc = one(objects, "AlertmanagerConfig")
    assert amc["metadata"]["namespace"] == "alerting"
    assert amc["metadata"]["labels"]["alertmanagerConfig"] == "genai-lens"
    assert amc["spec"]["receivers"] == [
        {"name": "page", "webhookConfigs": [{"url": PAGE_URL, "sendResolved": True}]},
        {"name": "ticket", "webhookConfigs": [{"urlSecret": {"name": "ticket-webhook", "key": "url"},
                                               "sendResolved": False}]}]
    objects = render(chart, {"alertmanagerConfig": {
        "enabled": True, "groupWait": "10s", "groupInterval": "1m", "repeatInterval": "12h", "sendResolved": False,
        "receivers": {"ticket": {"webhookUrl": TICKET_URL}}}})
    spec = one(objects, "AlertmanagerConfig")["spec"]
    assert (spec["route"]["groupWait"], spec["route"]["groupInterval"], spec["route"]["repeatInterval"]) == \
        ("10s", "1m", "12h")
    # a receiver without a webhook stays (the routes name it) with no integration
    assert spec["receivers"] == [{"name": "page"},
                                 {"name": "ticket", "webhookConfigs": [{"url": TICKET_URL, "sendResolved": False}]}]
    receivers = {r["name"] for r in spec["receivers"]}
    routes = [spec["route"]]
    while routes:
        route = routes.pop()
        assert route.get("receiver", "ticket") in receivers
        routes += route.get("routes", [])


def test_alertmanager_config_needs_a_receiver(chart):
    with pytest.raises(helm.HelmError, match="alertmanagerConfig.enabled needs a receiver"):
        render(chart, {"alertmanagerConfig": {"enabled": True}})


# --- Grafana dashboards ------------------------------------------------------------------------
def test_dashboard_configmaps_carry_the_sidecar_label(tmp_path):
    copy_dir = tmp_path / "genai-lens"
    shutil.copytree(CHART, copy_dir)
    dashboards = copy_dir / "files" / "dashboards"
    for path in dashboards.glob("*.json"):
        path.unlink()
    dashboards.mkdir(parents=True, exist_ok=True)
    docs = {"cost_analytics.json": {"uid": "cost", "title": "Cost"},
            "usage.json": {"uid": "usage", "title": "Usage {{ not a template }}"}}
    for name, doc in docs.items():
        (dashboards / name).write_text(json.dumps(doc, indent=2))
    with helm.Chart.load(copy_dir) as c:
        assert "ConfigMap" not in kinds(render(c))
        objects = render(c, {"grafanaDashboards": {"enabled": True, "sidecarLabel": "grafana_dash",
                                                   "sidecarLabelValue": "yes",
                                                   "annotations": {"grafana_folder": "GenAI"}}})
    maps = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ConfigMap"}
    assert sorted(maps) == [f"{FULLNAME}-dashboard-cost-analytics", f"{FULLNAME}-dashboard-usage"]
    cost = maps[f"{FULLNAME}-dashboard-cost-analytics"]
    assert cost["metadata"]["labels"]["grafana_dash"] == "yes"
    assert cost["metadata"]["annotations"] == {"grafana_folder": "GenAI"}
    assert json.loads(cost["data"]["cost_analytics.json"]) == docs["cost_analytics.json"]
    assert json.loads(maps[f"{FULLNAME}-dashboard-usage"]["data"]["usage.json"]) == docs["usage.json"]
    for cm in maps.values():
        kubernetes_validate.validate(cm, KUBE_VERSIONS[-1], strict=True)


def test_dashboards_of_the_real_chart(chart):
    objects = render(chart, {"grafanaDashboards": {"enabled": True}})
    maps = [o for o in objects if o["kind"] == "ConfigMap"]
    originals = sorted((ROOT / "grafana" / "dashboards").glob("*.json"))
    assert len(maps) == len(originals)
    for cm in maps:
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        (name, text), = cm["data"].items()
        assert json.loads(text) == json.loads((ROOT / "grafana" / "dashboards" / name).read_text())


# --- other values ------------------------------------------------------------------------------
def test_overrides_scenario(chart):
    objects = render(chart, load_values(CHART / "ci" / "overrides-values.yaml"))
    assert kinds(objects) == ["Deployment", "Service"]
    assert {o["metadata"]["name"] for o in objects} == {"llm-metrics"}
    assert {o["metadata"]["namespace"] for o in objects} == {"observability"}
    assert {o["metadata"]["labels"]["team"] for o in objects} == {"platform"}
    c = container(objects)
    assert c["image"] == ("registry.example.com/platform/genai-lens@sha256:"
                          "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
    assert "lifecycle" not in c
    assert env_of(objects)["GENAI_LENS_LOG_LEVEL"] == {"name": "GENAI_LENS_LOG_LEVEL", "value": "warning"}
    assert one(objects, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"] == "default"
    assert one(objects, "Service")["spec"]["ports"][0]["nodePort"] == 30418


def test_exporter_config_file_and_series_limit(chart):
    objects = render(chart, {"exporter": {"seriesLimit": 5000, "config": {"label_deny": ["server.address"]}},
                             "extraArgs": ["--extra"]})
    cm = one(objects, "ConfigMap")
    assert yaml.safe_load(cm["data"]["config.yaml"]) == {"label_deny": ["server.address"]}
    c = container(objects)
    assert c["args"] == ["serve", "--host", "0.0.0.0", "--port", "4318", "--config",
                         "/etc/genai-lens/config.yaml", "--extra"]
    assert {"name": "config", "mountPath": "/etc/genai-lens", "readOnly": True} in c["volumeMounts"]
    assert env_of(objects)["GENAI_LENS_SERIES_LIMIT"]["value"] == "5000"


# --- budgets and label limits in the exporter's config file --------------------------------------
def config_text(objects):
    """The exporter's config.yaml (the ConfigMap named like the release; dashboards have their own)."""
    (cm,) = [o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == FULLNAME]
    return cm["data"]["config.yaml"]


def config_file(objects):
    return yaml.safe_load(config_text(objects))


def test_budgets_and_label_limits_are_written_to_the_config_file(chart):
    values = load_values(CHART / "ci" / "budgets-values.yaml")
    objects = render(chart, values)
    assert config_file(objects) == {"budgets": values["exporter"]["budgets"],
                                    "label_value_limits": values["exporter"]["labelValueLimits"]}
    c = container(objects)
    assert c["args"] == ["serve", "--host", "0.0.0.0", "--port", "4318", "--config", "/etc/genai-lens/config.yaml"]
    assert {"name": "config", "mountPath": "/etc/genai-lens", "readOnly": True} in c["volumeMounts"]
    pod = one(objects, "Deployment")["spec"]["template"]
    assert {"name": "config", "configMap": {"name": FULLNAME}} in pod["spec"]["volumes"]
    assert set(pod["metadata"]["annotations"]) == {"checksum/config"}


def test_label_limits_alone_make_a_config_file(chart):
    objects = render(chart, {"exporter": {"labelValueLimits": {"service_name": 50}}})
    assert config_file(objects) == {"label_value_limits": {"service_name": 50}}
    assert "--config" in container(objects)["args"]


def test_budgets_are_merged_with_exporter_config(chart):
    objects = render(chart, load_values(CHART / "ci" / "all-on-values.yaml"))
    assert config_file(objects) == {
        "label_deny": ["server.address"], "new_series_hold_seconds": 60,
        "budgets": [{"name": "platform-monthly", "match": {"genai_lens_billing": "payg"}, "amount_usd": 2000}],
        "label_value_limits": {"genai_lens_api_key": 2000}}


def test_rendered_config_file_is_valid_for_the_exporter(chart, tmp_path, monkeypatch):
    for name in [n for n in os.environ if n.startswith("GENAI_LENS_")]:
        monkeypatch.delenv(name)
    path = tmp_path / "config.yaml"
    path.write_text(config_text(render(chart, load_values(CHART / "ci" / "budgets-values.yaml"))))
    settings = Settings.load(path)  # as `genai-lens serve --config` does (exporter/cli.py)
    assert settings.budgets == [
        Budget("team-search-monthly", (("genai_lens_api_key", "team-search"),), "month", 500.0, (0.5, 0.8)),
        Budget("chat-gpt4o-weekly", (("gen_ai_request_model", "gpt-4o"), ("service_name", "chat")), "week",
               120.5, ()),
        Budget("all-spend-daily", (), "day", 40.0, ()),
    ]
    assert settings.label_value_limits == {"genai_lens_api_key": 1000, "service_name": 500}

    path.write_text(config_text(render(chart, load_values(CHART / "ci" / "all-on-values.yaml"))))
    settings = Settings.load(path)
    assert settings.budgets == [Budget("platform-monthly", (("genai_lens_billing", "payg"),), "month", 2000.0, ())]
    assert settings.label_value_limits == {"genai_lens_api_key": 2000}
    assert settings.label_deny == ["server.address"]


def test_config_checksum_follows_the_budgets(chart):
    def checksum(amount):
        objects = render(chart, {"exporter": {"budgets": [{"name": "a", "amount_usd": amount}]}})
        return one(objects, "Deployment")["spec"]["template"]["metadata"]["annotations"]["checksum/config"]

    assert checksum(10) == checksum(10) != checksum(11)


@pytest.mark.parametrize("values", [
    {"exporter": {"budgets": [{"name": "a", "amount_usd": 1}], "config": {"budgets": [{"name": "b", "amount_usd": 2}]}}},
    {"exporter": {"budgets": [{"name": "a", "amount_usd": 1}], "config": {"budgets": []}}},
], ids=["both-set", "config-key-empty"])
def test_budgets_in_both_places_are_refused(chart, values):
    with pytest.raises(helm.HelmError, match="exporter.budgets and exporter.config.budgets are both set"):
        render(chart, values)


def test_label_limits_in_both_places_are_refused(chart):
    with pytest.raises(helm.HelmError, match="exporter.labelValueLimits and exporter.config.label_value_limits"):
        render(chart, {"exporter": {"labelValueLimits": {"service_name": 5},
                                    "config": {"label_value_limits": {"service_name": 6}}}})


def test_budgets_in_exporter_config_alone_pass_through(chart):
    budgets = [{"name": "a", "amount_usd": 1}]
    assert config_file(render(chart, {"exporter": {"config": {"budgets": budgets}}})) == {"budgets": budgets}


def test_duplicate_budget_names_are_refused(chart):
    with pytest.raises(helm.HelmError, match='exporter.budgets: the name "a" is used by two budgets'):
        render(chart, {"exporter": {"budgets": [{"name": "a", "amount_usd": 1}, {"name": "a", "amount_usd": 2}]}})


def test_notes_give_the_endpoint(chart):
    notes = chart.render({"auth": {"ingestToken": "x"}}, name=RELEASE, namespace=NAMESPACE)[
        "genai-lens/templates/NOTES.txt"]
    assert f"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=http://{FULLNAME}.{NAMESPACE}.svc:4318/v1/metrics" in notes
    assert "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=delta" in notes
    assert "Authorization=Bearer" in notes


# --- the schema refuses bad values -------------------------------------------------------------
BAD_VALUES = [
    ({"replicaCount": "two"}, "/replicaCount"),
    ({"replicas": 2}, "additional properties 'replicas' not allowed"),
    ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy"),
    ({"persistence": {"type": "hostPath"}}, "/persistence/type"),
    ({"serviceMonitor": {"interval": "30 seconds"}}, "/serviceMonitor/interval"),
    ({"service": {"port": 70000}}, "/service/port"),
    ({"autoscaling": {"minReplicas": 0}}, "/autoscaling/minReplicas"),
    ({"prometheusRule": {"alerts": {"SpendRateHigh": {"usd_per_hour": "lots"}}}},
     "/prometheusRule/alerts/SpendRateHigh/usd_per_hour"),
    ({"prometheusRule": {"alerts": {"SpendRateHigh": {"budget": 5}}}}, "additional properties 'budget'"),
    ({"prometheusRule": {"alerts": {"NoSuchAlert": {"enabled": False}}}}, "NoSuchAlert"),
    ({"prometheusRule": {"alerts": {"CostEstimateDrift": {"percent": -5}}}},
     "/prometheusRule/alerts/CostEstimateDrift/percent"),
    ({"prometheusRule": {"alerts": {"CostEstimateDrift": {"min_usd": "one"}}}},
     "/prometheusRule/alerts/CostEstimateDrift/min_usd"),
    ({"prometheusRule": {"alerts": {"CostEstimateDrift": {"for": "an hour"}}}},
     "/prometheusRule/alerts/CostEstimateDrift/for"),
    ({"exporter": {"budgets": [{"name": "a", "match": {"team": "search"}, "amount_usd": 5}]}},
     "/exporter/budgets/0/match': additional properties 'team' not allowed"),
    ({"exporter": {"budgets": [{"name": "a", "amount_usd": -5}]}}, "/exporter/budgets/0/amount_usd"),
    ({"exporter": {"budgets": [{"name": "a", "amount_usd": 0}]}}, "/exporter/budgets/0/amount_usd': exclusiveMinimum"),
    ({"exporter": {"budgets": [{"name": "a", "amount_usd": 5, "period": "year"}]}}, "/exporter/budgets/0/period"),
    ({"exporter": {"budgets": [{"name": "a"}]}}, "/exporter/budgets/0': missing property 'amount_usd'"),
    ({"exporter": {"budgets": [{"amount_usd": 5}]}}, "/exporter/budgets/0': missing property 'name'"),
    ({"exporter": {"budgets": [{"name": " ", "amount_usd": 5}]}}, "/exporter/budgets/0/name"),
    ({"exporter": {"budgets": [{"name": "a", "amount_usd": 5, "warn_at": [0.5, 1.5]}]}},
     "/exporter/budgets/0/warn_at/1"),
    ({"exporter": {"budgets": [{"name": "a", "amount_usd": 5, "owner": "x"}]}}, "additional properties 'owner'"),
    ({"exporter": {"labelValueLimits": {"genai_lens_api_key": 0}}}, "/exporter/labelValueLimits/genai_lens_api_key"),
    ({"exporter": {"labelValueLimits": {"service.name": 10}}}, "additional properties 'service.name'"),
    ({"alertmanagerConfig": {"groupInterval": "0"}}, "/alertmanagerConfig/groupInterval"),
    ({"alertmanagerConfig": {"receivers": {"page": {"webhookUrl": "pager.example.com"}}}},
     "/alertmanagerConfig/receivers/page/webhookUrl"),
]


@pytest.mark.parametrize(("values", "message"), BAD_VALUES, ids=[m for _, m in BAD_VALUES])
def test_schema_refuses_bad_values(chart, values, message):
    if "SpendRateHigh" in json.dumps(values) + message and not (ROOT / "prometheus" / "rules_src").exists():
        pytest.skip("no alerts defined yet")
    with pytest.raises(helm.HelmValuesError, match=message):
        chart.validate_schema(values)
    with pytest.raises(helm.HelmError):
        chart.render(values, name=RELEASE, namespace=NAMESPACE)
    report = helm.lint(CHART, values, strict=True, namespace=NAMESPACE)
    assert any(message.split(" ")[0] in error for error in report["errors"])


# --- billing reconciliation (issue 15): every replica measures, one pod polls --------------------
BILLING_NAME = f"{FULLNAME}-billing"
KEY_SECRET = {"name": "openai-admin", "key": "admin-key"}


def billing(**openai):
    """Values with billing.openai enabled (the Secret named), plus ``openai`` overrides."""
    return {"billing": {"openai": {"enabled": True, "adminKeySecret": dict(KEY_SECRET), "days": 10,
                                   "projects": {"proj_abc": "team-search"}, "keys": {"key_abc": "team-search"},
                                   **openai}}}


def named(objects, kind, name):
    (found,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def matches(selector, labels):
    """Whether a matchLabels-style selector selects an object with these labels."""
    return all(labels.get(k) == v for k, v in selector.items())


def billing_pod_labels(objects):
    return named(objects, "Deployment", BILLING_NAME)["spec"]["template"]["metadata"]["labels"]


def clean_env(monkeypatch):
    for name in [n for n in os.environ if n.startswith("GENAI_LENS_") or n == "OPENAI_ADMIN_KEY"]:
        monkeypatch.delenv(name)


def test_billing_is_off_by_default(chart):
    for values in (None, {"billing": {"openai": {"adminKeySecret": {"name": "openai-admin"}, "days": 3}}},
                   {"serviceMonitor": {"enabled": True}, "podDisruptionBudget": {"enabled": True}}):
        objects = render(chart, values)
        assert not [o for o in objects if "billing" in o["metadata"]["name"]]
        assert kinds(objects).count("Deployment") == 1 and kinds(objects).count("Service") == 1
        assert "ConfigMap" not in kinds(objects)  # no billing section, so no config file
    assert "billing" not in json.dumps(one(render(chart), "Deployment"))


def test_billing_renders_one_polling_deployment(chart):
    objects = render(chart, billing())
    assert kinds(objects) == sorted(["ConfigMap", "ConfigMap", "Deployment", "Deployment", "Service", "Service",
                                     "ServiceAccount"])
    for obj in objects:  # every object valid, strictly, for both Kubernetes versions
        for version in KUBE_VERSIONS:
            kubernetes_validate.validate(obj, version, strict=True)
    exporter = named(objects, "Deployment", FULLNAME)
    poller = named(objects, "Deployment", BILLING_NAME)
    assert poller["spec"]["replicas"] == 1
    assert poller["spec"]["strategy"] == {"type": "Recreate"}  # never two pollers during a rollout
    pod, exporter_pod = poller["spec"]["template"]["spec"], exporter["spec"]["template"]["spec"]
    (c,), ec = pod["containers"], exporter_pod["containers"][0]
    for field in ("image", "imagePullPolicy", "ports", "livenessProbe", "readinessProbe", "securityContext"):
        assert c[field] == ec[field], field
    for field in ("securityContext", "serviceAccountName", "automountServiceAccountToken",
                  "terminationGracePeriodSeconds"):
        assert pod[field] == exporter_pod[field], field
    assert c["resources"] == {"requests": {"cpu": "20m", "memory": "96Mi"}, "limits": {"memory": "256Mi"}}
    assert c["args"] == ["serve", "--host", "0.0.0.0", "--port", "4318", "--config", "/etc/genai-lens/config.yaml"]
    assert "env" not in c  # no tokens configured; and never the admin key as a variable
    assert "lifecycle" not in c  # no ingest to drain
    # the admin key: the Secret's key projected read-only next to config.yaml
    assert {"name": "config", "mountPath": "/etc/genai-lens", "readOnly": True} in c["volumeMounts"]
    (config_volume,) = [v for v in pod["volumes"] if v["name"] == "config"]
    assert config_volume["projected"]["sources"] == [
        {"configMap": {"name": BILLING_NAME, "items": [{"key": "config.yaml", "path": "config.yaml"}]}},
        {"secret": {"name": "openai-admin", "items": [{"key": "admin-key", "path": "openai-admin-key"}]}}]
    # the exporter replicas never see the Secret
    assert "openai-admin" not in json.dumps(exporter)
    # no HPA or PDB for the poller, even with both on for the exporter
    objects = render(chart, {**billing(), "autoscaling": {"enabled": True}, "podDisruptionBudget": {"enabled": True}})
    assert one(objects, "HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]["name"] == FULLNAME
    assert not matches(one(objects, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"],
                       billing_pod_labels(objects))
    assert named(objects, "Deployment", BILLING_NAME)["spec"]["replicas"] == 1
    assert "replicas" not in named(objects, "Deployment", FULLNAME)["spec"]


def test_billing_resources_and_tokens(chart):
    resources = {"requests": {"cpu": "5m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}}
    objects = render(chart, {**billing(resources=resources),
                             "auth": {"existingSecret": "tokens", "existingSecretHasScrapeToken": True},
                             "extraEnv": [{"name": "HTTPS_PROXY", "value": "http://proxy:3128"}]})
    (c,) = named(objects, "Deployment", BILLING_NAME)["spec"]["template"]["spec"]["containers"]
    assert c["resources"] == resources
    assert c["env"] == [
        {"name": "GENAI_LENS_INGEST_TOKEN", "valueFrom": {"secretKeyRef": {"name": "tokens", "key": "ingest-token"}}},
        {"name": "GENAI_LENS_SCRAPE_TOKEN", "valueFrom": {"secretKeyRef": {"name": "tokens", "key": "scrape-token"}}},
        {"name": "HTTPS_PROXY", "value": "http://proxy:3128"}]


def test_billing_config_polls_with_the_key_file(chart, tmp_path, monkeypatch):
    clean_env(monkeypatch)
    from exporter.app import create_app
    from exporter.billing_openai import BillingConfigError, read_admin_key

    objects = render(chart, billing(intervalSeconds=600, timeoutSeconds=12.5, baseUrl="https://openai.example/v1"))
    text = named(objects, "ConfigMap", BILLING_NAME)["data"]["config.yaml"]
    path = tmp_path / "config.yaml"
    path.write_text(text)
    openai = Settings.load(path).billing.openai  # as `genai-lens serve --config` does
    assert openai.poll is True
    assert openai.admin_key_file == Path("/etc/genai-lens/openai-admin-key")
    assert (openai.base_url, openai.interval_seconds, openai.timeout_seconds, openai.days) == (
        "https://openai.example/v1", 600.0, 12.5, 10)
    assert (openai.projects, openai.keys) == ({"proj_abc": "team-search"}, {"key_abc": "team-search"})
    assert create_app(Settings.load(path)).state.billing is not None  # this process polls
    # the key file is where the pod's volume puts the Secret's key
    pod = named(objects, "Deployment", BILLING_NAME)["spec"]["template"]["spec"]
    (mount,) = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "config"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "config"]
    (item,) = volume["projected"]["sources"][1]["secret"]["items"]
    assert Path(mount["mountPath"]) / item["path"] == openai.admin_key_file
    (tmp_path / item["path"]).write_text("sk-admin-test\n")
    mounted = openai.model_copy(update={"admin_key_file": tmp_path / item["path"]})
    assert read_admin_key(mounted).get_secret_value() == "sk-admin-test"
    if not openai.admin_key_file.exists():  # without the Secret the start fails, naming the file
        with pytest.raises(BillingConfigError, match="/etc/genai-lens/openai-admin-key"):
            read_admin_key(openai)


def test_exporter_config_serves_measured_figures_without_a_key(chart, tmp_path, monkeypatch):
    clean_env(monkeypatch)
    from fastapi.testclient import TestClient

    from exporter.app import create_app

    values = billing(intervalSeconds=600)
    values["exporter"] = {"budgets": [{"name": "a", "amount_usd": 5}], "config": {"label_deny": ["server.address"]}}
    objects = render(chart, values)
    assert config_file(objects) == {
        "billing": {"openai": {"poll": False, "days": 10, "projects": {"proj_abc": "team-search"},
                               "keys": {"key_abc": "team-search"}}},
        "budgets": [{"name": "a", "amount_usd": 5}], "label_deny": ["server.address"]}
    assert "--config" in named(objects, "Deployment", FULLNAME)["spec"]["template"]["spec"]["containers"][0]["args"]
    # the poller's file holds the same settings besides its billing section
    poller = yaml.safe_load(named(objects, "ConfigMap", BILLING_NAME)["data"]["config.yaml"])
    assert {k: v for k, v in poller.items() if k != "billing"} == {
        "budgets": [{"name": "a", "amount_usd": 5}], "label_deny": ["server.address"]}
    path = tmp_path / "config.yaml"
    path.write_text(config_text(objects))
    settings = Settings.load(path)
    openai = settings.billing.openai
    assert (openai.poll, openai.admin_key_file, openai.days) == (False, None, 10)
    assert (openai.projects, openai.keys) == ({"proj_abc": "team-search"}, {"key_abc": "team-search"})
    app = create_app(settings)
    assert app.state.billing is None and app.state.billing_collector is not None  # measures, does not poll
    with TestClient(app) as client:  # starts with no admin key anywhere
        assert client.get("/readyz").status_code == 200


def test_exporter_service_does_not_select_the_billing_pods(chart):
    objects = render(chart, billing())
    exporter, poller = named(objects, "Deployment", FULLNAME), named(objects, "Deployment", BILLING_NAME)
    exporter_pod = exporter["spec"]["template"]["metadata"]["labels"]
    poller_pod = billing_pod_labels(objects)
    service, billing_service = named(objects, "Service", FULLNAME), named(objects, "Service", BILLING_NAME)
    # the exporter's selectors are unchanged (a Deployment's selector is immutable)
    assert exporter["spec"]["selector"]["matchLabels"] == service["spec"]["selector"] == {
        "app.kubernetes.io/name": "genai-lens", "app.kubernetes.io/instance": RELEASE}
    assert poller_pod["app.kubernetes.io/name"] == "genai-lens-billing"
    assert poller_pod["app.kubernetes.io/component"] == "billing"
    assert matches(service["spec"]["selector"], exporter_pod)
    assert not matches(service["spec"]["selector"], poller_pod)  # no ingest reaches the poller
    assert not matches(exporter["spec"]["selector"]["matchLabels"], poller_pod)
    assert matches(poller["spec"]["selector"]["matchLabels"], poller_pod)
    assert not matches(poller["spec"]["selector"]["matchLabels"], exporter_pod)
    assert matches(billing_service["spec"]["selector"], poller_pod)
    assert not matches(billing_service["spec"]["selector"], exporter_pod)
    assert billing_service["spec"]["type"] == "ClusterIP"
    assert billing_service["spec"]["ports"] == [{"name": "http", "port": 4318, "targetPort": "http", "protocol": "TCP"}]
    # spread constraints of the exporter select its own pods only
    objects = render(chart, {**billing(), "topologySpreadConstraints": [
        {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway"}]})
    (spread,) = named(objects, "Deployment", FULLNAME)["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert not matches(spread["labelSelector"]["matchLabels"], billing_pod_labels(objects))
    assert "topologySpreadConstraints" not in named(objects, "Deployment", BILLING_NAME)["spec"]["template"]["spec"]


def test_service_monitor_scrapes_the_exporter_and_the_poller(chart):
    objects = render(chart, {**billing(), "serviceMonitor": {"enabled": True},
                             "auth": {"scrapeToken": "scr-tok"}})
    monitor = one(objects, "ServiceMonitor")
    jsonschema.validate(monitor, CRD_SCHEMAS[("monitoring.coreos.com/v1", "ServiceMonitor")])
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["authorization"] == {"type": "Bearer", "credentials": {"name": FULLNAME, "key": "scrape-token"}}
    services = [o for o in objects if o["kind"] == "Service"]
    assert {s["metadata"]["name"] for s in services} == {FULLNAME, BILLING_NAME}
    for service in services:
        labels = service["metadata"]["labels"]
        assert matches(monitor["spec"]["selector"]["matchLabels"], labels), service["metadata"]["name"]
        assert endpoint["port"] in [p["name"] for p in service["spec"]["ports"]]
        assert labels[monitor["spec"]["jobLabel"]] == "genai-lens"  # one job: ExporterDown watches both
    # both pods check the scrape token the ServiceMonitor sends
    for name in (FULLNAME, BILLING_NAME):
        (c,) = named(objects, "Deployment", name)["spec"]["template"]["spec"]["containers"]
        assert {"name": "GENAI_LENS_SCRAPE_TOKEN",
                "valueFrom": {"secretKeyRef": {"name": FULLNAME, "key": "scrape-token"}}} in c["env"]


def test_billing_config_checksums(chart):
    def annotations(**openai):
        objects = render(chart, billing(**openai))
        return tuple(named(objects, "Deployment", n)["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
                     for n in (FULLNAME, BILLING_NAME))

    exporter, poller = annotations()
    assert annotations() == (exporter, poller)
    assert annotations(intervalSeconds=60) == (exporter, annotations(intervalSeconds=60)[1])  # poller only
    assert annotations(intervalSeconds=60)[1] != poller
    days = annotations(days=3)
    assert days[0] != exporter and days[1] != poller  # both sides serve the same windows


def test_billing_long_names_stay_valid(chart):
    objects = render(chart, {**billing(), "fullnameOverride": "x" * 63, "nameOverride": "y" * 63})
    names = {o["metadata"]["name"] for o in objects if "billing" in o["metadata"]["name"]}
    assert names == {"x" * 55 + "-billing"}
    poller = named(objects, "Deployment", "x" * 55 + "-billing")
    labels = poller["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/name"] == "y" * 55 + "-billing"
    assert not matches(named(objects, "Service", "x" * 63)["spec"]["selector"], labels)
    for obj in objects:
        kubernetes_validate.validate(obj, KUBE_VERSIONS[-1], strict=True)


def test_billing_lints_clean():
    report = helm.lint(CHART, {**billing(), "serviceMonitor": {"enabled": True}}, strict=True, namespace=NAMESPACE)
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


def test_billing_needs_the_admin_key_secret(chart):
    values = billing()
    del values["billing"]["openai"]["adminKeySecret"]["name"]
    with pytest.raises(helm.HelmError, match="billing.openai.enabled needs billing.openai.adminKeySecret.name: an "
                                             f"existing Secret in namespace {NAMESPACE} holding the OpenAI admin key "
                                             'under the key "admin-key"'):
        render(chart, values)
    with pytest.raises(helm.HelmError, match="billing.openai.enabled needs billing.openai.adminKeySecret.name"):
        render(chart, {"billing": {"openai": {"enabled": True}}})


def test_billing_in_exporter_config_too_is_refused(chart):
    with pytest.raises(helm.HelmError, match="billing.openai.enabled and exporter.config.billing are both set"):
        render(chart, {**billing(), "exporter": {"config": {"billing": {"openai": {"days": 3}}}}})
    # without billing.openai.enabled, exporter.config.billing passes through as before
    assert config_file(render(chart, {"exporter": {"config": {"billing": {}}}})) == {"billing": {}}


def test_notes_name_the_poller(chart):
    notes = chart.render(billing(), name=RELEASE, namespace=NAMESPACE)["genai-lens/templates/NOTES.txt"]
    assert f"logs deploy/{BILLING_NAME}" in notes and "Secret openai-admin (key admin-key)" in notes


BAD_BILLING_VALUES = [
    ({"billing": {"openai": {"days": 0}}}, "/billing/openai/days': minimum"),
    ({"billing": {"openai": {"days": 40}}}, "/billing/openai/days': maximum"),
    ({"billing": {"openai": {"intervalSeconds": -60}}}, "/billing/openai/intervalSeconds': exclusiveMinimum"),
    ({"billing": {"openai": {"intervalSeconds": 0}}}, "/billing/openai/intervalSeconds': exclusiveMinimum"),
    ({"billing": {"openai": {"timeoutSeconds": 0}}}, "/billing/openai/timeoutSeconds': exclusiveMinimum"),
    ({"billing": {"openai": {"days": "7"}}}, "/billing/openai/days"),
    ({"billing": {"openai": {"enabled": "yes"}}}, "/billing/openai/enabled"),
    ({"billing": {"openai": {"baseUrl": "api.openai.com"}}}, "/billing/openai/baseUrl"),
    ({"billing": {"openai": {"projects": {"proj_abc": 5}}}}, "/billing/openai/projects/proj_abc"),
    ({"billing": {"openai": {"keys": {"key_abc": ""}}}}, "/billing/openai/keys/key_abc"),
    ({"billing": {"openai": {"adminKeySecret": {"key": ""}}}}, "/billing/openai/adminKeySecret/key"),
    ({"billing": {"openai": {"adminKey": "sk-admin-x"}}}, "additional properties 'adminKey' not allowed"),
    ({"billing": {"openai": {"adminKeySecret": {"value": "sk-admin-x"}}}}, "additional properties 'value' not allowed"),
    ({"billing": {"anthropic": {"enabled": True}}}, "additional properties 'anthropic' not allowed"),
]


@pytest.mark.parametrize(("values", "message"), BAD_BILLING_VALUES, ids=[m for _, m in BAD_BILLING_VALUES])
def test_schema_refuses_bad_billing_values(chart, values, message):
    with pytest.raises(helm.HelmValuesError, match=message):
        chart.validate_schema(values)
    with pytest.raises(helm.HelmError):
        chart.render(values, name=RELEASE, namespace=NAMESPACE)


# --- the chart's copies are in sync, and the README documents every value -----------------------
def test_chart_copies_are_in_sync():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "sync_chart.py"), "--check"],
                            capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_sync_check_detects_drift_and_sync_repairs_it(tmp_path):
    for part in ("scripts", "helm", "prometheus", "grafana"):
        if (ROOT / part).exists():
            shutil.copytree(ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__"))
    script = [sys.executable, str(tmp_path / "scripts" / "sync_chart.py")]
    dashboards = tmp_path / "grafana" / "dashboards"
    dashboards.mkdir(parents=True, exist_ok=True)
    (dashboards / "zz_new.json").write_text('{"uid": "zz"}')
    stray = tmp_path / "helm" / "genai-lens" / "files" / "dashboards" / "gone.json"
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_text("{}")
    check = subprocess.run([*script, "--check"], capture_output=True, text=True, timeout=60)
    assert check.returncode == 1
    assert "out of sync: helm/genai-lens/files/dashboards/zz_new.json" in check.stdout
    assert "out of sync: helm/genai-lens/files/dashboards/gone.json" in check.stdout
    assert subprocess.run(script, capture_output=True, timeout=60).returncode == 0
    assert subprocess.run([*script, "--check"], capture_output=True, timeout=60).returncode == 0
    assert not stray.exists()
    assert (tmp_path / "helm" / "genai-lens" / "files" / "dashboards" / "zz_new.json").read_text() == '{"uid": "zz"}'


def _leaf_paths(node, prefix=""):
    if isinstance(node, dict) and node:
        for key, value in node.items():
            yield from _leaf_paths(value, f"{prefix}.{key}" if prefix else key)
    else:
        yield prefix


def test_readme_documents_every_value():
    readme = (CHART / "README.md").read_text()
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    # probes, resources and security contexts are documented as whole objects
    whole = ("livenessProbe", "readinessProbe", "resources", "podSecurityContext", "securityContext",
             "billing.openai.resources")
    paths = {next((w for w in whole if p.startswith(w)), p) for p in _leaf_paths(values)}
    missing = sorted(p for p in paths if f"`{p}`" not in readme)
    assert missing == []
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert set(schema["properties"]) - {"global"} == set(values)
