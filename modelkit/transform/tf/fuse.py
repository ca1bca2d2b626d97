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

from modelkit.ir import DType, Graph, Model, Node, Value
from modelkit.ir.edit import clone_model, remove_nodes, replace_uses
from modelkit.transform.base import Params, PassContext, PassResult, register
from modelkit.transform.tf._graph import const_array, copy_attrs, set_const
from modelkit.transform.tf._tfgraph import const_node, new_node


def _producer(v: Value | None, *ops: str) -> Node | None:
    if v is None or v.producer is None:
        return None
    return v.producer if not ops or v.producer.op in ops else None


def _used_outside(inner: list[Node], matched: list[Node]) -> bool:
    """True when an inner node of a match feeds a node outside the match."""
    ids = {id(n) for n in matched}
    return any(id(c) not in ids for n in inner for v in n.outputs for c, _ in v.consumers)


def _replace_root(graph: Graph, root: Node, fused: Node, dead: list[Node]) -> None:
    """Move the root's users to `fused` (which takes its name) and drop the dead nodes."""
    name = root.name
    root.name = f"{name}__fused"
    for port, v in enumerate(root.outputs):
        v.name = f"{root.name}:{port}"
    fused.name = name
    for port, v in enumerate(fused.outputs):
        v.name = f"{name}:{port}"
    replace_uses(root.outputs[0], fused.outputs[0], graph=graph)
    remove_nodes(graph, [root])
    for n in dead:
        if not any(v.consumers for v in n.outputs):
            remove_nodes(graph, [n])
    graph._by_name = None


def flatten_atrous(graph: Graph) -> int:
    """flatten_atrous_conv on `graph` in place; returns how many were flattened."""
    count = 0
    for b2s in list(graph.nodes):
        if b2s.op != "BatchToSpaceND" or len(b2s.inputs) < 3:
            continue
        conv = _producer(b2s.inputs[0], "Conv2D", "DepthwiseConv2dNative")
        if conv is None or len(conv.inputs) < 2:
            continue
        s2b = _producer(conv.inputs[0], "SpaceToBatchND")
        filt = _producer(conv.inputs[1])
        if s2b is None or filt is None or len(s2b.inputs) < 3:
            continue
        block_node = _producer(s2b.inputs[1])
        matched = [b2s, conv, s2b, filt, _producer(s2b.inputs[0]), block_node,
                   _producer(s2b.inputs[2]), _producer(b2s.inputs[1]),
                   _producer(b2s.inputs[2])]
        matched = [n for n in matched if n is not None]
        if _used_outside([conv, s2b], matched):
            continue
        block = const_array(s2b.inputs[1])
        weights = const_array(conv.inputs[1])
        if block is None or weights is None or block.size < 2 or weights.ndim != 4:
            continue
        bh, bw = int(block.reshape(-1)[0]), int(block.reshape(-1)[1])
        fh, fw, cin, cout = weights.shape
        up = np.zeros(((fh - 1) * bh + 1, (fw - 1) * bw + 1, cin, cout), np.float32)
        up[::bh, ::bw] = weights
        if _used_outside([filt], matched):
            continue
        set_const(filt, up, DType.FLOAT32)
        attrs = {"padding": "SAME"}
        flat = new_node(graph, f"{b2s.name}__flat", conv.op, [s2b.inputs[0], filt.outputs[0]],
                        attrs, outputs=[DType.FLOAT32], device=conv.device, before=b2s)
        names = ["T", "strides", "data_format"]
        if conv.op == "Conv2D":
            names.append("use_cudnn_on_gpu")
        copy_attrs(conv, flat, names)
        flat.attrs = {k: flat.attrs[k] for k in ("T", "strides", "padding", "data_format",
                                                 "use_cudnn_on_gpu") if k in flat.attrs}
        _replace_root(graph, b2s, flat, [conv, s2b] + [n for n in matched[5:]])
        count += 1
    return count


def _fuse_conv(graph: Graph, mode: str) -> int:
    """The three fuse_* passes: `pad`, `resize`, `resize_pad`."""
    count = 0
    for conv in list(graph.nodes):
        if conv.op != "Conv2D" or len(conv.inputs) < 2:
            continue
        pad = resize = None
        if mode in ("pad", "resize_pad"):
            pad = _producer(conv.inputs[0], "MirrorPad")
            if pad is None or len(pad.inputs) < 2:
                continue
            if mode == "resize_pad":
                resize = _producer(pad.inputs[0], "ResizeBilinear")
                if resize is None:
                    continue
        else:
            resize = _producer(conv.inputs[0], "ResizeBilinear")
            if resize is None:
                continue
        inner = [n for n in (pad, resize) if n is not None]
        matched = [conv, *inner, _producer(conv.inputs[1])]
        if pad is not None:
            matched += [_producer(pad.inputs[0]), _producer(pad.inputs[1])]
        matched = [n for n in matched if n is not None]
        if _used_outside(inner, matched):
            continue
        if mode == "pad":
            fused = new_node(graph, f"{conv.name}__fused_new", "FusedPadConv2D",
                             [pad.inputs[0], pad.inputs[1], conv.inputs[1]],  # type: ignore
                             outputs=[DType.FLOAT32], before=conv)
            copy_attrs(pad, fused, ["mode"])  # type: ignore[arg-type]
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
        _replace_root(graph, conv, fused, inner)
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
