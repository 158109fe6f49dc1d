"""Delivery of delta batches: a key per batch, kept while the exporter is away, resent with the same
key, counted once; bounded, with what is dropped counted. Real SDK, real exporter app over HTTP, and a
faulty proxy between them (tests/proxy.py)."""

from __future__ import annotations

import logging
import re

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

import sdk_instrumentation as lens
from exporter import Settings, create_app
from sdk_instrumentation.fake_provider import FakeProvider
from sdk_instrumentation.local_server import LocalServer
from tests.proxy import FaultyProxy
from tests.reliability.support import Ledger, chat, free_port, openai_client, served_totals


def served(url: str) -> dict:
    """Tokens, calls and cost the exporter serves, the repeats it answered, the points the SDK dropped."""
    text = httpx.get(url + "/metrics", timeout=10).text
    out = served_totals(text)
    out["duplicates"], out["dropped"] = 0.0, {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "genai_lens_exporter_requests_duplicate_total":
                out["duplicates"] += s.value
            elif s.name == "genai_lens_sdk_export_dropped_points_total":
                out["dropped"][s.labels["reason"]] = out["dropped"].get(s.labels["reason"], 0.0) + s.value
    return out


@pytest.fixture
def provider():
    lens.uninstrument()
    with LocalServer(FakeProvider().app) as server:
        yield server


class Workload:
    """Chat calls through an instrumented client; what they used, exactly."""

    def __init__(self, provider_url: str, endpoint: str, **configure):
        self.configured = lens.configure(endpoint=endpoint, service_name="delivery", set_global=False,
                                         export_interval_seconds=3600, **configure)
        self.client = openai_client(provider_url)
        self.tokens = self.calls = 0

    def calls_of(self, n: int) -> None:
        for i in range(n):
            chat(self.client, 100 + i, 10 + i)
            self.tokens += 110 + 2 * i
            self.calls += 1

    @property
    def exporter(self):
        return self.configured.metric_exporter

    def flush(self) -> bool:
        """Export now; True when nothing is left waiting (force_flush itself reports True either way)."""
        self.configured.meter_provider.force_flush(10_000)
        return self.exporter.pending_points == 0


def test_every_batch_carries_its_own_key(provider):
    keys = []

    async def receive(request):
        keys.append(request.headers.get("idempotency-key"))
        await request.body()
        return Response(b"", media_type="application/x-protobuf")

    with LocalServer(Starlette(routes=[Route("/v1/metrics", receive, methods=["POST"])])) as receiver:
        work = Workload(provider.url, receiver.url)
        for _ in range(3):
            work.calls_of(1)
            assert work.flush()
        sent = list(keys)
        work.configured.shutdown()
    assert len(sent) == 3 and len(set(sent)) == 3 and all(re.fullmatch(r"[0-9a-f]{32}", k) for k in sent)


def test_batches_wait_while_the_exporter_is_away_and_arrive_once(provider):
    port = free_port()
    exporter = LocalServer(create_app(Settings(new_series_hold_seconds=0)), port=port).start()
    work = Workload(provider.url, exporter.url, export_timeout_seconds=2)
    try:
        work.calls_of(3)
        assert work.flush()
        exporter.stop()                   # away: two exports fail, their batches are kept
        for _ in range(2):
            work.calls_of(2)
            assert not work.flush()
        assert work.exporter.pending_points > 0
        exporter = LocalServer(create_app(Settings(new_series_hold_seconds=0)), port=port).start()
        work.calls_of(1)                  # a new exporter (its state is new: it counts from the restart)
        assert work.flush() and work.exporter.pending_points == 0
        got = served(exporter.url)
        # what the restarted exporter took: the two kept batches and the last one, each once
        assert (got["calls"], got["tokens"]) == (5, sum(110 + 2 * i for i in (0, 1, 0, 1, 0)))
    finally:
        work.configured.shutdown()
        exporter.stop()


@pytest.mark.parametrize("fault", ["cut_after", "delay:3"])
def test_a_lost_or_late_answer_is_resent_and_counted_once(provider, fault):
    """The exporter applied the batch but the SDK never saw the answer (the connection was cut after
    it, or it came after the SDK's timeout): the resend with the same key is answered, not applied."""
    exporter = LocalServer(create_app(Settings(new_series_hold_seconds=0))).start()
    with FaultyProxy([exporter.url], decide=lambda n: fault if n in (1, 2) else "pass") as proxy:
        work = Workload(provider.url, proxy.url, export_timeout_seconds=1)
        try:
            for _ in range(4):
                work.calls_of(2)
                work.flush()
            assert work.flush() and work.exporter.pending_points == 0
            got = served(exporter.url)
            assert (got["calls"], got["tokens"]) == (work.calls, work.tokens)
            assert got["duplicates"] >= 1
        finally:
            work.configured.shutdown()
            exporter.stop()


def test_a_connection_cut_before_the_exporter_loses_nothing(provider):
    exporter = LocalServer(create_app(Settings(new_series_hold_seconds=0))).start()
    with FaultyProxy([exporter.url], decide=lambda n: "cut_before" if n % 2 == 0 else "pass") as proxy:
        work = Workload(provider.url, proxy.url, export_timeout_seconds=1)
        try:
            for _ in range(5):
                work.calls_of(1)
                work.flush()
            while work.exporter.pending_points:
                work.flush()
            got = served(exporter.url)
            assert (got["calls"], got["tokens"]) == (work.calls, work.tokens)
            assert proxy.counts["cut_before"] >= 3 and got["duplicates"] == 0
        finally:
            work.configured.shutdown()
            exporter.stop()


def test_what_is_kept_is_bounded_and_what_is_dropped_is_counted(provider, caplog):
    port = free_port()
    work = Workload(provider.url, f"http://127.0.0.1:{port}", export_timeout_seconds=1, undelivered_max_points=40)
    try:
        with caplog.at_level(logging.WARNING, logger="sdk_instrumentation.delivery"):
            for _ in range(6):          # nothing listens: every batch is kept, up to 40 points
                work.calls_of(1)
                work.flush()
        dropped = work.exporter.dropped["max_points"]
        assert dropped > 0 and work.exporter.pending_points <= 40
        assert sum("dropped" in r.getMessage() for r in caplog.records) == 1  # one warning
        exporter = LocalServer(create_app(Settings(new_series_hold_seconds=0)), port=port).start()
        try:
            assert work.flush()
            assert work.flush()  # the dropped-points counter's own points arrive with the next batch
            # every point dropped, also when the batch made on the exporter's return pushed the total past 40
            assert work.exporter.dropped["max_points"] >= dropped
            assert served(exporter.url)["dropped"] == {"max_points": work.exporter.dropped["max_points"],
                                                       "max_age": 0.0, "rejected": 0.0}
        finally:
            exporter.stop()
    finally:
        work.configured.shutdown()


def test_a_batch_the_exporter_refuses_is_dropped_and_counted(provider):
    async def refuse(request):
        await request.body()
        return Response(b"bad", status_code=400)

    with LocalServer(Starlette(routes=[Route("/v1/metrics", refuse, methods=["POST"])])) as receiver:
        work = Workload(provider.url, receiver.url)
        work.calls_of(1)
        assert work.flush()  # nothing left waiting: a 400 cannot be retried into a 200
        assert work.exporter.dropped["rejected"] > 0
        work.configured.shutdown()


def test_batches_older_than_max_age_are_dropped(provider):
    work = Workload(provider.url, f"http://127.0.0.1:{free_port()}", export_timeout_seconds=1,
                    undelivered_max_age_seconds=0.0)
    try:
        work.calls_of(1)
        work.flush()                     # nothing listens: kept, and older than 0 s by the next export
        work.calls_of(1)
        work.flush()
        assert work.exporter.dropped["max_age"] > 0
    finally:
        work.configured.shutdown()


def test_served_is_sent_minus_exactly_the_dropped_batches(provider):
    """Past the cap the oldest batches go: the exporter then serves what was sent minus exactly their
    content, and the SDK's count of dropped points is the size of those batches."""
    port = free_port()
    work = Workload(provider.url, f"http://127.0.0.1:{port}", export_timeout_seconds=1, undelivered_max_points=45)
    ledger = Ledger.install(work.configured)
    try:
        for _ in range(8):               # nothing listens: batches wait, the oldest beyond 45 points go
            work.calls_of(1)
            work.flush()
        exporter = LocalServer(create_app(Settings(new_series_hold_seconds=0)), port=port).start()
        try:
            assert work.flush()
            dropped = work.exporter.dropped["max_points"]
            assert dropped > 0
            # the dropped batches are the oldest ones: the first exports whose points add up to it
            total, lost = 0, {"tokens": 0.0, "calls": 0.0}
            for export in ledger.exports:
                if total == dropped:
                    break
                total += export.points
                lost["tokens"] += export.tokens
                lost["calls"] += export.calls
            assert total == dropped
            got = served(exporter.url)
            assert (got["calls"], got["tokens"]) == (work.calls - lost["calls"], work.tokens - lost["tokens"])
            assert 0 < lost["calls"] < work.calls
        finally:
            exporter.stop()
    finally:
        work.configured.shutdown()
