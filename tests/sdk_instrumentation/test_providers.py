"""Provider names from the OpenAI client's base URL."""

import pytest

from sdk_instrumentation.providers import parse_provider_map, provider_from_url, server_address


@pytest.mark.parametrize("url,expected", [
    ("https://api.openai.com/v1", "openai"),
    ("https://my-res.openai.azure.com/openai/deployments/gpt4", "azure.ai.openai"),
    ("https://my-res.cognitiveservices.azure.com/", "azure.ai.openai"),
    ("https://api.deepseek.com", "deepseek"),
    ("https://api.groq.com/openai/v1", "groq"),
    ("https://api.x.ai/v1", "x_ai"),
    ("https://generativelanguage.googleapis.com/v1beta/openai/", "gcp.gemini"),
    ("https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/l/endpoints/openapi", "gcp.vertex_ai"),
    ("https://api.mistral.ai/v1", "mistral_ai"),
    ("https://openrouter.ai/api/v1", "openrouter"),
    ("https://zenmux.ai/api/v1", "zenmux"),
    ("https://ai-gateway.vercel.sh/v1", "vercel"),
    ("https://gateway.ai.cloudflare.com/v1/acct/gw/compat", "cloudflare"),
    ("https://api.portkey.ai/v1", "portkey"),
    ("https://oai.helicone.ai/v1", "helicone"),
    ("http://127.0.0.1:8000/v1", "openai"),
])
def test_known_hosts(url, expected):
    assert provider_from_url(url, overrides={}) == expected


def test_user_mapping_wins_and_matches_host_with_port():
    mapping = parse_provider_map("llm-gateway.internal=openai, localhost:11434=ollama")
    assert mapping == {"llm-gateway.internal": "openai", "localhost:11434": "ollama"}
    assert provider_from_url("http://localhost:11434/v1", overrides=mapping) == "ollama"
    assert provider_from_url("http://localhost:8080/v1", overrides=mapping) == "openai"


def test_env_mapping(monkeypatch):
    monkeypatch.setenv("GENAI_LENS_PROVIDERS", "gw.example=x_ai")
    assert provider_from_url("https://gw.example/v1") == "x_ai"


def test_bad_mapping_is_a_clear_error():
    with pytest.raises(ValueError, match="expected host=provider"):
        parse_provider_map("nonsense")


def test_server_address():
    assert server_address("https://api.openai.com/v1") == ("api.openai.com", 443)
    assert server_address("http://127.0.0.1:9/v1") == ("127.0.0.1", 9)
