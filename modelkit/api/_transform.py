"""`transform`: the source as a graph the passes take (TFLite and GraphDef as read;
SavedModels, checkpoints and Keras models frozen first), inputs and outputs detected
as `convert` detects them, the passes run, the result written."""

from __future__ import annotations

from pathlib import Path

from modelkit.convert.progress import Progress
from modelkit.errors import ModelkitError, UsageError
from modelkit.ir import Model

_TF_OUTPUTS = (".pb", ".pbtxt")


def load_source(src: Path, source_format: str | None, signature: str,
                outputs: list[str] | None) -> tuple[Model, list[str] | None, list[str] | None]:
    """The source as a Model: GraphDefs and TFLite read directly; SavedModels,
    checkpoints and Keras files frozen to a GraphDef first.

    Returns:
        (model, inputs, outputs): inputs/outputs known from freezing, else None.
    """
    from modelkit.formats.registry import detect_format, load

    fmt = detect_format(src, source_format)
    if fmt in ("graphdef", "tflite"):
        return load(src, fmt), None, None
    from modelkit.analysis.tf_summary import node_name
    from modelkit.formats import _tfproto

    if fmt == "checkpoint":
        from modelkit.analysis.tf_summary import inference_io
        from modelkit.formats.checkpoint import freeze
        from modelkit.runtime.tfenv import import_tf

        if not outputs:
            outputs = [n.name for n in inference_io(load(src, fmt).main)[1]]
        tf = import_tf(needed_for="freezing a checkpoint", path=src)
        gd = _tfproto.parse_graphdef(freeze(tf, src, outputs), str(src))
        model = _tfproto.model_from_graphdef(gd, "graphdef", str(src))
        return model, None, outputs
    if fmt in ("savedmodel", "keras_h5", "keras_zip", "keras"):
        from modelkit.runtime import tf_loaders
        from modelkit.runtime.tfenv import import_tf

        what = "SavedModel" if fmt == "savedmodel" else "Keras model"
        tf = import_tf(needed_for=f"freezing a {what}", path=src)
        if fmt == "savedmodel":
            graph_def, ins, outs = tf_loaders.freeze_savedmodel(tf, src, signature)
        else:
            from modelkit.convert.export import keras_concrete_function

            fn = keras_concrete_function(tf, tf_loaders.load_keras(src))
            graph_def, ins, outs = tf_loaders.freeze_concrete_function(tf, fn)
        gd = _tfproto.parse_graphdef(graph_def.SerializeToString(), str(src))
        model = _tfproto.model_from_graphdef(gd, "graphdef", str(src))
        return model, [node_name(i) for i in ins], [node_name(o) for o in outs]
    raise UsageError(f"transform reads TF graphs and TFLite models, not {fmt}", str(src))


def check_kind(is_tflite: bool, domains: set[str], src: str) -> None:
    """Refuse passes of the other kind of model (TFLite passes on a TF graph or the
    reverse).

    Raises:
        UsageError: naming the source and the kind of model the passes work on.
    """
    if is_tflite != ("tflite" in domains):
        kind = "a TFLite model" if is_tflite else "a TF graph"
        raise UsageError(f"is {kind}; these transforms work on "
                         f"{'TFLite models' if 'tflite' in domains else 'TF graphs'}", src)


def tf_io(model: Model, inputs: list[str] | None, outputs: list[str] | None, src: str):
    """Inputs/outputs as node names: given ones checked against the graph (with the
    closest match on a typo), else detected as `convert` detects them."""
    from modelkit.analysis.graph_io import PLACEHOLDER_OPS, inference_io, resolve_names
    from modelkit.analysis.tf_summary import needed_nodes, node_name
    from modelkit.transform import PassContext

    graph = model.graphs[0]
    outs = resolve_names(graph, outputs, "Output") if outputs else None
    ins = resolve_names(graph, inputs, "Input") if inputs else None
    if outs is None or ins is None:
        found_in, found_out = inference_io(graph)
        if outs is None:
            outs = [node_name(o) for o in found_out]
            if not outs:
                raise UsageError("found no output; name the outputs with --outputs", src)
            if ins is None:
                ins = [node_name(i) for i in found_in]
        if ins is None:
            placeholders = [n.name for n in graph.nodes if n.op in PLACEHOLDER_OPS]
            used = {n.name for n in needed_nodes(graph, outs, placeholders)}
            ins = [p for p in placeholders if p in used]
    return PassContext(list(ins), list(outs))


def run(source: Model | Path, dst: Path | None, spec: str, *, inputs: list[str] | None,
        outputs: list[str] | None, source_format: str | None, signature: str, force: bool,
        progress: Progress, shown: str):
    """Parse `spec`, read the source, run the passes (one stage line each), write `dst`.

    Returns:
        (model, context, passes, nodes before, nodes after).

    Raises:
        UsageError: bad spec, parameter or output path (nothing is read or written).
        ModelReadError: the source cannot be read.
        TransformError: a pass failed (nothing is written).
    """
    from modelkit.api._sources import check_dst
    from modelkit.formats.registry import detect_format
    from modelkit.transform import PassContext, get_pass, parse_spec, run_passes

    passes = parse_spec(spec or "")
    if not passes:
        raise UsageError("--transforms names no transform")
    domains = set()
    for name, params in passes:
        p = get_pass(name)
        p.validate(params)
        domains.add(p.domain)
    if len(domains) > 1:
        raise UsageError("--transforms mixes TF graph and TFLite transforms")
    in_memory = isinstance(source, Model)
    # NOTE: the source's kind is the first thing wrong when it does not match the
    # passes (a TFLite pass on a .pb): the output's extension follows from it.
    kind = source.format if in_memory else detect_format(source, source_format)
    check_kind(kind == "tflite", domains, shown)
    if dst is not None:
        suffix = dst.suffix.lower()
        if "tflite" in domains and suffix != ".tflite":
            raise UsageError("the output of a TFLite transform must end in .tflite", str(dst))
        if "tf" in domains and suffix not in _TF_OUTPUTS:
            raise UsageError("the output of a TF graph transform must end in .pb or .pbtxt",
                             str(dst))
        check_dst(dst, source, force)

    if in_memory:
        model, frozen_ins, frozen_outs = source, None, None
    else:
        model, frozen_ins, frozen_outs = load_source(source, source_format, signature, outputs)
    is_tflite = model.format == "tflite"
    check_kind(is_tflite, domains, shown)
    ctx = PassContext(inputs or [], outputs or [])
    if not is_tflite:
        ctx = tf_io(model, inputs or frozen_ins, outputs or frozen_outs, shown)

    before = sum(len(g.nodes) for g in model.graphs)
    try:
        model, reports = run_passes(model, passes, ctx,
                                    on_report=lambda r: progress.stage(r.line()))
    except ModelkitError as e:
        # NOTE: a pass names what is wrong in the model; the line names the model.
        if e.path is None:
            e.path = shown
        raise
    after = sum(len(g.nodes) for g in model.graphs)
    if dst is not None:
        if is_tflite:
            from modelkit.formats.tflite.writer import save as save_tflite

            save_tflite(model, dst, force=force)
        else:
            from modelkit.formats.graphdef import save as save_graphdef

            save_graphdef(model, dst, force=force)
        progress.stage(f"wrote {dst} ({before} -> {after} nodes)")
    return model, ctx, reports, before, after
