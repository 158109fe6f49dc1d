"""The ``billing.openai`` settings and how the poller reads its admin key."""

import pytest
from pydantic import ValidationError

from exporter import Settings
from exporter.billing_openai import BillingConfigError, OpenAIBillingPoller, read_admin_key
from exporter.settings import OpenAIBilling

KEY = "sk-admin-settings-S3CRET-0123456789"


def test_absent_means_off_and_the_defaults():
    assert Settings().billing.openai is None
    config = Settings(billing={"openai": {}}).billing.openai
    assert config == OpenAIBilling(admin_key_file=None, admin_key_env="OPENAI_ADMIN_KEY",
                                   base_url="https://api.openai.com/v1", interval_seconds=900.0, days=7, projects={},
                                   keys={}, api_key_aliases_file=None, timeout_seconds=30.0)


def test_from_the_yaml_file_and_the_environment(tmp_path, monkeypatch):
    config = tmp_path / "genai-lens.yaml"
    config.write_text(
        "billing:\n"
        "  openai:\n"
        "    admin_key_file: /etc/genai-lens/openai-admin-key\n"
        "    base_url: http://127.0.0.1:8080/v1\n"
        "    days: 14\n"
        "    projects: {proj_abc: team-search}\n"
        "    keys: {key_abc: team-search}\n")
    openai = Settings.load(config).billing.openai
    assert (str(openai.admin_key_file), openai.base_url, openai.days) == ("/etc/genai-lens/openai-admin-key",
                                                                          "http://127.0.0.1:8080/v1", 14)
    assert (openai.projects, openai.keys) == ({"proj_abc": "team-search"}, {"key_abc": "team-search"})

    monkeypatch.setenv("GENAI_LENS_BILLING", '{"openai": {"admin_key_env": "MY_ADMIN_KEY", "interval_seconds": 60}}')
    openai = Settings.load(config).billing.openai  # merged key by key: the environment's win
    assert (openai.admin_key_env, openai.interval_seconds, openai.days) == ("MY_ADMIN_KEY", 60.0, 14)


@pytest.mark.parametrize("bad", [{"days": 0}, {"days": 32}, {"interval_seconds": 0}, {"timeout_seconds": -1},
                                 {"no_such": 1}, {"keys": ["key_abc"]}])
def test_bad_values_are_refused(bad):
    with pytest.raises(ValidationError, match=f"billing.openai.{next(iter(bad))}"):
        Settings(billing={"openai": bad})
    with pytest.raises(ValidationError, match="billing.anthropic"):
        Settings(billing={"anthropic": {}})


def test_the_file_wins_over_the_variable(tmp_path, monkeypatch):
    path = tmp_path / "key"
    path.write_text(f"  {KEY}\n")
    monkeypatch.setenv("OPENAI_ADMIN_KEY", "sk-admin-from-env")
    assert read_admin_key(OpenAIBilling(admin_key_file=path)).get_secret_value() == KEY
    assert read_admin_key(OpenAIBilling()).get_secret_value() == "sk-admin-from-env"
    assert KEY not in repr(read_admin_key(OpenAIBilling(admin_key_file=path)))


def test_a_missing_key_names_the_file_or_the_variable(tmp_path, monkeypatch):
    missing = tmp_path / "nope"
    with pytest.raises(BillingConfigError) as failure:
        OpenAIBillingPoller(OpenAIBilling(admin_key_file=missing)).start()
    assert str(failure.value) == f"billing.openai.admin_key_file {missing}: cannot be read (No such file or directory)"

    monkeypatch.setenv("EMPTY_ADMIN_KEY", "  ")
    with pytest.raises(BillingConfigError) as failure:
        OpenAIBillingPoller(OpenAIBilling(admin_key_env="EMPTY_ADMIN_KEY")).start()
    assert str(failure.value) == ("billing.openai: no admin key: the environment variable EMPTY_ADMIN_KEY is not set "
                                  "or empty (set it, or billing.openai.admin_key_file)")


def test_an_unreadable_alias_file_stops_the_start(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_ADMIN_KEY", KEY)
    aliases = tmp_path / "aliases.yaml"
    aliases.write_text("- not a mapping\n")
    with pytest.raises(BillingConfigError, match=f"billing.openai.api_key_aliases_file {aliases}: .*expected a mapping"):
        OpenAIBillingPoller(OpenAIBilling(api_key_aliases_file=aliases)).open()
