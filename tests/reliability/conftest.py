"""Fixtures for the reliability tests.

``SECRETS`` lists every key, token and canary the reliability tests use; the autouse
``no_secret_in_logs`` fixture records every log record emitted during each test (the project's
loggers at DEBUG, the OpenTelemetry SDK's and the servers' at their own levels) and fails the test
if any of them, message or traceback, contains one.
"""

from __future__ import annotations

import logging

import pytest

from exporter.demo import DEMO_KEYS

from .support import OPENAI_KEY

INGEST_TOKEN = "ingest-token-7b1c0e55d2a94f37"
SCRAPE_TOKEN = "scrape-token-c3a9e1f08b7d4e26"
GEMINI_KEY = "AIzaReliabilitySecret5e4d3c2b1a"
PROMPT_CANARY = "PROMPT-CANARY-4f9c2a"
REPLY_CANARY = "REPLY-CANARY-8d1e7b"

SECRETS = [OPENAI_KEY, GEMINI_KEY, INGEST_TOKEN, SCRAPE_TOKEN, PROMPT_CANARY, REPLY_CANARY,
           *(key for keys in DEMO_KEYS for key in keys[:2])]


def find_secrets(text: str) -> list[str]:
    """The secrets (or their 12-character middles, which no redaction keeps) found in ``text``."""
    return [s for s in SECRETS if s in text or s[len(s) // 2 - 6: len(s) // 2 + 6] in text]


class LogCapture(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception as error:  # noqa: BLE001 - a record that cannot be formatted is still evidence
            self.lines.append(f"{record.name} unformattable: {error!r}")

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture(autouse=True)
def no_secret_in_logs():
    """Every log record of the test, checked for secrets at the end; yields the capture."""
    capture = LogCapture()
    root = logging.getLogger()
    ours = [logging.getLogger(name) for name in ("sdk_instrumentation", "exporter")]
    levels = [logger.level for logger in ours]
    root.addHandler(capture)
    for logger in ours:
        logger.setLevel(logging.DEBUG)
    try:
        yield capture
    finally:
        root.removeHandler(capture)
        for logger, level in zip(ours, levels):
            logger.setLevel(level)
    leaked = find_secrets(capture.text)
    assert not leaked, f"secrets in logs: {leaked}"
