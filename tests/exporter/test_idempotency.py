"""The window of applied Idempotency-Key values: bounded in age and count, persisted."""

from __future__ import annotations

import pytest

from exporter.idempotency import KeyWindow


def test_keys_are_remembered_for_their_age_only():
    keys = KeyWindow(max_keys=10, max_age_seconds=60)
    keys.add("a", 100.0)
    keys.add("b", 130.0)
    assert keys.seen("a", 159.0) and keys.seen("b", 159.0)
    assert not keys.seen("a", 161.0) and keys.seen("b", 161.0)
    assert len(keys) == 1


def test_the_oldest_keys_go_first_past_the_count():
    keys = KeyWindow(max_keys=3, max_age_seconds=1e9)
    for i, key in enumerate("abcd"):
        keys.add(key, float(i))
    assert [k for k in "abcd" if keys.seen(k, 4.0)] == ["b", "c", "d"]


def test_snapshot_and_restore():
    keys = KeyWindow(max_age_seconds=60)
    keys.add("a", 100.0)
    keys.add("b", 150.0)
    again = KeyWindow(max_age_seconds=60)
    again.restore(keys.snapshot(), now=170.0)
    assert not again.seen("a", 170.0) and again.seen("b", 170.0)


@pytest.mark.parametrize("data", [{"a": 1}, [["a"]], [[1, 2]], [["a", "x"]]])
def test_a_malformed_snapshot_is_refused(data):
    with pytest.raises(ValueError):
        KeyWindow().restore(data, now=0.0)
