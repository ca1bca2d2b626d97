"""Refusing to execute TF graphs whose ops act on the host, before TensorFlow sees them."""

from __future__ import annotations

from pathlib import Path

from modelkit.analysis.unsafe_ops import describe_unsafe, unsafe_nodes
from modelkit.errors import UnsafeOpsError
from modelkit.ir import Model


def refuse_unsafe(model: Model, path: str | Path, action: str = "running") -> None:
    """Raise when `model` holds ops with host side effects.

    Args:
        model: the IR of the graph about to be executed or traced.
        path: the file, for the message.
        action: what would execute it ("running", "converting").

    Raises:
        UnsafeOpsError: naming the nodes, their ops and what they do (exit 4).
    """
    found = unsafe_nodes(model)
    if found:
        raise UnsafeOpsError(
            f"refusing to execute the graph: {len(found)} node(s) act on this machine when "
            f"{action} it: {describe_unsafe(found)}; inspect the model, then pass "
            "--allow-unsafe-ops if you trust it", str(path))
