"""`genai-lens serve`: the workers refusal, and a real process that saves its state on SIGTERM."""

import json
import signal
import socket
import subprocess
import sys
import time

import httpx
from tests.exporter.otlp import number_point, request, sum_metric

from exporter.cli import main


def test_workers_above_one_are_refused(capsys):
    assert main(["serve", "--workers", "2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("genai-lens serve: --workers 2 refused.")
    assert "in memory" in err and "replicas" in err


def test_bad_config_exits_2(tmp_path, capsys):
    assert main(["serve", "--config", str(tmp_path / "missing.yaml")]) == 2
    assert "config file not found" in capsys.readouterr().err


def test_a_missing_billing_admin_key_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_ADMIN_KEY", raising=False)
    config = tmp_path / "config.yaml"
    config.write_text(f"billing:\n  openai:\n    admin_key_file: {tmp_path / 'no-such-key'}\n")
    assert main(["serve", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("genai-lens serve: billing.openai: ") and str(tmp_path / "no-such-key") in err
    assert err.count("\n") == 1  # one line, no traceback


def test_a_secret_under_a_wrong_name_is_not_echoed(tmp_path, capsys):
    config = tmp_path / "config.yaml"
    config.write_text("billing:\n  openai:\n    admin_key: sk-admin-must-not-be-echoed\n")
    assert main(["serve", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "admin_key" in err and "sk-admin-must-not-be-echoed" not in err


def test_serve_process_saves_state_on_sigterm(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    state = tmp_path / "state.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "exporter.cli", "serve", "--port", str(port), "--state-file", str(state), "--log-level", "warning"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and process.poll() is None, process.stderr.read() if process.poll() is not None else "timeout"
            time.sleep(0.05)
        body = request(sum_metric("genai_lens.cost", "usd", [number_point(0.75, {"genai_lens.api_key": "k"})])).SerializeToString()
        assert httpx.post(url + "/v1/metrics", content=body, headers={"Content-Type": "application/x-protobuf"}).status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal after a graceful shutdown
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    snapshot = json.loads(state.read_text())
    (family,) = snapshot["families"]
    assert (family["name"], family["series"][0][0], family["series"][0][1]) == (
        "genai_lens_cost_usd", [["genai_lens_api_key", "k"], ["service_name", "svc"]], 0.75,
    )


def test_fingerprint_reads_keys_from_stdin():
    from sdk_instrumentation.api_keys import fingerprint

    key = "sk-live-0123456789abcdefWXYZ"
    result = subprocess.run([sys.executable, "-m", "exporter.cli", "fingerprint"], input=key + "\n",
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert result.stdout == f"{fingerprint(key)}  sk-…WXYZ\n"
    empty = subprocess.run([sys.executable, "-m", "exporter.cli", "fingerprint"], input="",
                           capture_output=True, text=True, timeout=60)
    assert empty.returncode == 2 and "no key on standard input" in empty.stderr


def test_help_explains_every_command():
    result = subprocess.run([sys.executable, "-m", "exporter.cli", "--help"], capture_output=True, text=True, timeout=60)
    for command in ("serve", "demo", "fingerprint"):
        assert command in result.stdout
