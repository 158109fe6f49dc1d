"""Counters summed in-process and reported through an observable counter.

Each synchronous ``Counter.add`` of the OpenTelemetry SDK cleans and hashes its
attributes and walks the reader storages: about as much as a histogram record.
genai-lens adds to three cost counters per call, so it keeps these sums itself
(a dict update under a lock) and hands the running totals to the SDK when a
reader collects, through an ``ObservableCounter`` callback::

    cost = SummedCounter(meter, "genai_lens.cost", unit="usd", description="...")
    cost.add(0.0025, {"gen_ai.request.model": "gpt-4o", "genai_lens.cost.type": "input"}, context)

The exported data is the same as a synchronous counter's: a monotonic sum per
attribute set, delta or cumulative as the reader prefers (the SDK turns the
running totals into deltas). A set of attributes is reported from its first add
on, for the life of the process, like a cumulative counter's series.

``context`` (optional) is the context of the call that made the increment
(``exemplars.call_context``): the next observation of that attribute set carries
it, with the increment, so the point's exemplar names the last call that added
to it (``exemplars.IncrementExemplarReservoir``). An attribute set observed again
with no new increment, or added zero, carries no context.
"""

from __future__ import annotations

import threading
from typing import Any, Iterable, Mapping

from opentelemetry.metrics import CallbackOptions, Observation

from .exemplars import increment_context

__all__ = ["SummedCounter"]


class SummedCounter:
    def __init__(self, meter, name: str, unit: str = "", description: str = "", before_observe=None):
        self._before_observe = before_observe
        self._totals: dict[tuple, list] = {}
        self._lock = threading.Lock()
        self.instrument = meter.create_observable_counter(name, callbacks=[self._observe], unit=unit,
                                                          description=description)

    def add(self, amount: float, attributes: Mapping[str, Any], context=None) -> None:
        if amount < 0:
            raise ValueError("a counter only goes up")
        try:
            key = frozenset(attributes.items())
        except TypeError:  # an unhashable attribute value (a list): key on its text
            key = frozenset((k, repr(v)) for k, v in attributes.items())
        with self._lock:
            entry = self._totals.get(key)
            if entry is None:
                self._totals[key] = [amount, dict(attributes), context if amount > 0 else None, amount]
            else:
                entry[0] += amount
                if context is not None and amount > 0:
                    entry[2] = context
                    entry[3] = amount

    def _observe(self, options: CallbackOptions) -> Iterable[Observation]:
        if self._before_observe is not None:
            self._before_observe()
        observations = []
        with self._lock:
            for entry in self._totals.values():
                total, attributes, context, increment = entry
                if context is None:
                    observations.append(Observation(total, attributes))
                else:
                    observations.append(Observation(total, attributes, increment_context(context, increment)))
                    entry[2] = None
        return observations
