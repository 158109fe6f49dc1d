"""Attribute and instrument names, as fixed by DESIGN.md.

The ``gen_ai.*`` names follow the OpenTelemetry GenAI semantic conventions
(``gen_ai.provider.name``, not the old ``gen_ai.system``); names the
conventions lack live under ``genai_lens.*``.
"""

# Semantic-convention attributes.
OPERATION_NAME = "gen_ai.operation.name"
PROVIDER_NAME = "gen_ai.provider.name"
REQUEST_MODEL = "gen_ai.request.model"
RESPONSE_MODEL = "gen_ai.response.model"
RESPONSE_ID = "gen_ai.response.id"
REQUEST_STREAM = "gen_ai.request.stream"
REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
REQUEST_TEMPERATURE = "gen_ai.request.temperature"
REQUEST_TOP_P = "gen_ai.request.top_p"
TOKEN_TYPE = "gen_ai.token.type"
USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
USAGE_CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read.input_tokens"
# OpenAI service tier as requested and as the response reports it (auto, default, flex, priority, scale).
OPENAI_REQUEST_SERVICE_TIER = "openai.request.service_tier"
OPENAI_RESPONSE_SERVICE_TIER = "openai.response.service_tier"
# The same for other providers, which the conventions have no names for (Gemini API: flex, standard,
# priority; Vertex AI's traffic type: flex, priority, provisioned_throughput, ...).
REQUEST_SERVICE_TIER = "genai_lens.request.service_tier"
RESPONSE_SERVICE_TIER = "genai_lens.response.service_tier"
# The conventions renamed cache_creation to cache_write; only the new name is emitted.
USAGE_CACHE_WRITE_INPUT_TOKENS = "gen_ai.usage.cache_write.input_tokens"
USAGE_REASONING_OUTPUT_TOKENS = "gen_ai.usage.reasoning.output_tokens"
RESPONSE_TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"
RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
INPUT_MESSAGES = "gen_ai.input.messages"
OUTPUT_MESSAGES = "gen_ai.output.messages"
ERROR_TYPE = "error.type"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"

# genai-lens attributes.
API_KEY = "genai_lens.api_key"
COST_TYPE = "genai_lens.cost.type"
WEB_SEARCH = "genai_lens.web_search"
BILLING = "genai_lens.billing"
COST_USD = "genai_lens.cost.usd"
# What priced the call: provider (the response's own cost), genai-prices, pricing-file. Also a
# label of the cost counter.
COST_SOURCE = "genai_lens.cost.source"
# The modality parts of the token counts, one attribute per part the response reported:
# genai_lens.usage.input_audio_tokens, ... (the conventions have no names for them yet).
USAGE_MODALITY_PREFIX = "genai_lens.usage."
THROUGHPUT = "genai_lens.throughput"
WEB_SEARCH_CALLS = "genai_lens.web_search.calls"

# Token types and cost types.
TOKEN_INPUT = "input"
TOKEN_OUTPUT = "output"
COST_INPUT = "input"
COST_OUTPUT = "output"
COST_OTHER = "other"
BILLING_PAYG = "payg"
BILLING_SUBSCRIPTION = "subscription"

# Instruments.
METRIC_OPERATION_DURATION = "gen_ai.client.operation.duration"
METRIC_TOKEN_USAGE = "gen_ai.client.token.usage"
METRIC_TIME_TO_FIRST_CHUNK = "gen_ai.client.operation.time_to_first_chunk"
METRIC_TIME_PER_OUTPUT_CHUNK = "gen_ai.client.operation.time_per_output_chunk"
METRIC_THROUGHPUT = "genai_lens.throughput"
METRIC_COST = "genai_lens.cost"
METRIC_WEB_SEARCH_CALLS = "genai_lens.web_search.calls"
METRIC_UNPRICED_REQUESTS = "genai_lens.unpriced.requests"
# The cached part of the input tokens, per call: what the provider's usage reports count apart
# (OpenAI's input_cached_tokens), for the reconciliation with them (docs/reconciliation.md).
METRIC_CACHE_READ_TOKENS = "genai_lens.usage.cache_read.input_tokens"
# Why a successful call has no cost (span and unpriced counter): the model has no known price, or
# the response reported no usage (Gemini API batchEmbedContents). Never counted as free.
UNPRICED_REASON = "genai_lens.unpriced.reason"
UNPRICED_NO_PRICE = "no_price"
UNPRICED_NO_USAGE = "no_usage"

# Bucket boundaries advised by the GenAI semantic conventions.
DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
CHUNK_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
THROUGHPUT_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)

# Every instrument: (unit, description), and the bucket boundaries of the histograms. The SDK
# creates its instruments from these and the exporter's span converter writes the same, so the
# series of a span and of an SDK call are one family.
INSTRUMENTS = {
    METRIC_OPERATION_DURATION: ("s", "GenAI operation duration."),
    METRIC_TOKEN_USAGE: ("{token}", "Number of input and output tokens used (billable)."),
    METRIC_TIME_TO_FIRST_CHUNK: ("s", "Time to receive the first chunk of a streaming response."),
    METRIC_TIME_PER_OUTPUT_CHUNK: ("s", "Time between consecutive output chunks of a streaming response."),
    METRIC_THROUGHPUT: ("tokens/s", "Output tokens per second of generation time, per call."),
    METRIC_COST: ("usd", "Cost of GenAI calls in US dollars, by cost type."),
    METRIC_WEB_SEARCH_CALLS: ("{call}", "Web search tool invocations."),
    METRIC_UNPRICED_REQUESTS: ("{request}", "Calls whose model has no known price."),
    METRIC_CACHE_READ_TOKENS: ("{token}", "Input tokens read from the provider's prompt cache (part of the input tokens)."),
}
HISTOGRAM_BUCKETS = {
    METRIC_OPERATION_DURATION: DURATION_BUCKETS,
    METRIC_TOKEN_USAGE: TOKEN_BUCKETS,
    METRIC_TIME_TO_FIRST_CHUNK: CHUNK_BUCKETS,
    METRIC_TIME_PER_OUTPUT_CHUNK: CHUNK_BUCKETS,
    METRIC_THROUGHPUT: THROUGHPUT_BUCKETS,
}
