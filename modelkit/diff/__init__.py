"""`modelkit diff`: node and tensor matching across two graphs, and the change list.

    from modelkit.diff import diff_models, match_graphs
    d = diff_models(modelkit.load("a.tflite"), modelkit.load("b.tflite"))
    d.same, d.changes                  # Change(kind, what, graph, a, b, fields, details)
    m = match_graphs(graph_a, graph_b) # NodeMatch/ValueMatch pairs with their reasons

`match` pairs graphs, nodes and tensors; `changes` lists the differences;
`render` formats them (text, JSON); `dump` is the one-model text form for
`git diff` (textconv). Importing this package reads nothing and imports neither
numpy nor TensorFlow.
"""

from modelkit.diff.changes import Change, GraphPair, ModelDiff, Ref, diff_models
from modelkit.diff.match import Matching, NodeMatch, ValueMatch, match_graphs, pair_graphs

__all__ = ["Change", "GraphPair", "Matching", "ModelDiff", "NodeMatch", "Ref", "ValueMatch",
           "diff_models", "match_graphs", "pair_graphs"]
