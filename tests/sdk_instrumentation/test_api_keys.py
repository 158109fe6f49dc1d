"""Key labels: aliases by fingerprint, else a redaction; never the key."""

import hashlib

import pytest

from sdk_instrumentation.api_keys import ApiKeyLabeler, fingerprint, load_aliases, redact

KEY = "sk-proj-AbCdEfGh0123456789wxyz"


def test_fingerprint_is_a_sha256_prefix():
    assert fingerprint(KEY) == hashlib.sha256(KEY.encode()).hexdigest()[:12]


@pytest.mark.parametrize("key,expected", [
    (KEY, "sk-…wxyz"),
    ("AIzaSyD-0123456789abcdefghijkl", "AIza…ijkl"),
    ("plain-token-0123456789", "…6789"),
    ("short", "…"),
])
def test_redaction_keeps_only_prefix_and_last_four(key, expected):
    assert redact(key) == expected


def test_alias_by_fingerprint_else_redaction():
    labeler = ApiKeyLabeler({fingerprint(KEY): "team-search"})
    assert labeler.label(KEY) == "team-search"
    assert labeler.label("sk-other-key-000000001111") == "sk-…1111"
    assert labeler.label(None) == "unknown"


def test_alias_file(tmp_path):
    path = tmp_path / "aliases.yaml"
    path.write_text(f"api_key_aliases:\n  {fingerprint(KEY)}: team-a\n")
    assert ApiKeyLabeler(load_aliases(path)).label(KEY) == "team-a"
    assert KEY not in path.read_text()


def test_bad_alias_file(tmp_path):
    path = tmp_path / "aliases.yaml"
    path.write_text("- just\n- a list\n")
    with pytest.raises(ValueError, match="aliases.yaml"):
        load_aliases(path)
