"""Applying requests exactly once: Idempotency-Key repeats, group commit, the log and the snapshot."""

from __future__ import annotations

import json
import threading

from exporter.commit import Committer
from exporter.store import Store
from tests.exporter.otlp import labels, number_point, request, sum_metric, values

KEY = {"genai_lens.api_key": "k1"}
SERIES = labels(genai_lens_api_key="k1", service_name="svc")


def cost(usd: float):
    return request(sum_metric("genai_lens.cost", "usd", [number_point(usd, KEY)]))


def served(server) -> float:
    return values(server.metrics(), "genai_lens_cost_usd_total").get(SERIES, 0.0)


def test_a_repeated_key_is_answered_and_not_applied(exporter):
    server = exporter()
    for _ in range(3):
        response = server.post(cost(0.25), headers={"Idempotency-Key": "batch-1"})
        assert response.status_code == 200 and response.content == b""
    server.post(cost(0.5), headers={"Idempotency-Key": "batch-2"})
    server.post(cost(0.125))  # no key: always applied
    server.post(cost(0.125))
    assert served(server) == 1.0
    text = server.metrics()
    assert values(text, "genai_lens_exporter_requests_duplicate_total") == {frozenset(): 2.0}
    assert values(text, "genai_lens_exporter_requests_applied_total") == {frozenset(): 4.0}


def test_a_bad_key_is_a_400(exporter):
    server = exporter()
    for key in ("x" * 257, "tab\there", "caf\u00e9"):
        response = server.post(cost(1.0), headers={"Idempotency-Key": key.encode("utf-8")})
        assert response.status_code == 400, key
        assert "Idempotency-Key must be printable ASCII" in response.text
    assert served(server) == 0.0


def test_repeats_are_remembered_across_restarts(exporter, tmp_path):
    state = tmp_path / "state.json"
    first = exporter(state_file=state)
    first.post(cost(0.25), headers={"Idempotency-Key": "batch-1"})
    first.__exit__(None, None, None)
    assert [k for k, _ in json.loads(state.read_text())["idempotency_keys"]] == ["batch-1"]
    second = exporter(state_file=state)
    second.post(cost(0.25), headers={"Idempotency-Key": "batch-1"})  # the retry of a lost answer
    assert served(second) == 0.25


def test_a_graceful_stop_compacts_the_log_into_the_snapshot(tmp_path):
    state = tmp_path / "state.json"
    store = Store(hold_seconds=0)
    committer = Committer(store, state, snapshot_interval_seconds=1e9)
    committer.start()
    for i, usd in enumerate((0.25, 0.5)):
        committer.submit(f"k{i}", cost(usd), cost(usd).SerializeToString())
    assert (tmp_path / "state.json.wal").stat().st_size > 0 and not state.exists()
    committer.stop()
    assert (tmp_path / "state.json.wal").stat().st_size == 0
    snapshot = json.loads(state.read_text())
    assert snapshot["wal_seq"] == 2 and [k for k, _ in snapshot["idempotency_keys"]] == ["k0", "k1"]


def test_concurrent_requests_share_one_fsync(tmp_path):
    """While the committer is busy, requests queue; it then makes all of them durable together."""
    store = Store(hold_seconds=0)
    committer = Committer(store, tmp_path / "state.json", snapshot_interval_seconds=1e9)
    committer.start()
    committer.submit("first", cost(0.5), cost(0.5).SerializeToString())
    threads = []
    with store.lock:  # the committer blocks applying the next group until this ends
        threads.append(threading.Thread(target=committer.submit, args=("blocked", cost(0.5), cost(0.5).SerializeToString())))
        threads[0].start()
        wait = threading.Event()
        while committer.commits < 2 and not wait.wait(0.01):  # the "blocked" group is durable, applying waits
            pass
        for i in range(20):
            thread = threading.Thread(target=committer.submit, args=(f"k{i}", cost(0.25), cost(0.25).SerializeToString()))
            thread.start()
            threads.append(thread)
        while committer._queue.qsize() < 20 and not wait.wait(0.01):  # noqa: SLF001
            pass
    for thread in threads:
        thread.join(10)
    assert committer.applied == 22
    assert committer.commits == 3 and committer.wal.fsyncs == 3  # first, blocked, and the 20 together
    committer.stop()


def test_the_log_is_compacted_on_its_interval_and_past_its_size(tmp_path):
    """Compaction while running: on the interval, and when the log passes wal_max_bytes; a new
    committer on the same files (as after kill -9: no stop) holds everything exactly once."""
    for interval, max_bytes in ((0.05, 64 * 1024 * 1024), (3600.0, 1024)):
        state = tmp_path / f"state-{max_bytes}.json"
        committer = Committer(Store(hold_seconds=0), state, snapshot_interval_seconds=interval, wal_max_bytes=max_bytes)
        committer.start()
        for i in range(40):
            committer.submit(f"k{i}", cost(0.125), cost(0.125).SerializeToString())
        deadline = threading.Event()
        while not state.exists() and not deadline.wait(0.02):
            pass
        saved = json.loads(state.read_text())["wal_seq"]
        assert 0 < saved <= 40
        again = Store(hold_seconds=0)
        reader = Committer(again, state)  # reads the snapshot and the log records after its wal_seq
        reader.start()
        family = again.families_by_name["genai_lens_cost_usd"]
        assert [s.value for s in family.series.values()] == [5.0]
        assert reader.submit("k0", cost(0.125), cost(0.125).SerializeToString()) is None  # a repeat
        reader.stop()
        committer.stop()


def held(store) -> dict:
    return {dict(s.key)["genai_lens_api_key"]: s.held for s in store.families_by_name["genai_lens_cost_usd"].series.values()}


def test_a_restart_holds_again_exactly_the_series_no_scrape_saw_a_value_of(tmp_path):
    """k1's value was served (its release is in the log); k2 was never seen at zero by a scrape, and
    the exporter was down past its hold: after the crash k1 is served at its value at once (never
    zero again: Prometheus would count a reset), k2 at zero until a scrape has seen that."""
    state, now = tmp_path / "state.json", [1000.0]
    store = Store(hold_seconds=1, clock=lambda: now[0])
    committer = Committer(store, state, snapshot_interval_seconds=1e9, clock=lambda: now[0])
    committer.start()
    committer.submit("a", cost(0.25), cost(0.25).SerializeToString())
    store.mark_served([s for s in store.families_by_name["genai_lens_cost_usd"].series.values()])  # seen at zero
    now[0] = 1001.0
    assert committer.release_due() == 1 and committer.release_due() == 0
    two = request(sum_metric("genai_lens.cost", "usd", [number_point(0.5, {"genai_lens.api_key": "k2"})]))
    committer.submit("b", two, two.SerializeToString())
    assert held(store) == {"k1": False, "k2": True}
    now[0] = 5000.0  # kill -9 (no stop), and a start long past k2's hold
    again = Store(hold_seconds=1, clock=lambda: now[0])
    restarted = Committer(again, state, clock=lambda: now[0])
    restarted.start()
    assert held(again) == {"k1": False, "k2": True}
    assert restarted.release_due() == 0  # not before a scrape has seen k2 at zero
    restarted.stop()
    committer.stop()


def test_releases_survive_compaction(tmp_path):
    state, now = tmp_path / "state.json", [1000.0]
    store = Store(hold_seconds=1, clock=lambda: now[0])
    committer = Committer(store, state, snapshot_interval_seconds=1e9, clock=lambda: now[0])
    committer.start()
    committer.submit("a", cost(0.25), cost(0.25).SerializeToString())
    store.release_held()  # a scrape saw it at zero
    now[0] = 1002.0
    assert committer.release_due() == 1
    committer.stop()
    again = Store(hold_seconds=1, clock=lambda: now[0])
    Committer(again, state, clock=lambda: now[0]).start()
    assert held(again) == {"k1": False}
