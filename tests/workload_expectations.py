"""What the demo workload must show, computed from published prices, independently of the SDK.

::

    from tests.workload_expectations import expected, recorded, total

    steps = build_workload(48)
    by_model, by_key = expected(steps)               # requests, errors, tokens and cost per model / key
    records = recorded(steps)                        # every counter increment the SDK must make
    total(records, "cost", by=("gen_ai_request_model",), genai_lens_cost_type="input")
    # -> {(("gen_ai_request_model", "gpt-4o"),): 0.0123, ...}

``recorded()`` lists, per call, the increments the exporter must serve, with the Prometheus label
names of DESIGN.md: one ``calls`` record (failed calls included, ``error_type`` set on them: "error" stands for any error type), the
``tokens`` records (input always, output except for embeddings; none for failed calls), three
``cost`` records (``input``, ``output``, ``other``, zero adds included, with the cost source) for a
priced call, and a
``web_search_calls`` record. A model missing from ``PRICES`` is unpriced: it has calls and tokens
but no cost.
"""

from __future__ import annotations

from collections import defaultdict
from typing import NamedTuple

from exporter.demo import DEMO_KEYS
from sdk_instrumentation.api_keys import redact

__all__ = ["PRICES", "WEB_SEARCH_PER_CALL", "OPERATIONS", "Record", "key_label", "step_costs", "cost_source",
           "web_search_calls",
           "recorded", "total", "expected"]

# Published list prices, USD per 1M tokens (input, output), below any long-context tier.
PRICES = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gemini-2.5-pro": (1.25, 10.00),
    "gemini-2.5-flash": (0.30, 2.50),
    "text-embedding-3-small": (0.02, 0.0),
}
# Web search: OpenAI's web_search tool $10 per 1,000 calls; Gemini 2.x grounding with Google Search $35 per 1,000 grounded prompts.
WEB_SEARCH_PER_CALL = {"openai": 0.010, "gcp.gemini": 0.035}
# gen_ai.operation.name per demo API (the Responses API is a chat operation).
OPERATIONS = {"chat": "chat", "responses": "chat", "embeddings": "embeddings", "generate": "generate_content"}


class Record(NamedTuple):
    metric: str       # "calls", "tokens", "cost" or "web_search_calls"
    labels: dict      # Prometheus label name -> value
    value: float


def key_label(step) -> str:
    """The ``genai_lens_api_key`` label of a step: the alias, else the redacted key the client used."""
    openai_key, gemini_key, alias = DEMO_KEYS[step.key]
    return alias or redact(gemini_key if step.api == "generate" else openai_key)


def web_search_calls(step) -> int:
    """Billed web search calls: Gemini 2.x bills one per grounded prompt, whatever the number of queries."""
    if not step.web_search:
        return 0
    return 1 if step.model.startswith("gemini-2") else step.web_search_calls


def step_costs(step) -> dict[str, float] | None:
    """``{"input": usd, "output": usd, "other": usd}`` of a successful call, or None if its model is unpriced.

    A cost the response reports (``step.reported_cost``) is the call's cost, split in the price list's
    proportions."""
    if step.model not in PRICES:
        return None
    rate_in, rate_out = PRICES[step.model]
    costs = {"input": step.input_tokens * rate_in / 1e6, "output": step.output_tokens * rate_out / 1e6,
             "other": web_search_calls(step) * WEB_SEARCH_PER_CALL[step.provider]}
    if step.reported_cost is not None:
        share = step.reported_cost / sum(costs.values())
        costs = {cost_type: usd * share for cost_type, usd in costs.items()}
    return costs


def cost_source(step) -> str:
    """The ``genai_lens_cost_source`` label of a step's cost: its own reported cost, else genai-prices."""
    return "provider" if step.reported_cost is not None else "genai-prices"


def recorded(steps) -> list[Record]:
    """Every counter increment the workload must produce (see the module docstring)."""
    records = []
    for step in steps:
        labels = {"gen_ai_provider_name": step.provider, "gen_ai_request_model": step.model,
                  "genai_lens_api_key": key_label(step), "gen_ai_operation_name": OPERATIONS[step.api],
                  "genai_lens_billing": "payg", "genai_lens_web_search": "true" if step.web_search else ""}
        records.append(Record("calls", {**labels, "error_type": "" if not step.fault else "error"}, 1))
        if step.fault:
            continue
        records.append(Record("tokens", {**labels, "gen_ai_token_type": "input"}, step.input_tokens))
        if step.api != "embeddings":
            records.append(Record("tokens", {**labels, "gen_ai_token_type": "output"}, step.output_tokens))
        costs = step_costs(step)
        for cost_type, usd in (costs or {}).items():
            records.append(Record("cost", {**labels, "genai_lens_cost_type": cost_type,
                                           "genai_lens_cost_source": cost_source(step)}, usd))
        if web_search_calls(step):
            records.append(Record("web_search_calls", labels, web_search_calls(step)))
    return records


def total(records, metric: str, by: tuple[str, ...] = (), **match) -> dict[tuple, float]:
    """Sum of ``metric`` over the records whose labels equal ``match``, grouped by the ``by`` labels.

    Keys are tuples of ``(label, value)`` pairs in ``by`` order; ``()`` for an ungrouped sum.
    A group exists only if at least one record falls in it (as a Prometheus series would).
    """
    sums: dict[tuple, float] = {}
    for record in records:
        if record.metric != metric or any(record.labels.get(k, "") != v for k, v in match.items()):
            continue
        key = tuple((label, record.labels[label]) for label in by)
        sums[key] = sums.get(key, 0.0) + record.value
    return sums


def expected(steps):
    """``(by_model, by_key)``: per model and per key label, requests (successful), errors, tokens, cost."""
    by_model = defaultdict(lambda: defaultdict(float))
    by_key = defaultdict(lambda: defaultdict(float))
    for step in steps:
        for table, name in ((by_model, step.model), (by_key, key_label(step))):
            row = table[name]
            if step.fault:
                row["errors"] += 1
                continue
            row["requests"] += 1
            row["input_tokens"] += step.input_tokens
            row["output_tokens"] += step.output_tokens if step.api != "embeddings" else 0
            row["cost"] += sum((step_costs(step) or {}).values())
    return by_model, by_key
