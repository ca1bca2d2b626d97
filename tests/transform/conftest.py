"""Oracles for transform tests: TF's own graph_transforms and a TF session.

`tf_transform` calls TensorFlow's C++ TransformGraph (shipped in TF 2.21 as the
private pybind module `_pywrap_transform_graph`) and re-serializes its result
deterministically, because the raw bytes it returns differ from call to call.
`run_graph` executes a GraphDef in a TF1 session. Both import TensorFlow only
when called.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _tf():
    import tensorflow as tf

    return tf


def _names(names: str | Iterable[str]) -> bytes:
    if isinstance(names, str):
        return names.encode()
    return ",".join(names).encode()


def graphdef_bytes(graph_def) -> bytes:
    """A GraphDef (TF or tensorboard message, or bytes) as deterministic bytes."""
    if isinstance(graph_def, (bytes, bytearray)):
        return bytes(graph_def)
    return graph_def.SerializeToString(deterministic=True)


def tf_transform(graph_def_bytes, inputs: str | Iterable[str], outputs: str | Iterable[str],
                 spec: str):
    """TF's TransformGraph on a serialized GraphDef; the result as a tf GraphDef.

    Args:
        graph_def_bytes: serialized GraphDef (or a GraphDef message).
        inputs / outputs: node names, a comma string or a list.
        spec: transform_graph's spec, e.g. `remove_nodes(op=Identity)`.

    Returns:
        tf.compat.v1.GraphDef, parsed from TF's output and round-tripped through
        deterministic serialization (so equal graphs compare equal as bytes).

    Raises:
        ValueError / RuntimeError: TF's own error (e.g. `Transform 'x' not recognized.`).
    """
    tf = _tf()
    from tensorflow.python.util._pywrap_transform_graph import TransformGraphWithStringInputs

    raw = TransformGraphWithStringInputs(graphdef_bytes(graph_def_bytes), _names(inputs),
                                         _names(outputs), spec.encode())
    gd = tf.compat.v1.GraphDef.FromString(raw)
    return tf.compat.v1.GraphDef.FromString(gd.SerializeToString(deterministic=True))


def as_tf_graphdef(graph_def):
    """Any GraphDef form (bytes, tensorboard or tf message) as a tf GraphDef."""
    tf = _tf()
    return tf.compat.v1.GraphDef.FromString(graphdef_bytes(graph_def))


def run_graph(graph_def, feeds: Mapping[str, np.ndarray], fetches: Iterable[str]
              ) -> list[np.ndarray]:
    """Run a GraphDef in a fresh TF1 session.

    Args:
        graph_def: serialized GraphDef or a GraphDef message.
        feeds: tensor or node name (`x` means `x:0`) -> value.
        fetches: tensor or node names to fetch.

    Returns:
        the fetched values, in order.
    """
    tf = _tf()
    gd = as_tf_graphdef(graph_def)

    def tensor(name: str) -> str:
        return name if ":" in name else f"{name}:0"

    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(gd, name="")
    with tf.compat.v1.Session(graph=graph) as sess:
        return sess.run([tensor(f) for f in fetches],
                        {tensor(k): v for k, v in feeds.items()})


def op_histogram(graph_def) -> Counter:
    """Op type counts of the main graph of a GraphDef (any form)."""
    return Counter(n.op for n in as_tf_graphdef(graph_def).node)


def node_names(graph_def) -> list[str]:
    """Node names of the main graph, in order."""
    return [n.name for n in as_tf_graphdef(graph_def).node]


def normalized_nodes(graph_def) -> dict[str, bytes]:
    """name -> deterministic NodeDef bytes (order-insensitive structural comparison)."""
    return {n.name: n.SerializeToString(deterministic=True)
            for n in as_tf_graphdef(graph_def).node}


@pytest.fixture(scope="session")
def tf_oracle():
    """The oracle helpers as one object (for tests that prefer a fixture)."""
    from types import SimpleNamespace

    return SimpleNamespace(transform=tf_transform, run=run_graph, histogram=op_histogram,
                           names=node_names, nodes=normalized_nodes)


def modelkit_transform(graph_def_bytes, inputs: str | Iterable[str],
                       outputs: str | Iterable[str], spec: str):
    """modelkit's passes on a serialized GraphDef, as `tf_transform` calls TF's.

    Returns:
        (tf GraphDef of the result, list of PassReport).
    """
    from modelkit.formats import _tfproto
    from modelkit.formats.graphdef import to_graphdef
    from modelkit.transform import PassContext, parse_spec, run_passes

    def listed(names):
        return [n for n in names.split(",") if n] if isinstance(names, str) else list(names)

    gd = _tfproto.parse_graphdef(graphdef_bytes(graph_def_bytes), "<test graph>")
    model = _tfproto.model_from_graphdef(gd, "graphdef", None)
    result, reports = run_passes(model, parse_spec(spec),
                                 PassContext(listed(inputs), listed(outputs)))
    return as_tf_graphdef(to_graphdef(result)), reports


def canonical_nodes(graph_def, drop_attrs: Iterable[str] = ()) -> dict[str, bytes]:
    """name -> NodeDef bytes with inputs spelled canonically (`a` -> `a:0`), for
    comparing graphs whose writers spell inputs differently."""
    out = {}
    for n in as_tf_graphdef(graph_def).node:
        inputs = [s if ":" in s or s.startswith("^") else s + ":0" for s in n.input]
        del n.input[:]
        n.input.extend(inputs)
        for a in drop_attrs:
            if a in n.attr:
                del n.attr[a]
        out[n.name] = n.SerializeToString(deterministic=True)
    return out
