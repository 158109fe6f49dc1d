"""What `pip install genai-lens` (plus the `clients` extra) must be enough for: every module the
shipped packages import comes from the standard library, a core dependency, or a client extra."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLIENT_MODULES = {"openai", "google"}  # the `clients` extra; imported lazily and guarded


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_shipped_packages_import_only_core_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = {_normal(re.split(r"[<>=!~\[ ;]", dep, maxsplit=1)[0]) for dep in project["dependencies"]}
    owners = packages_distributions()
    # Distributions installed because a core dependency needs them count as core too.
    from importlib.metadata import distribution, requires

    allowed, todo = set(), list(core)
    while todo:
        name = todo.pop()
        if name in allowed:
            continue
        allowed.add(name)
        try:
            for req in requires(distribution(name).metadata["Name"]) or ():
                if "extra ==" not in req:
                    todo.append(_normal(re.split(r"[<>=!~\[ ;(]", req, maxsplit=1)[0]))
        except Exception:  # noqa: BLE001 - not installed: nothing more to follow
            pass
    bad = []
    for package in ("sdk_instrumentation", "exporter"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                    [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else [])
                for name in names:
                    top = name.split(".")[0]
                    if top in sys.stdlib_module_names or top in ("sdk_instrumentation", "exporter") or top in CLIENT_MODULES:
                        continue
                    dists = {_normal(d) for d in owners.get(top, [])}
                    if not dists & allowed:
                        bad.append(f"{path.relative_to(ROOT)}: {name} ({', '.join(sorted(dists)) or 'not installed'})")
    assert bad == [], "imports outside the core dependencies:\n" + "\n".join(bad)
