"""Budgets in the exporter: validation naming the budget, exact spend per period, reset at the
boundary, durable across restarts, additive across replicas."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pytest

from exporter.budgets import parse_budgets, period_start
from exporter.store import Store
from tests.exporter.otlp import number_point, request, sum_metric, values

TEAM = {"genai_lens.api_key": "team-search", "gen_ai.request.model": "gpt-4o"}
OTHER = {"genai_lens.api_key": "team-support", "gen_ai.request.model": "gpt-4o"}
BUDGETS = [
    {"name": "team-search-monthly", "match": {"genai_lens_api_key": "team-search"}, "period": "month",
     "amount_usd": 500, "warn_at": [0.5, 0.8]},
    {"name": "all-daily", "match": {}, "period": "day", "amount_usd": 40},
    {"name": "gpt-4o-weekly", "match": {"gen_ai_request_model": "gpt-4o", "service_name": "svc"}, "period": "week",
     "amount_usd": 100},
]


def cost(usd: float, attributes: dict):
    return request(sum_metric("genai_lens.cost", "usd", [number_point(usd, attributes)]))


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def budget_values(text: str) -> dict:
    out = {}
    for name in ("genai_lens_budget_usd", "genai_lens_budget_spent_usd"):
        for labels, value in values(text, name).items():
            out[(name, dict(labels)["genai_lens_budget"], dict(labels)["period"])] = value
    return out


def test_spend_per_budget_is_exact_and_served(exporter):
    server = exporter(budgets=BUDGETS)
    for usd, who in ((0.25, TEAM), (0.5, OTHER), (0.125, TEAM)):
        assert server.post(cost(usd, who)).status_code == 200
    got = budget_values(server.metrics())
    assert got == {
        ("genai_lens_budget_usd", "team-search-monthly", "month"): 500.0,
        ("genai_lens_budget_usd", "all-daily", "day"): 40.0,
        ("genai_lens_budget_usd", "gpt-4o-weekly", "week"): 100.0,
        ("genai_lens_budget_spent_usd", "team-search-monthly", "month"): 0.375,
        ("genai_lens_budget_spent_usd", "all-daily", "day"): 0.875,
        ("genai_lens_budget_spent_usd", "gpt-4o-weekly", "week"): 0.875,
    }
    # One series per warning fraction, for BudgetWarning; a budget without warn_at has none.
    assert values(server.metrics(), "genai_lens_budget_warning_ratio") == {
        frozenset({"genai_lens_budget": "team-search-monthly", "period": "month", "warn_at": "0.5"}.items()): 0.5,
        frozenset({"genai_lens_budget": "team-search-monthly", "period": "month", "warn_at": "0.8"}.items()): 0.8,
    }


def test_spent_resets_at_the_period_boundary():
    now = [ts("2026-11-30T23:59:00")]
    store = Store(hold_seconds=0, budgets=BUDGETS, clock=lambda: now[0])
    store.ingest(cost(2.0, TEAM))
    month, day = store.budgets.budgets[0], store.budgets.budgets[1]
    assert store.budgets.spent(month, now[0]) == 2.0 and store.budgets.spent(day, now[0]) == 2.0
    now[0] = ts("2026-12-01T00:00:00")  # the first second of December: both reset, without new data
    assert store.budgets.spent(month, now[0]) == 0.0 and store.budgets.spent(day, now[0]) == 0.0
    store.ingest(cost(0.5, TEAM))
    assert store.budgets.spent(month, now[0]) == 0.5
    # the cost counter itself never resets
    assert [series.value for series in store.families_by_name["genai_lens_cost_usd"].series.values()] == [2.5]


def test_period_starts():
    wednesday = ts("2026-12-02T15:30:00")
    assert period_start("day", wednesday) == ts("2026-12-02T00:00:00")
    assert period_start("week", wednesday) == ts("2026-11-30T00:00:00")  # Monday
    assert period_start("month", wednesday) == ts("2026-12-01T00:00:00")


def test_spend_survives_a_restart(exporter, tmp_path):
    state = tmp_path / "state.json"
    first = exporter(budgets=BUDGETS, state_file=state)
    first.post(cost(0.25, TEAM), headers={"Idempotency-Key": "a"})
    first.__exit__(None, None, None)
    second = exporter(budgets=BUDGETS, state_file=state)
    second.post(cost(0.25, TEAM), headers={"Idempotency-Key": "b"})
    assert budget_values(second.metrics())[("genai_lens_budget_spent_usd", "team-search-monthly", "month")] == 0.5


def test_replicas_add_up(exporter):
    replicas = [exporter(budgets=BUDGETS), exporter(budgets=BUDGETS)]
    for i, usd in enumerate((0.25, 0.5, 0.125, 1.0)):
        replicas[i % 2].post(cost(usd, TEAM))
    total = sum(budget_values(r.metrics())[("genai_lens_budget_spent_usd", "team-search-monthly", "month")]
                for r in replicas)
    assert total == 1.875


@pytest.mark.parametrize(("budget", "message"), [
    ({"name": "x", "match": {"genai_lens_team": "a"}, "amount_usd": 1},
     "budget 'x': unknown label 'genai_lens_team' in 'match'"),
    ({"name": "x", "amount_usd": -5}, "budget 'x': 'amount_usd' must be a number > 0, not -5"),
    ({"name": "x"}, "budget 'x': 'amount_usd' is missing"),
    ({"name": "x", "amount_usd": 1, "period": "quarter"}, "budget 'x': unknown period 'quarter'"),
    ({"name": "x", "amount_usd": 1, "warn_at": [1.5]}, "budget 'x': 'warn_at' must be a list of fractions"),
    ({"amount_usd": 1}, "budget #1: 'name' must be a non-empty string"),
    ({"name": "x", "amount_usd": 1, "colour": "red"}, "budget 'x': unknown key 'colour'"),
])
def test_bad_budgets_are_refused_naming_the_budget(budget, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")):
        parse_budgets([budget])


def test_a_duplicate_name_stops_serve_naming_the_file_and_the_budget(tmp_path):
    config = tmp_path / "genai-lens.yaml"
    config.write_text("budgets:\n"
                      "  - {name: team-a, match: {}, amount_usd: 10}\n"
                      "  - {name: team-a, match: {}, amount_usd: 20}\n")
    genai_lens = str(__import__("pathlib").Path(sys.executable).with_name("genai-lens"))
    done = subprocess.run([genai_lens, "serve", "--config", str(config), "--port", "0"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert f"invalid settings in {config}" in done.stderr
    assert "budget 'team-a': the name is used by another budget" in done.stderr


# -- attribution that cannot blow up (issue 13, point 5) ----------------------------------------------

def test_label_values_past_the_limit_fold_into_other_with_totals_exact(exporter):
    """At most 3 API keys as label values; later ones become __other__, totals exact, counted; the key a
    budget names is never folded, so its budget stays exact."""
    server = exporter(label_value_limits={"genai_lens_api_key": 3}, budgets=BUDGETS)
    keys = [f"key-{i}" for i in range(6)] + ["team-search"]
    for i, key in enumerate(keys):
        server.post(cost(0.125 * (i + 1), {"genai_lens.api_key": key}))
    server.post(cost(1.0, {"genai_lens.api_key": "key-5"}))  # a folded value again
    text = server.metrics()
    served = {dict(labels)["genai_lens_api_key"]: value for labels, value in values(text, "genai_lens_cost_usd_total").items()}
    assert served == {"key-0": 0.125, "key-1": 0.25, "key-2": 0.375, "__other__": 0.5 + 0.625 + 0.75 + 1.0,
                      "team-search": 0.875}
    assert sum(served.values()) == sum(0.125 * (i + 1) for i in range(7)) + 1.0
    assert values(text, "genai_lens_exporter_label_values_folded_total") == {
        frozenset({("label", "genai_lens_api_key")}): 4.0}
    assert budget_values(text)[("genai_lens_budget_spent_usd", "team-search-monthly", "month")] == 0.875


def test_budgets_from_the_environment_and_a_yaml_file(tmp_path, monkeypatch):
    from exporter.settings import Settings

    monkeypatch.setenv("GENAI_LENS_BUDGETS", '[{"name": "all", "match": {}, "period": "day", "amount_usd": 40}]')
    assert [(b.name, b.period, b.amount_usd) for b in Settings().budgets] == [("all", "day", 40.0)]
    monkeypatch.delenv("GENAI_LENS_BUDGETS")
    config = tmp_path / "genai-lens.yaml"
    config.write_text("budgets:\n  - name: team-search-monthly\n    match: {genai_lens_api_key: team-search}\n"
                      "    amount_usd: 500\n    warn_at: [0.8, 0.5]\n")
    (budget,) = Settings.load(config).budgets
    assert (budget.match, budget.period, budget.warn_at) == ((("genai_lens_api_key", "team-search"),), "month", (0.5, 0.8))
