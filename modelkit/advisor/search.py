"""The search for the cheapest per-layer precision that keeps the budget.

Pure logic: a candidate is an assignment (layer -> `int16x8` | `float`, every other
layer int8), and `try_candidate` converts, checks and measures it. The search:

1. all int8; when it keeps the budget, done;
2. greedily, layers in the given ranking (debug's: own error first): each layer is
   tried at int16x8, then with its producing layers at int16x8 (a layer whose input
   was quantized too coarsely shows the damage its producer caused), then in float,
   then with its producers in float; the cheapest of these that keeps the budget ends
   the greedy phase; else the one that brings the measure closest to the budget
   stays and the next layer is tried (layers that helped nothing are tried again
   after a pass that changed something);
3. every kept layer is lowered again (float -> int16x8 -> int8), last kept first,
   and the lower precision stays when the budget still holds.

The cost of a candidate is (ops in float, ops in int16, model size), in that order;
the cheapest candidate tried that keeps the budget is chosen.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

ORDER = ("int8", "int16x8", "float")


@dataclass
class SearchLayer:
    """A layer the search may set apart: its float-model tensor name, op, producers."""

    name: str
    op: str
    producers: list[str] = field(default_factory=list)
    rank: int = 0
    local_sqnr_db: float | None = None


@dataclass
class Candidate:
    """One model tried.

    Attributes:
        index: order in which it was tried (0 = first).
        assignment: the layers not in int8 (name -> precision).
        meets: keeps the budget (and the target's check, where one is asked for).
        shortfall: how far from the budget (<= 0 kept); inf when rejected.
        cost: (float ops, int16 ops, size in bytes) from the written model.
        rejected: why the target cannot take it ("" when it can).
        origin: what made it ("search", "converter", ...).
        data: anything the driver keeps with it (measurement, bytes, latency).
    """

    index: int
    assignment: dict[str, str]
    meets: bool
    shortfall: float
    cost: tuple = (0, 0, 0)
    rejected: str = ""
    origin: str = "search"
    data: dict = field(default_factory=dict)


def _key(assignment: Mapping[str, str]) -> frozenset:
    return frozenset((k, v) for k, v in assignment.items() if v != "int8")


@dataclass
class Search:
    """Runs the search; `tried` lists every candidate in order.

    Args:
        layers: the layers in ranking order (worst own error first).
        precisions: the precisions allowed besides int8 (a subset of int16x8, float).
        try_candidate: converts and measures an assignment (index, assignment) ->
            Candidate; called once per distinct assignment.
        limit: the most candidates tried in the greedy and pruning phases.
    """

    layers: Sequence[SearchLayer]
    precisions: Sequence[str]
    try_candidate: Callable[[int, dict[str, str]], Candidate]
    limit: int = 60
    tried: list[Candidate] = field(default_factory=list)
    _cache: dict = field(default_factory=dict)

    def evaluate(self, assignment: Mapping[str, str]) -> Candidate:
        key = _key(assignment)
        if key not in self._cache:
            c = self.try_candidate(len(self.tried), {k: v for k, v in assignment.items()
                                                      if v != "int8"})
            self.tried.append(c)
            self._cache[key] = c
        return self._cache[key]

    @property
    def exhausted(self) -> bool:
        return len(self.tried) >= self.limit

    def run(self) -> Candidate | None:
        """The cheapest candidate tried that keeps the budget, or None."""
        current: dict[str, str] = {}
        here = self.evaluate(current)
        if not here.meets:
            current = self._greedy(current, here)
        if self.evaluate(current).meets:
            current = self._prune(current)
        return self.best()

    def best(self) -> Candidate | None:
        met = [c for c in self.tried if c.meets]
        return min(met, key=lambda c: (c.cost, c.index)) if met else None

    # -- phases

    def _options(self, current: dict[str, str], layer: SearchLayer) -> list[dict[str, str]]:
        """Assignments adding `layer` (and then its producers too), cheapest first."""
        by_name = {x.name for x in self.layers}
        producers = [p for p in layer.producers if p in by_name and p not in current]
        out = []
        for precision in (p for p in ORDER[1:] if p in self.precisions):
            out.append({**current, layer.name: precision})
            if producers:
                out.append({**current, layer.name: precision,
                            **{p: precision for p in producers}})
        return out

    def _greedy(self, current: dict[str, str], here: Candidate) -> dict[str, str]:
        pending = [x for x in self.layers]
        while pending and not self.exhausted:
            skipped = []
            changed = False
            for layer in pending:
                if layer.name in current:
                    continue
                if self.exhausted:
                    return current
                tried = []
                for option in self._options(current, layer):
                    c = self.evaluate(option)
                    tried.append((option, c))
                    if c.meets or self.exhausted:
                        break
                met = [(o, c) for o, c in tried if c.meets]
                if met:
                    return min(met, key=lambda oc: (oc[1].cost, oc[1].index))[0]
                better = [(o, c) for o, c in tried if c.shortfall < here.shortfall]
                if better:
                    current, here = min(better, key=lambda oc: (oc[1].shortfall, oc[1].cost))
                    changed = True
                else:
                    skipped.append(layer)
            if not changed:
                break
            pending = skipped
        return current

    def _prune(self, current: dict[str, str]) -> dict[str, str]:
        for name in reversed(list(current)):
            if self.exhausted:
                break
            level = ORDER.index(current[name])
            for lower in ORDER[:level]:
                if lower != "int8" and lower not in self.precisions:
                    continue
                option = dict(current)
                if lower == "int8":
                    option.pop(name)
                else:
                    option[name] = lower
                if self.evaluate(option).meets:
                    current = option
                    break
        return current


def cost_of(counts: Mapping[str, int], size: int) -> tuple[int, int, int]:
    """The cost tuple from a model's op precision counts and size."""
    return (int(counts.get("float", 0)), int(counts.get("int16x8", 0)), int(size))

