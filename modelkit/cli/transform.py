"""`modelkit transform SRC DST --transforms SPEC`: graph_transforms passes and TFLite rewrites.

Examples:

    modelkit transform frozen.pb clean.pb --transforms \\
        'strip_unused_nodes fold_constants(ignore_errors=true) remove_nodes(op=Identity)'
    modelkit transform model.tflite model_u8.tflite --transforms 'set_io_type(type=uint8)'
    modelkit transform --list
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from modelkit.cli.main import app, reporting_errors

_TF_OUTPUTS = (".pb", ".pbtxt")


@app.command(help=__doc__.split("\n\n")[0] + "\n\n" + """\
SPEC has transform_graph's syntax: names separated by spaces, each with
optional parameters in parentheses, values quoted when they hold commas,
parameters repeatable, e.g. 'remove_nodes(op=Identity, op=CheckNumerics)
strip_unused_nodes(type=float, shape="1,224,224,3")'.

TF graphs (.pb, .pbtxt, SavedModel, checkpoint, Keras: the last three are
frozen first) are written as .pb or .pbtxt by DST's extension; .tflite models
as .tflite. What each pass changed goes to stderr; --list names every transform
and its parameters.""")
def transform(
    src: Optional[Path] = typer.Argument(None, help="Model to transform (never modified)."),
    dst: Optional[Path] = typer.Argument(None, help="Output: .pb/.pbtxt for TF graphs, "
                                         ".tflite for TFLite models."),
    transforms: str = typer.Option(None, "--transforms", "-t",
                                   help="The passes, in transform_graph's syntax."),
    inputs: str = typer.Option(None, "--inputs", help="Input node names, comma separated "
                               "(default: the placeholders the outputs need)."),
    outputs: str = typer.Option(None, "--outputs", help="Output node names, comma separated "
                                "(default: the detected outputs)."),
    from_: str = typer.Option(None, "--from", help="Source format, when detection fails."),
    signature: str = typer.Option("serving_default", "--signature",
                                  help="SavedModel signature to freeze."),
    list_: bool = typer.Option(False, "--list", help="List every transform and exit."),
    as_json: bool = typer.Option(False, "--json", help="Print the per-pass report as JSON."),
    force: bool = typer.Option(False, "--force", "-f", help="Replace an existing output."),
) -> None:
    """Apply graph_transforms passes (TF graphs) or TFLite rewrites to SRC, write DST."""
    with reporting_errors():
        from modelkit.cli.feeding import comma_list
        from modelkit.errors import UsageError

        if list_:
            _print_list(as_json)
            return
        if src is None or dst is None:
            raise UsageError("transform needs SRC and DST (or --list)")
        if not transforms or not transforms.strip():
            raise UsageError("--transforms is required, e.g. --transforms "
                             "'strip_unused_nodes remove_nodes(op=Identity)'; "
                             "see 'modelkit transform --list'")
        result = run_transform(src, dst, transforms, inputs=comma_list(inputs),
                               outputs=comma_list(outputs), source_format=from_,
                               signature=signature, force=force)
        if as_json:
            from modelkit.cli.output import emit_json

            emit_json(result)
        sys.stdout.flush()


def _print_list(as_json: bool) -> None:
    from modelkit.transform import all_passes

    passes = sorted(all_passes().values(), key=lambda p: (p.domain != "tf", p.name))
    if as_json:
        from modelkit.cli.output import emit_json

        emit_json({"schema_version": 1, "transforms": [
            {"name": p.name, "domain": p.domain, "doc": p.doc, "needs_tf": p.needs_tf,
             "params": [{"name": q.name, "doc": q.doc, "default": q.default,
                         "required": q.required, "repeated": q.repeated} for q in p.params]}
            for p in passes]})
        return
    lines = []
    domain = None
    for p in passes:
        if p.domain != domain:
            domain = p.domain
            lines.append("TensorFlow graphs (.pb, .pbtxt, SavedModel, checkpoint, Keras):"
                         if domain == "tf" else "\nTFLite models (.tflite):")
        lines.append(f"  {p.name}: {p.doc}")
        for q in p.params:
            flags = []
            if q.required:
                flags.append("required")
            if q.repeated:
                flags.append("repeatable")
            if q.default is not None:
                flags.append(f"default {q.default}")
            extra = f" ({', '.join(flags)})" if flags else ""
            lines.append(f"      {q.name}{extra}: {q.doc}")
    print("\n".join(lines))


def _load_source(src: Path, source_format: str | None, signature: str,
                 outputs: list[str] | None):
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
    from modelkit.errors import UsageError

    raise UsageError(f"transform reads TF graphs and TFLite models, not {fmt}", str(src))


def run_transform(src: Path, dst: Path, spec: str, *, inputs: list[str] | None = None,
                  outputs: list[str] | None = None, source_format: str | None = None,
                  signature: str = "serving_default", force: bool = False) -> dict:
    """Parse SPEC, load SRC, run the passes (reporting each on stderr), write DST.

    Returns:
        the report (schema_version 1) as a dict.

    Raises:
        UsageError: bad spec, parameter or output path (nothing is read or written).
        ModelReadError: SRC cannot be read.
        TransformError: a pass failed (nothing is written).
    """
    from modelkit.errors import ModelkitError, UsageError
    from modelkit.fileio import check_output
    from modelkit.transform import PassContext, get_pass, parse_spec, run_passes

    passes = parse_spec(spec)
    if not passes:
        raise UsageError("--transforms names no transform")
    domains = set()
    for name, params in passes:
        p = get_pass(name)
        p.validate(params)
        domains.add(p.domain)
    if len(domains) > 1:
        raise UsageError("--transforms mixes TF graph and TFLite transforms")
    # NOTE: the source's kind is the first thing wrong when it does not match the
    # passes (a TFLite pass on a .pb): the output's extension follows from it.
    from modelkit.formats.registry import detect_format

    _check_kind(detect_format(src, source_format) == "tflite", domains, src)
    suffix = dst.suffix.lower()
    if "tflite" in domains and suffix != ".tflite":
        raise UsageError("the output of a TFLite transform must end in .tflite", str(dst))
    if "tf" in domains and suffix not in _TF_OUTPUTS:
        raise UsageError("the output of a TF graph transform must end in .pb or .pbtxt",
                         str(dst))
    check_output(dst, force=force, sources=(src,))

    model, frozen_ins, frozen_outs = _load_source(src, source_format, signature, outputs)
    is_tflite = model.format == "tflite"
    _check_kind(is_tflite, domains, src)
    ctx = PassContext(inputs or [], outputs or [])
    if not is_tflite:
        ctx = _tf_io(model, inputs or frozen_ins, outputs or frozen_outs, src)

    def report(r) -> None:
        print(f"modelkit: {r.line()}", file=sys.stderr, flush=True)

    before = sum(len(g.nodes) for g in model.graphs)
    try:
        model, reports = run_passes(model, passes, ctx, on_report=report)
    except ModelkitError as e:
        # NOTE: a pass names what is wrong in the model; the line names the model.
        if e.path is None:
            e.path = str(src)
        raise
    if is_tflite:
        from modelkit.formats.tflite.writer import save as save_tflite

        save_tflite(model, dst, force=force)
    else:
        from modelkit.formats.graphdef import save as save_graphdef

        save_graphdef(model, dst, force=True if force else False)
    after = sum(len(g.nodes) for g in model.graphs)
    print(f"modelkit: wrote {dst} ({before} -> {after} nodes)", file=sys.stderr)
    return {"schema_version": 1, "source": str(src), "output": str(dst),
            "inputs": ctx.inputs, "outputs": ctx.outputs, "nodes_before": before,
            "nodes_after": after, "passes": [r.to_dict() for r in reports]}


def _check_kind(is_tflite: bool, domains: set[str], src: Path) -> None:
    """Refuse passes of the other kind of model (TFLite passes on a TF graph or the
    reverse).

    Raises:
        UsageError: naming the source and the kind of model the passes work on.
    """
    from modelkit.errors import UsageError

    if is_tflite != ("tflite" in domains):
        kind = "a TFLite model" if is_tflite else "a TF graph"
        raise UsageError(f"is {kind}; these transforms work on "
                         f"{'TFLite models' if 'tflite' in domains else 'TF graphs'}",
                         str(src))


def _tf_io(model, inputs: list[str] | None, outputs: list[str] | None, src: Path):
    """Inputs/outputs as node names: given ones checked against the graph (with the
    closest match on a typo), else detected as `convert` detects them."""
    from modelkit.analysis.graph_io import PLACEHOLDER_OPS, inference_io, resolve_names
    from modelkit.analysis.tf_summary import needed_nodes, node_name
    from modelkit.errors import UsageError
    from modelkit.transform import PassContext

    graph = model.graphs[0]
    outs = resolve_names(graph, outputs, "Output") if outputs else None
    ins = resolve_names(graph, inputs, "Input") if inputs else None
    if outs is None or ins is None:
        found_in, found_out = inference_io(graph)
        if outs is None:
            outs = [node_name(o) for o in found_out]
            if not outs:
                raise UsageError("found no output; name the outputs with --outputs", str(src))
            if ins is None:
                ins = [node_name(i) for i in found_in]
        if ins is None:
            placeholders = [n.name for n in graph.nodes if n.op in PLACEHOLDER_OPS]
            used = {n.name for n in needed_nodes(graph, outs, placeholders)}
            ins = [p for p in placeholders if p in used]
    return PassContext(list(ins), list(outs))
