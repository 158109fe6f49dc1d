"""API key labels: an alias the user chose, or a redaction. Never the key.

A raw key never leaves this module. ``ApiKeyLabeler`` turns a key into the
value of ``genai_lens.api_key``:

- the alias configured for the key's fingerprint (so an alias file holds no
  secret), e.g. ``{"3f1a9c2b7d4e": "team-search"}``;
- otherwise a redaction that keeps the key's prefix and last four characters,
  e.g. ``sk-…a1b2`` or ``AIza…9xQz``.

Get a key's fingerprint with ``fingerprint(key)`` or ``genai-lens fingerprint``::

    >>> fingerprint("sk-test-1234abcd")
    'a2b1…'  # the first 12 hex digits of SHA-256
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Mapping

import yaml

__all__ = ["ApiKeyLabeler", "fingerprint", "redact", "load_aliases", "FINGERPRINT_LENGTH"]

FINGERPRINT_LENGTH = 12
UNKNOWN = "unknown"


def fingerprint(key: str) -> str:
    """The first 12 hex digits of the key's SHA-256: safe to store and share."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:FINGERPRINT_LENGTH]


def redact(key: str) -> str:
    """``sk-proj-abc…wxyz`` -> ``sk-…wxyz``: the well-known prefix and the last four characters."""
    key = key.strip()
    if len(key) < 12:
        return "…" + key[-2:] if len(key) > 6 else "…"
    if key.startswith("sk-"):
        prefix = "sk-"
    elif key.startswith("AIza"):
        prefix = "AIza"
    else:
        prefix = ""
    return f"{prefix}…{key[-4:]}"


def load_aliases(path: str | os.PathLike) -> dict[str, str]:
    """Read an alias file: a YAML mapping of fingerprint to alias.

    ``api_key_aliases: {3f1a9c2b7d4e: team-search}`` or the bare mapping.
    """
    text = Path(path).read_text(encoding="utf-8")
    data = yaml.safe_load(text) or {}
    if isinstance(data, dict) and "api_key_aliases" in data:
        data = data["api_key_aliases"] or {}
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise ValueError(f"{path}: expected a mapping of key fingerprint to alias (strings)")
    return {k.lower(): v for k, v in data.items()}


class ApiKeyLabeler:
    """Maps raw keys to labels; caches per key so the hash runs once per key."""

    def __init__(self, aliases: Mapping[str, str] | None = None):
        self._aliases = {k.lower(): v for k, v in (aliases or {}).items()}
        self._cache: dict[str, str] = {}
        self._lock = threading.Lock()

    def label(self, key: str | None) -> str:
        if not key or not isinstance(key, str):
            return UNKNOWN
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        fp = fingerprint(key)
        value = self._aliases.get(fp)
        if value is None:
            value = next((alias for prefix, alias in self._aliases.items() if fp.startswith(prefix) and len(prefix) >= 8), None)
        if value is None:
            value = redact(key)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = value
        return value
