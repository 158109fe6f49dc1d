"""The measured side of the reconciliation (exporter/measured.py), fed by the store's ingest."""

from __future__ import annotations

import pytest

from exporter.measured import MeasuredDays, Row, model_family
from sdk_instrumentation.usage import Usage
from exporter.store import Store
from tests.exporter.otlp import CUMULATIVE, histogram_metric, histogram_point, number_point, request, sum_metric

NS = 1_000_000_000
DEC_1 = 1_764_547_200  # 2025-12-01 00:00 UTC
DEC_2 = DEC_1 + 86400
NOW = DEC_2 + 86400 + 3600  # 2025-12-03 01:00: Dec 1 and 2 are complete, Dec 3 is not
OPENAI = {"gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini-2024-07-18",
          "genai_lens.api_key": "team-search", "gen_ai.operation.name": "chat"}
GEMINI = {**OPENAI, "gen_ai.provider.name": "gcp.gemini", "gen_ai.request.model": "gemini-2.5-flash"}


def at(day_start: int, seconds: int) -> int:
    return (day_start + seconds) * NS


def workload(day: int, cost: float, tokens_in: int, tokens_out: int, cached: int, calls: int, errors: int = 0,
             attributes=OPENAI):
    start, end = at(day, 3600), at(day, 3610)
    bounds = [1.0, 10.0]
    return [
        sum_metric("genai_lens.cost", "usd", [number_point(cost, {**attributes, "genai_lens.cost.type": "input"},
                                                           start=start, time=end)]),
        sum_metric("genai_lens.usage.cache_read.input_tokens", "{token}",
                   [number_point(cached, attributes, start=start, time=end, as_int=True)]),
        histogram_metric("gen_ai.client.token.usage", "{token}", [
            histogram_point([1e6], [calls, 0], tokens_in, {**attributes, "gen_ai.token.type": "input"}, start, end),
            histogram_point([1e6], [calls, 0], tokens_out, {**attributes, "gen_ai.token.type": "output"}, start, end)]),
        histogram_metric("gen_ai.client.operation.duration", "s", [
            histogram_point(bounds, [calls, 0, 0], 0.5 * calls, attributes, start, end)]
            + ([histogram_point(bounds, [errors, 0, 0], 0.1, {**attributes, "error.type": "429"}, start, end)]
               if errors else [])),
    ]


def test_model_family_strips_the_snapshot_date():
    assert model_family("gpt-4o-mini-2024-07-18") == "gpt-4o-mini"
    assert model_family("o1-20241217") == "o1"
    assert model_family("gpt-4o") == "gpt-4o"
    assert model_family("text-embedding-3-small") == "text-embedding-3-small"


def test_the_store_counts_each_figure_on_the_day_of_its_points():
    measured = MeasuredDays()
    store = Store(hold_seconds=0, measured=measured, clock=lambda: NOW)
    store.ingest(request(*workload(DEC_1, 0.25, 3000, 300, 1000, 3, errors=2)))
    store.ingest(request(*workload(DEC_2, 0.5, 1000, 100, 0, 1)))
    store.ingest(request(*workload(DEC_2, 0.125, 500, 50, 200, 2)))
    store.ingest(request(*workload(DEC_2 + 86400, 9.0, 9, 9, 9, 9)))  # today: not complete, not served
    store.ingest(request(*workload(DEC_1, 7.0, 7, 7, 7, 7, attributes=GEMINI)))  # not a provider reconciled
    rows = measured.rows(NOW, days=7)
    assert rows == [
        Row("day", "2025-12-01", "openai", "gpt-4o-mini", "team-search", (0.25, 3000, 1000, 300, 3)),
        Row("day", "2025-12-02", "openai", "gpt-4o-mini", "team-search", (0.625, 1500, 200, 150, 3)),
        Row("month", "2025-12", "openai", "gpt-4o-mini", "team-search", (0.875, 4500, 1200, 450, 6)),
    ]
    # Only the last `days` days are served per day; the month still sums all its complete days.
    assert [r.period for r in measured.rows(NOW, days=1)] == ["2025-12-02", "2025-12"]


def test_a_late_batch_counts_on_its_own_day_and_cumulative_points_on_their_time():
    measured = MeasuredDays()
    store = Store(hold_seconds=0, measured=measured, clock=lambda: NOW)  # arrives on Dec 3, about Dec 1
    store.ingest(request(sum_metric("genai_lens.cost", "usd", [
        number_point(1.0, OPENAI, start=at(DEC_1, 0), time=at(DEC_1, 60)),
    ])))
    # Cumulative: the stream started on Dec 1; its second point (time Dec 2) adds 0.5 on Dec 2.
    for value, time in ((2.0, at(DEC_1, 100)), (2.5, at(DEC_2, 100))):
        store.ingest(request(sum_metric("genai_lens.cost", "usd", [number_point(value, OPENAI, start=at(DEC_1, 0),
                                                                                  time=time)], temporality=CUMULATIVE)))
    by_period = {r.period: r.figures[0] for r in measured.rows(NOW, days=7)}
    assert by_period == {"2025-12-01": 3.0, "2025-12-02": 0.5, "2025-12": 3.5}


def test_month_window_starts_on_the_first_and_old_days_are_forgotten():
    measured = MeasuredDays(keep_days=40)
    key = tuple(sorted({"gen_ai_provider_name": "openai", "gen_ai_request_model": "gpt-4o",
                        "genai_lens_api_key": ""}.items()))
    nov_30 = DEC_1 - 86400
    measured.add(0, key, 1.0, nov_30 + 5)
    measured.add(0, key, 2.0, DEC_1 + 5)
    rows = measured.rows(NOW, days=7)
    assert [(r.window, r.period, r.figures[0]) for r in rows] == [
        ("day", "2025-11-30", 1.0), ("day", "2025-12-01", 2.0), ("month", "2025-12", 2.0)]
    measured.add(0, key, 4.0, DEC_1 + 50 * 86400)  # 50 days later: Nov 30 and Dec 1 fall out of 40 kept days
    assert measured.rows(DEC_1 + 52 * 86400, days=40)[0].period == "2026-01-20"
    measured.add(0, key, 8.0, nov_30)  # too old to be kept
    assert all(r.period != "2025-11-30" for r in measured.rows(DEC_1 + 52 * 86400, days=60))


def test_it_survives_a_snapshot_and_restore():
    measured = MeasuredDays()
    store = Store(hold_seconds=0, measured=measured, clock=lambda: NOW)
    store.ingest(request(*workload(DEC_1, 0.25, 3000, 300, 1000, 3)))
    snapshot = store.snapshot()
    again = Store(hold_seconds=0, measured=MeasuredDays(), clock=lambda: NOW)
    again.restore(snapshot)
    assert again.measured.rows(NOW, 7) == measured.rows(NOW, 7)
    with pytest.raises(ValueError, match="measured"):
        Store(measured=MeasuredDays()).restore({**snapshot, "measured": [[DEC_1, [[["a"], [1.0]]]]]})


def test_spans_count_on_the_day_they_ended_even_in_one_batch():
    """/v1/traces: a batch whose spans end either side of midnight is split there; cached tokens count."""
    from exporter.span_metrics import SpanConverter
    from sdk_instrumentation.pricing import Pricing
    from tests.exporter.test_traces import span, traces

    chat = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o-mini-2024-07-18", "gen_ai.usage.input_tokens": 1000,
            "gen_ai.usage.output_tokens": 100, "gen_ai.usage.cache_read.input_tokens": 400,
            "genai_lens.api_key": "team-search"}
    spans = []
    for ends_at in (DEC_2 - 2, DEC_2 - 1, DEC_2 + 1):  # two before midnight, one after
        one = span(chat)
        one.start_time_unix_nano, one.end_time_unix_nano = (ends_at - 1) * NS, ends_at * NS
        spans.append(one)
    converted = SpanConverter(Pricing(), clock=lambda: NOW).convert(traces(*spans))
    measured = MeasuredDays()
    Store(hold_seconds=0, measured=measured, clock=lambda: NOW).ingest(converted.request)
    price = Pricing().price("openai", "gpt-4o-mini-2024-07-18", Usage(input_tokens=1000, output_tokens=100,
                                                                       cache_read_tokens=400))
    rows = {(r.window, r.period): r.figures for r in measured.rows(NOW, days=7)}
    assert rows[("day", "2025-12-01")] == (pytest.approx(2 * price.total, rel=1e-15), 2000, 800, 200, 2)
    assert rows[("day", "2025-12-02")] == (pytest.approx(price.total, rel=1e-15), 1000, 400, 100, 1)
    assert rows[("month", "2025-12")][1:] == (3000, 1200, 300, 3)
