"""Exporter settings: defaults < YAML file (``--config``) < ``GENAI_LENS_*`` environment < arguments.

::

    settings = Settings()                                   # defaults + environment
    settings = Settings.load("genai-lens.yaml", port=9000)  # + a YAML file, + overrides

Every field can be set in the YAML file under its own name (``series_limit:
500``) or in the environment with the ``GENAI_LENS_`` prefix
(``GENAI_LENS_SERIES_LIMIT=500``). Lists take JSON or comma-separated text
in the environment (``GENAI_LENS_LABEL_DENY=server.address,gen_ai.response.model``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from .budgets import Budget, parse_budgets
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, YamlConfigSettingsSource

__all__ = ["Settings", "Billing", "OpenAIBilling"]

_Names = Annotated[list[str], NoDecode]


class OpenAIBilling(BaseModel):
    """``billing.openai``: read OpenAI's organization Usage and Costs APIs (``exporter.billing_openai``;
    docs/reconciliation.md). The admin key is read when the poller starts, from ``admin_key_file``
    when set, else from the environment variable ``admin_key_env``."""

    model_config = ConfigDict(extra="forbid")

    admin_key_file: Path | None = None
    """A file holding the admin key (surrounding whitespace ignored); wins over ``admin_key_env``."""
    admin_key_env: str = "OPENAI_ADMIN_KEY"
    """The environment variable holding the admin key, when there is no ``admin_key_file``."""
    base_url: str = "https://api.openai.com/v1"
    interval_seconds: float = Field(900.0, gt=0)
    """Seconds waited after each poll before the next; every poll re-reads the whole window."""
    days: int = Field(7, ge=1, le=31)
    """Complete UTC days served as ``window="day"`` (the month to date is read too)."""
    projects: dict[str, str] = {}
    """OpenAI project id -> genai-lens key alias."""
    keys: dict[str, str] = {}
    """OpenAI API key id -> genai-lens key alias (wins over ``projects`` and redacted-key matching)."""
    api_key_aliases_file: Path | None = None
    """An alias file in the SDK's format; its redaction entries (``sk-proj-…abcd: alias``) are matched
    against the ``redacted_value`` of the projects' API keys (fingerprint entries cannot be)."""
    timeout_seconds: float = Field(30.0, gt=0)
    """Timeout of each HTTP request to the API."""
    poll: bool = True
    """Poll the API from this exporter. Every replica with ``billing.openai`` serves its measured
    figures (``source="measured"``); exactly one should poll (``poll: false`` on the others, which
    then need no admin key), so one set of billed figures is served."""


class Billing(BaseModel):
    """``billing``: reconciliation with the providers' own usage and cost reports (absent: off)."""

    model_config = ConfigDict(extra="forbid")

    openai: OpenAIBilling | None = None


class Settings(BaseSettings):
    """Everything the exporter can be told. See docs/exporter.md for the reference."""

    # hide_input_in_errors: a secret given under a wrong name must not be echoed in the error
    model_config = SettingsConfigDict(env_prefix="GENAI_LENS_", extra="forbid", hide_input_in_errors=True)

    host: str = "127.0.0.1"
    port: int = Field(4318, ge=0, le=65535)
    log_level: str = "info"

    ingest_token: SecretStr | None = None
    """Bearer token required on ``POST /v1/metrics`` and ``POST /v1/traces`` (none: open)."""
    scrape_token: SecretStr | None = None
    """Bearer token required on ``GET /metrics`` (none: open)."""

    max_body_bytes: int = Field(8 * 1024 * 1024, ge=1024)
    """Largest accepted request body, both as sent and after gzip decompression."""

    series_limit: int = Field(2000, ge=1)
    """Series per metric; past it, new label sets fold into one ``otel_metric_overflow="true"`` series."""
    label_allow: _Names = []
    """If set, only these labels are kept (attribute keys or Prometheus label names)."""
    label_deny: _Names = []
    """Labels dropped from every series (attribute keys or Prometheus label names)."""
    resource_labels: _Names = ["service.name"]
    """Resource attributes kept as labels; all others (hosts, pids, instance ids) are dropped."""

    new_series_hold_seconds: float = Field(60.0, ge=0)
    """A new counter or histogram series is served at zero this long (and for at least one
    scrape) before its real value, so ``increase()`` counts its first increments."""
    created_timestamps: bool = False
    """Serve ``_created`` samples in OpenMetrics responses (never in the text format). Off by
    default: Prometheus 2.x stores them as extra ``*_created`` series."""

    exemplars: bool = True
    """Keep the exemplars OTLP points carry (trace and span ids; the latest per histogram bucket and
    one per counter series) and serve them in OpenMetrics responses, for Prometheus's exemplar
    storage and Grafana's links to traces. Off: dropped on arrival."""

    stream_ttl_seconds: float = Field(3600.0, gt=0)
    """Cumulative streams unseen this long are forgotten (their series stay)."""
    max_streams: int = Field(200_000, ge=1)
    """Cumulative streams tracked at most; points of further new streams are rejected."""

    state_file: Path | None = None
    """Durable state: the snapshot, with its write-ahead log beside it (``<state_file>.wal``); every
    increment answered 2xx survives a crash (docs/reliability.md). None: in memory only."""
    snapshot_interval_seconds: float = Field(300.0, gt=0)
    """How often the write-ahead log is compacted into the snapshot (and at shutdown)."""
    wal_max_bytes: int = Field(64 * 1024 * 1024, ge=1024)
    """The write-ahead log is compacted into the snapshot when it grows past this size."""
    idempotency_window_seconds: float = Field(3600.0, gt=0)
    """How long the ``Idempotency-Key`` of an applied request is remembered (a repeat is not applied)."""
    idempotency_max_keys: int = Field(200_000, ge=1)
    """At most this many keys are remembered; the oldest are forgotten first."""

    span_key_attributes: _Names = ["genai_lens.api_key"]
    """Span or resource attributes that name the caller of a GenAI span on ``POST /v1/traces``, tried in
    order (e.g. ``genai_lens.api_key,tenant.id,user.id``); the first present fills ``genai_lens_api_key``.
    None present: the label is absent (docs/any-instrumentation.md)."""
    pricing_file: Path | None = None
    """The pricing file (docs/pricing.md) the exporter prices spans on ``POST /v1/traces`` with; None:
    ``GENAI_LENS_PRICING_FILE`` as the SDK reads it, else genai-prices and the shipped prices only."""

    label_value_limits: dict[str, int] = {}
    """At most this many distinct values per label (Prometheus label name -> N), e.g.
    ``{genai_lens_api_key: 1000, service_name: 500}``: later values fold into ``__other__`` with
    totals kept; values a budget matches on are always kept. Empty: no limit (``series_limit`` still
    bounds every metric)."""

    billing: Billing = Field(default_factory=Billing)
    """``billing.openai``: poll OpenAI's organization Usage and Costs APIs and serve what it billed as
    the ``genai_lens_billed_*{source="provider"}`` gauges (docs/reconciliation.md). Absent: off."""

    budgets: list[Budget] = []
    """Named budgets: ``{name, match: {label: value}, period: month|week|day, amount_usd, warn_at: [...]}``
    (``exporter.budgets``; docs/budgets.md). A bad budget stops the start, naming it."""

    @field_validator("budgets", mode="before")
    @classmethod
    def _budgets(cls, value: Any) -> Any:
        if isinstance(value, str):  # the environment: JSON
            import json

            value = json.loads(value) if value.strip() else []
        return list(parse_budgets(value))

    @field_validator("label_allow", "label_deny", "resource_labels", "span_key_attributes", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            if value.startswith("["):
                import json

                return json.loads(value)
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @classmethod
    def load(cls, config_file: str | Path | None = None, **overrides: Any) -> "Settings":
        """Settings from defaults, an optional YAML file, the environment and ``overrides``
        (highest first: overrides, environment, file, defaults). ``None`` overrides are ignored."""
        overrides = {k: v for k, v in overrides.items() if v is not None}
        if config_file is None:
            return cls(**overrides)
        path = Path(config_file)
        if not path.is_file():
            raise FileNotFoundError(f"config file not found: {path}")

        class _FromFile(cls):  # type: ignore[valid-type, misc]
            @classmethod
            def settings_customise_sources(cls_, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings):
                return (init_settings, env_settings, YamlConfigSettingsSource(settings_cls, yaml_file=path))

        loaded = _FromFile(**overrides)
        return cls.model_construct(**{name: getattr(loaded, name) for name in cls.model_fields})
