"""One call's span and metrics, shared by every instrumentor.

An instrumentor opens a ``Call`` when the client method is entered, tells it
what the response said, and ends it once::

    call = telemetry.start_call(operation="chat", provider="openai", request_model="gpt-4o",
                                api_key=client.api_key, stream=False)
    try:
        response = wrapped(*args, **kwargs)
    except Exception as exc:
        call.end(exc)
        raise
    call.set_response(model=response.model, response_id=response.id, finish_reasons=["stop"])
    call.set_usage(Usage(input_tokens=..., output_tokens=...))
    call.end()

``end()`` is idempotent: the span ends and the metrics are recorded exactly once,
whichever of a full iteration, ``close()``, an error or garbage collection gets
there first. The span ends on the caller's thread; the metrics are queued and
recorded on the metric reader's thread at its next collection (``deferred``),
with the span's context kept for their exemplars (``exemplars``).
Every method swallows its own errors (see ``safety``).
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any, Mapping

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from . import attributes as a
from .api_keys import ApiKeyLabeler
from .instruments import Instruments
from .safety import guard, log_once
from .usage import COST_SOURCE_PROVIDER, STANDARD_SERVICE_TIERS, Cost, Usage
from .version import __version__

logger = logging.getLogger("sdk_instrumentation")

__all__ = ["Telemetry", "Call", "error_type", "capture_content_enabled"]

_TRUE = {"1", "true", "yes", "on", "span_only", "span_and_event"}


def capture_content_enabled() -> bool:
    """The standard opt-in: ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true``."""
    return os.environ.get("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "").strip().lower() in _TRUE


def error_type(exc: BaseException) -> str:
    """Low-cardinality ``error.type``: the HTTP status the provider answered, else the exception's class name.

    ``openai.RateLimitError`` -> ``"429"``, ``google.genai.errors.ServerError`` (500) -> ``"500"``,
    ``openai.APIConnectionError`` -> ``"APIConnectionError"``.
    """
    for attr in ("status_code", "code"):
        value = getattr(exc, attr, None)
        if isinstance(value, int) and 100 <= value <= 599:
            return str(value)
    return type(exc).__qualname__


class Telemetry:
    """What every call needs: tracer, instruments, pricing and key labels."""

    def __init__(self, tracer_provider=None, meter_provider=None, pricing=None, labeler: ApiKeyLabeler | None = None,
                 capture_content: bool | None = None, attributes: Mapping[str, Any] | None = None):
        self.tracer = trace.get_tracer("sdk_instrumentation", __version__, tracer_provider,
                                       schema_url="https://opentelemetry.io/schemas/1.37.0")
        self.instruments = Instruments.shared(meter_provider)
        if pricing is None:
            from .pricing import Pricing
            pricing = Pricing()
        self.pricing = pricing
        if labeler is None:  # the zero-code path too: GENAI_LENS_API_KEY_ALIASES
            from .setup import default_labeler
            labeler = default_labeler()
        self.labeler = labeler
        self.capture_content = capture_content_enabled() if capture_content is None else capture_content
        self.attributes = dict(attributes or {})
        self._billing: dict[tuple[str, str, str], str] = {}

    def billing(self, provider: str, model: str, key_label: str) -> str:
        triple = (provider, model, key_label)
        value = self._billing.get(triple)
        if value is None:
            value = a.BILLING_PAYG
            with guard("pricing.billing"):
                value = self.pricing.billing(provider, model, key_label) or a.BILLING_PAYG
            self._billing[triple] = value
        return value

    def start_call(self, *, operation: str, provider: str, request_model: str | None, api_key: str | None = None,
                   key_label: str | None = None, stream: bool = False, server_address: str | None = None,
                   server_port: int | None = None, web_search: bool = False, request_attributes: Mapping[str, Any] | None = None,
                   extra_attributes: Mapping[str, Any] | None = None, input_messages: Any = None) -> "Call":
        return Call(self, operation, provider, request_model or "unknown",
                    key_label or self.labeler.label(api_key), stream, server_address, server_port, web_search,
                    request_attributes, extra_attributes, input_messages)


class Call:
    """The span and metrics of one GenAI call. See the module docstring.

    ``end()`` sets the span's response attributes, ends the span and queues the
    finished call; ``Instruments.record`` turns it into metric records on the
    metric reader's thread (``deferred``). Every step is guarded: a failure is
    logged once and the app's call goes on.
    """

    __slots__ = (
        "telemetry", "operation", "provider", "request_model", "key_label", "stream", "web_search", "extra",
        "response_model", "response_id", "finish_reasons", "usage", "output_messages",
        "started_at", "first_chunk_at", "last_chunk_at", "chunk_gaps", "finished_at", "duration",
        "error_type", "billing", "cost", "priced", "throughput", "ended", "span", "span_ended", "service_tier",
        "service_tier_attribute", "span_context",
    )

    def __init__(self, telemetry: Telemetry, operation: str, provider: str, request_model: str, key_label: str,
                 stream: bool, server_address, server_port, web_search: bool, request_attributes, extra_attributes,
                 input_messages):
        self.telemetry = telemetry
        self.operation = operation
        self.provider = provider
        self.request_model = request_model
        self.key_label = key_label
        self.stream = stream
        self.web_search = web_search
        extra = telemetry.attributes  # shared, read-only
        if extra_attributes:
            extra = {**extra, **extra_attributes}
        self.extra = extra
        self.response_model = self.response_id = self.finish_reasons = self.usage = self.output_messages = None
        self.first_chunk_at = self.last_chunk_at = self.finished_at = None
        self.chunk_gaps: list[float] = []
        self.duration = 0.0
        self.error_type = self.cost = self.throughput = self.service_tier = None
        self.service_tier_attribute = a.OPENAI_RESPONSE_SERVICE_TIER
        self.billing = a.BILLING_PAYG
        self.priced = False
        self.ended = self.span_ended = False
        self.span = self.span_context = None
        self.started_at = time.monotonic()
        try:
            attrs = {
                a.OPERATION_NAME: operation,
                a.PROVIDER_NAME: provider,
                a.REQUEST_MODEL: request_model,
                a.REQUEST_STREAM: stream,
                a.API_KEY: key_label,
            }
            if server_address:
                attrs[a.SERVER_ADDRESS] = server_address
                if server_port:
                    attrs[a.SERVER_PORT] = server_port
            if web_search:
                attrs[a.WEB_SEARCH] = True
            if request_attributes:
                attrs.update({k: v for k, v in request_attributes.items() if v is not None})
            if extra:
                attrs.update(extra)
            if input_messages is not None and telemetry.capture_content:
                attrs[a.INPUT_MESSAGES] = _to_json(input_messages)
            self.span = telemetry.tracer.start_span(f"{operation} {request_model}", kind=SpanKind.CLIENT, attributes=attrs)
        except Exception as exc:  # noqa: BLE001
            log_once("span.start", exc)

    # -- what the response said -------------------------------------------------
    def chunk(self) -> None:
        """A chunk that carries content arrived (streams only)."""
        now = time.monotonic()
        if self.first_chunk_at is None:
            self.first_chunk_at = now
        else:
            self.chunk_gaps.append(now - self.last_chunk_at)
        self.last_chunk_at = now

    def set_response(self, model: str | None = None, response_id: str | None = None, finish_reasons=None) -> None:
        if model:
            self.response_model = model
        if response_id:
            self.response_id = response_id
        if finish_reasons:
            self.finish_reasons = [str(r) for r in finish_reasons]

    def set_service_tier(self, tier, attribute: str = a.OPENAI_RESPONSE_SERVICE_TIER) -> None:
        """The tier the provider says it billed (OpenAI's response ``service_tier``, Gemini's
        ``serviceTier`` or Vertex AI's traffic type); it prices the call and is recorded on the span
        as ``attribute``."""
        if isinstance(tier, str) and tier:
            self.service_tier = tier
            self.service_tier_attribute = attribute

    def set_usage(self, usage: Usage | None) -> None:
        if usage is not None:
            self.usage = usage

    def set_output(self, messages: Any) -> None:
        if self.telemetry.capture_content:
            self.output_messages = messages

    def done(self) -> None:
        """The response is complete (the last byte arrived); end() may come later."""
        if self.finished_at is None:
            self.finished_at = time.monotonic()

    # -- the end -----------------------------------------------------------------
    def end(self, error: BaseException | None = None) -> None:
        """End the span and queue the metrics; once, whoever calls first."""
        if self.ended:
            return
        self.ended = True
        span = self.span
        try:
            self._finish(error, span)
        except Exception as exc:  # noqa: BLE001
            log_once("call.end", exc)
        if span is not None and not self.span_ended:  # _finish failed half-way: the span still ends, once
            try:
                span.end()
            except Exception as exc:  # noqa: BLE001
                log_once("span.end", exc)
        if span is not None:  # the metrics' exemplars point at this span
            try:
                self.span_context = span.get_span_context()
            except Exception as exc:  # noqa: BLE001
                log_once("span.context", exc)
        self.span = self.output_messages = None  # what the queue holds stays small
        try:
            self.telemetry.instruments.queue.put(self)
        except Exception as exc:  # noqa: BLE001
            log_once("metrics.queue", exc)

    def _finish(self, error: BaseException | None, span) -> None:
        """Everything the span and the metrics need that only the call path knows."""
        t = self.telemetry
        finished = self.finished_at or time.monotonic()
        self.duration = finished - self.started_at
        self.billing = billing = t.billing(self.provider, self.request_model, self.key_label)
        span_attrs: dict[str, Any] = {a.BILLING: billing}
        if self.response_model:
            span_attrs[a.RESPONSE_MODEL] = self.response_model
        if self.response_id:
            span_attrs[a.RESPONSE_ID] = self.response_id
        if self.finish_reasons:
            span_attrs[a.RESPONSE_FINISH_REASONS] = self.finish_reasons
        if self.service_tier:
            span_attrs[self.service_tier_attribute] = self.service_tier
        if error is not None:
            self.error_type = etype = error_type(error)
            span_attrs[a.ERROR_TYPE] = etype
            if span is not None:
                span.set_status(Status(StatusCode.ERROR, etype))
        first_chunk_at = self.first_chunk_at if self.stream else None
        if first_chunk_at is not None:
            span_attrs[a.RESPONSE_TIME_TO_FIRST_CHUNK] = first_chunk_at - self.started_at

        usage = self.usage
        if usage is not None:
            span_attrs[a.USAGE_INPUT_TOKENS] = usage.input_tokens
            if self.operation != "embeddings":
                span_attrs[a.USAGE_OUTPUT_TOKENS] = usage.output_tokens
            if usage.cache_read_tokens:
                span_attrs[a.USAGE_CACHE_READ_INPUT_TOKENS] = usage.cache_read_tokens
            if usage.cache_write_tokens:
                span_attrs[a.USAGE_CACHE_WRITE_INPUT_TOKENS] = usage.cache_write_tokens
            if usage.reasoning_tokens:
                span_attrs[a.USAGE_REASONING_OUTPUT_TOKENS] = usage.reasoning_tokens
            if usage.web_search_calls:
                span_attrs[a.WEB_SEARCH_CALLS] = usage.web_search_calls
            if usage.modality_tokens:
                for key, count in usage.modality_tokens.items():
                    span_attrs[a.USAGE_MODALITY_PREFIX + key] = count
            # Throughput: output tokens per second of generation (after the first chunk for streams).
            if usage.output_tokens > 0:
                seconds = finished - (first_chunk_at if first_chunk_at is not None else self.started_at)
                if seconds > 0:
                    self.throughput = span_attrs[a.THROUGHPUT] = usage.output_tokens / seconds
            try:  # a failing price loses the cost, not the span
                self.cost = cost = self._price(usage)
                self.priced = True
            except Exception as exc:  # noqa: BLE001
                log_once("pricing.price", exc)
                cost = None
            if cost is not None:
                span_attrs[a.COST_USD] = cost.total
                span_attrs[a.COST_SOURCE] = cost.source
        reason = self.unpriced_reason
        if reason is not None:
            span_attrs[a.UNPRICED_REASON] = reason
            if reason == a.UNPRICED_NO_USAGE:  # one warning per model
                warn_no_usage(self.provider, self.request_model, self.operation)

        if span is not None:
            if self.output_messages is not None:
                span_attrs[a.OUTPUT_MESSAGES] = _to_json(self.output_messages)
            span.set_attributes(span_attrs)
            self.span_ended = True
            span.end()

    @property
    def unpriced_reason(self) -> str | None:
        """Why a call has no cost, for the span and the unpriced counter: ``no_usage`` when it was
        answered without usage (never counted as free), ``no_price`` when its model has no known
        price; None when it has a cost, failed, or its pricing raised."""
        if self.usage is None:
            return a.UNPRICED_NO_USAGE if self.error_type is None else None
        return a.UNPRICED_NO_PRICE if self.priced and self.cost is None else None

    def _price(self, usage: Usage) -> Cost | None:
        """The call's cost: the one the response reported wins (split into input, output and other
        like the price list would split it, else all ``other``); else the price list's."""
        reported = usage.provider_cost
        if isinstance(reported, Cost):
            return reported
        pricing = self.telemetry.pricing
        # A tier is passed only when it is not the standard one, so a pricing object with the
        # three-argument price() keeps working for standard calls.
        extra = (self.service_tier,) if self.service_tier not in STANDARD_SERVICE_TIERS else ()
        cost = pricing.price(self.provider, self.request_model, usage, *extra)
        if cost is None and self.response_model and self.response_model != self.request_model:
            cost = pricing.price(self.provider, self.response_model, usage, *extra)
        if reported is None:
            return cost
        if cost is not None and cost.total > 0:
            share = reported / cost.total
            return Cost(input=cost.input * share, output=cost.output * share, other=cost.other * share,
                        source=COST_SOURCE_PROVIDER)
        return Cost(other=reported, source=COST_SOURCE_PROVIDER)


_no_usage_warned: set[tuple[str, str, str]] = set()


def warn_no_usage(provider: str, model: str, operation: str) -> None:
    """One warning per (provider, model, operation) whose responses carry no usage."""
    key = (provider, model, operation)
    if key not in _no_usage_warned:
        _no_usage_warned.add(key)
        logger.warning("%s %s on %s ended without token usage (none in the response, or the stream was left early): "
                       "counted as unpriced (reason no_usage), "
                       "not as free", operation, model, provider)


def _to_json(value: Any) -> str:
    try:
        return json.dumps(value, default=str, ensure_ascii=False)
    except Exception:  # noqa: BLE001
        try:
            return str(value)
        except Exception:  # noqa: BLE001 - a value whose str() and repr() raise: keep the span anyway
            return f"<unserializable {type(value).__name__}>"
