"""The overview dashboard, evaluated over the live pipeline by Grafana 13.2's front-end code and drawn
by ``grafana/frontend/src/render.mjs`` (@grafana/ui in headless Chromium), as
``scripts/render_dashboards.py`` does for docs/images/.

Checks the drawing is a real picture (the PNG's size, more than a blank page's colours) and that the
page shows what the evaluator computed: every stat, bar gauge and pie string, every table header and
cell, every legend name, and every panel title.

Skipped when Chromium (/usr/bin/chromium) or Node with the Grafana 13.2 packages is missing
(``scripts/test`` installs them); like every integration test, also without /usr/bin/prometheus.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from tests.grafana_view import available, evaluate

ROOT = Path(__file__).resolve().parents[2]
RENDER = ROOT / "grafana" / "frontend" / "src" / "render.mjs"
CHROMIUM = "/usr/bin/chromium"
DASHBOARD = json.loads((ROOT / "grafana" / "dashboards" / "genai-lens-overview.json").read_text())
WIDTH = 1280
RENDER_TIMEOUT_S = 90

pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"needs {CHROMIUM} (apt-get install chromium)"),
    pytest.mark.skipif(not available("13.2"), reason="needs node and the Grafana 13.2 npm packages (scripts/test)"),
]


# ------------------------------------------------------------------ PNG

def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which follows the 8-byte signature and its 8-byte chunk header."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "PNG signature"
    assert data[12:16] == b"IHDR", "IHDR first"
    return struct.unpack(">II", data[16:24])


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """``(width, height, pixels)`` of an 8-bit, non-interlaced RGB or RGBA PNG: each pixel's RGB bytes.

    The IDAT chunks are joined and inflated; each row starts with its filter type (0 None, 1 Sub,
    2 Up, 3 Average, 4 Paeth), undone here against the row to the left and the row above.
    """
    offset, idat, header = 8, [], None
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset:offset + 4])
        kind, body = data[offset + 4:offset + 8], data[offset + 8:offset + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        offset += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and interlace == 0 and colour in (2, 6), f"want 8-bit RGB(A), not interlaced: {header}"
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    assert len(raw) == height * (stride + 1), "inflated size"
    prev, pixels = [0] * stride, []
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], raw[start + 1:start + 1 + stride]
        if kind == 0:
            cur = list(line)
        elif kind == 2:
            cur = [(x + b) & 255 for x, b in zip(line, prev)]
        else:
            cur = list(line)
            if kind == 1:
                for i in range(bpp, stride):
                    cur[i] = (cur[i] + cur[i - bpp]) & 255
            elif kind == 3:
                for i in range(stride):
                    left = cur[i - bpp] if i >= bpp else 0
                    cur[i] = (cur[i] + ((left + prev[i]) >> 1)) & 255
            elif kind == 4:
                for i in range(bpp):  # no left or upper-left neighbour: Paeth picks the upper byte
                    cur[i] = (cur[i] + prev[i]) & 255
                for i in range(bpp, stride):
                    a, b, c = cur[i - bpp], prev[i], prev[i - bpp]
                    pa, pb = abs(b - c), abs(a - c)   # |p - a|, |p - b| with p = a + b - c
                    pc = abs(a + b - 2 * c)           # |p - c|
                    cur[i] = (cur[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
            else:
                raise AssertionError(f"row {y}: unknown PNG filter type {kind}")
        row = bytes(cur)
        pixels.extend(row[i:i + 3] for i in range(0, stride, bpp))
        prev = cur
    return width, height, pixels


# ------------------------------------------------------------------ render

def render(evaluated: Path, output: Path) -> tuple[int, dict, str]:
    """Run render.mjs in its own process group (Chromium goes down with it on a timeout)."""
    process = subprocess.Popen(["node", str(RENDER), "--input", str(evaluated), "--output", str(output),
                                "--width", str(WIDTH), "--chromium", CHROMIUM,
                                "--timeout", str(RENDER_TIMEOUT_S * 1000)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=RENDER_TIMEOUT_S + 15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"render.mjs did not finish within {RENDER_TIMEOUT_S + 15} s")
    report = json.loads(stdout.strip().splitlines()[-1]) if stdout.strip() else {}
    return process.returncode, report, stderr


def expected_texts(shown: dict) -> dict[str, list[str]]:
    """What the page must show, per kind, from the evaluator's output."""
    want = collections.defaultdict(list)
    want["titles"].append(shown["dashboard"]["title"])
    for panel in shown["panels"]:
        if panel.get("title"):
            want["titles"].append(panel["title"])
        result = panel.get("shown") or {}
        if panel["type"] in ("stat", "bargauge"):
            want[f"{panel['type']} strings"] += result["strings"]
        elif panel["type"] == "piechart":
            want["pie slices"] += [slice_["title"] for slice_ in result["slices"]] + result["strings"]
        elif panel["type"] == "table":
            want["table columns"] += result["columns"]
            want["table cells"] += [cell for row in result["rows"] for cell in row]
        elif panel["type"] == "timeseries":
            # A series hidden from the legend (the V5 cumulative line) has legend None.
            want["legend names"] += [series["name"] for series in result["series"] if series["legend"] is not None]
    return want


def test_overview_drawn_with_the_evaluated_values(live, tmp_path):
    shown = evaluate("13.2", DASHBOARD, live.prom.url, now=live.now, time={"from": "now-5m", "to": "now"},
                     variables={"granularity": "1h"}, scrape_interval="1s", width=WIDTH)
    evaluated = tmp_path / "evaluated.json"
    evaluated.write_text(json.dumps(shown))
    output = tmp_path / "overview.png"

    code, report, stderr = render(evaluated, output)

    assert code == 0, f"render.mjs exited with {code}: {stderr[-4000:]}"
    assert report["errors"] == [], report["errors"]
    data = output.read_bytes()
    assert png_size(data) == (WIDTH, report["height"])

    width, height, pixels = png_pixels(data)
    assert (width, height) == (WIDTH, report["height"]) and len(pixels) == width * height
    counts = collections.Counter(pixels)
    background, most = counts.most_common(1)[0]
    assert len(counts) > 50, f"only {len(counts)} distinct colours: a blank page?"
    assert 1 - most / len(pixels) > 0.05, f"{most / len(pixels):.1%} of the pixels are #{background.hex()}"

    lines = set(report["texts"])
    # A legend entry on the right y-axis reads "<name> (right y-axis)".
    on_page = lambda s: s in lines or f"{s} (right y-axis)" in lines  # noqa: E731
    want = expected_texts(shown)
    assert want["stat strings"] and want["table cells"] and want["legend names"], dict(want)
    missing = {kind: [s for s in strings if not on_page(s)] for kind, strings in want.items()}
    missing = {kind: strings for kind, strings in missing.items() if strings}
    assert not missing, f"not on the page: {missing}\npage text: {report['texts']}\nwarnings: {report['warnings']}"
