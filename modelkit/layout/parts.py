"""Cutting a graph too large to lay out whole into parts laid out one by one.

The layered layout grows faster than linearly with the number of boxes (about 0.4 s
for 1,000 boxes, minutes for 15,000), so a big graph is cut into parts of consecutive
boxes in topological order (inputs first), each laid out on its own; an edge between
two parts leaves its box as a "+N in" / "+N out" count (`Box.hidden_in`, `hidden_out`).
"""

from __future__ import annotations

import heapq

from modelkit.layout.graph import GraphStructure

# Boxes laid out in one piece at most: the browser's whole-graph limit.
WHOLE_LIMIT = 2500
# Boxes per part when a graph is cut.
PART_SIZE = 200


def topological_order(st: GraphStructure) -> list[int]:
    """Every box once, each after the boxes that feed it (cycles broken at the box that
    comes first in the graph's own order); ties keep the graph's order."""
    n = len(st)
    indeg = [0] * n
    for e in st.edges:
        if e.src != e.dst:
            indeg[e.dst] += 1
    ready = [v for v in range(n) if indeg[v] == 0]
    heapq.heapify(ready)
    placed = [False] * n
    order: list[int] = []
    next_unplaced = 0
    while len(order) < n:
        if not ready:
            # NOTE: only a cycle leaves boxes that never become ready; the first of
            # them in the graph's order goes next.
            while placed[next_unplaced]:
                next_unplaced += 1
            heapq.heappush(ready, next_unplaced)
            indeg[next_unplaced] = 0
        v = heapq.heappop(ready)
        if placed[v]:
            continue
        placed[v] = True
        order.append(v)
        for ei in st.out_edges[v]:
            d = st.edges[ei].dst
            if d != v and not placed[d]:
                indeg[d] -= 1
                if indeg[d] == 0:
                    heapq.heappush(ready, d)
    return order


def split(st: GraphStructure, whole_limit: int | None = None,
          part_size: int | None = None) -> list[list[int]]:
    """The boxes of `st` in parts: one part when it has at most `whole_limit` boxes
    (default WHOLE_LIMIT), else consecutive runs of `part_size` boxes (default
    PART_SIZE) in topological order."""
    whole_limit = WHOLE_LIMIT if whole_limit is None else whole_limit
    part_size = PART_SIZE if part_size is None else part_size
    n = len(st)
    if n <= whole_limit:
        return [list(range(n))]
    order = topological_order(st)
    return [sorted(order[i:i + part_size]) for i in range(0, n, part_size)]
