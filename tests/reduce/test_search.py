"""The search `reduce` runs, with conditions computed by hand: which op sets fail is
known exactly, so the result and the number of runs are too."""

from __future__ import annotations

import math

import pytest

from modelkit.reduce.search import Search, Verdict


def needs(*faulty: int):
    """A condition that fails when every op of `faulty` is kept."""
    def evaluate(ops, stage, removed):
        return Verdict(set(faulty) <= set(ops), "")
    return evaluate


@pytest.mark.parametrize("count", [1, 2, 3, 7, 8, 9, 220, 1000])
def test_one_faulty_op_is_found_in_about_two_log2_runs(count):
    bound = 2 * math.ceil(math.log2(count)) if count > 1 else 0
    for f in sorted({0, 1, count // 3, count // 2, count - 2, count - 1} & set(range(count))):
        s = Search(count, needs(f))
        assert s.run() == [f]
        # the bisections leave the faulty op alone: no linear run is needed
        assert s.after_bisect == 1
        assert len(s.steps) <= bound


def test_two_ops_far_apart_are_both_kept_and_the_rest_removed_one_by_one():
    # e.g. two branches that only fail together: bisecting stops at the window
    # between them, the linear pass removes every op in between
    s = Search(100, needs(20, 70))
    assert s.run() == [20, 70]
    assert s.after_bisect == 51
    linear = [x for x in s.steps if x.stage == "linear"]
    assert len(linear) == 51
    # with the run on the whole model: 1 + 7 + 6 + 51
    assert 1 + len(s.steps) <= 2 * math.ceil(math.log2(100)) + s.after_bisect
    # every op the linear pass removed was tried once, and only the two kept failed
    removed = {x.removed for x in linear if x.verdict.failed}
    assert removed == set(range(21, 70))


def test_linear_alone_tries_each_op_once():
    s = Search(10, needs(4), outputs=False, inputs=False)
    assert s.run() == [4]
    assert [x.removed for x in s.steps] == list(range(10))
    assert [x.verdict.failed for x in s.steps] == [True] * 4 + [False] + [True] * 5
    # when every op before the last went, the last one is not tried
    s = Search(10, needs(9), outputs=False, inputs=False)
    assert s.run() == [9]
    assert [x.removed for x in s.steps] == list(range(9))


def test_best_so_far_survives_an_interrupt():
    calls = []

    def evaluate(ops, stage, removed):
        calls.append(ops)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return Verdict(30 in ops, "")

    s = Search(64, evaluate)
    with pytest.raises(KeyboardInterrupt):
        s.run()
    failing = [c for c in calls[:3] if 30 in c]
    assert s.best == min(failing, key=len)
    assert 30 in s.best and len(s.best) < 64
