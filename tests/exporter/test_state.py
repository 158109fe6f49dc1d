"""--state-file: round trip across a graceful restart, corrupt files set aside."""

import json
import logging

from tests.exporter.otlp import CUMULATIVE, T0, histogram_metric, histogram_point, labels, number_point, request, sum_metric, values

KEY = {"genai_lens.api_key": "k1"}


def test_state_round_trip_across_restart(exporter, tmp_path):
    state = tmp_path / "state.json"
    first = exporter(state_file=state)
    first.post(request(
        sum_metric("genai_lens.cost", "usd", [number_point(0.25, KEY)]),
        sum_metric("requests", "", [number_point(5, KEY, start=T0, time=T0 + 1, as_int=True)], temporality=CUMULATIVE),
        histogram_metric("d", "s", [histogram_point([1.0], [2, 1], 4.5, KEY)]),
    ))
    before = first.metrics()
    first.__exit__(None, None, None)  # graceful shutdown writes the state
    snapshot = json.loads(state.read_text())
    assert snapshot["version"] == 1 and len(snapshot["streams"]) == 1

    second = exporter(state_file=state)
    after = second.metrics()
    for name in ("genai_lens_cost_usd_total", "requests_total", "d_seconds_bucket", "d_seconds_sum"):
        assert values(after, name) == values(before, name)
    assert values(after, "genai_lens_cost_usd_total") == {labels(genai_lens_api_key="k1", service_name="svc"): 0.25}
    # the cumulative stream continues where it was: 5 -> 7 adds 2, not 7
    second.post(request(sum_metric("requests", "", [number_point(7, KEY, start=T0, time=T0 + 2, as_int=True)], temporality=CUMULATIVE)))
    assert values(second.metrics(), "requests_total") == {labels(genai_lens_api_key="k1", service_name="svc"): 7}


def test_corrupt_state_file_is_set_aside(exporter, tmp_path, caplog):
    state = tmp_path / "state.json"
    state.write_text('{"version": 1, "families": [{"name": ')
    with caplog.at_level(logging.ERROR, logger="exporter.state"):
        server = exporter(state_file=state)
    assert server.client.get(server.url + "/readyz").status_code == 200
    aside = list(tmp_path.glob("state.json.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_text() == '{"version": 1, "families": [{"name": '
    assert not state.exists()
    (record,) = [r for r in caplog.records if r.name == "exporter.state"]
    assert record.getMessage().startswith(f"state file {state} is corrupt (")
    assert record.getMessage().endswith(f"; moved to {aside[0]}; starting from the write-ahead log alone")
    server.post(request(sum_metric("genai_lens.cost", "usd", [number_point(0.5, KEY)])))
    assert values(server.metrics(), "genai_lens_cost_usd_total") == {labels(genai_lens_api_key="k1", service_name="svc"): 0.5}


def test_wrong_shape_state_is_set_aside(exporter, tmp_path):
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"version": 1, "families": [{"name": "x", "kind": "counter"}], "streams": []}))
    exporter(state_file=state)
    assert len(list(tmp_path.glob("state.json.corrupt-*"))) == 1
