"""Rules for TF graphs (GraphDef, SavedModel, checkpoint): what the TFLite converter
cannot take. The op tables are the convert preflight's (`modelkit.analysis.tf_ops`)."""

from __future__ import annotations

from collections.abc import Iterator

from modelkit.analysis.tf_ops import (SELECT_TF_OPS, TFLITE_BUILTIN_TF_OPS, VARIABLE_TF_OPS,
                                      is_legacy_quantized)
from modelkit.analysis.tf_summary import is_training_node
from modelkit.check.rules import TARGETS, Hit, rule
from modelkit.ir import Node

_PLACEHOLDERS = frozenset({"Placeholder", "PlaceholderV2"})
_SHOWN = 10


def _grouped(ctx, pick) -> Iterator[tuple[str, list[int]]]:
    groups: dict[str, list[int]] = {}
    if ctx.model.format == "savedmodel" and pick is not _legacy:
        # NOTE: a SavedModel's function library also holds its saving and restoring
        # functions, which the converter never sees; as the convert preflight does,
        # only the legacy quantized family is judged there.
        return
    for i, n in enumerate(ctx.graph.nodes):
        if n.domain in ("tf", "") and pick(n):
            groups.setdefault(n.op, []).append(i)
    yield from groups.items()


def _hit(ctx, op: str, idx: list[int], text: str, **kw) -> Hit:
    names = [ctx.graph.nodes[i].name for i in idx]
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return Hit(f"{op} ({len(idx)}: {shown}): {text}", names[:_SHOWN], {"count": len(idx)},
               node=idx[0], **kw)


def _legacy(n: Node) -> bool:
    src = n.inputs[0] if n.inputs else None
    names = {str(n.attrs.get("T", "")), str(src.dtype) if src is not None and src.dtype else ""}
    return is_legacy_quantized(n.op, names)


@rule("tf-legacy-quantized", targets=TARGETS, formats=("tf",),
      summary="TF1 legacy quantized ops (QuantizeV2, Quantized*, Requantize, from "
              "graph_transforms quantize_nodes/quantize_weights): the TFLite converter cannot "
              "take them.",
      source="tensorflow/tools/graph_transforms/quantize_nodes.cc; the converter's "
             "legalization has no pattern for them",
      fix="modelkit convert SRC model.tflite --dequantize-legacy (or modelkit transform SRC "
          "float.pb --transforms dequantize_legacy for the float graph)")
def _legacy_rule(ctx) -> Iterator[Hit]:
    for op, idx in _grouped(ctx, _legacy):
        yield _hit(ctx, op, idx, "TF1 legacy quantization; TFLite cannot take it")


@rule("tf-select-op", targets=TARGETS, formats=("tf",), severity="warning",
      summary="Ops that are not TFLite builtins but Select TF ops: they convert only with "
              "--allow-select-tf-ops and run only where the Flex delegate is linked (never on "
              "Micro, the Edge TPU or a GPU).",
      source="tensorflow/lite/delegates/flex/allowlisted_flex_ops.cc : GetFlexAllowlist",
      fix="modelkit convert SRC DST --allow-select-tf-ops")
def _select(ctx) -> Iterator[Hit]:
    severity = "warning" if ctx.target in ("tflite", "xnnpack") else "error"
    for op, idx in _grouped(ctx, lambda n: not _legacy(n) and not is_training_node(n)
                            and n.op not in TFLITE_BUILTIN_TF_OPS and n.op in SELECT_TF_OPS
                            and n.op not in VARIABLE_TF_OPS):
        yield _hit(ctx, op, idx, "not a TFLite builtin; a Select TF op (Flex delegate)",
                   severity=severity)


@rule("tf-unsupported-op", targets=TARGETS, formats=("tf",),
      summary="Ops that are neither TFLite builtins nor Select TF ops: the converter fails "
              "unless they are kept as custom ops with a kernel of your own.",
      source="legalize_patterns.td / legalize_tf.cc (builtins); allowlisted_flex_ops.cc",
      fix="modelkit convert SRC DST --allow-custom-ops (then register a kernel)")
def _unsupported(ctx) -> Iterator[Hit]:
    for op, idx in _grouped(ctx, lambda n: not _legacy(n) and not is_training_node(n)
                            and n.op not in TFLITE_BUILTIN_TF_OPS
                            and n.op not in SELECT_TF_OPS and n.op not in VARIABLE_TF_OPS):
        yield _hit(ctx, op, idx, "neither a TFLite builtin nor a Select TF op")


@rule("tf-training-op", targets=TARGETS, formats=("tf",), severity="info",
      summary="Training-only nodes (optimizer updates, gradients, savers, summaries): the "
              "conversion cuts them away with the outputs you name.",
      source="modelkit.analysis.tf_ops : is_training_op",
      fix="modelkit convert SRC DST --outputs NAME")
def _train(ctx) -> Iterator[Hit]:
    idx = [i for i, n in enumerate(ctx.graph.nodes) if n.domain in ("tf", "") and is_training_node(n)]
    if idx and ctx.model.format != "savedmodel":
        yield _hit(ctx, "training", idx, "training-only nodes, not converted")


@rule("tf-variable", targets=TARGETS, formats=("tf",), severity="warning",
      summary="Unfrozen variables: the graph needs its checkpoint; freezing turns them into "
              "constants.",
      source="tensorflow/python/framework/graph_util_impl.py : convert_variables_to_constants",
      fix="modelkit convert SRC frozen.pb (freezes a checkpoint graph)")
def _variables(ctx) -> Iterator[Hit]:
    if ctx.model.format == "savedmodel":
        return  # a SavedModel holds its variables; the converter freezes them itself
    for op, idx in _grouped(ctx, lambda n: n.op in ("VariableV2", "Variable", "VarHandleOp")):
        yield _hit(ctx, op, idx, "variables; freeze the graph before converting")


@rule("tf-unknown-shape", targets=TARGETS, formats=("tf",), severity="warning",
      summary="Inputs whose shape is unknown beyond the batch dim: the converter needs "
              "--input-shapes (Micro and the Edge TPU need static shapes).",
      source="modelkit convert preflight (check_shapes)",
      fix="modelkit convert SRC DST --input-shapes 1,H,W,C")
def _shapes(ctx) -> Iterator[Hit]:
    for i, n in enumerate(ctx.graph.nodes):
        if n.op not in _PLACEHOLDERS or not n.outputs or not n.outputs[0].consumers:
            # NOTE: a placeholder nothing reads is no input the converter takes (freezing
            # a TF2 function leaves `unused_control_flow_input_N` ones for loop resources).
            continue
        shape = n.outputs[0].shape
        if shape is None or any(d is None for d in shape[1:]):
            dims = "*" if shape is None else ",".join("?" if d is None else str(d)
                                                      for d in shape)
            yield Hit(f"input {n.name!r} has shape [{dims}]", [n.outputs[0].name],
                      {"shape": None if shape is None else list(shape)}, node=i)


@rule("keras-convert-first", targets=TARGETS, formats=("keras_h5", "keras_zip"),
      severity="info",
      summary="Keras models hold layers, not the ops a runtime runs: check judges the TFLite "
              "model (or TF graph) made from them.",
      source="modelkit convert (Keras models convert through the TFLite converter)",
      fix="modelkit convert SRC model.tflite, then modelkit check model.tflite")
def _keras(ctx) -> Iterator[Hit]:
    if ctx.gi == 0:
        yield Hit("a Keras model: convert it, then check the result", [], {})
