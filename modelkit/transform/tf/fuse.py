"""Convolution fusions of graph_transforms (flatten_atrous.cc, fuse_convolutions.cc).

- `flatten_atrous_conv`: SpaceToBatchND -> Conv2D/DepthwiseConv2dNative ->
  BatchToSpaceND (how TF1 wrote dilated convolutions) becomes one convolution
  with the filter upsampled by the block shape (zeros between the taps) and
  SAME padding, named as the BatchToSpaceND.
- `fuse_pad_and_conv`: MirrorPad -> Conv2D becomes FusedPadConv2D.
- `fuse_resize_and_conv`: ResizeBilinear -> Conv2D becomes FusedResizeAndPadConv2D
  with zero paddings (`<conv>_dummy_paddings`).
- `fuse_resize_pad_and_conv`: ResizeBilinear -> MirrorPad -> Conv2D becomes
  FusedResizeAndPadConv2D.

As in TF's ReplaceMatchingOpTypes, a match is left alone when one of its inner
nodes is also used outside it (the fused node would lose that value).
"""

from __future__ import annotations

import numpy as np

from modelkit.ir import DType, Graph, Model, Node
from modelkit.ir.edit import clone_model, remove_nodes, replace_uses
from modelkit.transform.base import Params, PassContext, PassResult, register
from modelkit.transform.tf._graph import (const_array, copy_attrs, find_matches, rename,
                                          set_const, used_outside)
from modelkit.transform.tf._tfgraph import const_node, new_node


_ATROUS = ("BatchToSpaceND", [("Conv2D|DepthwiseConv2dNative",
                               [("SpaceToBatchND", [("*",), ("*",), ("*",)]), ("*",)]),
                              ("*",), ("*",)])
_PAD_CONV = ("Conv2D", [("MirrorPad", [("*",), ("*",)]), ("*",)])
_RESIZE_CONV = ("Conv2D", [("ResizeBilinear",), ("*",)])
_RESIZE_PAD_CONV = ("Conv2D", [("MirrorPad", [("ResizeBilinear",), ("*",)]), ("*",)])


def _replace_root(graph: Graph, root: Node, fused: Node, dead: list[Node]) -> None:
    """Move the root's users to `fused` (which takes its name) and drop the dead nodes."""
    name = root.name
    rename(root, f"{name}__fused")
    rename(fused, name)
    replace_uses(root.outputs[0], fused.outputs[0], graph=graph)
    remove_nodes(graph, [root])
    for n in dead:
        if n is not root and not any(v.consumers for v in n.outputs):
            remove_nodes(graph, [n])
    graph._by_name = None



def flatten_atrous(graph: Graph) -> int:
    """flatten_atrous_conv on `graph` in place; returns how many were flattened."""
    count = 0
    for m, outside in [(m, used_outside(graph, m)) for m in find_matches(graph, _ATROUS)]:
        b2s, conv = m.node, m.inputs[0].node
        s2b, filt = m.inputs[0].inputs[0].node, m.inputs[0].inputs[1].node
        inp = m.inputs[0].inputs[0].inputs[0].node
        block = const_array(s2b.inputs[1])
        weights = const_array(conv.inputs[1])
        if block is None or weights is None or block.size < 2 or weights.ndim != 4:
            continue  # NOTE: TF reads both as Const values; anything else is no atrous conv.
        if outside - {inp.name, filt.name, b2s.name}:
            continue
        bh, bw = int(block.reshape(-1)[0]), int(block.reshape(-1)[1])
        fh, fw, cin, cout = weights.shape
        up = np.zeros(((fh - 1) * bh + 1, (fw - 1) * bw + 1, cin, cout), np.float32)
        up[::bh, ::bw] = weights
        set_const(filt, up, DType.FLOAT32)
        flat = new_node(graph, f"{b2s.name}__flat", conv.op, [s2b.inputs[0], filt.outputs[0]],
                        outputs=[DType.FLOAT32], device=conv.device, before=b2s)
        copy_attrs(conv, flat, ["T", "strides"])
        flat.attrs["padding"] = "SAME"
        flat.meta["tf_attr_kinds"]["padding"] = "s"
        copy_attrs(conv, flat, ["data_format"] +
                   (["use_cudnn_on_gpu"] if conv.op == "Conv2D" else []))
        _replace_root(graph, b2s, flat, m.nodes())
        count += 1
    return count


def _fuse_conv(graph: Graph, mode: str) -> int:
    """The three fuse_* passes: `pad`, `resize`, `resize_pad`."""
    pattern = {"pad": _PAD_CONV, "resize": _RESIZE_CONV, "resize_pad": _RESIZE_PAD_CONV}[mode]
    count = 0
    for m, outside in [(m, used_outside(graph, m)) for m in find_matches(graph, pattern)]:
        conv, first = m.node, m.inputs[0].node
        weights = m.inputs[1].node
        if mode == "pad":
            pad, resize = first, None
            kept = {weights.name, m.inputs[0].inputs[0].node.name,
                    m.inputs[0].inputs[1].node.name, conv.name}
        elif mode == "resize":
            pad, resize = None, first
            kept = {weights.name, f"{conv.name}_dummy_paddings", conv.name}
        else:
            pad, resize = first, m.inputs[0].inputs[0].node
            kept = {weights.name, m.inputs[0].inputs[1].node.name, conv.name}
        if outside - kept:
            continue
        if pad is not None and resize is None:
            fused = new_node(graph, f"{conv.name}__fused_new", "FusedPadConv2D",
                             [pad.inputs[0], pad.inputs[1], conv.inputs[1]],
                             outputs=[DType.FLOAT32], before=conv)
            copy_attrs(pad, fused, ["mode"])
        else:
            assert resize is not None
            if pad is not None:
                paddings = pad.inputs[1]
            else:
                paddings = const_node(graph, f"{conv.name}_dummy_paddings",
                                      np.zeros((4, 2), np.int32), DType.INT32,
                                      before=conv).outputs[0]
            fused = new_node(graph, f"{conv.name}__fused_new", "FusedResizeAndPadConv2D",
                             [resize.inputs[0], resize.inputs[1], paddings, conv.inputs[1]],
                             outputs=[DType.FLOAT32], before=conv)
            if "align_corners" in resize.attrs:
                fused.attrs["resize_align_corners"] = resize.attrs["align_corners"]
                fused.meta["tf_attr_kinds"]["resize_align_corners"] = "b"
            if pad is not None:
                copy_attrs(pad, fused, ["mode"])
            else:
                fused.attrs["mode"] = "REFLECT"
                fused.meta["tf_attr_kinds"]["mode"] = "s"
        copy_attrs(conv, fused, ["T", "padding", "strides"])
        _replace_root(graph, conv, fused, [n for n in (pad, resize) if n is not None])
        count += 1
    return count


def _run(model: Model, fn, what: str) -> PassResult:
    out = clone_model(model)
    count = fn(out.main)
    if not count:
        return PassResult(model, False, [])
    return PassResult(out, True, [f"{count} {what}"])


@register("flatten_atrous_conv",
          doc="SpaceToBatchND -> Conv2D -> BatchToSpaceND into one dilated-filter convolution")
def flatten_atrous_conv(model: Model, params: Params, ctx: PassContext) -> PassResult:
    """Replace TF1 atrous convolutions by a convolution with an upsampled filter."""
    return _run(model, flatten_atrous, "atrous convolutions flattened")


@register("fuse_pad_and_conv", doc="MirrorPad -> Conv2D into FusedPadConv2D")
def fuse_pad_and_conv(model: Model, params: Params, ctx: PassContext) -> PassResult:
    """Fuse MirrorPad into the following Conv2D."""
    return _run(model, lambda g: _fuse_conv(g, "pad"), "pad+conv fused")


@register("fuse_resize_and_conv", doc="ResizeBilinear -> Conv2D into FusedResizeAndPadConv2D")
def fuse_resize_and_conv(model: Model, params: Params, ctx: PassContext) -> PassResult:
    """Fuse ResizeBilinear into the following Conv2D."""
    return _run(model, lambda g: _fuse_conv(g, "resize"), "resize+conv fused")


@register("fuse_resize_pad_and_conv",
          doc="ResizeBilinear -> MirrorPad -> Conv2D into FusedResizeAndPadConv2D")
def fuse_resize_pad_and_conv(model: Model, params: Params, ctx: PassContext) -> PassResult:
    """Fuse ResizeBilinear and MirrorPad into the following Conv2D."""
    return _run(model, lambda g: _fuse_conv(g, "resize_pad"), "resize+pad+conv fused")
