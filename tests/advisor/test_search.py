"""The search's logic on made-up layers whose effect is known by construction: the
oracle is the budget function itself, so the cheapest assignment that keeps it is
known by hand."""

from __future__ import annotations

from modelkit.advisor.search import Candidate, Search, SearchLayer

RANK = {"int8": 0, "int16x8": 1, "float": 2}


def _world(shortfall):
    """try_candidate for a search: the cost counts float and int16 layers; `shortfall`
    maps an assignment (every layer's precision) to the distance from the budget."""
    def try_candidate(index: int, assignment: dict[str, str]) -> Candidate:
        level = {name: RANK[p] for name, p in assignment.items()}
        s = shortfall(lambda name: level.get(name, 0))
        floats = sum(1 for p in assignment.values() if p == "float")
        int16 = sum(1 for p in assignment.values() if p == "int16x8")
        return Candidate(index, dict(assignment), s <= 0, s, (floats, int16, 0))
    return try_candidate


def _tried(search: Search) -> list[dict[str, str]]:
    return [c.assignment for c in search.tried]


def test_the_producer_of_the_layer_that_shows_the_damage_is_tried_with_it():
    # A needs float (int16 activations do not help it); the input of C is too coarse
    # unless its producer B and C itself are both at least int16. Ranking: A, C, B.
    def shortfall(level):
        return 10 * (level("A") < 2) + 5 * (level("B") < 1 or level("C") < 1) - 0.5

    layers = [SearchLayer("A", "FULLY_CONNECTED"),
              SearchLayer("C", "FULLY_CONNECTED", producers=["B"]),
              SearchLayer("B", "FULLY_CONNECTED", producers=["A"])]
    search = Search(layers, ("int16x8", "float"), _world(shortfall))
    best = search.run()
    assert best is not None and best.assignment == {"A": "float", "C": "int16x8",
                                                    "B": "int16x8"}
    assert _tried(search)[:5] == [
        {}, {"A": "int16x8"}, {"A": "float"}, {"A": "float", "C": "int16x8"},
        {"A": "float", "C": "int16x8", "B": "int16x8"}]
    # Then each kept layer is lowered again, the last kept first (B back to int8 is
    # {A: float, C: int16x8}, tried already): none can be.
    assert _tried(search)[5:] == [{"A": "float", "B": "int16x8"},
                                  {"C": "int16x8", "B": "int16x8"},
                                  {"A": "int16x8", "C": "int16x8", "B": "int16x8"}]
    # No assignment is converted twice.
    assert len(search.tried) == len({frozenset(a.items()) for a in _tried(search)})


def test_a_layer_kept_on_the_way_is_dropped_when_the_budget_holds_without_it():
    # D (ranked first) helps a little, A is the cause; with A in float D is not needed.
    def shortfall(level):
        return 3 * (level("A") < 2) + 0.1 * (level("D") == 0) - 0.2

    layers = [SearchLayer("D", "CONV_2D"), SearchLayer("A", "CONV_2D")]
    search = Search(layers, ("int16x8", "float"), _world(shortfall))
    best = search.run()
    assert best is not None and best.assignment == {"A": "float"}
    assert {"D": "int16x8", "A": "float"} in _tried(search)  # the greedy phase kept D


def test_int16_is_chosen_over_float_when_it_is_enough():
    def shortfall(level):
        return 1.0 * (level("X") < 1) - 0.5

    search = Search([SearchLayer("X", "FULLY_CONNECTED")], ("int16x8", "float"),
                    _world(shortfall))
    assert search.run().assignment == {"X": "int16x8"}
    assert {"X": "float"} not in _tried(search)


def test_only_the_precisions_the_target_runs_are_tried():
    def shortfall(level):
        return 1.0 * (level("X") < 1) - 0.5

    search = Search([SearchLayer("X", "FULLY_CONNECTED")], ("float",), _world(shortfall))
    assert search.run().assignment == {"X": "float"}
    assert all("int16x8" not in a.values() for a in _tried(search))


def test_nothing_keeps_the_budget():
    search = Search([SearchLayer("X", "FULLY_CONNECTED"), SearchLayer("Y", "CONV_2D")],
                    ("int16x8", "float"), _world(lambda level: 1.0))
    assert search.run() is None
    assert len(search.tried) == 5  # all int8, then X and Y at int16 and float each


def test_the_candidate_limit_stops_the_search():
    layers = [SearchLayer(f"L{i}", "CONV_2D") for i in range(20)]
    search = Search(layers, ("int16x8", "float"), _world(lambda level: 1.0), limit=7)
    assert search.run() is None
    assert len(search.tried) == 7
