import pytest
from pydantic import ValidationError

from exporter import Settings


def test_precedence_file_env_overrides(tmp_path, monkeypatch):
    config = tmp_path / "genai-lens.yaml"
    config.write_text("series_limit: 50\nport: 9000\nlabel_deny: [server.address]\nscrape_token: from-file\n")
    monkeypatch.setenv("GENAI_LENS_PORT", "9100")
    monkeypatch.setenv("GENAI_LENS_LABEL_ALLOW", "gen_ai.provider.name, service_name")
    settings = Settings.load(config, host="0.0.0.0", port=None)
    assert (settings.series_limit, settings.port, settings.host) == (50, 9100, "0.0.0.0")
    assert settings.label_deny == ["server.address"]
    assert settings.label_allow == ["gen_ai.provider.name", "service_name"]
    assert settings.scrape_token.get_secret_value() == "from-file"
    assert Settings.load(config, port=9200).port == 9200


def test_defaults_and_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("GENAI_LENS_INGEST_TOKEN", "t0k")
    settings = Settings()
    assert settings.ingest_token.get_secret_value() == "t0k" and "t0k" not in repr(settings)
    assert (settings.series_limit, settings.new_series_hold_seconds, settings.resource_labels) == (2000, 60.0, ["service.name"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("no_such_setting: 1\n")
    with pytest.raises(ValidationError):
        Settings.load(bad)
    with pytest.raises(FileNotFoundError):
        Settings.load(tmp_path / "missing.yaml")
