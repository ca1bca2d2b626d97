"""Cutting models: `extract` (a subgraph between chosen tensors) and `reduce` (the
smallest part of a failing model that still fails).

    from modelkit.reduce.extract import extract
    from modelkit.reduce.reducer import ReduceOptions, reduce_model

`extract` works on the IR alone; `reduce` runs a condition on every candidate (the
TFLite interpreter in a child process, `modelkit check`, a comparison with a
reference model, or a user command) and searches with `Search` (bisect, then linear).
"""
