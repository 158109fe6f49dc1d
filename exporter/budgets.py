"""Budgets: a label match over the cost series, a calendar period (UTC) and an amount in USD.

::

    budgets = parse_budgets([{"name": "team-search-monthly", "match": {"genai_lens_api_key": "team-search"},
                              "period": "month", "amount_usd": 500, "warn_at": [0.5, 0.8]}])
    tracker = BudgetTracker(budgets)
    tracker.add(series_key, 0.25, now)      # the store calls it for every increment of genai_lens_cost_usd
    tracker.spent(budgets[0], now)          # spend since the start of the current period

The exporter serves ``genai_lens_budget_usd`` (the amount) and ``genai_lens_budget_spent_usd`` (spend
since the start of the current period), both labelled ``genai_lens_budget`` and ``period``. Spend is
counted when the increment is applied, in the period the exporter's clock is in then (a batch that
arrives after a period boundary counts in the new period), and goes back to 0 at the boundary. It is
kept in the state snapshot and rebuilt from the write-ahead log, so it survives restarts; each
replica counts what it applied, so ``sum()`` over replicas is the total.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = ["Budget", "BudgetTracker", "parse_budgets", "MATCH_LABELS", "PERIODS", "period_start"]

# The labels of genai_lens_cost_usd_total a budget may match on (docs/design.md).
MATCH_LABELS = ("genai_lens_api_key", "service_name", "gen_ai_provider_name", "gen_ai_request_model",
                "gen_ai_operation_name", "genai_lens_billing")
PERIODS = ("month", "week", "day")
_FIELDS = ("name", "match", "period", "amount_usd", "warn_at")


@dataclass(frozen=True, slots=True)
class Budget:
    name: str
    match: tuple[tuple[str, str], ...]  # (label, value) pairs; () matches all spend
    period: str
    amount_usd: float
    warn_at: tuple[float, ...]


def parse_budgets(raw) -> tuple[Budget, ...]:
    """Validate the ``budgets`` setting; a ``ValueError`` names the budget and what is wrong."""
    if raw is None:
        return ()
    if not isinstance(raw, (list, tuple)):
        raise ValueError("budgets must be a list")
    out: list[Budget] = []
    names: set[str] = set()
    for index, item in enumerate(raw):
        if isinstance(item, Budget):
            item = {"name": item.name, "match": dict(item.match), "period": item.period,
                    "amount_usd": item.amount_usd, "warn_at": list(item.warn_at)}
        if not isinstance(item, dict):
            raise ValueError(f"budget #{index + 1}: must be a mapping with {', '.join(_FIELDS)}")
        name = item.get("name")
        label = f"budget {name!r}" if isinstance(name, str) and name.strip() else f"budget #{index + 1}"
        unknown = sorted(set(item) - set(_FIELDS))
        if unknown:
            raise ValueError(f"{label}: unknown key {unknown[0]!r} (known: {', '.join(_FIELDS)})")
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"{label}: 'name' must be a non-empty string")
        if name in names:
            raise ValueError(f"{label}: the name is used by another budget")
        names.add(name)
        match = item.get("match", {})
        if match is None:
            match = {}
        if not isinstance(match, dict):
            raise ValueError(f"{label}: 'match' must be a mapping of label to value ({{}} for all spend)")
        for key, value in match.items():
            if key not in MATCH_LABELS:
                raise ValueError(f"{label}: unknown label {key!r} in 'match' (known: {', '.join(MATCH_LABELS)})")
            if not isinstance(value, str):
                raise ValueError(f"{label}: the value of {key!r} in 'match' must be a string")
        period = item.get("period", "month")
        if period not in PERIODS:
            raise ValueError(f"{label}: unknown period {period!r} (known: {', '.join(PERIODS)})")
        if "amount_usd" not in item:
            raise ValueError(f"{label}: 'amount_usd' is missing")
        amount = item["amount_usd"]
        if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not math.isfinite(amount) or amount <= 0:
            raise ValueError(f"{label}: 'amount_usd' must be a number > 0, not {amount!r}")
        warn_at = item.get("warn_at", [])
        if not isinstance(warn_at, (list, tuple)) or not all(
                isinstance(f, (int, float)) and not isinstance(f, bool) and 0 < f <= 1 for f in warn_at):
            raise ValueError(f"{label}: 'warn_at' must be a list of fractions in (0, 1]")
        out.append(Budget(name, tuple(sorted(match.items())), period, float(amount),
                          tuple(sorted(float(f) for f in warn_at))))
    return tuple(out)


def period_start(period: str, now: float) -> float:
    """The epoch second the calendar period holding ``now`` starts (UTC; weeks start on Monday)."""
    day = datetime.fromtimestamp(now, tz=UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "month":
        day = day.replace(day=1)
    elif period == "week":
        day -= timedelta(days=day.weekday())
    return day.timestamp()


class BudgetTracker:
    """Spend per budget in its current period; not thread-safe (used under the store's lock)."""

    def __init__(self, budgets: tuple[Budget, ...] = ()):
        self.budgets = tuple(budgets)
        self._spent: dict[str, list[float]] = {b.name: [0.0, 0.0] for b in self.budgets}  # [period start, usd]

    def add(self, key: tuple, usd: float, now: float) -> None:
        """Count an increment of the cost series ``key`` ((label, value) pairs) in every budget it matches."""
        if not self.budgets or usd == 0:
            return
        labels = dict(key)
        for budget in self.budgets:
            if all(labels.get(k) == v for k, v in budget.match):
                state = self._spent[budget.name]
                start = period_start(budget.period, now)
                if state[0] != start:
                    state[0], state[1] = start, 0.0
                state[1] += usd

    def spent(self, budget: Budget, now: float) -> float:
        state = self._spent[budget.name]
        return state[1] if state[0] == period_start(budget.period, now) else 0.0

    def snapshot(self) -> dict:
        return {name: list(state) for name, state in self._spent.items()}

    def restore(self, data) -> None:
        """Load a :meth:`snapshot`; budgets no longer configured are dropped, new ones start at 0."""
        if not isinstance(data, dict):
            raise ValueError("budget state must be a mapping")
        for name, state in data.items():
            if name in self._spent:
                if not (isinstance(state, list) and len(state) == 2 and all(isinstance(v, (int, float)) for v in state)):
                    raise ValueError(f"malformed budget state for {name!r}")
                self._spent[name] = [float(state[0]), float(state[1])]
