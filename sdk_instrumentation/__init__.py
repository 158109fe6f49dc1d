"""genai-lens SDK instrumentation: spans, metrics and exact cost for LLM calls.

    import sdk_instrumentation as lens

    lens.configure(endpoint="http://127.0.0.1:4318", service_name="my-app")   # + instrument()
    client = openai.OpenAI()
    client.chat.completions.create(model="gpt-4o", messages=[...])            # measured and priced

Or per client: ``lens.instrument_client(client, api_key_alias="team-a")``; or with
no code at all: ``opentelemetry-instrument python app.py`` (entry points
``genai_lens_openai`` and ``genai_lens_google_genai``).
"""

from .api_keys import ApiKeyLabeler, fingerprint, redact
from .exemplars import exemplar_views
from .google_genai_instrumentor import GoogleGenAIInstrumentor
from .openai_instrumentor import OpenAIInstrumentor
from .setup import Configured, configure, instrument, instrument_client, uninstrument
from .telemetry import Telemetry
from .usage import Cost, Usage
from .version import __version__

__all__ = [
    "ApiKeyLabeler",
    "Configured",
    "Cost",
    "GoogleGenAIInstrumentor",
    "OpenAIInstrumentor",
    "Telemetry",
    "Usage",
    "__version__",
    "configure",
    "exemplar_views",
    "fingerprint",
    "instrument",
    "instrument_client",
    "redact",
    "uninstrument",
]
