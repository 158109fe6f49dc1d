"""The Node tests of grafana/frontend (the promlib port and the renderer), run by ``node --test``."""

import shutil
import subprocess
from pathlib import Path

import pytest

from tests import grafana_view

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("node") is None or not grafana_view.available("13.2"),
                    reason="needs node and npm ci in grafana/frontend/grafana-13.2")
def test_node_tests_pass():
    result = subprocess.run(["node", "--test", "grafana/frontend/test/"], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout
