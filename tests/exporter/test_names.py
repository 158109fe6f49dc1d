import pytest

from exporter.names import label_name, metric_name


@pytest.mark.parametrize(
    "name, unit, kind, expected",
    [
        ("genai_lens.cost", "usd", "counter", ("genai_lens_cost_usd", "usd")),
        ("gen_ai.client.operation.duration", "s", "histogram", ("gen_ai_client_operation_duration_seconds", "seconds")),
        ("gen_ai.client.token.usage", "{token}", "histogram", ("gen_ai_client_token_usage", "")),
        ("gen_ai.client.operation.time_to_first_chunk", "s", "histogram", ("gen_ai_client_operation_time_to_first_chunk_seconds", "seconds")),
        ("genai_lens.throughput", "tokens/s", "histogram", ("genai_lens_throughput_tokens_per_second", "tokens_per_second")),
        ("genai_lens.web_search.calls", "{call}", "counter", ("genai_lens_web_search_calls", "")),
        ("genai_lens.unpriced.requests", "{request}", "counter", ("genai_lens_unpriced_requests", "")),
        ("http.server.duration", "ms", "histogram", ("http_server_duration_milliseconds", "milliseconds")),
        ("queue.fill", "1", "gauge", ("queue_fill_ratio", "ratio")),
        ("requests_total", "", "counter", ("requests", "")),
        ("already_seconds", "s", "gauge", ("already_seconds", "seconds")),
        ("weird-name..x", "By", "gauge", ("weird_name_x_bytes", "bytes")),
        ("9lives", "", "gauge", ("_9lives", "")),
    ],
)
def test_metric_names(name, unit, kind, expected):
    assert metric_name(name, unit, kind) == expected


@pytest.mark.parametrize(
    "key, expected",
    [
        ("gen_ai.provider.name", "gen_ai_provider_name"),
        ("genai_lens.api_key", "genai_lens_api_key"),
        ("error.type", "error_type"),
        ("service.name", "service_name"),
        ("http.response.status-code", "http_response_status_code"),
        ("2xx", "key_2xx"),
        ("__private", "key_private"),
    ],
)
def test_label_names(key, expected):
    assert label_name(key) == expected
