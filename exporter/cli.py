"""The ``genai-lens`` command.

::

    genai-lens serve [--host 127.0.0.1] [--port 4318] [--config FILE] [--state-file FILE]
    genai-lens demo ...           # see exporter/demo.py
    genai-lens fingerprint        # reads API keys on stdin, prints fingerprint and redaction

``serve`` runs the exporter under uvicorn, in one process: its state is in
memory, so ``--workers`` above 1 is refused (scale by running replicas).
"""

from __future__ import annotations

import argparse
import logging
import sys

__all__ = ["main"]

WORKERS_REFUSAL = (
    "genai-lens serve runs one process: the exporter aggregates series in memory, so several "
    "workers would each hold a part of every counter and /metrics would answer from one of them "
    "at random. Scale by running replicas instead (OTLP delta batches can go to any replica; "
    "Prometheus sums across them)."
)


def _add_serve(subparsers) -> None:
    serve = subparsers.add_parser("serve", help="run the exporter (OTLP/HTTP in, Prometheus /metrics out)")
    serve.add_argument("--host", default=None, help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port to bind (default 4318)")
    serve.add_argument("--config", default=None, metavar="FILE", help="YAML settings file")
    serve.add_argument("--state-file", default=None, metavar="FILE", help="durable state: a snapshot and its write-ahead log (FILE.wal); every answered "
                            "increment survives a crash")
    serve.add_argument("--workers", type=int, default=1, help="must be 1 (see the message when it is not)")
    serve.add_argument("--log-level", default=None, help="debug, info, warning, error")


def serve(args) -> int:
    """Run the exporter until SIGINT or SIGTERM (which write the state file)."""
    if args.workers != 1:
        print(f"genai-lens serve: --workers {args.workers} refused. {WORKERS_REFUSAL}", file=sys.stderr)
        return 2
    import uvicorn
    from pydantic import ValidationError

    from .app import create_app
    from .settings import Settings

    try:
        settings = Settings.load(
            args.config, host=args.host, port=args.port, state_file=args.state_file, log_level=args.log_level
        )
    except (FileNotFoundError, ValidationError, ValueError) as error:
        where = f" in {args.config}" if args.config else ""
        print(f"genai-lens serve: invalid settings{where}: {error}", file=sys.stderr)
        return 2
    openai_billing = settings.billing.openai
    if openai_billing is not None and openai_billing.poll:  # a missing admin key: one line, before the server starts
        from .billing_openai import BillingConfigError, read_admin_key

        try:
            read_admin_key(openai_billing)
        except BillingConfigError as error:
            print(f"genai-lens serve: billing.openai: {error}", file=sys.stderr)
            return 2
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level=settings.log_level.lower(), workers=None)
    return 0


def fingerprint(args) -> int:
    """Print ``<fingerprint>  <redaction>`` for each key read from stdin (never from argv: shell history)."""
    from sdk_instrumentation.api_keys import fingerprint as key_fingerprint, redact

    keys = [line.strip() for line in sys.stdin if line.strip()]
    if not keys:
        print("genai-lens fingerprint: no key on standard input (e.g. `printenv OPENAI_API_KEY | genai-lens fingerprint`)",
              file=sys.stderr)
        return 2
    for key in keys:
        print(f"{key_fingerprint(key)}  {redact(key)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    from . import demo

    parser = argparse.ArgumentParser(prog="genai-lens", description="LLM cost and usage observability")
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_serve(subparsers)
    demo.add_arguments(subparsers.add_parser(
        "demo", help="run the whole pipeline locally with a mixed workload", description=demo.__doc__.split("\n\n")[0]))
    subparsers.add_parser(
        "fingerprint", help="print the fingerprint of API keys read from stdin, for an alias file",
        description="Reads one API key per line on standard input and prints its fingerprint (the first 12 hex "
                    "digits of SHA-256) and its redaction. Put `<fingerprint>: <alias>` under `api_key_aliases:` "
                    "in the file named by GENAI_LENS_API_KEY_ALIASES; the file then holds no secret.")
    args = parser.parse_args(argv)
    if args.command == "serve":
        return serve(args)
    if args.command == "fingerprint":
        return fingerprint(args)
    return demo.run(args)


if __name__ == "__main__":
    sys.exit(main())
