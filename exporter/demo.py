"""``genai-lens demo``: the whole pipeline on one machine, no setup.

It starts the exporter and a fake provider on 127.0.0.1, drives a mixed
workload through the real ``openai`` and ``google-genai`` clients instrumented
by the SDK (three API keys, four chat models over both providers, an embedding
model, streaming and not, web search, some errors and slow calls), prints a
summary read back from the exporter's ``/metrics``, prints the URLs to scrape,
and keeps serving until Ctrl-C or ``--duration`` ends::

    genai-lens demo                      # serve until Ctrl-C
    genai-lens demo --duration 0         # run the workload, print the summary, exit
    genai-lens demo --prometheus         # also start Prometheus with the project's rules

The workload is deterministic (token counts are set per call through the fake
provider's ``x-fake-*`` headers), so the summary is the same on every run and
the end-to-end tests can check it exactly.
"""

from __future__ import annotations

import argparse
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

__all__ = ["add_arguments", "run", "Step", "build_workload", "run_workload", "DEMO_KEYS", "demo_aliases",
           "read_summary"]

# (OpenAI key, Gemini key, alias or None). Aliases are configured by fingerprint; the third key stays redacted.
DEMO_KEYS = (
    ("sk-demo-search-00000000000000001", "AIzaDemoSearch0000000000000001", "team-search"),
    ("sk-demo-support-0000000000000002", "AIzaDemoSupport000000000000002", "team-support"),
    ("sk-demo-batch-000000000000000003", "AIzaDemoBatch00000000000000003", None),
)
OPENAI_MODELS = ("gpt-4o", "gpt-4o-mini")
GEMINI_MODELS = ("gemini-2.5-pro", "gemini-2.5-flash")
EMBEDDING_MODEL = "text-embedding-3-small"


@dataclass(frozen=True)
class Step:
    """One call of the workload."""

    api: str            # "chat", "responses", "embeddings" (OpenAI) or "generate" (Gemini)
    model: str
    key: int            # index into DEMO_KEYS
    stream: bool = False
    web_search: bool = False
    fault: str | None = None   # "429", "500" or None
    slow: bool = False
    input_tokens: int = 100
    output_tokens: int = 50
    web_search_calls: int = 0
    reported_cost: float | None = None  # USD the response itself reports (a gateway's usage.cost)

    @property
    def provider(self) -> str:
        return "gcp.gemini" if self.api == "generate" else "openai"

    def headers(self) -> dict[str, str]:
        headers = {"x-fake-input-tokens": str(self.input_tokens), "x-fake-output-tokens": str(self.output_tokens)}
        if self.web_search:
            headers["x-fake-web-search-calls"] = str(self.web_search_calls)
        if self.fault:
            headers["x-fake-fault"] = self.fault
        if self.reported_cost is not None:
            headers["x-fake-cost"] = repr(self.reported_cost)
        if self.slow:
            headers["x-fake-ttft"] = "0.4"
        if self.stream:
            headers["x-fake-chunks"] = "5"
            headers["x-fake-chunk-delay"] = "0.01"
        return headers


def demo_aliases() -> dict[str, str]:
    """The SDK's ``api_key_aliases`` for DEMO_KEYS: each aliased key's fingerprint to its alias."""
    from sdk_instrumentation.api_keys import fingerprint

    aliases = {}
    for openai_key, gemini_key, alias in DEMO_KEYS:
        if alias:
            aliases[fingerprint(openai_key)] = alias
            aliases[fingerprint(gemini_key)] = alias
    return aliases


def build_workload(calls: int = 48, seed: int = 7) -> list[Step]:
    """A deterministic mix; every model, key, stream/non-stream, web search, fault and slow call appears."""
    rng = random.Random(seed)
    steps: list[Step] = []
    for i in range(calls):
        key = i % len(DEMO_KEYS)
        kind = i % 8
        tokens = dict(input_tokens=rng.randrange(50, 5000), output_tokens=rng.randrange(10, 1500))
        if kind in (0, 1):
            step = Step("chat", OPENAI_MODELS[i % 2], key, stream=kind == 1, **tokens)
        elif kind == 2:
            step = Step("responses", "gpt-4o", key, web_search=i % 16 == 2, web_search_calls=1 + i % 3, **tokens)
        elif kind in (3, 4):
            step = Step("generate", GEMINI_MODELS[i % 2], key, stream=kind == 4, **tokens)
        elif kind == 5:
            step = Step("generate", "gemini-2.5-flash", key, web_search=True, web_search_calls=1 + i % 2, **tokens)
        elif kind == 6:
            step = Step("embeddings", EMBEDDING_MODEL, key, input_tokens=tokens["input_tokens"], output_tokens=0)
        else:
            step = Step("chat", "gpt-4o-mini", key, **tokens)
        if i % 12 == 11:
            step = Step(step.api, step.model, step.key, step.stream, step.web_search, "429" if i % 24 == 11 else "500",
                        False, step.input_tokens, step.output_tokens, step.web_search_calls)
        elif i % 10 == 9:
            step = Step(step.api, step.model, step.key, step.stream, step.web_search, None, True,
                        step.input_tokens, step.output_tokens, step.web_search_calls)
        steps.append(step)
    return steps


def make_clients(provider_url: str):
    """One OpenAI and one Gemini client per demo key, all against the fake provider."""
    import openai
    from google import genai
    from google.genai import types

    clients = []
    for openai_key, gemini_key, _ in DEMO_KEYS:
        clients.append((
            openai.OpenAI(base_url=provider_url + "/v1", api_key=openai_key, max_retries=0),
            genai.Client(api_key=gemini_key, http_options=types.HttpOptions(base_url=provider_url)),
        ))
    return clients


def run_step(step: Step, clients) -> bool:
    """Run one call; True when it succeeded. Provider errors are expected and counted."""
    from google.genai import types

    openai_client, gemini_client = clients[step.key]
    headers = step.headers()
    try:
        if step.api == "chat":
            result = openai_client.chat.completions.create(
                model=step.model, messages=[{"role": "user", "content": "Summarise the release notes."}],
                stream=step.stream, extra_headers=headers)
            if step.stream:
                for _ in result:
                    pass
        elif step.api == "responses":
            tools = [{"type": "web_search"}] if step.web_search else []
            openai_client.responses.create(model=step.model, input="What changed in the news today?", tools=tools,
                                           extra_headers=headers)
        elif step.api == "embeddings":
            openai_client.embeddings.create(model=step.model, input="release notes", extra_headers=headers)
        else:
            config = types.GenerateContentConfig(
                http_options=types.HttpOptions(headers=headers),
                tools=[types.Tool(google_search=types.GoogleSearch())] if step.web_search else None)
            if step.stream:
                for _ in gemini_client.models.generate_content_stream(model=step.model, contents="Plan my week.", config=config):
                    pass
            else:
                gemini_client.models.generate_content(model=step.model, contents="Plan my week.", config=config)
        return True
    except Exception:  # noqa: BLE001 - faults are part of the workload
        if step.fault:
            return False
        raise


def run_workload(steps: list[Step], clients, progress=None) -> tuple[int, int]:
    ok = failed = 0
    for n, step in enumerate(steps, 1):
        started = time.monotonic()
        success = run_step(step, clients)
        ok += success
        failed += not success
        if progress:
            alias = DEMO_KEYS[step.key][2] or "(redacted key)"
            flags = " ".join(f for f in ("stream" if step.stream else "", "web-search" if step.web_search else "") if f)
            status = "ok" if success else f"error {step.fault}"
            progress(f"[{n:>3}/{len(steps)}] {step.api:<10} {step.model:<23} {flags:<17} {alias:<15} "
                     f"{status:<9} {(time.monotonic() - started) * 1000:>5.0f} ms")
    return ok, failed


# -- reading the exporter back -------------------------------------------------------

def read_summary(metrics_text: str) -> dict:
    """Cost, tokens and requests by model and by key, from the Prometheus text the exporter serves."""
    from prometheus_client.parser import text_string_to_metric_families

    by_model: dict[str, dict[str, float]] = {}
    by_key: dict[str, dict[str, float]] = {}

    def add(table, name, field, value):
        row = table.setdefault(name, {"requests": 0.0, "errors": 0.0, "input_tokens": 0.0, "output_tokens": 0.0, "cost": 0.0})
        row[field] += value

    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            labels = sample.labels
            if labels.get("otel_metric_overflow"):
                continue
            model = labels.get("gen_ai_request_model")
            key = labels.get("genai_lens_api_key")
            if model is None or key is None:
                continue
            if sample.name == "genai_lens_cost_usd_total":
                field, value = "cost", sample.value
            elif sample.name == "gen_ai_client_operation_duration_seconds_count":
                field, value = ("errors" if labels.get("error_type") else "requests"), sample.value
            elif sample.name == "gen_ai_client_token_usage_sum":
                field, value = f"{labels.get('gen_ai_token_type')}_tokens", sample.value
            else:
                continue
            add(by_model, model, field, value)
            add(by_key, key, field, value)
    return {"by_model": by_model, "by_key": by_key}


def format_summary(summary: dict) -> str:
    lines = []
    for title, table in (("model", summary["by_model"]), ("API key", summary["by_key"])):
        lines.append(f"{title:<26} {'requests':>9} {'errors':>7} {'input tok':>11} {'output tok':>11} {'cost USD':>12}")
        total = {"requests": 0.0, "errors": 0.0, "input_tokens": 0.0, "output_tokens": 0.0, "cost": 0.0}
        for name in sorted(table):
            row = table[name]
            for k in total:
                total[k] += row[k]
            lines.append(f"{name:<26} {row['requests']:>9.0f} {row['errors']:>7.0f} {row['input_tokens']:>11,.0f} "
                         f"{row['output_tokens']:>11,.0f} {row['cost']:>12.6f}")
        lines.append(f"{'total':<26} {total['requests']:>9.0f} {total['errors']:>7.0f} {total['input_tokens']:>11,.0f} "
                     f"{total['output_tokens']:>11,.0f} {total['cost']:>12.6f}")
        lines.append("")
    return "\n".join(lines)


# -- Prometheus (optional) -----------------------------------------------------------

def _repo_dir(name: str) -> Path | None:
    for base in (Path(__file__).resolve().parents[1], Path.cwd()):
        if (base / name).is_dir():
            return base / name
    return None


def start_prometheus(exporter_address: str, port: int, workdir: Path) -> subprocess.Popen | None:
    binary = shutil.which("prometheus")
    if binary is None:
        print("--prometheus: no `prometheus` binary on PATH (Debian: apt-get install prometheus); skipping", flush=True)
        return None
    rules = _repo_dir("prometheus")
    rule_files = sorted(str(p) for p in (rules / "rules").glob("*.yml")) if rules else []
    config = workdir / "prometheus.yml"
    lines = ["global:", "  scrape_interval: 5s", "  evaluation_interval: 5s", "rule_files:"]
    lines += [f"  - {path}" for path in rule_files] or ["  []"]
    lines += ["scrape_configs:", "  - job_name: genai-lens", "    static_configs:", f"      - targets: ['{exporter_address}']"]
    config.write_text("\n".join(lines) + "\n")
    return subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# -- the command -----------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=4318,
                        help="exporter port on 127.0.0.1 (default 4318; a free port is used if it is taken; 0 = any free port)")
    parser.add_argument("--calls", type=int, default=48, help="number of calls in the workload (default 48)")
    parser.add_argument("--duration", type=float, default=None,
                        help="seconds to keep serving after the summary, with light background traffic "
                             "(default: until Ctrl-C; 0 = exit after the summary)")
    parser.add_argument("--prometheus", action="store_true",
                        help="also start Prometheus on 127.0.0.1:9090 (or a free port) with the project's scrape config and rules, "
                             "if a `prometheus` binary is on the PATH")
    parser.add_argument("--hold", type=float, default=None,
                        help="seconds a new series is served at 0 before its first values (default 0, or 12 with --prometheus "
                             "so Prometheus's increase() sees first calls)")


def _port_or_free(port: int) -> int:
    """``port`` if it can be bound on 127.0.0.1, else a free one."""
    import socket

    for candidate in (port, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return s.getsockname()[1]
    raise OSError("no free port on 127.0.0.1")


def _print(message: str) -> None:
    print(message, flush=True)


def run(args: argparse.Namespace) -> int:
    try:
        import google.genai  # noqa: F401
        import openai  # noqa: F401
    except ImportError:
        print("genai-lens demo needs the clients: pip install 'genai-lens[clients]'", file=sys.stderr)
        return 2
    if args.calls < 1:
        print("--calls must be at least 1", file=sys.stderr)
        return 2

    import sdk_instrumentation as lens
    from exporter.app import create_app
    from exporter.settings import Settings
    from sdk_instrumentation.fake_provider import FakeProvider
    from sdk_instrumentation.local_server import LocalServer

    hold = args.hold if args.hold is not None else (12.0 if args.prometheus else 0.0)
    settings = Settings.load(host="127.0.0.1", port=args.port, new_series_hold_seconds=hold)
    try:
        exporter = LocalServer(create_app(settings), port=args.port)
    except OSError:
        _print(f"port {args.port} is taken; using a free port")
        exporter = LocalServer(create_app(settings), port=0)
    provider = FakeProvider(ttft=0.02, chunk_delay=0.01)
    stop = threading.Event()
    prometheus = None
    workdir = Path(tempfile.mkdtemp(prefix="genai-lens-demo-"))
    with exporter, LocalServer(provider.app) as provider_server:
        _print(f"exporter       {exporter.url}  (POST /v1/metrics, GET /metrics)")
        _print(f"fake provider  {provider_server.url}  (OpenAI /v1/..., Gemini /v1beta/models/...)")
        if args.prometheus:
            prom_port = _port_or_free(9090)
            prometheus = start_prometheus(f"127.0.0.1:{exporter.port}", prom_port, workdir)
            if prometheus:
                _print(f"prometheus     http://127.0.0.1:{prom_port}  (scrapes the exporter every 5 s, rules loaded)")
        configured = lens.configure(endpoint=exporter.url, service_name="genai-lens-demo",
                                    api_key_aliases=demo_aliases(),
                                    export_interval_seconds=2.0)
        try:
            clients = make_clients(provider_server.url)
            steps = build_workload(args.calls)
            _print(f"\nrunning {len(steps)} calls through the real openai and google-genai clients ...")
            ok, failed = run_workload(steps, clients, progress=_print)
            _print(f"done: {ok} succeeded, {failed} failed (injected 429/500 faults)")
            configured.force_flush()
            if hold:
                _print(f"waiting {hold:.0f} s: new series are served at 0 first so Prometheus counts their first calls ...")
                time.sleep(hold + 1)
            with urllib.request.urlopen(exporter.url + "/metrics", timeout=10) as response:
                text = response.read().decode("utf-8")
            _print("\nwhat the exporter serves now (read back from /metrics):\n")
            _print(format_summary(read_summary(text)))
            _print(f"scrape  {exporter.url}/metrics")
            if prometheus:
                _print(f"query   http://127.0.0.1:{prom_port}/graph?g0.expr=sum%20by%20(gen_ai_request_model)%20(genai_lens_cost_usd_total)")
            if args.duration == 0:
                return 0
            _print("\nserving with light background traffic; Ctrl-C to stop" +
                   (f" (or after {args.duration:.0f} s)" if args.duration else ""))
            previous = signal.getsignal(signal.SIGTERM)
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            deadline = time.monotonic() + args.duration if args.duration else None
            rng = random.Random(11)
            trickle = build_workload(200, seed=11)
            try:
                while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
                    run_step(trickle[rng.randrange(len(trickle))], clients)
                    stop.wait(2.0)
            except KeyboardInterrupt:
                pass
            finally:
                signal.signal(signal.SIGTERM, previous)
            return 0
        finally:
            configured.shutdown()
            if prometheus:
                prometheus.terminate()
                try:
                    prometheus.wait(10)
                except subprocess.TimeoutExpired:
                    prometheus.kill()
            shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="genai-lens demo", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
