"""The search `reduce` runs: which ops to try next, given which tries still failed.

The ops are the source graph's in topological order, numbered 0..N-1; a candidate
is a set of them (the model `cut_model` builds from them is fed at every value it
reads from outside the set and ends at every value it leaves). Three stages:

1. outputs: bisect for the smallest k such that ops 0..k still fail (the graph cut
   after op k: its outputs are every value that crosses the cut);
2. inputs: bisect for the largest j such that ops j..k still fail (the graph cut
   before op j too, the crossing values fed);
3. linear: try leaving out each remaining op once, keeping it only when the model
   without it passes, so ops of other branches that the bisection kept go too.

The stages assume a failure that does not disappear when more ops are kept, as
Polygraphy's `debug reduce` does; a candidate that fails is always kept, so the
result fails whatever the condition does. Runs: ceil(log2 N) for each bisection,
plus one per op the bisection left (less one when a single op remains).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Verdict:
    """What a condition says about one model.

    Attributes:
        failed: the model still fails the way the source does.
        reason: why, in one line (the runtime's message, the mismatching output).
    """

    failed: bool
    reason: str


@dataclass
class Step:
    """One condition run of the search."""

    stage: str  # "original", "outputs", "inputs" or "linear"
    ops: list[int]
    verdict: Verdict
    removed: int | None = None  # linear: the op left out


Evaluate = Callable[[list[int], str, "int | None"], Verdict]


class Search:
    """Bisect then linear search over `count` ops in topological order.

    Args:
        count: number of ops.
        evaluate: runs the condition on a candidate: (sorted op numbers, stage,
            the op left out in the linear stage) -> Verdict.
        outputs/inputs/linear: which stages to run.

    Attributes:
        best: the smallest candidate that failed so far (all ops at first).
        steps: every run, in order.
    """

    def __init__(self, count: int, evaluate: Evaluate, *, outputs: bool = True,
                 inputs: bool = True, linear: bool = True) -> None:
        self.count = count
        self.evaluate = evaluate
        self.stages = (outputs, inputs, linear)
        self.best: list[int] = list(range(count))
        self.after_bisect: int = count
        self.steps: list[Step] = []

    def _try(self, ops: list[int], stage: str, removed: int | None = None) -> bool:
        verdict = self.evaluate(ops, stage, removed)
        self.steps.append(Step(stage, ops, verdict, removed))
        if verdict.failed and len(ops) <= len(self.best):
            self.best = ops
        return verdict.failed

    def run(self) -> list[int]:
        """Search; return the smallest failing candidate (sorted op numbers)."""
        do_outputs, do_inputs, do_linear = self.stages
        last = self.count - 1
        if do_outputs:
            lo, hi = 0, last  # ops 0..hi fail
            while lo < hi:
                mid = (lo + hi) // 2
                if self._try(list(range(mid + 1)), "outputs"):
                    hi = mid
                else:
                    lo = mid + 1
            last = hi
        first = 0
        if do_inputs:
            lo, hi = 0, last  # ops lo..last fail
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if self._try(list(range(mid, last + 1)), "inputs"):
                    lo = mid
                else:
                    hi = mid - 1
            first = lo
        kept = list(range(first, last + 1))
        self.best = kept
        self.after_bisect = len(kept)
        if do_linear:
            for op in list(kept):
                if len(kept) == 1:
                    break
                trial = [k for k in kept if k != op]
                if self._try(trial, "linear", op):
                    kept = trial
            self.best = kept
        return kept
